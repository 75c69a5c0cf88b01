//! Cross-checks with `ovs-ofctl`:
//!
//! * `ovs-ofctl ofp-print <hex>` of what we emit says what we meant;
//! * everything `ovs-ofctl -O OpenFlow13` and ovs-vswitchd exchange
//!   (captured by a relay between them) decodes, re-encodes to the same
//!   meaning, and the flow-mods/bundles ovs-ofctl sends parse to the Reprs
//!   we would build for the same flows.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

use contiv_dp_ovs::openflow::wire::*;
use contiv_dp_ovs::testing::OvsInstance;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn ofp_print(msg: &Message, xid: u32) -> String {
    let mut b = Vec::new();
    encode(msg, xid, &mut b).unwrap();
    let out = Command::new("ovs-ofctl")
        .args(["ofp-print", &hex(&b)])
        .output()
        .expect("ovs-ofctl must be installed (make deps)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !text.contains("decode error"),
        "ovs-ofctl could not decode {msg:?}: {text}"
    );
    text
}

const FRAME: [u8; 16] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5, 0, 0,
];

#[test]
fn ofp_print_agrees_with_what_we_emit() {
    let cases: Vec<(Message, &str)> = vec![
        (
            Message::Hello(Hello::v13()),
            "OFPT_HELLO (OF1.3) (xid=0x1):\n version bitmap: 0x04\n",
        ),
        (
            Message::FeaturesReply(FeaturesReply {
                datapath_id: 0x1234,
                n_buffers: 0,
                n_tables: 254,
                auxiliary_id: 0,
                capabilities: 0x4f,
                reserved: 0,
            }),
            "OFPT_FEATURES_REPLY (OF1.3) (xid=0x1): dpid:0000000000001234\n\
             n_tables:254, n_buffers:0\n\
             capabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS QUEUE_STATS\n",
        ),
        (
            Message::SetConfig(SwitchConfig {
                flags: 0,
                miss_send_len: 0xffff,
            }),
            "OFPT_SET_CONFIG (OF1.3) (xid=0x1): frags=normal miss_send_len=65535\n",
        ),
        (
            Message::BarrierRequest,
            "OFPT_BARRIER_REQUEST (OF1.3) (xid=0x1):\n",
        ),
        (
            Message::RoleRequest(RoleRequest {
                role: Role::Master,
                generation_id: 7,
            }),
            "OFPT_ROLE_REQUEST (OF1.3) (xid=0x1): role=primary generation_id=7\n",
        ),
        (
            Message::FlowMod(
                FlowMod::add(1, 100)
                    .cookie(0x5)
                    .matching(Match::new().eth_type(0x0800).ipv4_dst(ip("10.0.0.1")))
                    .apply(vec![Action::output(2)])
                    .goto(2),
            ),
            "OFPT_FLOW_MOD (OF1.3) (xid=0x1): ADD table:1 priority=100,ip,nw_dst=10.0.0.1 \
             cookie:0x5 actions=output:2,goto_table:2\n",
        ),
        (
            Message::FlowMod(FlowMod::delete_by_cookie(
                0x0100_0000_0000_0000,
                0xff00_0000_0000_0000,
            )),
            "OFPT_FLOW_MOD (OF1.3) (xid=0x1): DEL table:255 priority=0 \
             cookie:0x100000000000000/0xff00000000000000 actions=drop\n",
        ),
        (
            Message::FlowMod(
                FlowMod::add(3, 50)
                    .matching(
                        Match::new()
                            .eth_type(0x0800)
                            .ip_proto(6)
                            .ct_state(0x21, 0x21)
                            .tcp_dst(8888),
                    )
                    .apply(vec![Action::Ct(
                        Ct::new()
                            .commit()
                            .zone(CtZone::Imm(1))
                            .table(4)
                            .action(Action::Nat(Nat::dnat(ip("10.0.0.9")).ports(80, 80))),
                    )]),
            ),
            "OFPT_FLOW_MOD (OF1.3) (xid=0x1): ADD table:3 priority=50,ct_state=+new+trk,tcp,\
             tp_dst=8888 actions=ct(commit,table=4,zone=1,nat(dst=10.0.0.9:80))\n",
        ),
        (
            Message::GroupMod(GroupMod::add(
                1,
                GroupType::All,
                vec![
                    Bucket::new(vec![Action::output(3)]),
                    Bucket::new(vec![Action::output(4)]),
                ],
            )),
            "OFPT_GROUP_MOD (OF1.3) (xid=0x1):\n ADD group_id=1,type=all,\
             bucket=actions=output:3,bucket=actions=output:4\n",
        ),
        (
            Message::PacketOut(PacketOut::new(
                1,
                vec![Action::output(port_no::TABLE)],
                FRAME.to_vec(),
            )),
            "OFPT_PACKET_OUT (OF1.3) (xid=0x1): in_port=1 actions=TABLE data_len=16\n\
             vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,dl_type=0x88b5\n",
        ),
        (
            Message::BundleControl(BundleControl::new(
                1,
                BundleCtrlType::CommitRequest,
                bundle_flags::ATOMIC | bundle_flags::ORDERED,
            )),
            "ONFT_BUNDLE_CONTROL (OF1.3) (xid=0x1):\n bundle_id=0x1 type=COMMIT_REQUEST \
             flags=atomic ordered\n",
        ),
        (
            Message::MultipartRequest(
                MultipartRequestBody::Flow(FlowStatsRequest {
                    table_id: 3,
                    ..FlowStatsRequest::all()
                })
                .into(),
            ),
            "OFPST_FLOW request (OF1.3) (xid=0x1): table=3\n",
        ),
        (
            Message::MultipartRequest(MultipartRequestBody::PortDesc.into()),
            "OFPST_PORT_DESC request (OF1.3) (xid=0x1): port=ANY\n",
        ),
        (
            Message::PortStatus(PortStatus {
                reason: PortStatusReason::Add,
                desc: Port {
                    port_no: 7,
                    hw_addr: MacAddr([2, 0, 0, 0, 0, 7]),
                    name: "p7".into(),
                    curr_speed: 10_000_000,
                    ..Port::default()
                },
            }),
            "OFPT_PORT_STATUS (OF1.3) (xid=0x1): ADD: 7(p7): addr:02:00:00:00:00:07\n     \
             config:     0\n     state:      0\n     speed: 10000 Mbps now, 0 Mbps max\n",
        ),
        (
            Message::PacketIn(PacketIn {
                buffer_id: NO_BUFFER,
                total_len: 16,
                reason: packet_in_reason::ACTION,
                table_id: 0,
                cookie: 0x77,
                r#match: Match::new().in_port_is(1),
                data: FRAME.to_vec(),
            }),
            "OFPT_PACKET_IN (OF1.3) (xid=0x1): cookie=0x77 total_len=16 in_port=1 (via action) \
             data_len=16 (unbuffered)\n\
             vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,dl_type=0x88b5\n",
        ),
        (
            Message::Error(ErrorMsg::new(2, 9, vec![4, 20, 0, 8, 0, 0, 0, 1])),
            "OFPT_ERROR (OF1.3) (xid=0x1): OFPBAC_BAD_OUT_GROUP\n\
             OFPT_BARRIER_REQUEST (OF1.3) (xid=0x1):\n",
        ),
    ];
    for (msg, want) in cases {
        assert_eq!(ofp_print(&msg, 1), want, "{msg:?}");
    }
    // A bundle add: ovs-ofctl decodes the inner flow-mod too.
    let add = Message::BundleAdd(BundleAdd {
        bundle_id: 1,
        flags: bundle_flags::ATOMIC,
        message: Box::new(Message::FlowMod(FlowMod::add(0, 1).goto(1))),
    });
    let text = ofp_print(&add, 9);
    assert!(
        text.starts_with(
            "ONFT_BUNDLE_ADD_MESSAGE (OF1.3) (xid=0x9):\n bundle_id=0x1 flags=atomic\n"
        ) && text.contains("OFPT_FLOW_MOD (OF1.3) (xid=0x9): ADD priority=1 actions=goto_table:1"),
        "{text}"
    );
}

/// Which way a captured message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToSwitch,
    FromSwitch,
}

type Capture = Arc<Mutex<Vec<(Dir, Vec<u8>)>>>;

async fn pump(
    mut from: tokio::net::unix::OwnedReadHalf,
    mut to: tokio::net::unix::OwnedWriteHalf,
    dir: Dir,
    cap: Capture,
) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        while buf.len() >= 8 {
            let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
            if len < 8 || buf.len() < len {
                break;
            }
            let rest = buf.split_off(len);
            let msg = std::mem::replace(&mut buf, rest);
            cap.lock().unwrap().push((dir, msg));
        }
    }
    let _ = to.shutdown().await;
}

/// A relay on `path` to the switch at `target` that records every message.
async fn relay(path: PathBuf, target: PathBuf) -> Capture {
    let cap: Capture = Arc::default();
    let l = UnixListener::bind(&path).unwrap();
    let c = cap.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = l.accept().await {
            let Ok(switch) = UnixStream::connect(&target).await else {
                break;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = switch.into_split();
            tokio::spawn(pump(cr, sw, Dir::ToSwitch, c.clone()));
            tokio::spawn(pump(sr, cw, Dir::FromSwitch, c.clone()));
        }
    });
    cap
}

/// Runs ovs-ofctl off the async runtime.
async fn ofctl(ovs: &Arc<OvsInstance>, args: Vec<String>) -> String {
    let ovs = ovs.clone();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ovs.ofctl(&a).unwrap()
    })
    .await
    .unwrap()
}

fn take(cap: &Capture) -> Vec<(Dir, u32, Message, Vec<u8>)> {
    let raw = std::mem::take(&mut *cap.lock().unwrap());
    raw.into_iter()
        .map(|(d, b)| {
            let (xid, m, used) = decode(&b)
                .unwrap_or_else(|e| panic!("cannot decode {d:?} message {}: {e}", hex(&b)));
            assert_eq!(used, b.len());
            // Re-encoding keeps the meaning (field order may differ from OVS's).
            let mut again = Vec::new();
            encode(&m, xid, &mut again).unwrap();
            assert_eq!(
                decode(&again).unwrap().1,
                m,
                "re-encoding changed {d:?} {}",
                hex(&b)
            );
            assert_eq!(
                again.len(),
                b.len(),
                "re-encoded length differs for {}",
                hex(&b)
            );
            (d, xid, m, b)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_ovs_ofctl_and_vswitchd_exchange_decodes() {
    let ovs = Arc::new(OvsInstance::start().unwrap());
    ovs.add_bridge("br0").unwrap();
    ovs.add_internal_port("br0", "p1", 1).unwrap();
    let sock = ovs.rundir().join("relay.sock");
    let cap = relay(sock.clone(), ovs.mgmt_socket("br0")).await;
    let target = format!("unix:{}", sock.display());
    let of = |cmd: &str, extra: &[&str]| {
        let mut v: Vec<String> = vec!["-O".into(), "OpenFlow13".into(), cmd.into(), target.clone()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };

    // add-flow: the flow-mod parses to the Repr we would build.
    ofctl(
        &ovs,
        of(
            "add-flow",
            &["table=1,priority=100,cookie=0x5,ip,nw_dst=10.0.0.1,\
               actions=set_field:02:00:0a:aa:bb:cc->eth_dst,goto_table:2"],
        ),
    )
    .await;
    let msgs = take(&cap);
    let fm: Vec<&FlowMod> = msgs
        .iter()
        .filter_map(|(d, _, m, _)| match (d, m) {
            (Dir::ToSwitch, Message::FlowMod(f)) => Some(f),
            _ => None,
        })
        .collect();
    let want = FlowMod::add(1, 100)
        .cookie(5)
        .matching(Match::new().eth_type(0x0800).ipv4_dst(ip("10.0.0.1")))
        .apply(vec![Action::SetField(OxmField::EthDst(Masked::exact(
            "02:00:0a:aa:bb:cc".parse().unwrap(),
        )))])
        .goto(2);
    assert_eq!(fm, vec![&want]);
    // ... byte for byte.
    let raw = msgs
        .iter()
        .find(|(_, _, m, _)| matches!(m, Message::FlowMod(_)))
        .unwrap();
    let mut ours = Vec::new();
    encode(&Message::FlowMod(want), raw.1, &mut ours).unwrap();
    assert_eq!(hex(&ours), hex(&raw.3));

    // --bundle add-flows: open, adds (inner xid = outer xid), commit, replies.
    let flows = ovs.rundir().join("flows.txt");
    std::fs::write(
        &flows,
        "table=0,priority=10,in_port=1,actions=goto_table:1\n\
         table=2,priority=5,tcp,ct_state=+trk+new,actions=ct(commit,zone=5,table=3,nat(src=10.0.0.1-10.0.0.5:100-200))\n\
         table=3,priority=7,ip,nw_src=10.0.0.0/8,actions=conjunction(12,1/2)\n",
    )
    .unwrap();
    let mut args = vec!["--bundle".to_string()];
    args.extend(of("add-flows", &[flows.to_str().unwrap()]));
    ofctl(&ovs, args).await;
    let msgs = take(&cap);
    let ctrl: Vec<(Dir, BundleCtrlType)> = msgs
        .iter()
        .filter_map(|(d, _, m, _)| match m {
            Message::BundleControl(b) => Some((*d, b.ctrl_type)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ctrl,
        vec![
            (Dir::ToSwitch, BundleCtrlType::OpenRequest),
            (Dir::FromSwitch, BundleCtrlType::OpenReply),
            (Dir::ToSwitch, BundleCtrlType::CommitRequest),
            (Dir::FromSwitch, BundleCtrlType::CommitReply),
        ]
    );
    let added: Vec<FlowMod> = msgs
        .iter()
        .filter_map(|(_, _, m, _)| match m {
            Message::BundleAdd(BundleAdd { message, flags, .. }) => {
                assert_eq!(*flags, bundle_flags::ATOMIC | bundle_flags::ORDERED);
                match &**message {
                    Message::FlowMod(f) => Some(f.clone()),
                    m => panic!("unexpected bundled message {m:?}"),
                }
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        added,
        vec![
            FlowMod::add(0, 10)
                .matching(Match::new().in_port_is(1))
                .goto(1),
            FlowMod::add(2, 5)
                .matching(
                    Match::new()
                        .eth_type(0x0800)
                        .ip_proto(6)
                        .ct_state(ct_state::TRK | ct_state::NEW, ct_state::TRK | ct_state::NEW)
                )
                .apply(vec![Action::Ct(
                    Ct::new()
                        .commit()
                        .zone(CtZone::Imm(5))
                        .table(3)
                        .action(Action::Nat(
                            Nat::snat(ip("10.0.0.1"))
                                .ipv4_range_to(ip("10.0.0.5"))
                                .ports(100, 200)
                        ))
                )]),
            FlowMod::add(3, 7)
                .matching(
                    Match::new()
                        .eth_type(0x0800)
                        .ipv4_src_net("10.0.0.0/8".parse().unwrap())
                )
                .apply(vec![Action::conjunction(12, 1, 2)]),
        ]
    );

    // dump-flows: the flow-stats reply from vswitchd parses.
    ofctl(&ovs, of("dump-flows", &[])).await;
    let msgs = take(&cap);
    let entries: Vec<FlowStats> = msgs
        .iter()
        .filter_map(|(d, _, m, _)| match (d, m) {
            (
                Dir::FromSwitch,
                Message::MultipartReply(MultipartReply {
                    body: MultipartReplyBody::Flow(v),
                    ..
                }),
            ) => Some(v.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(entries.len(), 4);
    assert!(entries.iter().any(|e| e.table_id == 1 && e.cookie == 5));
    assert!(entries.iter().any(|e| e.instructions
        == vec![Instruction::ApplyActions(vec![Action::conjunction(
            12, 1, 2
        )])]));

    // show, dump-ports, dump-groups, a group-mod, a packet-out, mod-port,
    // dump-tables: every message both ways decodes.
    ofctl(&ovs, of("show", &[])).await;
    ofctl(&ovs, of("dump-ports", &[])).await;
    ofctl(
        &ovs,
        of("add-group", &["group_id=5,type=all,bucket=output:1"]),
    )
    .await;
    ofctl(&ovs, of("dump-groups", &[])).await;
    ofctl(&ovs, of("dump-group-stats", &[])).await;
    ofctl(
        &ovs,
        of(
            "packet-out",
            &["in_port=1,packet=ffffffffffff02000000000188b50000,actions=drop"],
        ),
    )
    .await;
    ofctl(&ovs, of("mod-port", &["p1", "up"])).await;
    ofctl(&ovs, of("dump-tables", &[])).await;
    let msgs = take(&cap);
    let has = |f: &dyn Fn(&Message) -> bool| msgs.iter().any(|(_, _, m, _)| f(m));
    assert!(has(
        &|m| matches!(m, Message::FeaturesReply(f) if f.n_tables == 254)
    ));
    assert!(has(
        &|m| matches!(m, Message::MultipartReply(MultipartReply { body: MultipartReplyBody::PortDesc(p), .. }) if p.iter().any(|p| p.name == "p1"))
    ));
    assert!(has(
        &|m| matches!(m, Message::MultipartReply(MultipartReply { body: MultipartReplyBody::PortStats(p), .. }) if p.len() == 2)
    ));
    assert!(has(
        &|m| matches!(m, Message::GroupMod(g) if g.group_id == 5 && g.buckets == vec![Bucket::new(vec![Action::output(1)])])
    ));
    assert!(has(
        &|m| matches!(m, Message::MultipartReply(MultipartReply { body: MultipartReplyBody::GroupDesc(g), .. }) if g[0].group_id == 5)
    ));
    assert!(has(
        &|m| matches!(m, Message::MultipartReply(MultipartReply { body: MultipartReplyBody::GroupStats(g), .. }) if g[0].group_id == 5)
    ));
    assert!(has(
        &|m| matches!(m, Message::PacketOut(p) if p.in_port == 1 && p.data.len() == 16 && p.actions.is_empty())
    ));
    // port-mod is kept as a typed unknown message.
    assert!(has(&|m| matches!(m, Message::Unknown { msg_type: 16, .. })));
}
