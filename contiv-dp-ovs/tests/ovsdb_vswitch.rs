//! The typed `Open_vSwitch` layer against a real ovsdb-server +
//! ovs-vswitchd (userspace datapath, private rundir and netns): bridges,
//! veth/internal/VXLAN ports, ownership marks, ofport, policing, VLANs,
//! idempotency and races.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

use contiv_dp_ovs::openflow::conn::Connection;
use contiv_dp_ovs::ovsdb::vswitch::*;
use contiv_dp_ovs::ovsdb::{Client, MonitorRequest, OvsdbError};
use contiv_dp_ovs::testing::OvsInstance;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

async fn setup() -> (OvsInstance, Vswitch) {
    let ovs = OvsInstance::start().unwrap();
    let vs = Vswitch::connect_unix(ovs.db_socket()).await.unwrap();
    (ovs, vs)
}

fn get(ovs: &OvsInstance, table: &str, record: &str, column: &str) -> String {
    ovs.vsctl(&["get", table, record, column])
        .unwrap()
        .trim()
        .to_owned()
}

/// A veth pair inside the instance's namespace; the `host` end goes on
/// the bridge.
fn veth(ovs: &OvsInstance, host: &str, peer: &str) {
    let ns = ovs.netns().expect("the fixture runs OVS in a namespace");
    let st = Command::new("ip")
        .args([
            "-n", ns, "link", "add", host, "type", "veth", "peer", "name", peer,
        ])
        .status()
        .unwrap();
    assert!(st.success());
    for dev in [host, peer] {
        let st = Command::new("ip")
            .args(["-n", ns, "link", "set", dev, "up"])
            .status()
            .unwrap();
        assert!(st.success());
    }
}

#[tokio::test]
async fn ensure_bridge_creates_once_and_converges() {
    let (ovs, vs) = setup().await;
    let spec = BridgeSpec::contiv("br-int", "netdev")
        .other_config("datapath-id", "00000000000000a1")
        .other_config("hwaddr", "02:00:00:00:00:a1")
        .external_id("contiv-owner", "netplugin");
    let u1 = vs.ensure_bridge(&spec).await.unwrap();
    vs.sync(T).await.unwrap();
    assert_eq!(get(&ovs, "bridge", "br-int", "datapath_type"), "netdev");
    assert_eq!(get(&ovs, "bridge", "br-int", "fail_mode"), "secure");
    assert_eq!(
        get(&ovs, "bridge", "br-int", "protocols"),
        "[OpenFlow10, OpenFlow13]"
    );
    assert_eq!(ovs.vsctl(&["list-ports", "br-int"]).unwrap().trim(), "");
    assert_eq!(
        ovs.vsctl(&["list-ifaces", "br-int"]).unwrap().trim(),
        "",
        "the bridge's own internal port is not listed as a port"
    );
    // vswitchd applied other_config: the OpenFlow datapath id is ours.
    let (of, _ev) = Connection::connect_unix(ovs.mgmt_socket("br-int"))
        .await
        .unwrap();
    assert_eq!(of.datapath_id(), 0xa1);

    // Idempotent: same uuid, still one bridge, no write.
    let u2 = vs.ensure_bridge(&spec).await.unwrap();
    assert_eq!(u1, u2);
    assert_eq!(vs.list_bridges().await.unwrap(), vec!["br-int"]);

    // Converges: fail_mode and a new key; foreign keys survive.
    ovs.vsctl(&["br-set-external-id", "br-int", "someone-else", "x"])
        .unwrap();
    let mut spec2 = spec.clone().external_id("zone", "a");
    spec2.fail_mode = Some(FailMode::Standalone);
    assert_eq!(vs.ensure_bridge(&spec2).await.unwrap(), u1);
    assert_eq!(get(&ovs, "bridge", "br-int", "fail_mode"), "standalone");
    let ids = ovs.vsctl(&["br-get-external-id", "br-int"]).unwrap();
    assert!(
        ids.contains("zone=a")
            && ids.contains("someone-else=x")
            && ids.contains("contiv-owner=netplugin"),
        "{ids}"
    );

    assert!(vs.delete_bridge("br-int").await.unwrap());
    assert!(!vs.delete_bridge("br-int").await.unwrap());
    assert_eq!(ovs.vsctl(&["list-br"]).unwrap().trim(), "");
}

#[tokio::test]
async fn controller_targets_are_set_and_replaced() {
    let (ovs, vs) = setup().await;
    let t1 = format!("unix:{}", ovs.rundir().join("ctl1.sock").display());
    let t2 = format!("unix:{}", ovs.rundir().join("ctl2.sock").display());
    vs.ensure_bridge(&BridgeSpec::contiv("br0", "netdev").controller(&t1))
        .await
        .unwrap();
    assert_eq!(ovs.vsctl(&["get-controller", "br0"]).unwrap().trim(), t1);
    vs.ensure_bridge(&BridgeSpec::contiv("br0", "netdev").controller(&t2))
        .await
        .unwrap();
    assert_eq!(ovs.vsctl(&["get-controller", "br0"]).unwrap().trim(), t2);
    // The replaced Controller row was garbage-collected.
    assert_eq!(
        ovs.vsctl(&["--columns=target", "list", "Controller"])
            .unwrap()
            .matches("target")
            .count(),
        1
    );
    vs.set_controllers("br0", &[]).await.unwrap();
    assert_eq!(ovs.vsctl(&["get-controller", "br0"]).unwrap().trim(), "");
}

#[tokio::test]
async fn ports_of_every_kind_with_ownership_marks() {
    let (ovs, vs) = setup().await;
    vs.ensure_bridge(&BridgeSpec::contiv("br-int", "netdev"))
        .await
        .unwrap();
    veth(&ovs, "vvport1", "vport1");
    let ep = PortSpec::new("br-int", "vvport1", InterfaceKind::System)
        .owner("netplugin")
        .endpoint("ep-1")
        .vlan(VlanMode::Access(10))
        .policing(1000, 100);
    vs.ensure_port(&ep).await.unwrap();
    let host = PortSpec::new("br-int", "contivh0", InterfaceKind::Internal)
        .owner("netplugin")
        .ofport_request(7)
        .vlan(VlanMode::Access(2));
    vs.ensure_port(&host).await.unwrap();
    let vx = PortSpec::new(
        "br-int",
        "vxif17231772",
        InterfaceKind::Vxlan {
            remote_ip: "172.31.77.2".parse().unwrap(),
            key: VxlanKey::Flow,
            dst_port: Some(4789),
            local_ip: None,
        },
    )
    .vlan(VlanMode::Trunk(vec![]));
    vs.ensure_port(&vx).await.unwrap();
    // Someone else's port.
    ovs.vsctl(&[
        "add-port",
        "br-int",
        "other",
        "--",
        "set",
        "interface",
        "other",
        "type=internal",
    ])
    .unwrap();

    let p1 = vs.wait_ofport("vvport1", T).await.unwrap();
    let p7 = vs.wait_ofport("contivh0", T).await.unwrap();
    let pv = vs.wait_ofport("vxif17231772", T).await.unwrap();
    assert_eq!(p7, 7);
    assert_eq!(get(&ovs, "interface", "vvport1", "ofport"), p1.to_string());
    assert_eq!(
        get(&ovs, "interface", "vxif17231772", "ofport"),
        pv.to_string()
    );
    assert_eq!(get(&ovs, "port", "vvport1", "tag"), "10");
    assert_eq!(get(&ovs, "port", "vvport1", "vlan_mode"), "access");
    assert_eq!(get(&ovs, "port", "contivh0", "tag"), "2");
    assert_eq!(
        get(&ovs, "interface", "vvport1", "ingress_policing_rate"),
        "1000"
    );
    assert_eq!(
        get(&ovs, "interface", "vvport1", "ingress_policing_burst"),
        "100"
    );
    assert_eq!(get(&ovs, "interface", "vxif17231772", "type"), "vxlan");
    assert_eq!(
        get(&ovs, "interface", "vxif17231772", "options"),
        r#"{dst_port="4789", key=flow, remote_ip="172.31.77.2"}"#
    );
    assert_eq!(
        get(&ovs, "port", "vvport1", "external_ids"),
        r#"{contiv-owner=netplugin, endpoint-id=ep-1}"#
    );
    assert_eq!(
        get(&ovs, "interface", "vvport1", "external_ids"),
        r#"{contiv-owner=netplugin, endpoint-id=ep-1}"#
    );
    // OpenFlow sees the same port numbers.
    let (of, _ev) = Connection::connect_unix(ovs.mgmt_socket("br-int"))
        .await
        .unwrap();
    let mut ports: Vec<(u32, String)> = of
        .port_desc()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.port_no, p.name))
        .collect();
    ports.sort();
    assert!(
        ports.contains(&(p1, "vvport1".into())) && ports.contains(&(pv, "vxif17231772".into())),
        "{ports:?}"
    );

    // Ownership: only our two ports, with their endpoint ids.
    let owned = vs.list_owned_ports("netplugin").await.unwrap();
    let names: Vec<&str> = owned.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["contivh0", "vvport1"]);
    let v1 = &owned[1];
    assert_eq!(v1.bridge.as_deref(), Some("br-int"));
    assert_eq!(
        v1.external_ids.get(ENDPOINT_KEY).map(String::as_str),
        Some("ep-1")
    );
    assert_eq!(v1.ofport, Some(i64::from(p1)));
    assert_eq!(v1.vlan, VlanMode::Access(10));
    assert_eq!(
        v1.policing,
        Policing {
            rate_kbps: 1000,
            burst_kb: 100
        }
    );
    assert_eq!(v1.iface_type, "");
    assert!(vs.list_owned_ports("someone").await.unwrap().is_empty());
    let all: Vec<String> = vs
        .list_ports("br-int")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        all,
        vec!["br-int", "contivh0", "other", "vvport1", "vxif17231772"]
    );
    let vxi = vs.port("vxif17231772").await.unwrap().unwrap();
    assert_eq!(vxi.options.get("key").map(String::as_str), Some("flow"));
    assert_eq!(vxi.vlan, VlanMode::Trunk(vec![]), "a trunk of all VLANs");
    assert_eq!(get(&ovs, "port", "vxif17231772", "vlan_mode"), "trunk");
}

#[tokio::test]
async fn ensure_port_is_idempotent_and_converges() {
    let (ovs, vs) = setup().await;
    vs.ensure_bridge(&BridgeSpec::contiv("br0", "netdev"))
        .await
        .unwrap();
    let spec = PortSpec::new("br0", "p1", InterfaceKind::Internal)
        .owner("netplugin")
        .endpoint("ep-9")
        .vlan(VlanMode::Access(5))
        .policing(500, 50);
    let u = vs.ensure_port(&spec).await.unwrap();

    // Watch the columns we write; a repeated ensure must not touch them.
    let client = Client::connect_unix(ovs.db_socket()).await.unwrap();
    let mut reqs = BTreeMap::new();
    reqs.insert(
        "Port".to_owned(),
        MonitorRequest {
            initial: false,
            ..MonitorRequest::columns(&[
                "name",
                "tag",
                "trunks",
                "vlan_mode",
                "external_ids",
                "interfaces",
            ])
        },
    );
    reqs.insert(
        "Interface".to_owned(),
        MonitorRequest {
            initial: false,
            ..MonitorRequest::columns(&[
                "type",
                "options",
                "external_ids",
                "ofport_request",
                "ingress_policing_rate",
                "ingress_policing_burst",
            ])
        },
    );
    let mut mon = client.monitor(DEFAULT_DB, &reqs).await.unwrap();
    for _ in 0..3 {
        assert_eq!(vs.ensure_port(&spec).await.unwrap(), u);
    }
    vs.sync(T).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), mon.next())
            .await
            .is_err(),
        "a repeated ensure_port wrote to the database"
    );

    // Converge VLAN mode and policing; a foreign external id survives.
    ovs.vsctl(&["set", "port", "p1", "external_ids:foreign=1"])
        .unwrap();
    let spec2 = spec
        .clone()
        .vlan(VlanMode::Trunk(vec![10, 20]))
        .policing(0, 0);
    assert_eq!(vs.ensure_port(&spec2).await.unwrap(), u);
    let upd = tokio::time::timeout(T, mon.next()).await.unwrap().unwrap();
    assert!(upd.contains_key("Port") || upd.contains_key("Interface"));
    assert_eq!(get(&ovs, "port", "p1", "trunks"), "[10, 20]");
    assert_eq!(get(&ovs, "port", "p1", "tag"), "[]");
    assert_eq!(get(&ovs, "port", "p1", "vlan_mode"), "trunk");
    assert_eq!(get(&ovs, "interface", "p1", "ingress_policing_rate"), "0");
    assert_eq!(get(&ovs, "port", "p1", "external_ids:foreign"), "\"1\"");

    // Direct setters.
    vs.set_vlan("p1", &VlanMode::Access(7)).await.unwrap();
    vs.set_ingress_policing("p1", 2000, 200).await.unwrap();
    assert_eq!(get(&ovs, "port", "p1", "tag"), "7");
    assert_eq!(
        get(&ovs, "interface", "p1", "ingress_policing_burst"),
        "200"
    );
    assert!(matches!(
        vs.set_vlan("nope", &VlanMode::None).await,
        Err(OvsdbError::NotFound(_))
    ));

    // A port on another bridge is refused, not moved.
    vs.ensure_bridge(&BridgeSpec::contiv("br1", "netdev"))
        .await
        .unwrap();
    let err = vs
        .ensure_port(&PortSpec::new("br1", "p1", InterfaceKind::Internal))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another bridge"), "{err}");
    let err = vs
        .ensure_port(&PortSpec::new("nobridge", "p2", InterfaceKind::Internal))
        .await
        .unwrap_err();
    assert!(matches!(err, OvsdbError::NotFound(_)), "{err}");

    assert!(vs.delete_port("br0", "p1").await.unwrap());
    assert!(!vs.delete_port("br0", "p1").await.unwrap());
    assert_eq!(ovs.vsctl(&["list-ports", "br0"]).unwrap().trim(), "");
    assert!(vs.port("p1").await.unwrap().is_none());
}

const DEFAULT_DB: &str = "Open_vSwitch";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_agents_create_one_bridge_and_one_port() {
    let (ovs, _) = setup().await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(Vswitch::connect_unix(ovs.db_socket()).await.unwrap());
    }
    let spec = BridgeSpec::contiv("br-race", "netdev");
    let handles: Vec<_> = clients
        .iter()
        .map(|vs| {
            let (vs, spec) = (vs.clone(), spec.clone());
            tokio::spawn(async move { vs.ensure_bridge(&spec).await })
        })
        .collect();
    let mut uuids = Vec::new();
    for h in handles {
        uuids.push(h.await.unwrap().unwrap());
    }
    uuids.dedup();
    assert_eq!(uuids.len(), 1, "all agents converge on one bridge");
    assert_eq!(ovs.vsctl(&["list-br"]).unwrap().trim(), "br-race");

    let port = PortSpec::new("br-race", "p-race", InterfaceKind::Internal).owner("a");
    let handles: Vec<_> = clients
        .iter()
        .map(|vs| {
            let (vs, port) = (vs.clone(), port.clone());
            tokio::spawn(async move { vs.ensure_port(&port).await })
        })
        .collect();
    let mut uuids = Vec::new();
    for h in handles {
        uuids.push(h.await.unwrap().unwrap());
    }
    uuids.dedup();
    assert_eq!(uuids.len(), 1);
    assert_eq!(
        ovs.vsctl(&["list-ports", "br-race"]).unwrap().trim(),
        "p-race"
    );
    assert_eq!(
        ovs.vsctl(&["--columns=name", "find", "Interface", "name=p-race"])
            .unwrap()
            .matches("p-race")
            .count(),
        1
    );
}

#[tokio::test]
async fn wait_ofport_reports_missing_and_unattachable_interfaces() {
    let (ovs, vs) = setup().await;
    vs.ensure_bridge(&BridgeSpec::contiv("br0", "netdev"))
        .await
        .unwrap();
    assert!(matches!(
        vs.wait_ofport("ghost", T).await,
        Err(OvsdbError::NotFound(_))
    ));
    // A system port for a device that does not exist: OVS sets ofport -1.
    vs.ensure_port(&PortSpec::new("br0", "nodev0", InterfaceKind::System))
        .await
        .unwrap();
    let err = vs.wait_ofport("nodev0", T).await.unwrap_err();
    assert!(
        matches!(&err, OvsdbError::Invalid(m) if m.contains("nodev0") && m.contains("could not open")),
        "{err}"
    );
    assert_eq!(vs.port("nodev0").await.unwrap().unwrap().ofport, Some(-1));
    // Without ovs-vswitchd nothing assigns a port number: a timeout.
    let mut ovs = ovs;
    ovs.stop_vswitchd();
    vs.ensure_port(&PortSpec::new("br0", "late", InterfaceKind::Internal))
        .await
        .unwrap();
    let err = vs
        .wait_ofport("late", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, OvsdbError::Timeout { .. }), "{err}");
    let err = vs.sync(Duration::from_millis(300)).await.unwrap_err();
    assert!(err.to_string().contains("ovs-vswitchd"), "{err}");
}
