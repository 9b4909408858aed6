#![no_main]

use std::sync::LazyLock;

/// One node for the whole run, in a directory removed when the process ends normally.
static NODE: LazyLock<(tempfile::TempDir, btcr_node::fuzzing::JsonRpc)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let node = btcr_node::fuzzing::JsonRpc::open(dir.path()).expect("the node opens");
    (dir, node)
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| NODE.1.answer(data));
