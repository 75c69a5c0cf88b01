//! Differential test: random policies × random packets; the verdict of the
//! loaded `from_endpoint` classifier (`BPF_PROG_TEST_RUN` on the program
//! attached to the sender's veth, with its real maps) must equal the policy
//! oracle's (`contiv_policy::evaluate`).
//!
//! One host, two tenants with overlapping subnets, local endpoints in both,
//! remote endpoints of tenant 1 behind a peer VTEP. A packet between two
//! local endpoints meets both stages here; one to a remote endpoint only the
//! egress stage (the other host judges ingress); one to an address only the
//! other tenant has goes nowhere (tenant isolation). Every allowed
//! connection's reply must pass. Policies change through incremental
//! deltas; every few cases a resync with the full state must find nothing
//! to change.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{
    Attachment, Datapath, DesiredState, DpOp, GlobalSpec, LocalEndpoint, MacAddr, NetworkSpec,
    RemoteEndpoint, VtepPeer,
};
use contiv_core::ir::{
    Action, AddrSet, AddrSetId, Direction, EpgId, IrRule, PeerMatch, PolicyIr, PortRange, RuleId,
    RuleOrigin, TenantId,
};
use contiv_policy::{Cause, Packet, PacketEnd, evaluate};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use support::frames::{L4, ip_frame};
use support::*;

#[derive(Clone, Debug)]
struct Ep {
    id: &'static str,
    tenant: TenantId,
    host: u8,
    v6: bool,
    local: bool,
}

const EPS: [Ep; 8] = [
    Ep {
        id: "e2",
        tenant: 1,
        host: 2,
        v6: true,
        local: true,
    },
    Ep {
        id: "e3",
        tenant: 1,
        host: 3,
        v6: true,
        local: true,
    },
    Ep {
        id: "e4",
        tenant: 1,
        host: 4,
        v6: false,
        local: true,
    },
    Ep {
        id: "e5",
        tenant: 1,
        host: 5,
        v6: true,
        local: true,
    },
    Ep {
        id: "f2",
        tenant: 2,
        host: 2,
        v6: true,
        local: true,
    },
    Ep {
        id: "f9",
        tenant: 2,
        host: 9,
        v6: false,
        local: true,
    },
    Ep {
        id: "r6",
        tenant: 1,
        host: 6,
        v6: true,
        local: false,
    },
    Ep {
        id: "r7",
        tenant: 1,
        host: 7,
        v6: false,
        local: false,
    },
];

const EPGS: [&[EpgId]; 2] = [&[10, 11, 12], &[20]];

fn v4(host: u8) -> IpAddr {
    format!("10.71.0.{host}").parse().unwrap()
}

fn v6(host: u8) -> IpAddr {
    format!("fd47::{host:x}").parse().unwrap()
}

fn mac(tenant: TenantId, host: u8) -> MacAddr {
    MacAddr([0x02, 0x02, 10, 71, tenant as u8, host])
}

fn net(tenant: TenantId) -> NetworkSpec {
    let mut n = vxlan_net(&format!("t{tenant}:n"), tenant, 71, 7100 + tenant);
    n.subnet6 = Some("fd47::/64".parse().unwrap());
    n.gateway6 = Some("fd47::1".parse().unwrap());
    n
}

const SETS: [(&str, &[&str]); 6] = [
    ("cidr:10.71.0.0/29", &["10.71.0.0/29"]),
    ("cidr:10.71.0.4/32", &["10.71.0.4/32"]),
    ("cidr:fd47::/124", &["fd47::/124"]),
    ("cidr:0.0.0.0/0", &["0.0.0.0/0"]),
    ("cidr:::/0", &["::/0"]),
    ("net:t1:n", &["10.71.0.0/24", "fd47::/64"]),
];

fn sets() -> Vec<AddrSet> {
    SETS.iter()
        .map(|(id, ps)| AddrSet {
            id: AddrSetId((*id).into()),
            prefixes: ps.iter().map(|p| p.parse().unwrap()).collect(),
        })
        .collect()
}

#[derive(Clone, Debug)]
struct RuleSpec {
    tenant: TenantId,
    epg: usize,
    dir: Direction,
    peer: u8,
    peer_x: usize,
    local: Option<usize>,
    proto: Option<u8>,
    ports: u8,
    priority: u8,
    deny: bool,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        prop_oneof![4 => Just(1u32), 1 => Just(2u32)],
        0..3usize,
        prop_oneof![Just(Direction::In), Just(Direction::Out)],
        prop_oneof![2 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        0..SETS.len(),
        prop::option::weighted(0.1, 0..SETS.len()),
        prop_oneof![
            2 => Just(None),
            2 => Just(Some(6u8)),
            1 => Just(Some(17u8)),
            1 => Just(Some(1u8)),
            1 => Just(Some(58u8)),
            1 => Just(Some(47u8))
        ],
        prop_oneof![3 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        1..3u8,
        prop::bool::weighted(0.6),
    )
        .prop_map(
            |(tenant, epg, dir, peer, peer_x, local, proto, ports, priority, deny)| RuleSpec {
                tenant,
                epg,
                dir,
                peer,
                peer_x,
                local,
                proto,
                ports,
                priority,
                deny,
            },
        )
}

fn ir_of(rules: &[RuleSpec], members: &[usize]) -> PolicyIr {
    let mut ir = PolicyIr::default();
    for s in sets() {
        ir.addr_sets.insert(s.id.clone(), s);
    }
    for (i, r) in rules.iter().enumerate() {
        let epgs = EPGS[(r.tenant - 1) as usize];
        let epg = epgs[r.epg % epgs.len()];
        let peer = match r.peer {
            0 => PeerMatch::Any,
            1 => PeerMatch::Epg(epgs[r.peer_x % epgs.len()]),
            _ => PeerMatch::AddrSet(AddrSetId(SETS[r.peer_x].0.into())),
        };
        let ports = match (r.proto, r.ports) {
            (Some(6 | 17) | None, 1) => Some(PortRange::single(80)),
            (Some(6 | 17) | None, 2) => Some(PortRange {
                start: 1000,
                end: 1010,
            }),
            _ => None,
        };
        let id = RuleId(1000 + i as u64);
        ir.rules.insert(
            id,
            IrRule {
                id,
                tenant: r.tenant,
                epg,
                direction: r.dir,
                peer,
                local: r.local.map(|x| AddrSetId(SETS[x].0.into())),
                proto: r.proto,
                ports,
                priority: r.priority,
                action: if r.deny { Action::Deny } else { Action::Allow },
                origin: RuleOrigin {
                    policy: format!("t{}:p", r.tenant),
                    rule: i.to_string(),
                    epg: format!("g{epg}"),
                },
            },
        );
    }
    for (e, m) in EPS.iter().zip(members) {
        let epgs = EPGS[(e.tenant - 1) as usize];
        if *m == 0 {
            continue;
        }
        let epg = epgs[(*m - 1) % epgs.len()];
        ir.members.insert((e.tenant, v4(e.host)), epg);
        if e.v6 {
            ir.members.insert((e.tenant, v6(e.host)), epg);
        }
    }
    ir
}

#[derive(Clone, Debug)]
struct Pkt {
    src: usize,
    dst: usize,
    v6: bool,
    proto: u8,
    dport: u16,
}

fn pkt() -> impl Strategy<Value = Pkt> {
    (
        0..6usize,
        0..EPS.len(),
        any::<bool>(),
        prop_oneof![Just(6u8), Just(17u8), Just(1u8), Just(47u8)],
        prop_oneof![Just(80u16), Just(443), Just(1005), Just(53)],
    )
        .prop_map(|(src, dst, v6, proto, dport)| Pkt {
            src,
            dst,
            v6,
            proto,
            dport,
        })
}

fn locals(ctrs: &[String]) -> Vec<LocalEndpoint> {
    EPS.iter()
        .filter(|e| e.local)
        .zip(ctrs)
        .map(|(e, peer)| LocalEndpoint {
            id: e.id.into(),
            network: net(e.tenant).key,
            epg: 0,
            ipv4: Some(format!("{}/24", v4(e.host)).parse().unwrap()),
            ipv6: e.v6.then(|| format!("{}/64", v6(e.host)).parse().unwrap()),
            mac: mac(e.tenant, e.host),
            host_ifname: unique("dh"),
            attachment: Attachment::HostVeth {
                peer_name: peer.clone(),
            },
            mtu: 1450,
            qos: None,
        })
        .collect()
}

fn remotes() -> Vec<RemoteEndpoint> {
    EPS.iter()
        .filter(|e| !e.local)
        .map(|e| RemoteEndpoint {
            id: e.id.into(),
            network: net(e.tenant).key,
            epg: 0,
            ipv4: Some(match v4(e.host) {
                IpAddr::V4(a) => a,
                _ => unreachable!(),
            }),
            ipv6: e.v6.then(|| match v6(e.host) {
                IpAddr::V6(a) => a,
                _ => unreachable!(),
            }),
            mac: mac(e.tenant, e.host),
            vtep: "192.0.2.10".parse().unwrap(),
        })
        .collect()
}

fn l4(proto: u8, sport: u16, dport: u16, reply: bool) -> L4 {
    match (proto, reply) {
        (6, false) => L4::Tcp {
            sport,
            dport,
            flags: 0x02,
        },
        (6, true) => L4::Tcp {
            sport: dport,
            dport: sport,
            flags: 0x12,
        },
        (17, false) => L4::Udp { sport, dport },
        (17, true) => L4::Udp {
            sport: dport,
            dport: sport,
        },
        (1, r) => L4::Echo {
            id: sport,
            reply: r,
        },
        (p, _) => L4::Other(p),
    }
}

#[test]
fn classifier_verdicts_equal_the_oracle() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let host = rt.block_on(Host::new("od"));
    let ctrs: Vec<String> = (0..6).map(|_| unique("dp")).collect();
    let locals = locals(&ctrs);
    let desired = DesiredState {
        global: GlobalSpec::default(),
        networks: vec![net(1), net(2)],
        local_endpoints: locals.clone(),
        remote_endpoints: remotes(),
        peers: vec![VtepPeer {
            host: "peer".into(),
            ip: "192.0.2.10".parse().unwrap(),
        }],
        policy: PolicyIr::default(),
    };
    rt.block_on(host.dp().resync(&desired)).unwrap();
    let current = RefCell::new(desired.policy.clone());
    let case = Cell::new(0u32);
    let sport = Cell::new(40000u16);
    let desired = RefCell::new(desired);
    // [allowed, denied by policy, to a remote endpoint, other tenant only]
    // (the first two counted where the address reaches an endpoint)
    let seen = RefCell::new([0u32; 4]);
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop::collection::vec(rule_spec(), 1..12),
        prop::collection::vec(0..4usize, EPS.len()),
        prop::collection::vec(pkt(), 24),
    );
    let result = runner.run(&strategy, |(rules, members, pkts)| {
        let ir = ir_of(&rules, &members);
        let delta = current.borrow().diff(&ir);
        rt.block_on(host.dp().apply(vec![DpOp::Policy(delta)]))
            .map_err(|e| TestCaseError::fail(format!("apply: {e}")))?;
        *current.borrow_mut() = ir.clone();
        case.set(case.get() + 1);
        if case.get().is_multiple_of(8) {
            desired.borrow_mut().policy = ir.clone();
            let r = rt.block_on(host.dp().resync(&desired.borrow())).unwrap();
            prop_assert_eq!(
                (r.added, r.removed),
                (0, 0),
                "a resync after incremental deltas changed something"
            );
        }
        for p in &pkts {
            let s = &EPS[p.src];
            let d = &EPS[p.dst];
            let v6 = p.v6 && s.v6 && d.v6;
            let (sip, dip) = if v6 {
                (v6_(s.host), v6_(d.host))
            } else {
                (v4(s.host), v4(d.host))
            };
            // The endpoint the address reaches within the sender's tenant.
            let reached = EPS
                .iter()
                .find(|e| e.tenant == s.tenant && e.host == d.host && (!v6 || e.v6));
            if reached.is_some_and(|e| e.id == s.id) {
                continue;
            }
            let sport = {
                let n = if sport.get() >= 60000 {
                    40000
                } else {
                    sport.get() + 1
                };
                sport.set(n);
                n
            };
            let proto = if p.proto == 1 && v6 { 58 } else { p.proto };
            let frame_l4 = l4(p.proto, sport, p.dport, false);
            let dmac = reached
                .map(|e| mac(e.tenant, e.host))
                .unwrap_or(MacAddr([2, 2, 9, 9, 9, 9]));
            let frame = ip_frame(mac(s.tenant, s.host), dmac, sip, dip, frame_l4);
            let oracle = match reached {
                None => false,
                Some(r) => {
                    let (sp, dp) = match p.proto {
                        6 | 17 => (sport, p.dport),
                        _ => (0, 0),
                    };
                    let pk = Packet {
                        src: PacketEnd::addr(s.tenant, sip),
                        dst: PacketEnd::addr(r.tenant, dip),
                        proto,
                        src_port: sp,
                        dst_port: dp,
                        state: contiv_policy::ConnState::New,
                    };
                    let v = evaluate(&ir, &pk);
                    if r.local {
                        v.allowed()
                    } else {
                        match &v.cause {
                            Cause::Policy { egress, .. } => egress.action == Action::Allow,
                            _ => v.allowed(),
                        }
                    }
                }
            };
            {
                let mut k = seen.borrow_mut();
                match reached {
                    None => k[3] += 1,
                    Some(r) if !r.local => k[2] += 1,
                    _ => {}
                }
                if reached.is_some() {
                    k[usize::from(!oracle)] += 1;
                }
            }
            rt.block_on(host.dp().flush_conntrack()).unwrap();
            let run = rt.block_on(host.dp().run_packet(s.id, &frame)).unwrap();
            prop_assert_eq!(
                run.forwarded(),
                oracle,
                "packet {:?} ({} -> {} proto {} dport {}) under\n{:#?}\nmembers {:?}",
                p,
                sip,
                dip,
                proto,
                p.dport,
                ir.rules,
                ir.members
            );
            if oracle && let Some(r) = reached.filter(|r| r.local) {
                let back = ip_frame(
                    mac(r.tenant, r.host),
                    mac(s.tenant, s.host),
                    dip,
                    sip,
                    l4(p.proto, sport, p.dport, true),
                );
                let run = rt.block_on(host.dp().run_packet(r.id, &back)).unwrap();
                prop_assert!(run.forwarded(), "the reply of allowed {:?} was dropped", p);
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let k = *seen.borrow();
    eprintln!("cases: {k:?}");
    assert!(
        k.iter().all(|n| *n > 20),
        "the random packets missed a kind of case: [allowed, denied, remote, other tenant] = {k:?}"
    );
}

fn v6_(host: u8) -> IpAddr {
    v6(host)
}
