//! `serviceLB` rules: names, the preferred VIP, label selectors `k=v`, and
//! port specs `svcPort:provPort:protocol` — every entry checked (deliberate
//! change (d): the original returned after the first entry and indexed past
//! the end of malformed ones).
//!
//! Field-level only: whether the tenant and network exist and whether the
//! VIP is free are netmaster checks.

use super::ipv4::parse_opt_ipv4;
use super::names::{MAX_LONG_NAME_LEN, check_name, check_object_name};
use super::text::{parse_digits, quoted};
use super::{ValidationError, check_key};
use crate::model::ServiceLB;
use std::fmt;
use std::net::Ipv4Addr;

/// The L4 protocol of a service port (serialised `"tcp"` / `"udp"`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ServiceProtocol {
    /// TCP (IP protocol 6).
    Tcp,
    /// UDP (IP protocol 17).
    Udp,
}

impl ServiceProtocol {
    /// The IP protocol number.
    pub fn ip_proto(self) -> u8 {
        match self {
            ServiceProtocol::Tcp => 6,
            ServiceProtocol::Udp => 17,
        }
    }
}

impl fmt::Display for ServiceProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceProtocol::Tcp => "TCP",
            ServiceProtocol::Udp => "UDP",
        })
    }
}

/// One service port mapping `svcPort:provPort:protocol`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct PortSpec {
    /// The port on the service VIP.
    pub svc_port: u16,
    /// The port on the provider endpoints.
    pub prov_port: u16,
    /// TCP or UDP.
    pub protocol: ServiceProtocol,
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.svc_port, self.prov_port, self.protocol)
    }
}

/// Parses one port spec `svcPort:provPort:protocol`: ports 1..=65535,
/// protocol `TCP` or `UDP` in any case.
pub fn parse_port_spec(s: &str) -> Result<PortSpec, ValidationError> {
    let bad = |why: &str| {
        ValidationError::new(
            "ports",
            format!(
                "invalid ports entry {}: {why}; expected svcPort:provPort:protocol with ports \
                 1..65535 and protocol TCP or UDP, e.g. 80:8080:TCP",
                quoted(s)
            ),
        )
    };
    let mut parts = s.split(':');
    let (Some(svc), Some(prov), Some(proto), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("it needs exactly three ':'-separated parts"));
    };
    let port = |p: &str, what: &str| match parse_digits(p) {
        Some(n) if (1..=65535).contains(&n) => u16::try_from(n).map_err(|_| bad(what)),
        _ => Err(bad(what)),
    };
    let svc_port = port(svc, "the service port is not a number 1..65535")?;
    let prov_port = port(prov, "the provider port is not a number 1..65535")?;
    let protocol = if proto.eq_ignore_ascii_case("tcp") {
        ServiceProtocol::Tcp
    } else if proto.eq_ignore_ascii_case("udp") {
        ServiceProtocol::Udp
    } else {
        return Err(bad("the protocol is not TCP or UDP"));
    };
    Ok(PortSpec {
        svc_port,
        prov_port,
        protocol,
    })
}

/// Parses one label selector `key=value` (exactly one `=`).
pub fn parse_selector(s: &str) -> Result<(&str, &str), ValidationError> {
    match s.split_once('=') {
        Some((k, v)) if !v.contains('=') => Ok((k, v)),
        _ => Err(ValidationError::new(
            "selectors",
            format!(
                "invalid selector {}: expected key=value with exactly one '='",
                quoted(s)
            ),
        )),
    }
}

pub(in crate::model) fn ports(o: &ServiceLB) -> Result<Vec<PortSpec>, ValidationError> {
    if o.ports.is_empty() {
        return Err(ValidationError::new(
            "ports",
            "ports is required: give at least one svcPort:provPort:protocol, e.g. 80:8080:TCP",
        ));
    }
    o.ports.iter().map(|p| parse_port_spec(p)).collect()
}

pub(in crate::model) fn selectors(o: &ServiceLB) -> Result<Vec<(&str, &str)>, ValidationError> {
    if o.selectors.is_empty() {
        return Err(ValidationError::new(
            "selectors",
            "selectors is required: give at least one label selector key=value",
        ));
    }
    let parsed: Vec<(&str, &str)> = o
        .selectors
        .iter()
        .map(|s| parse_selector(s))
        .collect::<Result<_, _>>()?;
    // Selectors are ANDed: one key with two values selects nothing.
    for (i, (k, v)) in parsed.iter().enumerate() {
        if let Some((_, other)) = parsed[..i].iter().find(|(k2, v2)| k2 == k && v2 != v) {
            return Err(ValidationError::new(
                "selectors",
                format!(
                    "contradictory selectors {} and {}: a label has one value, so no endpoint \
                     can match both",
                    quoted(&format!("{k}={other}")),
                    quoted(&format!("{k}={v}"))
                ),
            ));
        }
    }
    Ok(parsed)
}

pub(in crate::model) fn preferred_ip(o: &ServiceLB) -> Result<Option<Ipv4Addr>, ValidationError> {
    parse_opt_ipv4("ipAddress", &o.ip_address)
}

pub(in crate::model) fn validate(o: &ServiceLB) -> Result<(), ValidationError> {
    check_key(o)?;
    preferred_ip(o)?;
    check_object_name("networkName", &o.network_name)?;
    check_name("serviceName", &o.service_name, MAX_LONG_NAME_LEN)?;
    check_object_name("tenantName", &o.tenant_name)?;
    selectors(o)?;
    ports(o)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs() {
        let p = parse_port_spec("80:8080:TCP").unwrap();
        assert_eq!(
            (p.svc_port, p.prov_port, p.protocol),
            (80, 8080, ServiceProtocol::Tcp)
        );
        assert_eq!(
            parse_port_spec("643:7070:uDp").unwrap().protocol,
            ServiceProtocol::Udp
        );
        assert_eq!(p.to_string(), "80:8080:TCP");
        for bad in [
            "80",
            "80:8080",
            "80:8080:TCP:x",
            ":8080:TCP",
            "80::TCP",
            "80:8080:",
            "0:1:TCP",
            "1:65536:TCP",
            "+80:1:TCP",
            "80:1:SCTP",
            "-1:1:TCP",
        ] {
            assert!(parse_port_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn contradictory_selectors_are_refused() {
        let mut o = ServiceLB {
            selectors: vec!["a=b".into(), "c=d".into(), "a=b".into()],
            ..ServiceLB::default()
        };
        assert_eq!(selectors(&o).unwrap().len(), 3);
        o.selectors = vec!["a=b".into(), "a=c".into()];
        let e = selectors(&o).unwrap_err();
        assert!(e.message.contains("contradictory"), "{}", e.message);
    }

    #[test]
    fn selectors_need_exactly_one_equals() {
        assert_eq!(parse_selector("key1=value1").unwrap(), ("key1", "value1"));
        assert_eq!(parse_selector("k=").unwrap(), ("k", ""));
        for bad in ["k", "k=v=w", "", "a==b"] {
            assert!(parse_selector(bad).is_err(), "{bad}");
        }
    }
}
