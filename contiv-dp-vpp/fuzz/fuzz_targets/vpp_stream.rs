//! Any bytes as the socket stream: frame splitting never panics, and every
//! payload decoded as every reply type the client parses round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    contiv_dp_vpp::testing::fuzz::stream(data);
});
