//! Any bytes: `decode` never panics, and whatever decodes re-encodes to a
//! message that decodes to the same value (the codec is a bijection on
//! what it accepts, up to field order and padding).
#![no_main]

use contiv_dp_ovs::openflow::wire::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok((xid, msg, used)) = decode(rest) {
        let mut again = Vec::new();
        if encode(&msg, xid, &mut again).is_ok() {
            let (x2, m2, _) = decode(&again).expect("our own encoding must decode");
            assert_eq!(x2, xid);
            assert_eq!(m2, msg);
        }
        rest = &rest[used..];
    }
});
