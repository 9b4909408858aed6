//! The slot runner: pacing, finishing early, late records and dropping.

use std::time::{Duration, Instant};

use alloy_primitives::B256;
use btcr_poh::{PohError, PohSlot, batch_hash, verify};

use crate::{CONFIG, generate_block, random_tx_hashes};

#[test]
fn finished_block_verifies() {
    let block = generate_block();
    let summary = verify(block.start, &block.output.entries, &block.tx_hashes, &CONFIG).unwrap();
    assert_eq!(summary.end_hash, block.output.end_hash);
    assert_eq!(summary.ticks, block.output.ticks);
    assert_eq!(summary.ticks, CONFIG.ticks_per_block);
    assert_eq!(summary.n_hashes, CONFIG.hashes_per_block());
}

#[test]
fn paced_slot_lasts_the_block_duration() {
    let duration = Duration::from_millis(60);
    let started = Instant::now();
    let handle = PohSlot::start(B256::ZERO, CONFIG, duration).unwrap();
    let tx_hashes = random_tx_hashes(2);
    handle.record(batch_hash(&tx_hashes), 2).unwrap();
    let output = handle.wait();
    assert!(started.elapsed() >= duration, "ticks must be spread over the block duration");
    verify(B256::ZERO, &output.entries, &tx_hashes, &CONFIG).unwrap();
}

#[test]
fn record_after_the_last_tick_fails() {
    let handle = PohSlot::start(B256::ZERO, CONFIG, Duration::ZERO).unwrap();
    while !handle.is_finished() {
        std::thread::yield_now();
    }
    let tx = random_tx_hashes(1);
    assert!(matches!(handle.record(batch_hash(&tx), 1), Err(PohError::SlotFinished)));
    assert!(matches!(handle.record(batch_hash(&tx), 0), Err(PohError::EmptyBatch)));
    let output = handle.finish();
    assert_eq!(output.n_transactions(), 0);
    verify(B256::ZERO, &output.entries, &[], &CONFIG).unwrap();
}

#[test]
fn dropping_the_handle_stops_a_long_slot() {
    let handle = PohSlot::start(B256::ZERO, CONFIG, Duration::from_secs(3600)).unwrap();
    let started = Instant::now();
    drop(handle);
    assert!(started.elapsed() < Duration::from_secs(5));
}
