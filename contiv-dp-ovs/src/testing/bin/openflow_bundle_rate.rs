//! Raw flow-install rate: N flow-mods in one atomic bundle through
//! `contiv_dp_ovs::openflow::conn::Connection` versus
//! `ovs-ofctl -O OpenFlow13 --bundle add-flows` on the same bridge of a
//! private OVS (userspace datapath).
//!
//! ```text
//! cargo run --release -p contiv-dp-ovs --features testing \
//!     --example openflow_bundle_rate -- [N=100000] [ROUNDS=3]
//! ```
//!
//! Flows are the unique /32 set_field + goto flows of the baseline in
//! `REAL_COMPONENTS.md` §5; every round starts from an empty table and is
//! verified by counting the installed flows. Building the `FlowMod` values
//! is outside the timed region (ovs-ofctl's file is written beforehand
//! too); encoding, sending and the commit are inside.

use contiv_dp_ovs::openflow::conn::Connection;
use contiv_dp_ovs::openflow::wire::{
    Action, FlowMod, FlowStatsRequest, MacAddr, Masked, Match, MultipartReplyBody,
    MultipartRequestBody, OxmField,
};
use contiv_dp_ovs::testing::OvsInstance;
use std::net::Ipv4Addr;
use std::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn flow(i: u32) -> (FlowMod, String) {
    let ip = Ipv4Addr::from(0x0a00_0000 + i);
    let o = ip.octets();
    let mac = MacAddr([0x02, 0x00, 0x0a, o[1], o[2], o[3]]);
    let fm = FlowMod::add(1, 100)
        .matching(Match::new().eth_type(0x0800).ipv4_dst(ip))
        .apply(vec![Action::SetField(OxmField::EthDst(Masked::exact(mac)))])
        .goto(2);
    let text = format!(
        "table=1,priority=100,ip,nw_dst={ip},actions=set_field:{mac}->eth_dst,goto_table:2"
    );
    (fm, text)
}

async fn count(conn: &Connection) -> Res<u32> {
    match conn
        .multipart(MultipartRequestBody::Aggregate(FlowStatsRequest::all()))
        .await?
    {
        MultipartReplyBody::Aggregate(a) => Ok(a.flow_count),
        other => Err(format!("unexpected reply {other:?}").into()),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let n: u32 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let rounds: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);

    let ovs = OvsInstance::start()?;
    ovs.vsctl(&[
        "add-br",
        "br-perf",
        "--",
        "set",
        "bridge",
        "br-perf",
        "datapath_type=netdev",
        "protocols=OpenFlow10,OpenFlow13",
        "fail_mode=secure",
    ])?;
    let (conn, _events) = Connection::connect_unix(ovs.mgmt_socket("br-perf")).await?;
    let (flows, text): (Vec<FlowMod>, Vec<String>) = (0..n).map(flow).unzip();
    let file = ovs.rundir().join("flows.txt");
    std::fs::write(&file, text.join("\n") + "\n")?;
    let target = format!("unix:{}", ovs.mgmt_socket("br-perf").display());
    let file = file.display().to_string();

    println!("{n} flow-mods in one bundle, empty table each round, OVS 3.1 netdev");
    println!(
        "{:>5}  {:>22}  {:>22}  {:>6}",
        "round", "ovs-ofctl --bundle", "contiv-dp-ovs", "ratio"
    );
    let mut sum = (0f64, 0f64);
    for r in 1..=rounds {
        conn.delete_all_flows().await?;
        let t = Instant::now();
        ovs.ofctl(&["-O", "OpenFlow13", "--bundle", "add-flows", &target, &file])?;
        let ofctl = t.elapsed().as_secs_f64();
        let got = count(&conn).await?;
        if got != n {
            return Err(format!("ovs-ofctl installed {got} flows, expected {n}").into());
        }

        conn.delete_all_flows().await?;
        let batch = flows.clone();
        let t = Instant::now();
        conn.send_flow_mods_in_bundle(batch).await?;
        let ours = t.elapsed().as_secs_f64();
        let got = count(&conn).await?;
        if got != n {
            return Err(format!("bundle installed {got} flows, expected {n}").into());
        }
        let (ro, ru) = (f64::from(n) / ofctl, f64::from(n) / ours);
        sum.0 += ro;
        sum.1 += ru;
        println!(
            "{r:>5}  {ofctl:>7.3} s {ro:>8.0} fl/s  {ours:>7.3} s {ru:>8.0} fl/s  {:>6.2}",
            ru / ro
        );
    }
    let k = f64::from(rounds);
    println!(
        "mean   {:>22.0}  {:>22.0}  {:>6.2}",
        sum.0 / k,
        sum.1 / k,
        sum.1 / sum.0
    );
    Ok(())
}
