//! The ADD result, printed in the format of the requested spec version:
//! 1.0.0/1.1.0 (no `version` in `ips`; 1.1.0 adds the interface `mtu`) or
//! 0.3.0/0.3.1/0.4.0 (`version: "4"|"6"` in every `ips` entry).

use super::netconf::{Dns, version_tuple};
use ipnet::IpNet;
use serde_json::{Value, json};
use std::net::IpAddr;

/// An interface of the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Name.
    pub name: String,
    /// MAC, if meaningful.
    pub mac: Option<String>,
    /// The netns path for container interfaces.
    pub sandbox: Option<String>,
    /// MTU (printed for 1.1.0).
    pub mtu: Option<u32>,
}

/// An address of the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpConfig {
    /// Address with prefix.
    pub address: IpNet,
    /// Gateway.
    pub gateway: Option<IpAddr>,
    /// Index into `interfaces`.
    pub interface: Option<usize>,
}

/// A route of the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination.
    pub dst: IpNet,
    /// Next hop.
    pub gw: Option<IpAddr>,
}

/// A CNI result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CniResult {
    /// Interfaces.
    pub interfaces: Vec<Interface>,
    /// Addresses.
    pub ips: Vec<IpConfig>,
    /// Routes.
    pub routes: Vec<Route>,
    /// DNS.
    pub dns: Dns,
}

impl CniResult {
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
}
