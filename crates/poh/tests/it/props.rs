//! Property tests: any batch sizes and mixin timing give a block that verifies, and no
//! single bit of any entry hash can change without detection.

use alloy_primitives::B256;
use btcr_poh::{Poh, PohConfig, PohEntry, PohError, batch_hash, verify};
use proptest::{prelude::*, sample::Index};

/// Plain hashes to do before the batch, and the batch's transaction hashes.
type Batch = (u64, Vec<[u8; 32]>);

/// Builds a block with `Poh` directly: before each batch, `gap` plain hashes (cut at a tick
/// boundary, where the generator ticks), then the batch; batches that no longer fit are left
/// out. Returns the entries and the transactions they cover.
fn build(start: B256, config: PohConfig, batches: &[Batch]) -> (Vec<PohEntry>, Vec<B256>) {
    let mut poh = Poh::new(start, config).unwrap();
    let mut entries = Vec::new();
    let mut tx_hashes = Vec::new();
    for (gap, batch) in batches {
        if poh.hash(*gap) {
            entries.extend(poh.tick());
        }
        let batch: Vec<B256> = batch.iter().copied().map(B256::from).collect();
        let entry = match poh.record(batch_hash(&batch), batch.len() as u32) {
            Err(PohError::TickFull) => {
                entries.extend(poh.tick());
                poh.record(batch_hash(&batch), batch.len() as u32)
            }
            other => other,
        };
        match entry {
            Ok(entry) => {
                entries.push(entry);
                tx_hashes.extend(batch);
            }
            Err(error) => assert_eq!(error, PohError::BlockComplete),
        }
    }
    while let Some(tick) = poh.tick() {
        entries.push(tick);
    }
    assert_eq!(entries.last().map(|e| e.hash), Some(poh.current_hash()));
    (entries, tx_hashes)
}

fn block_strategy() -> impl Strategy<Value = (B256, PohConfig, Vec<Batch>)> {
    (
        any::<[u8; 32]>().prop_map(B256::from),
        (2u64..40, 1u64..5).prop_map(|(hashes_per_tick, ticks_per_block)| PohConfig {
            hashes_per_tick,
            ticks_per_block,
        }),
        prop::collection::vec((0u64..60, prop::collection::vec(any::<[u8; 32]>(), 1..4)), 0..16),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_blocks_verify_and_reject_bit_flips(
        (start, config, batches) in block_strategy(),
        entry_index in any::<Index>(),
        bit in 0usize..256,
    ) {
        let (mut entries, tx_hashes) = build(start, config, &batches);
        let summary = verify(start, &entries, &tx_hashes, &config).unwrap();
        prop_assert_eq!(summary.end_hash, entries.last().unwrap().hash);
        prop_assert_eq!(summary.ticks, config.ticks_per_block);
        prop_assert_eq!(summary.n_hashes, config.hashes_per_block());

        let index = entry_index.index(entries.len());
        entries[index].hash.0[bit / 8] ^= 1 << (bit % 8);
        let result = verify(start, &entries, &tx_hashes, &config);
        prop_assert!(
            matches!(result, Err(PohError::HashMismatch { index: i, .. }) if i == index),
            "flip of bit {} in entry {} gave {:?}", bit, index, result
        );
    }
}
