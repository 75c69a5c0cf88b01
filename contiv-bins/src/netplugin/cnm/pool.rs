//! Docker IPAM pool ids: `<tenant>:<network>:<group>|<subnet>`, e.g.
//! `default:contiv-net:|10.1.2.0/24` or `blue:contiv-net:web|10.1.2.0/24`.
//! Names cannot contain `:` or `|`, so the form is unambiguous (the
//! original's `net[:epg].tenant|pool` was not, with dotted names).

use super::names::Target;
use ipnet::Ipv4Net;

/// Encodes a pool id.
pub fn encode(t: &Target, subnet: Ipv4Net) -> String {
    format!("{}:{}:{}|{}", t.tenant, t.network, t.group, subnet)
}

/// Decodes a pool id.
pub fn decode(id: &str) -> Result<(Target, Ipv4Net), String> {
    let bad = || {
        format!(
            "invalid pool id {id:?}: expected <tenant>:<network>:<group>|<subnet> as RequestPool returned it"
        )
    };
    let (names, subnet) = id.split_once('|').ok_or_else(bad)?;
    let mut parts = names.split(':');
    let (Some(tenant), Some(network), Some(group), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if tenant.is_empty() || network.is_empty() {
        return Err(bad());
    }
    let subnet: Ipv4Net = subnet.parse().map_err(|_| bad())?;
    Ok((
        Target {
            tenant: tenant.into(),
            network: network.into(),
            group: group.into(),
        },
        subnet,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ids_round_trip_and_reject_garbage() {
        let t = Target {
            tenant: "blue".into(),
            network: "a.b".into(),
            group: "web".into(),
        };
        let id = encode(&t, "10.1.2.0/24".parse().unwrap());
        assert_eq!(id, "blue:a.b:web|10.1.2.0/24");
        assert_eq!(decode(&id).unwrap(), (t, "10.1.2.0/24".parse().unwrap()));
        let (t2, _) = decode("default:n:|10.0.0.0/8").unwrap();
        assert!(t2.group.is_empty());
        for bad in [
            "",
            "10.0.0.0/8",
            "a:b|10.0.0.0/8",
            "a:b:c:d|10.0.0.0/8",
            "a:b:c|x",
            ":b:|10.0.0.0/8",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
