//! Example (a): compile an intent with `contiv-policy` and ask the oracle
//! why a packet is allowed or denied.
//!
//! The intent: tenant `default`, groups `web` and `db`; policy `db-policy`
//! on `db` denies incoming TCP (priority 1) but allows TCP 5432 from `web`
//! (priority 10). The compiled IR is what every datapath receives; the
//! oracle ([`contiv_policy::evaluate`]) answers, with the deciding rule, what
//! any conforming datapath does with a packet. Then one rule is added
//! incrementally ([`Compiler::upsert_rule`]): the delta is what a datapath
//! would be sent. Exits non-zero if any answer differs from the expected.

use contiv_core::model::{EndpointGroup, Rule};
use contiv_policy::{Compiler, EndpointInput, Intent, Packet, PacketEnd, compile, evaluate};
use std::net::IpAddr;
use std::process::ExitCode;

type Error = Box<dyn std::error::Error>;

fn rule(id: &str, action: &str, priority: i64, port: i64, from: &str) -> Rule {
    Rule {
        tenant_name: "default".into(),
        policy_name: "db-policy".into(),
        rule_id: id.into(),
        direction: "in".into(),
        protocol: "tcp".into(),
        port,
        action: action.into(),
        priority,
        from_endpoint_group: from.into(),
        ..Rule::default()
    }
}

fn group(name: &str, policies: &[&str]) -> EndpointGroup {
    EndpointGroup {
        tenant_name: "default".into(),
        group_name: name.into(),
        network_name: "contiv-net".into(),
        policies: policies.iter().map(|p| (*p).to_owned()).collect(),
        ..EndpointGroup::default()
    }
}

fn run() -> Result<(), Error> {
    // 1. The intent, as netmaster would hand it over (ids are netmaster's).
    let mut intent = Intent::default();
    intent.insert_tenant("default", 1);
    intent.insert_epg(group("web", &[]), 10);
    intent.insert_epg(group("db", &["db-policy"]), 11);
    intent.insert_rule(rule("1", "deny", 1, 0, ""));
    intent.insert_rule(rule("2", "allow", 10, 5432, "web"));
    let (web_ip, db_ip, other_ip): (IpAddr, IpAddr, IpAddr) = (
        "10.1.2.1".parse()?,
        "10.1.2.2".parse()?,
        "10.1.2.3".parse()?,
    );
    let ep = |id: &str, group: Option<&str>, ip| {
        EndpointInput::new(id, "default", "contiv-net", group, [ip])
    };
    intent.insert_endpoint(ep("web-1", Some("web"), web_ip));
    intent.insert_endpoint(ep("db-1", Some("db"), db_ip));
    intent.insert_endpoint(ep("other-1", None, other_ip));

    // 2. Compile it to the datapath-neutral IR.
    let ir = compile(&intent)?;
    println!(
        "compiled: {} rules, {} memberships",
        ir.rules.len(),
        ir.members.len()
    );

    // 3. Ask the oracle.
    let (web, db, other) = (
        PacketEnd::addr(1, web_ip),
        PacketEnd::addr(1, db_ip),
        PacketEnd::addr(1, other_ip),
    );
    let questions = [
        ("web -> db tcp/5432", Packet::tcp(web, db, 5432), true),
        ("web -> db tcp/22", Packet::tcp(web, db, 22), false),
        ("other -> db tcp/5432", Packet::tcp(other, db, 5432), false),
        ("db -> web tcp/80", Packet::tcp(db, web, 80), true),
        ("reply of db -> web", Packet::tcp(db, web, 80).reply(), true),
    ];
    for (what, packet, expected) in &questions {
        let verdict = evaluate(&ir, packet);
        println!("{what:<22} {verdict}");
        if verdict.allowed() != *expected {
            return Err(format!("{what}: expected allowed={expected}").into());
        }
    }

    // 4. Incremental: allow tcp/5432 from anyone; the delta is one rule.
    let mut compiler = Compiler::from_intent(&intent)?;
    let delta = compiler.upsert_rule(&rule("3", "allow", 10, 5432, ""))?;
    println!(
        "rule 3 added: delta adds {} rule(s), removes {}",
        delta.rules_added.len(),
        delta.rules_removed.len()
    );
    let verdict = evaluate(compiler.ir(), &Packet::tcp(other, db, 5432));
    println!("{:<22} {verdict}", "other -> db tcp/5432");
    if !verdict.allowed() {
        return Err("rule 3 should allow other -> db tcp/5432".into());
    }
    println!("policy-oracle ok");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("policy-oracle: {e}");
            ExitCode::FAILURE
        }
    }
}
