//! Any bytes as a match, an action list, an instruction list or one OXM
//! field: no decoder panics, and accepted input round-trips.
#![no_main]

use contiv_dp_ovs::openflow::wire::{Action, Instruction, Match, OxmField, OxmTlv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((m, _)) = Match::parse(data) {
        let mut out = vec![0u8; m.buffer_len()];
        if m.emit(&mut out).is_ok() {
            assert_eq!(Match::parse(&out).expect("re-parse").0, m);
        }
    }
    if let Ok(actions) = Action::read_list(data) {
        for a in &actions {
            let mut out = vec![0u8; a.buffer_len()];
            let _ = a.emit(&mut out);
        }
    }
    let _ = Instruction::read_list(data);
    if let Ok(t) = OxmTlv::new_checked(data) {
        if let Ok(f) = OxmField::parse(&t) {
            let mut out = vec![0u8; f.buffer_len()];
            if f.emit(&mut out).is_ok() {
                let t2 = OxmTlv::new_checked(&out[..]).expect("re-check");
                assert_eq!(OxmField::parse(&t2).expect("re-parse"), f);
            }
        }
    }
});
