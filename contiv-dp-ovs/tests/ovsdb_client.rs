//! The raw OVSDB client against a real ovsdb-server (private rundir):
//! transact with every operation kind and named UUIDs, errors that name the
//! failing operation, and monitor updates.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

use contiv_dp_ovs::ovsdb::*;
use contiv_dp_ovs::testing::OvsInstance;
use std::collections::BTreeMap;
use std::time::Duration;

const DB: &str = "Open_vSwitch";

fn row(cols: &[(&str, Value)]) -> Row {
    cols.iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn name_is(n: &str) -> Vec<Condition> {
    vec![Condition::eq("name", Value::string(n))]
}

/// A bridge + port + interface created in one transaction with named UUIDs.
fn create_bridge_ops(name: &str) -> Vec<Operation> {
    vec![
        Operation::insert(
            "Interface",
            row(&[
                ("name", Value::string(name)),
                ("type", Value::string("internal")),
            ]),
            Some("i"),
        ),
        Operation::insert(
            "Port",
            row(&[
                ("name", Value::string(name)),
                ("interfaces", Value::named_uuid("i")),
            ]),
            Some("p"),
        ),
        Operation::insert(
            "Bridge",
            row(&[
                ("name", Value::string(name)),
                ("ports", Value::named_uuid("p")),
                ("protocols", Value::set(["OpenFlow13"])),
            ]),
            Some("b"),
        ),
        Operation::mutate(
            "Open_vSwitch",
            vec![],
            vec![Mutation::insert(
                "bridges",
                Value::Set(vec![Atom::NamedUuid("b".into())]),
            )],
        ),
        Operation::Comment(format!("contiv-rs test: create {name}")),
    ]
}

#[tokio::test]
async fn list_dbs_schema_and_echo() {
    let ovs = OvsInstance::start().unwrap();
    let c = Client::connect_unix(ovs.db_socket()).await.unwrap();
    assert!(c.list_dbs().await.unwrap().contains(&DB.to_owned()));
    let schema = c.get_schema(DB).await.unwrap();
    assert_eq!(schema["name"], DB);
    assert!(schema["tables"]["Bridge"]["columns"]["datapath_type"].is_object());
    c.echo().await.unwrap();
    match c.get_schema("NoSuchDb").await {
        Err(OvsdbError::Rpc { method, error }) => {
            assert_eq!(method, "get_schema");
            assert!(error.to_string().contains("unknown database"), "{error}");
        }
        r => panic!("expected an RPC error, got {r:?}"),
    }
}

#[tokio::test]
async fn transact_every_operation_kind_with_named_uuids() {
    let ovs = OvsInstance::start().unwrap();
    let c = Client::connect_unix(ovs.db_socket()).await.unwrap();
    let r = c.transact(DB, create_bridge_ops("brx")).await.unwrap();
    let bridge = r[2].uuid.clone().expect("insert returns the uuid");
    assert_eq!(r[3].count, Some(1));
    // ovs-vsctl sees what we wrote.
    assert_eq!(ovs.vsctl(&["list-br"]).unwrap().trim(), "brx");
    assert_eq!(ovs.vsctl(&["list-ports", "brx"]).unwrap().trim(), "");
    assert_eq!(
        ovs.vsctl(&["get", "bridge", "brx", "_uuid"])
            .unwrap()
            .trim(),
        bridge.as_str()
    );

    // select + update + mutate, read back in one transaction.
    let r = c
        .transact(
            DB,
            vec![
                Operation::update(
                    "Bridge",
                    vec![Condition::uuid(&bridge)],
                    row(&[("external_ids", Value::str_map([("owner", "test")]))]),
                ),
                Operation::mutate(
                    "Bridge",
                    name_is("brx"),
                    vec![Mutation::insert("protocols", Value::set(["OpenFlow10"]))],
                ),
                Operation::select(
                    "Bridge",
                    name_is("brx"),
                    Some(&["protocols", "external_ids", "ports"]),
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!((r[0].count, r[1].count), (Some(1), Some(1)));
    let b = &r[2].rows()[0];
    let mut protos: Vec<&str> = b["protocols"]
        .as_set()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    protos.sort();
    assert_eq!(protos, vec!["OpenFlow10", "OpenFlow13"]);
    assert_eq!(
        b["external_ids"].map_get("owner").and_then(Atom::as_str),
        Some("test")
    );
    // A one-element set comes back in the shorthand form and still reads as a set.
    assert_eq!(b["ports"].as_set().len(), 1);
    assert!(
        ovs.vsctl(&["get", "bridge", "brx", "protocols"])
            .unwrap()
            .contains("OpenFlow10")
    );

    // delete: unreferenced rows in non-root tables are garbage collected.
    let r = c
        .transact(
            DB,
            vec![
                Operation::mutate(
                    "Open_vSwitch",
                    vec![],
                    vec![Mutation::delete(
                        "bridges",
                        Value::Set(vec![Atom::Uuid(bridge.clone())]),
                    )],
                ),
                Operation::delete("Bridge", vec![Condition::uuid(&bridge)]),
                Operation::select("Port", name_is("brx"), None),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r[1].count, Some(1));
    assert_eq!(ovs.vsctl(&["list-br"]).unwrap().trim(), "");
    let r = c
        .transact(
            DB,
            vec![Operation::select("Interface", name_is("brx"), None)],
        )
        .await
        .unwrap();
    assert!(r[0].rows().is_empty());
}

#[tokio::test]
async fn a_failed_operation_is_named_and_nothing_is_committed() {
    let ovs = OvsInstance::start().unwrap();
    let c = Client::connect_unix(ovs.db_socket()).await.unwrap();
    // A wait precondition that does not hold fails the whole transaction.
    let mut ops = create_bridge_ops("bry");
    ops.push(Operation::Wait {
        table: "Bridge".into(),
        conditions: name_is("nosuch"),
        columns: vec!["name".into()],
        until: WaitUntil::Equal,
        rows: vec![row(&[("name", Value::string("nosuch"))])],
        timeout: Some(Duration::ZERO),
    });
    let err = c.transact(DB, ops).await.unwrap_err();
    match &err {
        OvsdbError::Transaction {
            index, op, error, ..
        } => {
            assert_eq!(
                (*index, op.as_str(), error.as_str()),
                (5, "wait on Bridge", "timed out")
            );
        }
        e => panic!("expected a transaction error, got {e:?}"),
    }
    assert!(err.is_wait_failure());
    assert_eq!(ovs.vsctl(&["list-br"]).unwrap().trim(), "");

    // A value outside the column's constraints names its operation.
    let err = c
        .transact(
            DB,
            vec![Operation::insert(
                "Port",
                row(&[("name", Value::string("p")), ("tag", Value::int(5000))]),
                None,
            )],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OvsdbError::Transaction { index: 0, error, .. } if error == "constraint violation"),
        "{err:?}"
    );

    // A reference to a row that does not exist fails at commit.
    let ghost = Uuid::parse("00000000-0000-0000-0000-000000000001").unwrap();
    let err = c
        .transact(
            DB,
            vec![Operation::mutate(
                "Open_vSwitch",
                vec![],
                vec![Mutation::insert(
                    "bridges",
                    Value::Set(vec![Atom::Uuid(ghost)]),
                )],
            )],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OvsdbError::Commit { error, .. } if error == "referential integrity violation"),
        "{err:?}"
    );
    assert!(err.to_string().contains("referential integrity violation"));

    // abort always fails.
    let err = c.transact(DB, vec![Operation::Abort]).await.unwrap_err();
    assert!(
        matches!(err, OvsdbError::Transaction { index: 0, .. }),
        "{err:?}"
    );
}

async fn next(m: &mut Monitor) -> TableUpdates {
    tokio::time::timeout(Duration::from_secs(5), m.next())
        .await
        .expect("no monitor update")
        .expect("monitor ended")
}

#[tokio::test]
async fn monitor_reports_initial_contents_and_every_change() {
    let ovs = OvsInstance::start().unwrap();
    let c = Client::connect_unix(ovs.db_socket()).await.unwrap();
    ovs.vsctl(&["--no-wait", "add-br", "br-a"]).unwrap();
    let mut reqs = BTreeMap::new();
    reqs.insert(
        "Bridge".to_owned(),
        MonitorRequest::columns(&["name", "external_ids"]),
    );
    let mut m = c.monitor(DB, &reqs).await.unwrap();
    let initial = m.initial["Bridge"].clone();
    assert_eq!(initial.len(), 1);
    let (ua, first) = initial.iter().next().unwrap();
    assert_eq!(first.new.as_ref().unwrap()["name"].as_str(), Some("br-a"));
    assert!(first.old.is_none());

    // insert
    ovs.vsctl(&["--no-wait", "add-br", "br-b"]).unwrap();
    let u = next(&mut m).await;
    let (_, ins) = u["Bridge"].iter().next().unwrap();
    assert_eq!(ins.new.as_ref().unwrap()["name"].as_str(), Some("br-b"));
    assert!(ins.old.is_none());
    // modify: old holds only the changed columns, new the full row.
    ovs.vsctl(&["--no-wait", "br-set-external-id", "br-a", "k", "v"])
        .unwrap();
    let u = next(&mut m).await;
    let upd = &u["Bridge"][ua];
    assert_eq!(
        upd.new.as_ref().unwrap()["external_ids"]
            .map_get("k")
            .and_then(Atom::as_str),
        Some("v")
    );
    assert!(upd.old.as_ref().unwrap().contains_key("external_ids"));
    // delete
    ovs.vsctl(&["--no-wait", "del-br", "br-a"]).unwrap();
    let u = next(&mut m).await;
    let del = &u["Bridge"][ua];
    assert!(del.new.is_none());
    assert_eq!(del.old.as_ref().unwrap()["name"].as_str(), Some("br-a"));
    m.cancel().await.unwrap();
}
