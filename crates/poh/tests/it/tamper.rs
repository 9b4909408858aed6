//! A valid block, modified in every way a faulty or malicious proposer might, is rejected
//! with an error that names what is wrong.

use btcr_poh::{PohConfig, PohError, verify};

use crate::{Block, CONFIG, generate_block};

fn check(block: &Block, config: &PohConfig) -> Result<(), PohError> {
    verify(block.start, &block.output.entries, &block.tx_hashes, config).map(|_| ())
}

fn mixin_indices(block: &Block) -> Vec<usize> {
    let entries = &block.output.entries;
    (0..entries.len()).filter(|&i| !entries[i].is_tick()).collect()
}

#[test]
fn tampered_entry_hash_reports_its_index() {
    let mut block = generate_block();
    let index = 3;
    block.output.entries[index].hash.0[7] ^= 0x10;
    assert!(matches!(check(&block, &CONFIG), Err(PohError::HashMismatch { index: 3, .. })));
}

#[test]
fn tampered_num_hashes_fails() {
    let mut block = generate_block();
    let tick = block.output.entries.iter().position(|e| e.is_tick()).unwrap();
    block.output.entries[tick].num_hashes += 1;
    assert!(matches!(check(&block, &CONFIG), Err(PohError::WrongHashesPerTick { tick: 0, .. })));

    // Moving a hash from a mixin to its tick keeps every count right; only the chain notices.
    let mut block = generate_block();
    let mixin = mixin_indices(&block)[0];
    let entries = &mut block.output.entries;
    let tick = mixin + entries[mixin..].iter().position(|e| e.is_tick()).unwrap();
    if entries[mixin].num_hashes < 2 {
        entries[mixin].num_hashes += 1;
        entries[tick].num_hashes -= 1;
    } else {
        entries[mixin].num_hashes -= 1;
        entries[tick].num_hashes += 1;
    }
    assert!(
        matches!(check(&block, &CONFIG), Err(PohError::HashMismatch { index, .. }) if index == mixin)
    );
}

#[test]
fn reordered_transactions_fail() {
    // Within a batch.
    let mut block = generate_block();
    block.tx_hashes.swap(0, 1);
    let first_mixin = mixin_indices(&block)[0];
    assert!(
        matches!(check(&block, &CONFIG), Err(PohError::HashMismatch { index, .. }) if index == first_mixin)
    );

    // Across batches: the first transaction of batch 1 swapped with one of batch 2.
    let mut block = generate_block();
    block.tx_hashes.swap(2, 3);
    assert!(matches!(check(&block, &CONFIG), Err(PohError::HashMismatch { .. })));
}

#[test]
fn swapped_mixin_entries_fail() {
    let mut block = generate_block();
    let mixins = mixin_indices(&block);
    let (a, b) = (mixins[0], mixins[1]);
    block.output.entries.swap(a, b);
    assert!(check(&block, &CONFIG).is_err());

    // Swapping the batches' transactions along with the entries does not help either.
    let mut block = generate_block();
    let mixins = mixin_indices(&block);
    block.output.entries.swap(mixins[0], mixins[1]);
    // Batches 0 (3 txs) and 1 (1 tx) trade places: [t0 t1 t2 t3] becomes [t3 t0 t1 t2].
    block.tx_hashes[..4].rotate_right(1);
    assert!(check(&block, &CONFIG).is_err());
}

#[test]
fn wrong_tick_count_fails() {
    let mut block = generate_block();
    block.output.entries.pop();
    assert!(check(&block, &CONFIG).is_err());

    let block = generate_block();
    let more_ticks = PohConfig { ticks_per_block: 9, ..CONFIG };
    assert!(matches!(
        check(&block, &more_ticks),
        Err(PohError::WrongTickCount { expected: 9, got: 8 })
    ));
    let other_tick_size = PohConfig { hashes_per_tick: 999, ..CONFIG };
    assert!(matches!(
        check(&block, &other_tick_size),
        Err(PohError::WrongHashesPerTick { tick: 0, expected: 999, .. })
    ));

    // A duplicated last tick is one tick too many even though its size is right.
    let mut block = generate_block();
    let last = block.output.entries.last().unwrap().clone();
    block.output.entries.push(last);
    assert!(matches!(
        check(&block, &CONFIG),
        Err(PohError::WrongTickCount { expected: 8, got: 9 })
    ));
}

#[test]
fn modified_transaction_hash_fails() {
    let mut block = generate_block();
    let last = block.tx_hashes.len() - 1;
    block.tx_hashes[last].0[0] ^= 1;
    let last_mixin = *mixin_indices(&block).last().unwrap();
    assert!(
        matches!(check(&block, &CONFIG), Err(PohError::HashMismatch { index, .. }) if index == last_mixin)
    );
}

#[test]
fn missing_or_extra_transactions_fail() {
    let mut block = generate_block();
    block.tx_hashes.pop();
    assert!(matches!(check(&block, &CONFIG), Err(PohError::TransactionsOverconsumed { .. })));

    let mut block = generate_block();
    block.tx_hashes.push(block.tx_hashes[0]);
    let total = block.tx_hashes.len();
    assert!(matches!(
        check(&block, &CONFIG),
        Err(PohError::TransactionsNotConsumed { consumed, total: t }) if consumed + 1 == total && t == total
    ));
}

/// The structure-only check (for blocks whose certificate vouches for their chains) agrees
/// with `verify` on a valid block, refuses every structural fault, and runs no hash; the root
/// a header commits to changes with any entry.
#[test]
fn the_structure_check_sees_counts_not_hashes_and_the_root_sees_everything() {
    use btcr_poh::{entries_root, verify_structure};
    let block = generate_block();
    let (start, n_tx) = (block.start, block.tx_hashes.len());
    let full = verify(start, &block.output.entries, &block.tx_hashes, &CONFIG).unwrap();
    assert_eq!(verify_structure(start, &block.output.entries, n_tx, &CONFIG), Ok(full));

    let mut entries = block.output.entries.clone();
    entries[3].hash.0[7] ^= 0x10;
    assert!(verify_structure(start, &entries, n_tx, &CONFIG).is_ok(), "no hash is run");
    assert_ne!(entries_root(&entries), entries_root(&block.output.entries));

    let mut entries = block.output.entries.clone();
    let tick = entries.iter().position(|e| e.is_tick()).unwrap();
    entries[tick].num_hashes += 1;
    assert!(matches!(
        verify_structure(start, &entries, n_tx, &CONFIG),
        Err(PohError::WrongHashesPerTick { tick: 0, .. })
    ));
    assert!(matches!(
        verify_structure(start, &block.output.entries, n_tx + 1, &CONFIG),
        Err(PohError::TransactionsNotConsumed { .. })
    ));
    let mut entries = block.output.entries.clone();
    entries.pop();
    assert!(verify_structure(start, &entries, n_tx, &CONFIG).is_err());
    assert_ne!(entries_root(&entries), entries_root(&block.output.entries));
    assert_ne!(entries_root(&[]), entries_root(&entries));
}
