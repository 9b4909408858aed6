#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| btcr_node::fuzzing::block_range(data));
