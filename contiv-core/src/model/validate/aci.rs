//! ACI objects: `aciGw` (name, yes/no switches, node and path bindings,
//! physical domain) and `extContractsGroup` (name, provided/consumed).

use super::names::{MAX_NAME_LEN, MAX_TAG_LEN, check_name, check_object_name};
use super::text::{is_digits, quoted};
use super::{ValidationError, check_key};
use crate::model::{AciGw, ExtContractsGroup};

/// The only valid name (and key) of the ACI gateway object.
pub const ACI_GW_NAME: &str = "aciGw";
/// Longest accepted binding list.
pub const MAX_BINDINGS_LEN: usize = 2048;

fn yes_no(field: &'static str, value: &str) -> Result<(), ValidationError> {
    match value {
        "yes" | "no" => Ok(()),
        other => Err(ValidationError::new(
            field,
            format!("invalid {field} {}: expected yes or no", quoted(other)),
        )),
    }
}

/// 1..=`max` ASCII digits.
fn small_number(s: &str, max: usize) -> bool {
    is_digits(s) && s.len() <= max
}

/// `topology/pod-N/node-N` with 1..4-digit numbers.
fn is_node_binding(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("topology/pod-") else {
        return false;
    };
    let Some((pod, node)) = rest.split_once("/node-") else {
        return false;
    };
    small_number(pod, 4) && small_number(node, 4)
}

/// `topology/pod-N/paths-N/pathep-[ethX/Y]` with 1..4-digit pod and path
/// numbers and 1..2-digit X and Y.
fn is_path_binding(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("topology/pod-") else {
        return false;
    };
    let Some((pod, rest)) = rest.split_once("/paths-") else {
        return false;
    };
    let Some((path, rest)) = rest.split_once("/pathep-[eth") else {
        return false;
    };
    let Some(port) = rest.strip_suffix(']') else {
        return false;
    };
    let Some((slot, port)) = port.split_once('/') else {
        return false;
    };
    small_number(pod, 4) && small_number(path, 4) && small_number(slot, 2) && small_number(port, 2)
}

fn bindings(
    field: &'static str,
    value: &str,
    ok: fn(&str) -> bool,
    example: &str,
) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > MAX_BINDINGS_LEN {
        return Err(ValidationError::new(
            field,
            format!(
                "{field} is too long ({} bytes): at most {MAX_BINDINGS_LEN} allowed",
                value.len()
            ),
        ));
    }
    match value.split(',').find(|b| !ok(b)) {
        None => Ok(()),
        Some(b) => Err(ValidationError::new(
            field,
            format!(
                "invalid {field} entry {}: expected a comma-separated list of {example}",
                quoted(b)
            ),
        )),
    }
}

pub(in crate::model) fn validate_aci_gw(o: &AciGw) -> Result<(), ValidationError> {
    check_key(o)?;
    yes_no("enforcePolicies", &o.enforce_policies)?;
    yes_no("includeCommonTenant", &o.include_common_tenant)?;
    if o.name != ACI_GW_NAME {
        return Err(ValidationError::new(
            "name",
            format!(
                "invalid name {}: the ACI gateway object is always named {ACI_GW_NAME:?}",
                quoted(&o.name)
            ),
        ));
    }
    bindings(
        "nodeBindings",
        &o.node_bindings,
        is_node_binding,
        "topology/pod-N/node-N",
    )?;
    bindings(
        "pathBindings",
        &o.path_bindings,
        is_path_binding,
        "topology/pod-N/paths-N/pathep-[ethX/Y]",
    )?;
    check_name("physicalDomain", &o.physical_domain, MAX_TAG_LEN)?;
    Ok(())
}

pub(in crate::model) fn validate_ext_contracts(
    o: &ExtContractsGroup,
) -> Result<(), ValidationError> {
    check_key(o)?;
    check_name("contractsGroupName", &o.contracts_group_name, MAX_NAME_LEN)?;
    check_object_name("tenantName", &o.tenant_name)?;
    match o.contracts_type.as_str() {
        "provided" | "consumed" => Ok(()),
        _ => Err(ValidationError::new(
            "contractsType",
            "Contracts group need to be either 'provided' or 'consumed'",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_formats() {
        assert!(is_node_binding("topology/pod-1/node-101"));
        assert!(!is_node_binding("topology/tor-1/node-101"));
        assert!(!is_node_binding("topology/pod-12345/node-1"));
        assert!(is_path_binding("topology/pod-1/paths-101/pathep-[eth1/14]"));
        assert!(!is_path_binding("pod-1/paths-101/pathep-[eth1/14]"));
        assert!(!is_path_binding("topology/pod-1/paths-101/pathep-[eth1/14"));
        assert!(!is_path_binding(
            "topology/pod-1/paths-101/pathep-[eth123/1]"
        ));
    }
}
