//! The switch configuration the datapath owns in OVSDB: the integration
//! bridge, one port per local endpoint, one VXLAN port per peer, the VLAN
//! uplink. Every port carries `external_ids:contiv-owner=<owner>` (and the
//! endpoint id, peer address or uplink mark), so a resync after a restart
//! finds exactly the ports it owns.

use super::config::OvsConfig;
use crate::ovsdb::OvsdbError;
use crate::ovsdb::vswitch::{
    BridgeSpec, InterfaceKind, OWNER_KEY, PortInfo, PortSpec, Vswitch, VxlanKey,
};
use contiv_core::datapath::{DpError, LocalEndpoint};
use std::net::IpAddr;

/// `external_ids` key marking a peer's VXLAN port (value: the address).
pub const PEER_KEY: &str = "contiv-peer";
/// `external_ids` key marking the VLAN uplink.
pub const UPLINK_KEY: &str = "contiv-uplink";
/// `external_ids` key marking a port whose veth the datapath created (and
/// must delete with it).
pub const VETH_KEY: &str = "contiv-veth";
/// `external_ids` key marking the fabric router port.
pub const ROUTER_KEY: &str = "contiv-router";
/// `external_ids` key marking the host port (external access).
pub const HOST_KEY: &str = "contiv-host";

/// Maps an OVSDB error to a datapath error with context.
pub fn backend(what: &str) -> impl FnOnce(OvsdbError) -> DpError + '_ {
    move |e| DpError::Backend(format!("OVSDB: {what}: {e}"))
}

/// The name of the VXLAN port to `peer`: `vxif` + the IPv4 address in hex
/// (`vxifac1f4d02`), or `vx6` + a hash for IPv6 (at most 15 bytes).
pub fn peer_port_name(peer: IpAddr) -> String {
    match peer {
        IpAddr::V4(a) => format!("vxif{:08x}", u32::from(a)),
        IpAddr::V6(a) => {
            let h = crate::pipeline::cookie::stable_hash(&[&a.octets()]);
            format!("vx6{:012x}", h & 0xffff_ffff_ffff)
        }
    }
}

/// Creates or converges the integration bridge.
pub async fn ensure_bridge(vs: &Vswitch, cfg: &OvsConfig) -> Result<(), DpError> {
    let spec = BridgeSpec::contiv(&cfg.bridge, &cfg.datapath_type)
        .external_id(OWNER_KEY, &cfg.owner)
        .other_config("disable-in-band", "true");
    vs.ensure_bridge(&spec)
        .await
        .map_err(backend(&format!("creating bridge {}", cfg.bridge)))?;
    Ok(())
}

/// Creates or converges a local endpoint's port; returns its ofport.
pub async fn ensure_endpoint_port(
    vs: &Vswitch,
    cfg: &OvsConfig,
    ep: &LocalEndpoint,
) -> Result<u32, DpError> {
    let created = !matches!(ep.attachment, contiv_core::datapath::Attachment::Existing);
    let spec = PortSpec::new(&cfg.bridge, &ep.host_ifname, InterfaceKind::System)
        .owner(&cfg.owner)
        .endpoint(&ep.id)
        .external_id(VETH_KEY, if created { "true" } else { "false" })
        // No ingress policing: on the userspace datapath it needs tc's
        // police action (absent from this kernel: OVS logs "adding
        // cls_basic policing action failed" and lets everything through).
        // Bandwidth is enforced by `tbf` qdiscs on the veth ends instead
        // (contiv_core::linux::shaping); 0 also clears an old setting.
        .policing(0, 0);
    vs.ensure_port(&spec).await.map_err(backend(&format!(
        "adding port {} for endpoint {}",
        ep.host_ifname, ep.id
    )))?;
    vs.wait_ofport(&ep.host_ifname, cfg.port_timeout)
        .await
        .map_err(backend(&format!(
            "attaching {} (endpoint {})",
            ep.host_ifname, ep.id
        )))
}

/// Creates or converges the VXLAN port to `peer`; returns its ofport.
pub async fn ensure_peer_port(vs: &Vswitch, cfg: &OvsConfig, peer: IpAddr) -> Result<u32, DpError> {
    let name = peer_port_name(peer);
    let spec = PortSpec::new(
        &cfg.bridge,
        &name,
        InterfaceKind::Vxlan {
            remote_ip: peer,
            key: VxlanKey::Flow,
            dst_port: cfg.vxlan_port,
            local_ip: None,
        },
    )
    .owner(&cfg.owner)
    .external_id(PEER_KEY, &peer.to_string());
    vs.ensure_port(&spec)
        .await
        .map_err(backend(&format!("adding VXLAN port {name} to peer {peer}")))?;
    vs.wait_ofport(&name, cfg.port_timeout)
        .await
        .map_err(backend(&format!("attaching VXLAN port {name}")))
}

/// Creates or converges the uplink port; returns its ofport.
pub async fn ensure_uplink_port(vs: &Vswitch, cfg: &OvsConfig, name: &str) -> Result<u32, DpError> {
    let spec = PortSpec::new(&cfg.bridge, name, InterfaceKind::System)
        .owner(&cfg.owner)
        .external_id(UPLINK_KEY, "true");
    vs.ensure_port(&spec)
        .await
        .map_err(backend(&format!("adding uplink {name}")))?;
    vs.wait_ofport(name, cfg.port_timeout)
        .await
        .map_err(backend(&format!("attaching uplink {name}")))
}

/// Creates or converges the fabric router port (an internal port with
/// the router MAC); returns its ofport.
pub async fn ensure_router_port(
    vs: &Vswitch,
    cfg: &OvsConfig,
    mac: contiv_core::datapath::MacAddr,
) -> Result<u32, DpError> {
    let name = &cfg.router_port;
    let spec = PortSpec::new(&cfg.bridge, name, InterfaceKind::Internal)
        .owner(&cfg.owner)
        .external_id(ROUTER_KEY, "true")
        .mac(&mac.to_string());
    vs.ensure_port(&spec)
        .await
        .map_err(backend(&format!("adding the fabric router port {name}")))?;
    vs.wait_ofport(name, cfg.port_timeout)
        .await
        .map_err(backend(&format!("attaching the fabric router port {name}")))
}

/// Creates or converges the bridge's end of the host port; returns its
/// ofport.
pub async fn ensure_host_port(vs: &Vswitch, cfg: &OvsConfig) -> Result<u32, DpError> {
    let name = cfg.host_port_peer();
    let spec = PortSpec::new(&cfg.bridge, &name, InterfaceKind::System)
        .owner(&cfg.owner)
        .external_id(HOST_KEY, "true")
        .external_id(VETH_KEY, "true");
    vs.ensure_port(&spec)
        .await
        .map_err(backend(&format!("adding the host port {name}")))?;
    vs.wait_ofport(&name, cfg.port_timeout)
        .await
        .map_err(backend(&format!("attaching the host port {name}")))
}

/// Removes a port by name (gone already is fine).
pub async fn remove_port(vs: &Vswitch, cfg: &OvsConfig, name: &str) -> Result<(), DpError> {
    vs.delete_port(&cfg.bridge, name)
        .await
        .map_err(backend(&format!("removing port {name}")))?;
    Ok(())
}

/// The ports on the bridge this owner created.
pub async fn owned_ports(vs: &Vswitch, cfg: &OvsConfig) -> Result<Vec<PortInfo>, DpError> {
    let all = vs
        .list_owned_ports(&cfg.owner)
        .await
        .map_err(backend("listing owned ports"))?;
    Ok(all
        .into_iter()
        .filter(|p| p.bridge.as_deref() == Some(cfg.bridge.as_str()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_port_names_fit_interface_names() {
        assert_eq!(
            peer_port_name("172.31.77.2".parse().unwrap()),
            "vxifac1f4d02"
        );
        let v6 = peer_port_name("fd00::1".parse().unwrap());
        assert!(v6.starts_with("vx6") && v6.len() == 15, "{v6}");
    }
}
