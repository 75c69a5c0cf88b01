//! The CNI result: printed in the format of the requested spec version
//! (1.0.0/1.1.0: no `version` in `ips`; 1.1.0 adds the interface `mtu`;
//! 0.3.0/0.3.1/0.4.0: `version: "4"|"6"` in every `ips` entry), and parsed
//! back from a `prevResult` of any of these versions, whichever plugin
//! wrote it (fields this plugin does not use are ignored).

use super::netconf::{Dns, version_tuple};
use crate::agent_api::wire::ListedInterface;
pub use crate::agent_api::wire::Route;
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::IpAddr;

/// An interface of the result.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Interface {
    /// Name.
    pub name: String,
    /// MAC, if meaningful.
    #[serde(default)]
    pub mac: Option<String>,
    /// The netns path for container interfaces.
    #[serde(default)]
    pub sandbox: Option<String>,
    /// MTU (printed for 1.1.0).
    #[serde(default)]
    pub mtu: Option<u32>,
}

/// An address of the result.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct IpConfig {
    /// Address with prefix.
    pub address: IpNet,
    /// Gateway.
    #[serde(default)]
    pub gateway: Option<IpAddr>,
    /// Index into `interfaces`.
    #[serde(default)]
    pub interface: Option<usize>,
}

/// A CNI result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CniResult {
    /// Interfaces.
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    /// Addresses.
    #[serde(default)]
    pub ips: Vec<IpConfig>,
    /// Routes.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// DNS.
    #[serde(default)]
    pub dns: Dns,
}

impl CniResult {
    /// Parses a result (a `prevResult`) of any supported version.
    pub fn parse(v: &Value) -> Result<Self, serde_json::Error> {
        CniResult::deserialize(v)
    }

    /// What the result lists for the container interface `ifname` (the
    /// entry of that name with a `sandbox`): its MAC and MTU, the
    /// addresses whose `interface` index points at it, and every route.
    /// Fails if that entry's MAC is not a MAC.
    pub fn listed(&self, ifname: &str) -> Result<ListedInterface, String> {
        let found = self
            .interfaces
            .iter()
            .position(|i| i.name == ifname && i.sandbox.as_deref().is_some_and(|s| !s.is_empty()));
        let entry = found.map(|i| &self.interfaces[i]);
        let mac = match entry.and_then(|e| e.mac.as_deref()) {
            Some(m) => Some(
                m.parse()
                    .map_err(|e| format!("interface {ifname} has an invalid mac {m:?}: {e}"))?,
            ),
            None => None,
        };
        Ok(ListedInterface {
            mac,
            mtu: entry.and_then(|e| e.mtu),
            addresses: self
                .ips
                .iter()
                .filter(|ip| found.is_some() && ip.interface == found)
                .map(|ip| ip.address)
                .collect(),
            routes: self.routes.clone(),
        })
    }

    /// The result JSON for spec `version`.
    pub fn to_json(&self, version: &str) -> Value {
        let v = version_tuple(version);
        let with_ip_version = v < (1, 0, 0);
        let with_mtu = v >= (1, 1, 0);
        let interfaces: Vec<Value> = self
            .interfaces
            .iter()
            .map(|i| {
                let mut o = json!({ "name": i.name });
                if let Some(m) = &i.mac {
                    o["mac"] = json!(m);
                }
                if let Some(s) = &i.sandbox {
                    o["sandbox"] = json!(s);
                }
                if with_mtu && let Some(m) = i.mtu {
                    o["mtu"] = json!(m);
                }
                o
            })
            .collect();
        let ips: Vec<Value> = self
            .ips
            .iter()
            .map(|ip| {
                let mut o = json!({ "address": ip.address.to_string() });
                if with_ip_version {
                    o["version"] = json!(if ip.address.addr().is_ipv4() {
                        "4"
                    } else {
                        "6"
                    });
                }
                if let Some(g) = ip.gateway {
                    o["gateway"] = json!(g.to_string());
                }
                if let Some(i) = ip.interface {
                    o["interface"] = json!(i);
                }
                o
            })
            .collect();
        let routes: Vec<Value> = self
            .routes
            .iter()
            .map(|r| {
                let mut o = json!({ "dst": r.dst.to_string() });
                if let Some(g) = r.gw {
                    o["gw"] = json!(g.to_string());
                }
                o
            })
            .collect();
        json!({
            "cniVersion": version,
            "interfaces": interfaces,
            "ips": ips,
            "routes": routes,
            "dns": serde_json::to_value(&self.dns).unwrap_or_else(|_| json!({})),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CniResult {
        CniResult {
            interfaces: vec![
                Interface {
                    name: "vp1".into(),
                    mac: None,
                    sandbox: None,
                    mtu: None,
                },
                Interface {
                    name: "eth0".into(),
                    mac: Some("02:02:0a:01:02:03".into()),
                    sandbox: Some("/run/netns/x".into()),
                    mtu: Some(1450),
                },
            ],
            ips: vec![
                IpConfig {
                    address: "10.1.2.3/24".parse().unwrap(),
                    gateway: Some("10.1.2.254".parse().unwrap()),
                    interface: Some(1),
                },
                IpConfig {
                    address: "2001::3/64".parse().unwrap(),
                    gateway: None,
                    interface: Some(1),
                },
            ],
            routes: vec![Route {
                dst: "0.0.0.0/0".parse().unwrap(),
                gw: Some("10.1.2.254".parse().unwrap()),
            }],
            dns: Dns {
                nameservers: vec!["10.1.2.254".into()],
                ..Dns::default()
            },
        }
    }

    #[test]
    fn every_version_has_its_shape() {
        let r = sample();
        let v1 = r.to_json("1.0.0");
        assert_eq!(v1["cniVersion"], "1.0.0");
        assert!(v1["ips"][0].get("version").is_none());
        assert_eq!(v1["ips"][0]["address"], "10.1.2.3/24");
        assert_eq!(v1["ips"][0]["gateway"], "10.1.2.254");
        assert_eq!(v1["ips"][0]["interface"], 1);
        assert!(v1["ips"][1].get("gateway").is_none());
        assert!(v1["interfaces"][1].get("mtu").is_none());
        assert_eq!(v1["interfaces"][1]["sandbox"], "/run/netns/x");
        assert!(v1["interfaces"][0].get("mac").is_none());
        assert_eq!(
            v1["routes"][0],
            json!({"dst":"0.0.0.0/0","gw":"10.1.2.254"})
        );
        assert_eq!(v1["dns"], json!({"nameservers":["10.1.2.254"]}));
        let v11 = r.to_json("1.1.0");
        assert_eq!(v11["interfaces"][1]["mtu"], 1450);
        for old in ["0.3.0", "0.3.1", "0.4.0"] {
            let j = r.to_json(old);
            assert_eq!(j["cniVersion"], old);
            assert_eq!(j["ips"][0]["version"], "4");
            assert_eq!(j["ips"][1]["version"], "6");
            assert!(j["interfaces"][1].get("mtu").is_none());
        }
        assert_eq!(CniResult::default().to_json("1.0.0")["dns"], json!({}));
    }

    #[test]
    fn every_version_parses_back() {
        let r = sample();
        for v in ["0.4.0", "1.0.0", "1.1.0"] {
            let back = CniResult::parse(&r.to_json(v)).unwrap();
            let mut want = r.clone();
            if v != "1.1.0" {
                want.interfaces[1].mtu = None;
            }
            assert_eq!(back, want, "{v}");
        }
        // Another plugin's result: extra fields, no `interface` indexes.
        let other = json!({"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/x", "socketPath": "s"}],
                           "ips": [{"address": "10.9.0.2/16"}], "routes": [{"dst": "10.0.0.0/8", "mtu": 1400}]});
        let p = CniResult::parse(&other).unwrap();
        assert_eq!(p.routes[0].gw, None);
        assert!(CniResult::parse(&json!({"ips": [{"address": "10.9.0.2"}]})).is_err());
    }

    #[test]
    fn the_container_interface_lists_its_mac_mtu_addresses_and_every_route() {
        let l = sample().listed("eth0").unwrap();
        assert_eq!(l.mac, Some("02:02:0a:01:02:03".parse().unwrap()));
        assert_eq!(l.mtu, Some(1450));
        assert_eq!(l.addresses.len(), 2);
        assert_eq!(l.routes, sample().routes);
        // The host side (no sandbox) is not the container interface.
        let none = sample().listed("vp1").unwrap();
        assert_eq!((none.mac, none.mtu, none.addresses.len()), (None, None, 0));
        let mut bad = sample();
        bad.interfaces[1].mac = Some("nope".into());
        assert!(bad.listed("eth0").unwrap_err().contains("nope"));
    }
}
