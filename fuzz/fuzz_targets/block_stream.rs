#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| btcr_primitives::fuzzing::block_stream(data));
