//! Any bytes from an OVSDB server: the stream splitter and the value,
//! row and table-update decoders never panic.
#![no_main]

use contiv_dp_ovs::ovsdb::framing::JsonSplitter;
use contiv_dp_ovs::ovsdb::value::row_from_json;
use contiv_dp_ovs::ovsdb::{Value, parse_table_updates};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = JsonSplitter::new();
    for chunk in data.chunks(7) {
        s.push(chunk);
        loop {
            match s.next_message() {
                Ok(Some(m)) => {
                    if let Ok(j) = serde_json::from_slice::<serde_json::Value>(&m) {
                        if let Ok(v) = Value::from_json(&j) {
                            assert_eq!(Value::from_json(&v.to_json()).expect("re-parse"), v);
                        }
                        let _ = row_from_json(&j);
                        let _ = parse_table_updates(&j);
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
