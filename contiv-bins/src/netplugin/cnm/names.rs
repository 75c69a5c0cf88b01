//! Docker network names of contiv networks and groups, as the original
//! named them (CONTIV.md §6.1, the seed tutorial): `net` for a network of
//! the default tenant, `epg.net` for a group, and `/tenant` appended for
//! any other tenant — `contiv-net`, `web.contiv-net`, `contiv-net/blue`,
//! `web.contiv-net/blue`.

use crate::netplugin::view::HostView;

/// What a Docker network stands for.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Target {
    /// Tenant name.
    pub tenant: String,
    /// Network name.
    pub network: String,
    /// Group name, or empty for the network itself.
    #[serde(default)]
    pub group: String,
}

impl Target {
    /// The network key `tenant:network`.
    pub fn network_key(&self) -> String {
        format!("{}:{}", self.tenant, self.network)
    }
}

/// The Docker network name of a network (`group` empty) or group.
pub fn docker_name(t: &Target) -> String {
    let mut name = if t.group.is_empty() {
        t.network.clone()
    } else {
        format!("{}.{}", t.group, t.network)
    };
    if t.tenant != "default" {
        name.push('/');
        name.push_str(&t.tenant);
    }
    name
}

/// Resolves a Docker network name against the view. Names may contain
/// dots, so `a.b` is first looked up as network `a.b`, then as group `a`
/// of network `b` (and so on for every dot).
pub fn resolve(view: &HostView, name: &str) -> Option<Target> {
    let (body, tenant) = match name.rsplit_once('/') {
        Some((b, t)) => (b, t),
        None => (name, "default"),
    };
    if view.networks.contains_key(&format!("{tenant}:{body}")) {
        return Some(Target {
            tenant: tenant.into(),
            network: body.into(),
            group: String::new(),
        });
    }
    for (i, _) in body.match_indices('.') {
        let (group, network) = (&body[..i], &body[i + 1..]);
        if let Some(g) = view.epgs.get(&format!("{tenant}:{group}"))
            && g.network_name == network
        {
            return Some(Target {
                tenant: tenant.into(),
                network: network.into(),
                group: group.into(),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(tenant: &str, network: &str, group: &str) -> Target {
        Target {
            tenant: tenant.into(),
            network: network.into(),
            group: group.into(),
        }
    }

    #[test]
    fn names_match_the_original_forms_and_resolve_back() {
        assert_eq!(docker_name(&t("default", "contiv-net", "")), "contiv-net");
        assert_eq!(
            docker_name(&t("default", "contiv-net", "web")),
            "web.contiv-net"
        );
        assert_eq!(docker_name(&t("blue", "contiv-net", "")), "contiv-net/blue");
        assert_eq!(
            docker_name(&t("blue", "contiv-net", "web")),
            "web.contiv-net/blue"
        );

        let mut v = HostView::default();
        for (k, val) in [
            (
                "obj/network/default:contiv-net",
                json!({"tenantName":"default","networkName":"contiv-net"}),
            ),
            (
                "obj/network/blue:contiv-net",
                json!({"tenantName":"blue","networkName":"contiv-net"}),
            ),
            (
                "obj/network/default:a.b",
                json!({"tenantName":"default","networkName":"a.b"}),
            ),
            (
                "obj/network/default:b",
                json!({"tenantName":"default","networkName":"b"}),
            ),
            (
                "obj/endpointGroup/default:web",
                json!({"tenantName":"default","groupName":"web","networkName":"contiv-net"}),
            ),
            (
                "obj/endpointGroup/blue:web",
                json!({"tenantName":"blue","groupName":"web","networkName":"contiv-net"}),
            ),
            (
                "obj/endpointGroup/default:a",
                json!({"tenantName":"default","groupName":"a","networkName":"b"}),
            ),
        ] {
            v.apply_key(k, Some(&val)).unwrap();
        }
        for target in [
            t("default", "contiv-net", ""),
            t("default", "contiv-net", "web"),
            t("blue", "contiv-net", ""),
            t("blue", "contiv-net", "web"),
        ] {
            assert_eq!(resolve(&v, &docker_name(&target)), Some(target));
        }
        // A dotted network name wins over group.network.
        assert_eq!(resolve(&v, "a.b"), Some(t("default", "a.b", "")));
        assert_eq!(resolve(&v, "nope"), None);
        assert_eq!(resolve(&v, "web.other"), None);
    }
}
