//! Any bytes as one message: decoding as every reply type never panics,
//! and whatever decodes re-encodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    contiv_dp_vpp::testing::fuzz::every_reply_type(data);
});
