//! Differential test: random policies × random packets; the verdict of the
//! real switch (`ofproto/trace`, last `Datapath actions:`) must equal the
//! policy oracle's (`contiv_policy::evaluate`).
//!
//! One host with local endpoints in two tenants (IPv4, some IPv6) and
//! remote endpoints behind a VXLAN peer. A packet between two local
//! endpoints meets both policy stages here; one to a remote endpoint only
//! the egress stage (the other host does ingress); one arriving through
//! the tunnel only the ingress stage — so each trace is compared with the
//! oracle's verdict for exactly the stages this host enforces. Replies
//! (`ct_state=+est`) must always pass within a tenant.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "support/hosts.rs"]
mod hosts;
#[path = "support/model.rs"]
mod model;

use contiv_core::datapath::MacAddr;
use contiv_core::datapath::{Attachment, Datapath, DpOp, LocalEndpoint, NetworkSpec, VtepPeer};
use contiv_core::ir::{
    Action, AddrSetId, Direction, EpgId, IrRule, PeerMatch, PolicyIr, PortRange, RuleId,
    RuleOrigin, TenantId,
};
use contiv_policy::{Cause, ConnState, Packet, PacketEnd, evaluate};
use hosts::{Host, forwards, unique};
use model::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::RefCell;
use std::net::IpAddr;

/// An endpoint of the scenario.
#[derive(Clone, Debug)]
struct Ep {
    id: &'static str,
    tenant: TenantId,
    v4: &'static str,
    v6: Option<&'static str>,
    local: bool,
}

const EPS: [Ep; 8] = [
    Ep {
        id: "l1",
        tenant: 1,
        v4: "10.60.0.2",
        v6: Some("fd60::2"),
        local: true,
    },
    Ep {
        id: "l2",
        tenant: 1,
        v4: "10.60.0.3",
        v6: Some("fd60::3"),
        local: true,
    },
    Ep {
        id: "l3",
        tenant: 1,
        v4: "10.60.0.4",
        v6: None,
        local: true,
    },
    Ep {
        id: "l4",
        tenant: 1,
        v4: "10.60.0.5",
        v6: None,
        local: true,
    },
    Ep {
        id: "r1",
        tenant: 1,
        v4: "10.60.0.10",
        v6: Some("fd60::10"),
        local: false,
    },
    Ep {
        id: "r2",
        tenant: 1,
        v4: "10.60.0.11",
        v6: None,
        local: false,
    },
    Ep {
        id: "l5",
        tenant: 2,
        v4: "10.60.0.7",
        v6: None,
        local: true,
    },
    Ep {
        id: "l6",
        tenant: 2,
        v4: "10.60.0.8",
        v6: None,
        local: true,
    },
];

const PEER: &str = "172.31.60.2";

fn nets() -> [NetworkSpec; 2] {
    let mut n1 = vxlan_net("t1", 1, "n1", 6000, "10.60.0.0/24");
    n1.subnet6 = Some("fd60::/64".parse().unwrap());
    let n2 = vxlan_net("t2", 2, "n2", 6001, "10.60.0.0/24");
    [n1, n2]
}

fn mac_of(e: &Ep) -> MacAddr {
    MacAddr::from_ipv4(e.v4.parse().unwrap())
}

fn sets() -> Vec<contiv_core::ir::AddrSet> {
    vec![
        addr_set("cidr:a", &["10.60.0.0/30"]),
        addr_set("cidr:b", &["10.60.0.4/31", "fd60::/120"]),
        addr_set("cidr:c", &["10.60.0.10/32"]),
        addr_set("cidr:any", &["0.0.0.0/0"]),
        addr_set("cidr:v6", &["fd60::2/128"]),
        addr_set("net:t1:n1", &["10.60.0.0/24", "fd60::/64"]),
    ]
}

const SET_NAMES: [&str; 6] = [
    "cidr:a",
    "cidr:b",
    "cidr:c",
    "cidr:any",
    "cidr:v6",
    "net:t1:n1",
];

/// EPGs 1..=3 are tenant 1's, 4 is tenant 2's.
fn tenant_of_epg(g: EpgId) -> TenantId {
    if g == 4 { 2 } else { 1 }
}

#[derive(Clone, Debug)]
struct RuleSpec {
    owner: EpgId,
    inbound: bool,
    peer: u8,
    local_set: Option<u8>,
    proto: u8,
    ports: u8,
    priority: u8,
    deny: bool,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        1..=4u32,
        any::<bool>(),
        0..10u8,
        proptest::option::weighted(0.15, 0..6u8),
        0..6u8,
        0..4u8,
        1..=6u8,
        any::<bool>(),
    )
        .prop_map(
            |(owner, inbound, peer, local_set, proto, ports, priority, deny)| RuleSpec {
                owner,
                inbound,
                peer,
                local_set,
                proto,
                ports,
                priority,
                deny,
            },
        )
}

fn ir_rule(i: usize, s: &RuleSpec) -> IrRule {
    let tenant = tenant_of_epg(s.owner);
    let same_tenant: Vec<EpgId> = (1..=4).filter(|g| tenant_of_epg(*g) == tenant).collect();
    let peer = match s.peer {
        0 | 1 => PeerMatch::Any,
        2..=4 => PeerMatch::Epg(same_tenant[usize::from(s.peer) % same_tenant.len()]),
        n => PeerMatch::AddrSet(AddrSetId(
            SET_NAMES[usize::from(n - 4) % SET_NAMES.len()].into(),
        )),
    };
    let (proto, ports) = match (s.proto, s.ports) {
        (0, p) => (
            Some(6),
            match p {
                0 => None,
                1 => Some(PortRange::single(80)),
                2 => Some(PortRange {
                    start: 8000,
                    end: 8100,
                }),
                _ => Some(PortRange::single(22)),
            },
        ),
        (1, p) => (Some(17), (p % 2 == 1).then_some(PortRange::single(53))),
        (2, _) => (Some(1), None),
        (3, _) => (None, None),
        (4, p) => (None, (p > 1).then_some(PortRange::single(80))),
        _ => (Some(47), None),
    };
    IrRule {
        id: RuleId(1000 + i as u64),
        tenant,
        epg: s.owner,
        direction: if s.inbound {
            Direction::In
        } else {
            Direction::Out
        },
        peer,
        local: s
            .local_set
            .filter(|_| s.inbound)
            .map(|k| AddrSetId(SET_NAMES[usize::from(k)].into())),
        proto,
        ports,
        priority: s.priority,
        action: if s.deny { Action::Deny } else { Action::Allow },
        origin: RuleOrigin {
            policy: "p".into(),
            rule: i.to_string(),
            epg: format!("g{}", s.owner),
        },
    }
}

#[derive(Clone, Debug)]
struct Pkt {
    src: usize,
    dst: usize,
    v6: bool,
    proto: u8,
    port: u16,
    reply: bool,
}

fn pkt() -> impl Strategy<Value = Pkt> {
    // Mostly tenant 1 (where the rules and groups are); tenant 2 enough to
    // keep isolation in the mix.
    let end = || prop_oneof![6 => 0..6usize, 1 => 6..8usize];
    (
        end(),
        end(),
        any::<bool>(),
        prop_oneof![Just(6u8), Just(17), Just(1), Just(47)],
        prop_oneof![
            Just(80u16),
            Just(22),
            Just(53),
            Just(8050),
            Just(8100),
            Just(8101),
            Just(443)
        ],
        proptest::bool::weighted(0.15),
    )
        .prop_map(|(src, dst, v6, proto, port, reply)| Pkt {
            src,
            dst,
            v6,
            proto,
            port,
            reply,
        })
}

fn policy(epgs: &[EpgId], rules: &[RuleSpec]) -> PolicyIr {
    let mut ir = PolicyIr::default();
    for s in sets() {
        ir.addr_sets.insert(s.id.clone(), s);
    }
    for (i, s) in rules.iter().enumerate() {
        let r = ir_rule(i, s);
        ir.rules.insert(r.id, r);
    }
    for (e, g) in EPS.iter().zip(epgs) {
        if *g == 0 {
            continue;
        }
        ir.members.insert((e.tenant, ip(e.v4)), *g);
        if let Some(v6) = e.v6 {
            ir.members.insert((e.tenant, ip(v6)), *g);
        }
    }
    ir
}

fn epg_choice(e: &Ep) -> BoxedStrategy<EpgId> {
    if e.tenant == 1 {
        prop_oneof![Just(0u32), Just(1), Just(2), Just(3)].boxed()
    } else {
        prop_oneof![Just(0u32), Just(4)].boxed()
    }
}

struct Scenario {
    host: Host,
    ofport: Vec<Option<u32>>,
    tunnel: u32,
    _veths: Vec<String>,
}

/// The trace flow of a packet entering this host (from a local port or
/// the tunnel).
fn trace_flow(sc: &Scenario, p: &Pkt) -> Option<String> {
    let (s, d) = (&EPS[p.src], &EPS[p.dst]);
    let v6 = p.v6 && s.v6.is_some() && d.v6.is_some();
    let (sip, dip) = if v6 {
        (s.v6?.to_string(), d.v6?.to_string())
    } else {
        (s.v4.to_string(), d.v4.to_string())
    };
    let inp = if s.local {
        format!("in_port={}", sc.ofport[p.src]?)
    } else {
        format!("in_port={},tun_id=6000", sc.tunnel)
    };
    let l4 = match (p.proto, v6) {
        (6, false) => format!(
            "tcp,nw_src={sip},nw_dst={dip},tp_src=40000,tp_dst={}",
            p.port
        ),
        (6, true) => format!(
            "tcp6,ipv6_src={sip},ipv6_dst={dip},tp_src=40000,tp_dst={}",
            p.port
        ),
        (17, false) => format!(
            "udp,nw_src={sip},nw_dst={dip},udp_src=40000,udp_dst={}",
            p.port
        ),
        (17, true) => format!(
            "udp6,ipv6_src={sip},ipv6_dst={dip},udp_src=40000,udp_dst={}",
            p.port
        ),
        (1, false) => format!("icmp,nw_src={sip},nw_dst={dip},icmp_type=8,icmp_code=0"),
        (1, true) => format!("icmp6,ipv6_src={sip},ipv6_dst={dip},icmpv6_type=128,icmpv6_code=0"),
        (n, false) => format!("ip,nw_proto={n},nw_src={sip},nw_dst={dip}"),
        (n, true) => format!("ipv6,nw_proto={n},ipv6_src={sip},ipv6_dst={dip}"),
    };
    Some(format!(
        "{inp},dl_src={},dl_dst={},{l4}",
        mac_of(s),
        mac_of(d)
    ))
}

/// The oracle's verdict for the stages this host enforces.
fn expected(ir: &PolicyIr, p: &Pkt) -> bool {
    let (s, d) = (&EPS[p.src], &EPS[p.dst]);
    let v6 = p.v6 && s.v6.is_some() && d.v6.is_some();
    let (sip, dip): (IpAddr, IpAddr) = if v6 {
        (ip(s.v6.unwrap_or_default()), ip(d.v6.unwrap_or_default()))
    } else {
        (ip(s.v4), ip(d.v4))
    };
    let proto = if p.proto == 1 && v6 { 58 } else { p.proto };
    let mut pk = Packet::l4(
        PacketEnd::addr(s.tenant, sip),
        PacketEnd::addr(d.tenant, dip),
        proto,
        if matches!(proto, 6 | 17) { p.port } else { 0 },
    );
    if p.reply {
        pk = pk.with_state(ConnState::Reply);
    }
    let v = evaluate(ir, &pk);
    match &v.cause {
        Cause::Policy { egress, ingress } => {
            let eg = !s.local || egress.action == Action::Allow;
            let ing = !d.local || ingress.action == Action::Allow;
            eg && ing
        }
        _ => v.allowed(),
    }
}

#[test]
fn switch_verdicts_equal_the_oracle_for_random_policies_and_packets() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut host = Host::new();
    host.fake_underlay("172.31.60.1", PEER);
    let [n1, n2] = nets();
    // Local endpoints on pre-made veths (the trace needs only the ports).
    let mut veths = Vec::new();
    let mut ops = vec![
        DpOp::AddNetwork(n1.clone()),
        DpOp::AddNetwork(n2.clone()),
        DpOp::AddPeer(VtepPeer {
            host: "far".into(),
            ip: PEER.parse().unwrap(),
        }),
    ];
    for e in &EPS {
        let net = if e.tenant == 1 { &n1 } else { &n2 };
        if e.local {
            let name = unique("dv");
            host.ns.ip(&[
                "link",
                "add",
                &name,
                "type",
                "veth",
                "peer",
                "name",
                &format!("{name}p"),
            ]);
            host.ns.ip(&["link", "set", &format!("{name}p"), "up"]);
            let mut ep: LocalEndpoint = local_ep(e.id, net, e.v4, 0, &name);
            ep.attachment = Attachment::Existing;
            ep.ipv6 =
                e.v6.map(|a| ipnet::Ipv6Net::new(a.parse().unwrap(), 64).unwrap());
            ops.push(DpOp::AddLocalEndpoint(ep));
            veths.push(name);
        } else {
            let mut r = remote_ep(e.id, net, e.v4, 0, PEER);
            r.ipv6 = e.v6.map(|a| a.parse().unwrap());
            ops.push(DpOp::AddRemoteEndpoint(r));
        }
    }
    let (ofport, tunnel) = rt.block_on(async {
        host.connect().await;
        host.dp().apply(ops).await.expect("set up the scenario");
        let mut v = Vec::new();
        for e in &EPS {
            v.push(host.dp().ofport_of(e.id).await);
        }
        (
            v,
            host.dp().peer_ofport(PEER.parse().unwrap()).await.unwrap(),
        )
    });
    let sc = Scenario {
        host,
        ofport,
        tunnel,
        _veths: veths,
    };
    let installed = RefCell::new(PolicyIr::default());
    let epgs = EPS.iter().map(epg_choice).collect::<Vec<_>>();
    let strategy = (
        epgs,
        proptest::collection::vec(rule_spec(), 0..20),
        proptest::collection::vec(pkt(), 12..20),
    );
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let compared = std::cell::Cell::new(0usize);
    let denied = std::cell::Cell::new(0usize);
    let by_rule = std::cell::Cell::new(0usize);
    let result = runner.run(&strategy, |(epgs, rules, pkts)| {
        let ir = policy(&epgs, &rules);
        let delta = installed.borrow().diff(&ir);
        rt.block_on(sc.host.dp().apply(vec![DpOp::Policy(delta)]))
            .map_err(|e| TestCaseError::fail(format!("apply: {e}")))?;
        *installed.borrow_mut() = ir.clone();
        for p in &pkts {
            let Some(flow) = trace_flow(&sc, p) else {
                continue;
            };
            // Both ends elsewhere, or a packet to itself (OpenFlow never
            // outputs to the input port): not this host's business.
            if (!EPS[p.src].local && !EPS[p.dst].local) || p.src == p.dst {
                continue;
            }
            let ct = if p.reply { "trk,est" } else { "trk,new" };
            let actions = sc
                .host
                .try_trace(&flow, Some(ct))
                .map_err(TestCaseError::fail)?;
            let got = forwards(&actions);
            let want = expected(&ir, p);
            compared.set(compared.get() + 1);
            denied.set(denied.get() + usize::from(!want));
            let same_tenant = EPS[p.src].tenant == EPS[p.dst].tenant;
            by_rule.set(by_rule.get() + usize::from(!want && same_tenant && !p.reply));
            if got != want {
                let full = sc
                    .host
                    .ovs
                    .appctl(&["ofproto/trace", "contivbr", &flow, "--ct-next", ct])
                    .unwrap_or_default();
                eprintln!("full trace of the mismatch:\n{full}");
            }
            prop_assert_eq!(
                got,
                want,
                "packet {:?}\ntrace flow {}\ndatapath actions: {}\nrules: {:#?}\nmembers: {:?}",
                p,
                flow,
                actions,
                ir.rules.values().collect::<Vec<_>>(),
                ir.members
            );
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (compared, denied, by_rule) = (compared.get(), denied.get(), by_rule.get());
    println!(
        "compared {compared} packets with the oracle ({denied} denied, {by_rule} of them by a rule)"
    );
    // The run must exercise both outcomes and rule denies, not only
    // tenant isolation.
    assert!(
        compared > 800 && by_rule > 30 && compared - denied > 150,
        "{compared} compared / {denied} denied / {by_rule} by rules"
    );
}
