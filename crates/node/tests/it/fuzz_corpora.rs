//! The fuzz targets' kept corpora (`fuzz/corpus/<target>/`), replayed through the same entry
//! points the fuzzers call: every input a fuzzer once found interesting still passes, on
//! every test run, without the fuzzing tools.

use std::path::{Path, PathBuf};

/// The inputs kept for `target`.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} holds no inputs", dir.display());
    inputs.into_iter().map(|(_, bytes)| bytes).collect()
}

/// A fuzz target's entry point.
type Target = fn(&[u8]);

#[test]
fn every_kept_fuzz_input_passes_its_target() {
    let targets: [(&str, Target); 8] = [
        ("consensus_codec", btcr_consensus::fuzzing::codec),
        ("proposal_parts", btcr_consensus::fuzzing::reassembly),
        ("gossip_batch", btcr_network::fuzzing::batch),
        ("block_range", btcr_node::fuzzing::block_range),
        ("transaction", btcr_primitives::fuzzing::transaction),
        ("block_stream", btcr_primitives::fuzzing::block_stream),
        ("rest_query", btcr_explorer::fuzzing::query),
        ("keystore", btcr_crypto::fuzzing::keystore),
    ];
    for (target, run) in targets {
        let inputs = corpus(target);
        for input in &inputs {
            run(input);
        }
        println!("{target}: {} inputs", inputs.len());
    }
    let dir = tempfile::tempdir().unwrap();
    let node = btcr_node::fuzzing::JsonRpc::open(dir.path()).unwrap();
    let inputs = corpus("json_rpc");
    for input in &inputs {
        node.answer(input);
    }
    println!("json_rpc: {} inputs", inputs.len());
}
