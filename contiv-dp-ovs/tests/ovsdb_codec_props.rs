//! Property tests of the OVSDB value notation and the stream framing.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

use contiv_dp_ovs::ovsdb::framing::JsonSplitter;
use contiv_dp_ovs::ovsdb::value::{row_from_json, row_to_json};
use contiv_dp_ovs::ovsdb::{Atom, Row, Uuid, Value, parse_table_updates};
use proptest::collection::vec;
use proptest::prelude::*;

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(|n| {
        let h = format!("{n:032x}");
        Uuid::parse(&format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        ))
        .unwrap()
    })
}

fn atom() -> impl Strategy<Value = Atom> {
    prop_oneof![
        any::<i64>().prop_map(Atom::Integer),
        // Reals OVSDB columns hold: values with short binary fractions
        // (what serde_json's default float parsing round-trips exactly).
        any::<i32>().prop_map(|k| Atom::Real(f64::from(k) * 2.0 / 8.0 + 0.125)),
        any::<bool>().prop_map(Atom::Boolean),
        ".{0,12}".prop_map(Atom::String),
        uuid().prop_map(Atom::Uuid),
        "[a-z][a-z0-9_]{0,8}".prop_map(Atom::NamedUuid),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        atom().prop_map(Value::Atom),
        vec(atom(), 0..4).prop_map(Value::Set),
        vec((atom(), atom()), 0..4).prop_map(Value::Map),
    ]
}

fn row() -> impl Strategy<Value = Row> {
    proptest::collection::btree_map("[a-z_]{1,10}", value(), 0..5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn values_roundtrip_through_json_text(v in value()) {
        let text = v.to_json().to_string();
        let back = Value::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        prop_assert_eq!(back, v);
    }

    #[test]
    fn rows_roundtrip(r in row()) {
        prop_assert_eq!(row_from_json(&row_to_json(&r)).unwrap(), r);
    }

    #[test]
    fn concatenated_messages_split_back_whatever_the_chunking(
        rows in vec(row(), 1..6),
        chunk in 1usize..64,
    ) {
        let msgs: Vec<String> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| serde_json::json!({"id": i, "result": [row_to_json(r)], "error": null}).to_string())
            .collect();
        let stream = msgs.join("\n");
        let mut s = JsonSplitter::new();
        let mut got = Vec::new();
        for c in stream.as_bytes().chunks(chunk) {
            s.push(c);
            while let Some(m) = s.next_message().unwrap() {
                got.push(String::from_utf8(m).unwrap());
            }
        }
        prop_assert_eq!(got, msgs);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_input(b in vec(any::<u8>(), 0..256)) {
        let mut s = JsonSplitter::new();
        s.push(&b);
        while let Ok(Some(m)) = s.next_message() {
            if let Ok(j) = serde_json::from_slice::<serde_json::Value>(&m) {
                let _ = Value::from_json(&j);
                let _ = row_from_json(&j);
                let _ = parse_table_updates(&j);
            }
        }
        if let Ok(j) = serde_json::from_slice::<serde_json::Value>(&b) {
            let _ = Value::from_json(&j);
            let _ = parse_table_updates(&j);
        }
    }
}
