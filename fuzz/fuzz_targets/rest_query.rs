#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| btcr_explorer::fuzzing::query(data));
