//! Finality latency of BFT consensus by the number of validators, in simulated time
//! (`btcr_consensus::bft::sim`): one real consensus driver per validator over a simulated
//! wide-area network (40 ms ± 20 ms a hop, 1% loss per hop, gossip to 8 peers, 256 KiB
//! blocks of 500 ms over 100 MB/s links, 60 µs to verify a message).
//!
//! `cargo bench -p btcr-consensus --bench simulation` prints one row per size; the wall
//! time is what the machine took to simulate it. `BTCR_SIM_SIZES=4,16` and
//! `BTCR_SIM_HEIGHTS=N` change what is run.

use std::time::Instant;

use btcr_consensus::bft::sim::{SimConfig, simulate};

fn main() {
    let sizes: Vec<usize> = std::env::var("BTCR_SIM_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|v| v.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![4, 16, 64, 100, 150]);
    let heights: Option<u64> = std::env::var("BTCR_SIM_HEIGHTS").ok().and_then(|v| v.parse().ok());
    println!(
        "| validators | heights | finality p50 | p99 | max | block interval | later rounds | synced | messages | lost | agreed | wall time |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|");
    for validators in sizes {
        let mut config = SimConfig::wide_area(validators, 7);
        if let Some(heights) = heights {
            config.heights = heights;
        }
        let started = Instant::now();
        match simulate(&config) {
            Ok(r) => println!(
                "| {} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {} | {} | {} | {} | {} | {:.1} s |",
                r.validators,
                r.heights,
                r.finality_p50.as_secs_f64() * 1e3,
                r.finality_p99.as_secs_f64() * 1e3,
                r.finality_max.as_secs_f64() * 1e3,
                r.block_interval.as_secs_f64() * 1e3,
                r.later_rounds,
                r.synced,
                r.delivered,
                r.lost,
                if r.agreed { "yes" } else { "NO" },
                started.elapsed().as_secs_f64()
            ),
            Err(e) => println!("| {validators} | failed: {e} |"),
        }
    }
}
