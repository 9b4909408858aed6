//! The store only ever extends its head, keeps what it committed across reopening, and
//! refuses data written by another schema version.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, U256};
use btcr_primitives::{
    Account, AccountBalance, AccountChange, Block, BlockAccounts, BlockBody, CommitCertificate,
    EMPTY_CODE_HASH, Header, Misbehavior, MisbehaviorKind, SignedValue, StateChanges, StateReader,
};
use btcr_storage::{
    ADDRESS_INDEX, BlockAddresses, BlockCommit, ChainStore, CommitDurability, SCHEMA_VERSION,
    StoreError,
};
use btcr_trie::NodeWrites;

fn header(number: u64, parent_hash: B256) -> Header {
    btcr_testkit::empty_header(number, parent_hash)
}

fn commit(store: &ChainStore, block: &Block, changes: &StateChanges) -> Result<(), StoreError> {
    commit_with(store, block, changes, CommitDurability::Immediate)
}

fn commit_with(
    store: &ChainStore,
    block: &Block,
    changes: &StateChanges,
    durability: CommitDurability,
) -> Result<(), StoreError> {
    let certificate = CommitCertificate {
        height: block.number(),
        round: 0,
        block_hash: block.hash(),
        signatures: vec![],
    };
    let commit = BlockCommit {
        block,
        tx_hashes: &[],
        senders: &[],
        receipts: &[],
        changes,
        node_writes: &NodeWrites::default(),
        certificate: (block.number() > 0).then_some(&certificate),
        next_validators: None,
    };
    store.commit_block_with(commit, durability)
}

fn block(number: u64, parent: B256) -> Block {
    Block { header: header(number, parent), body: BlockBody::default() }
}

#[test]
fn blocks_only_extend_the_head_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    assert_eq!(store.snapshot().unwrap().head_number(), None);

    let alice = Address::repeat_byte(0xa1);
    let account = Account {
        nonce: 3,
        balance: U256::from(7),
        code_hash: EMPTY_CODE_HASH,
        storage_root: B256::ZERO,
    };
    let changes = StateChanges {
        accounts: BTreeMap::from([(
            alice,
            AccountChange {
                account: Some(account),
                storage_wiped: false,
                storage: BTreeMap::from([
                    (U256::from(1), U256::from(11)),
                    (U256::from(2), U256::from(22)),
                ]),
            },
        )]),
        codes: BTreeMap::new(),
    };
    // Block 1 before genesis, then genesis.
    assert!(matches!(
        commit(&store, &block(1, B256::ZERO), &changes),
        Err(StoreError::NotNextBlock { .. })
    ));
    let genesis = block(0, B256::ZERO);
    commit(&store, &genesis, &changes).unwrap();
    // A gap, then a wrong parent, then the right one.
    assert!(matches!(
        commit(&store, &block(2, genesis.hash()), &changes),
        Err(StoreError::NotNextBlock { .. })
    ));
    let err = commit(&store, &block(1, B256::repeat_byte(9)), &changes).unwrap_err();
    assert!(err.to_string().contains("parent hash"), "{err}");

    // Block 1 deletes one slot and the whole account is read back after reopening.
    let mut one = changes.clone();
    one.accounts.get_mut(&alice).unwrap().storage = BTreeMap::from([(U256::from(1), U256::ZERO)]);
    let b1 = block(1, genesis.hash());
    commit(&store, &b1, &one).unwrap();
    drop(store);

    let store = ChainStore::open(dir.path()).unwrap();
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.head_number(), Some(1));
    assert_eq!(snapshot.block_number(&b1.hash()).unwrap(), Some(1));
    assert_eq!(snapshot.head_header().unwrap().unwrap().hash(), b1.hash());
    assert_eq!(snapshot.account(&alice).unwrap(), Some(account));
    assert_eq!(snapshot.storage(&alice, &U256::from(1)).unwrap(), U256::ZERO);
    assert_eq!(snapshot.storage(&alice, &U256::from(2)).unwrap(), U256::from(22));
    assert_eq!(snapshot.all_storage(&alice).unwrap(), vec![(U256::from(2), U256::from(22))]);
    assert!(snapshot.certificate(1).unwrap().is_some());
    assert!(snapshot.certificate(0).unwrap().is_none());

    // Deleting the account removes its storage too.
    let mut gone = StateChanges::default();
    gone.accounts.insert(
        alice,
        AccountChange { account: None, storage_wiped: true, storage: BTreeMap::new() },
    );
    commit(&store, &block(2, b1.hash()), &gone).unwrap();
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.account(&alice).unwrap(), None);
    assert!(snapshot.all_storage(&alice).unwrap().is_empty());
}

#[test]
fn a_snapshot_does_not_see_later_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let genesis = block(0, B256::ZERO);
    commit(&store, &genesis, &StateChanges::default()).unwrap();
    let before = store.snapshot().unwrap();
    commit(&store, &block(1, genesis.hash()), &StateChanges::default()).unwrap();
    assert_eq!(before.head_number(), Some(0));
    assert!(before.header(1).unwrap().is_none());
    assert_eq!(store.snapshot().unwrap().head_number(), Some(1));
}

fn set_schema_version(dir: &std::path::Path, version: u32) {
    let db = redb::Database::open(dir.join("chain.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        let mut table = txn.open_table(meta).unwrap();
        table.insert("schema_version", version.to_be_bytes().as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn misbehavior_is_kept_once_per_validator_height_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = |height, kind| Misbehavior {
        validator: Address::repeat_byte(3),
        height,
        round: 0,
        kind,
        first: SignedValue {
            value: B256::repeat_byte(1),
            pol_round: 0,
            signature: vec![1; 64].into(),
        },
        second: SignedValue {
            value: B256::repeat_byte(2),
            pol_round: 0,
            signature: vec![2; 64].into(),
        },
    };
    {
        let store = ChainStore::open(dir.path()).unwrap();
        assert!(store.record_misbehavior(&evidence(5, MisbehaviorKind::DoublePrevote)).unwrap());
        assert!(!store.record_misbehavior(&evidence(5, MisbehaviorKind::DoublePrevote)).unwrap());
        assert!(store.record_misbehavior(&evidence(5, MisbehaviorKind::DoubleProposal)).unwrap());
        assert!(store.record_misbehavior(&evidence(9, MisbehaviorKind::DoublePrevote)).unwrap());
    }
    // A store of the previous schema (without the table) is upgraded when opened.
    set_schema_version(dir.path(), SCHEMA_VERSION - 1);
    let store = ChainStore::open(dir.path()).unwrap();
    let all = store.snapshot().unwrap().misbehavior(10).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0], evidence(9, MisbehaviorKind::DoublePrevote), "latest first");
    assert_eq!(store.snapshot().unwrap().misbehavior(1).unwrap().len(), 1);
}

#[test]
fn another_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(ChainStore::open(dir.path()).unwrap());
    set_schema_version(dir.path(), SCHEMA_VERSION + 1);
    let err = ChainStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::Schema { found, .. } if found == SCHEMA_VERSION + 1),
        "{err}"
    );
}

#[test]
fn the_address_index_lists_an_addresss_transactions_latest_first_with_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xb0));
    let store = ChainStore::open(dir.path()).unwrap();
    let changes = StateChanges::default();
    let mut parent = B256::ZERO;
    let (token, other_token) = (Address::repeat_byte(0x70), Address::repeat_byte(0x71));
    // Block n holds two transactions: alice → bob, then bob alone (a creation by bob, say);
    // block 2 also moves a token from alice to bob, block 3 another token to bob.
    let tokens = |n| match n {
        2 => vec![(alice, token), (bob, token)],
        3 => vec![(bob, other_token)],
        _ => vec![],
    };
    let addresses = |n: u64| {
        let transactions = if n == 0 { vec![] } else { vec![vec![alice, bob], vec![bob]] };
        BlockAddresses { transactions, token_holders: tokens(n) }
    };
    for n in 0..4 {
        let b = block(n, parent);
        commit(&store, &b, &changes).unwrap();
        parent = b.hash();
    }
    let checkpoint = || store.snapshot().unwrap().consumer_checkpoint(ADDRESS_INDEX).unwrap();
    assert_eq!(checkpoint(), None, "a new store has indexed nothing");
    // The index takes blocks only in order from its checkpoint.
    let gap = store.index_blocks(&[(1, addresses(1))], true).unwrap_err();
    assert!(matches!(gap, StoreError::NotNextForConsumer { first: 1, checkpoint: None, .. }));
    store.index_blocks(&[(0, addresses(0)), (1, addresses(1))], true).unwrap();
    assert_eq!(checkpoint(), Some(1));
    let again = store.index_blocks(&[(1, addresses(1))], false).unwrap_err();
    assert!(matches!(again, StoreError::NotNextForConsumer { first: 1, checkpoint: Some(1), .. }));
    store.index_blocks(&[(2, addresses(2))], false).unwrap();
    store.index_blocks(&[(3, addresses(3))], false).unwrap();
    assert_eq!(checkpoint(), Some(3));
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.address_transactions(&alice, None, 10).unwrap(), [(3, 0), (2, 0), (1, 0)]);
    let bobs = snapshot.address_transactions(&bob, None, 3).unwrap();
    assert_eq!(bobs, [(3, 1), (3, 0), (2, 1)]);
    // The next page starts strictly after the last one returned.
    let next = snapshot.address_transactions(&bob, Some((2, 1)), 10).unwrap();
    assert_eq!(next, [(2, 0), (1, 1), (1, 0)]);
    assert!(snapshot.address_transactions(&Address::ZERO, None, 10).unwrap().is_empty());
    assert_eq!(snapshot.address_tokens(&alice, 10).unwrap(), [token]);
    assert_eq!(snapshot.address_tokens(&bob, 10).unwrap(), [token, other_token], "once each");
    assert_eq!(snapshot.address_tokens(&bob, 1).unwrap(), [token]);
    assert!(snapshot.address_tokens(&token, 10).unwrap().is_empty());
    drop(snapshot);
    drop(store);
    let store = ChainStore::open(dir.path()).unwrap();
    assert_eq!(
        store.snapshot().unwrap().consumer_checkpoint(ADDRESS_INDEX).unwrap(),
        Some(3),
        "the checkpoint survives reopening"
    );
}

/// Writes `entries` into the `meta` table of the store in `dir`, and empties the address
/// index when `clear_index`, as an older version would have left it.
fn rewrite_meta(dir: &std::path::Path, entries: &[(&str, Vec<u8>)], clear_index: bool) {
    let db = redb::Database::open(dir.join("chain.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        let mut table = txn.open_table(meta).unwrap();
        for (key, value) in entries {
            table.insert(*key, value.as_slice()).unwrap();
        }
        let consumers: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("consumers");
        txn.open_table(consumers).unwrap().retain(|_, _| false).unwrap();
        if clear_index {
            let txs: redb::TableDefinition<&[u8; 32], ()> =
                redb::TableDefinition::new("address_txs");
            txn.open_table(txs).unwrap().retain(|_, _| false).unwrap();
        }
    }
    txn.commit().unwrap();
}

#[test]
fn an_older_stores_index_is_kept_when_complete_and_built_again_when_not() {
    let alice = Address::repeat_byte(0xa1);
    let make = || {
        let dir = tempfile::tempdir().unwrap();
        let store = ChainStore::open(dir.path()).unwrap();
        let mut parent = B256::ZERO;
        for n in 0..3 {
            let b = block(n, parent);
            commit(&store, &b, &StateChanges::default()).unwrap();
            parent = b.hash();
        }
        let one =
            |n| (n, BlockAddresses { transactions: vec![vec![alice]], token_holders: vec![] });
        store.index_blocks(&[one(0), one(1), one(2)], true).unwrap();
        dir
    };
    let indexed = |dir: &std::path::Path| {
        let store = ChainStore::open(dir).unwrap();
        let snapshot = store.snapshot().unwrap();
        (
            snapshot.consumer_checkpoint(ADDRESS_INDEX).unwrap(),
            snapshot.address_transactions(&alice, None, 10).unwrap().len(),
        )
    };
    // Schema 6 wrote the index with each commit: complete (`address_index_from` at most 1),
    // it is the index's output up to the head.
    let complete = make();
    rewrite_meta(complete.path(), &[("schema_version", 6u32.to_be_bytes().to_vec())], false);
    assert_eq!(indexed(complete.path()), (Some(2), 3));
    // Still filling in from the head down, it is built again from genesis.
    let partial = make();
    let from = ("address_index_from", 2u64.to_be_bytes().to_vec());
    rewrite_meta(partial.path(), &[("schema_version", 6u32.to_be_bytes().to_vec()), from], false);
    assert_eq!(indexed(partial.path()), (None, 0));
    // Schema 5 had no token transfers in its index: built again too.
    let older = make();
    rewrite_meta(older.path(), &[("schema_version", 5u32.to_be_bytes().to_vec())], true);
    assert_eq!(indexed(older.path()), (None, 0));
}

#[test]
fn the_validator_set_of_any_block_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let validator = |byte| btcr_primitives::GenesisValidator {
        address: Address::repeat_byte(byte),
        public_key: vec![2; 33].into(),
        power: u64::from(byte),
    };
    assert!(store.seed_validator_set(0, &[validator(1)]).unwrap());
    assert!(!store.seed_validator_set(0, &[validator(9)]).unwrap(), "seeded once");
    let mut parent = B256::ZERO;
    for n in 0..6 {
        let b = block(n, parent);
        // Block 3 ends an epoch: a new set decides from block 4.
        let next = (n == 3).then(|| vec![validator(1), validator(2)]);
        store
            .commit_block(BlockCommit {
                block: &b,
                tx_hashes: &[],
                senders: &[],
                receipts: &[],
                changes: &StateChanges::default(),
                node_writes: &NodeWrites::default(),
                certificate: None,
                next_validators: next.as_deref(),
            })
            .unwrap();
        parent = b.hash();
    }
    let snapshot = store.snapshot().unwrap();
    let sets = snapshot.validator_sets(2, 5).unwrap();
    assert_eq!(sets, vec![(4, vec![validator(1), validator(2)]), (0, vec![validator(1)])]);
    assert_eq!(snapshot.validator_sets(4, 5).unwrap().len(), 1, "only the sets deciding 4..=5");
    assert_eq!(snapshot.validator_sets(0, 3).unwrap(), vec![(0, vec![validator(1)])]);
}

#[test]
fn the_supply_follows_every_balance_change_and_is_summed_again_after_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let account = |balance: u64| AccountChange {
        account: Some(Account {
            nonce: 0,
            balance: U256::from(balance),
            storage_root: B256::ZERO,
            code_hash: EMPTY_CODE_HASH,
        }),
        ..Default::default()
    };
    let (alice, bob, carol) =
        (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
    let store = ChainStore::open(dir.path()).unwrap();
    assert_eq!(store.snapshot().unwrap().supply(), U256::ZERO);
    let mut changes = StateChanges::default();
    changes.accounts.insert(alice, account(1_000));
    changes.accounts.insert(bob, account(500));
    let genesis = block(0, B256::ZERO);
    commit(&store, &genesis, &changes).unwrap();
    assert_eq!(store.snapshot().unwrap().supply(), U256::from(1_500));

    // Alice pays bob 300 and a fee of 7 that is burned; carol gets a reward of 50; then
    // bob's account is deleted.
    let mut changes = StateChanges::default();
    changes.accounts.insert(alice, account(693));
    changes.accounts.insert(bob, account(800));
    changes.accounts.insert(carol, account(50));
    let one = block(1, genesis.hash());
    commit(&store, &one, &changes).unwrap();
    assert_eq!(store.snapshot().unwrap().supply(), U256::from(1_543));
    let mut changes = StateChanges::default();
    changes.accounts.insert(bob, AccountChange::default());
    commit(&store, &block(2, one.hash()), &changes).unwrap();
    assert_eq!(store.snapshot().unwrap().supply(), U256::from(743));
    // Beside each block: the balances it left (a deleted account's is zero).
    let kept = store.snapshot().unwrap();
    let balance = |address, balance: u64| AccountBalance { address, balance: U256::from(balance) };
    assert_eq!(
        kept.block_accounts(1).unwrap().unwrap().balances,
        vec![balance(alice, 693), balance(bob, 800), balance(carol, 50)]
    );
    assert_eq!(kept.block_accounts(2).unwrap().unwrap().balances, vec![balance(bob, 0)]);
    assert_eq!(kept.block_accounts(3).unwrap(), None);
    drop(kept);
    drop(store);

    // A store made before the supply was kept sums the balances once when opened.
    {
        let db = redb::Database::open(dir.path().join("chain.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
            txn.open_table(meta).unwrap().remove("supply").unwrap();
        }
        txn.commit().unwrap();
    }
    let store = ChainStore::open(dir.path()).unwrap();
    assert_eq!(store.snapshot().unwrap().supply(), U256::from(743));
}

#[test]
fn a_blocks_transactions_are_counted_and_read_one_by_one_without_decoding_the_others() {
    use btcr_testkit::{TxBuilder, dev_key};
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let genesis = block(0, B256::ZERO);
    commit(&store, &genesis, &StateChanges::default()).unwrap();
    let key = dev_key(0);
    let to = Address::repeat_byte(9);
    // One transaction of each type: a legacy one is an RLP list, typed ones are strings.
    let raw = [
        TxBuilder::transfer(1, 0, to, U256::from(1)).legacy(&key),
        TxBuilder::transfer(1, 1, to, U256::from(1)).eip2930(&key),
        TxBuilder::transfer(1, 2, to, U256::from(1)).eip1559(&key),
    ];
    let transactions: Vec<_> =
        raw.iter().map(|r| btcr_primitives::decode_transaction(r).unwrap()).collect();
    let one = Block {
        header: header(1, genesis.hash()),
        body: BlockBody { transactions: transactions.clone(), poh_entries: vec![] },
    };
    // Receipts of each type, the second with a log.
    let receipt = |cumulative: u64, logs: Vec<alloy_primitives::Log>| {
        alloy_consensus::Receipt { status: true.into(), cumulative_gas_used: cumulative, logs }
            .with_bloom()
    };
    let log = alloy_primitives::Log::new_unchecked(to, vec![B256::repeat_byte(1)], vec![7].into());
    let receipts = vec![
        btcr_primitives::ReceiptEnvelope::Legacy(receipt(21_000, vec![])),
        btcr_primitives::ReceiptEnvelope::Eip2930(receipt(42_000, vec![log])),
        btcr_primitives::ReceiptEnvelope::Eip1559(receipt(63_000, vec![])),
    ];
    store
        .commit_block(BlockCommit {
            block: &one,
            tx_hashes: &[],
            senders: &[],
            receipts: &receipts,
            changes: &StateChanges::default(),
            node_writes: &NodeWrites::default(),
            certificate: None,
            next_validators: None,
        })
        .unwrap();
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.transaction_count(0).unwrap(), Some(0));
    assert_eq!(snapshot.transaction_count(1).unwrap(), Some(3));
    assert_eq!(snapshot.transaction_count(2).unwrap(), None);
    for (i, tx) in transactions.iter().enumerate() {
        assert_eq!(snapshot.transaction(1, i).unwrap().as_ref(), Some(tx));
        let read = snapshot.receipt(1, i).unwrap().unwrap();
        assert_eq!(read.receipt, receipts[i]);
        assert_eq!(read.gas_used, 21_000, "each used 21,000 of the cumulative gas");
        assert_eq!(read.first_log_index, [0, 0, 1][i], "the second receipt's log comes first");
    }
    assert_eq!(snapshot.transaction(1, 3).unwrap(), None);
    assert_eq!(snapshot.receipt(1, 3).unwrap(), None);
    assert_eq!(snapshot.transaction(0, 0).unwrap(), None);
    assert_eq!(snapshot.transaction(2, 0).unwrap(), None);
}

#[test]
fn senders_are_kept_beside_each_block_from_the_schema_that_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let genesis = block(0, B256::ZERO);
    commit(&store, &genesis, &StateChanges::default()).unwrap();
    drop(store);
    // A store of the previous schema: its blocks have nothing beside them.
    {
        let db = redb::Database::open(dir.path().join("chain.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        let table: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("block_accounts");
        txn.delete_table(table).unwrap();
        txn.commit().unwrap();
    }
    set_schema_version(dir.path(), 7);
    let store = ChainStore::open(dir.path()).unwrap();
    assert_eq!(store.snapshot().unwrap().block_accounts(0).unwrap(), None);
    // Blocks committed from now on have their senders (taken as given: the store does not
    // recover them) and balances.
    let senders = [Address::repeat_byte(7), Address::repeat_byte(8)];
    let one = block(1, genesis.hash());
    store
        .commit_block(BlockCommit {
            block: &one,
            tx_hashes: &[],
            senders: &senders,
            receipts: &[],
            changes: &StateChanges::default(),
            node_writes: &NodeWrites::default(),
            certificate: None,
            next_validators: None,
        })
        .unwrap();
    let kept = store.snapshot().unwrap().block_accounts(1).unwrap().unwrap();
    assert_eq!(kept, BlockAccounts { senders: senders.to_vec(), balances: vec![] });
}

#[test]
fn pruning_removes_old_blocks_in_batches_once_indexed_and_reads_of_them_say_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let alice = Address::repeat_byte(0xa1);
    let mut parent = B256::ZERO;
    for n in 0..=20 {
        let b = block(n, parent);
        commit(&store, &b, &StateChanges::default()).unwrap();
        parent = b.hash();
    }
    let hash_of_5 = store.snapshot().unwrap().header(5).unwrap().unwrap().hash();
    // Not before the address index has applied what would go.
    let refused = store.prune_blocks(6, 4, |_, _| {}).unwrap_err();
    assert!(matches!(refused, StoreError::Refused(_)), "{refused}");
    let one = |n: u64| BlockAddresses {
        transactions: if n == 0 { vec![] } else { vec![vec![alice]] },
        token_holders: vec![],
    };
    store.index_blocks(&(0..=10).map(|n| (n, one(n))).collect::<Vec<_>>(), true).unwrap();
    assert!(store.prune_blocks(6, 4, |_, _| {}).is_err(), "blocks up to 14 go; 10 indexed");
    store.index_blocks(&(11..=20).map(|n| (n, one(n))).collect::<Vec<_>>(), true).unwrap();

    let mut seen = Vec::new();
    let removed = store.prune_blocks(6, 4, |done, total| seen.push((done, total))).unwrap();
    assert_eq!(removed, Some(1..15));
    assert_eq!(seen, [(4, 14), (8, 14), (12, 14), (14, 14)], "progress after each batch");
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.earliest(), 15);
    assert!(snapshot.header(0).unwrap().is_some(), "genesis stays");
    assert!(snapshot.block(15).unwrap().is_some());
    for n in [1, 5, 14] {
        let pruned = snapshot.block(n).unwrap_err();
        assert!(matches!(pruned, StoreError::Pruned { number, earliest: 15 } if number == n));
        assert!(snapshot.receipts(n).is_err() && snapshot.certificate(n).is_err());
    }
    assert_eq!(snapshot.block_number(&hash_of_5).unwrap(), None, "the hash index forgets");
    let listed = snapshot.address_transactions(&alice, None, 100).unwrap();
    assert_eq!(listed.first(), Some(&(20, 0)));
    assert_eq!(listed.last(), Some(&(15, 0)), "the address index stops at the pruned blocks");
    assert_eq!(snapshot.address_transactions(&alice, None, 2).unwrap(), [(20, 0), (19, 0)]);
    assert!(snapshot.address_transactions(&alice, None, 0).unwrap().is_empty());
    drop(snapshot);
    // Nothing more to do at the same depth; the mark survives reopening; new blocks commit.
    assert_eq!(store.prune_blocks(6, 4, |_, _| {}).unwrap(), None);
    drop(store);
    let store = ChainStore::open(dir.path()).unwrap();
    assert_eq!(store.snapshot().unwrap().earliest(), 15);
    commit(&store, &block(21, parent), &StateChanges::default()).unwrap();
}

/// Set in the child process of the crash test: `DIR,PLAN`, where each letter of PLAN commits
/// the next block immediately (`i`) or deferred (`d`), `p` persists, and the process then
/// aborts without closing the store.
const CRASH_ENV: &str = "BTCR_STORE_CRASH";

/// Commits a chain of empty blocks from genesis as `plan` says (see [`CRASH_ENV`]).
fn commit_plan(store: &ChainStore, plan: &str) {
    let mut parent = block(0, B256::ZERO);
    commit(store, &parent, &StateChanges::default()).unwrap();
    for step in plan.chars() {
        if step == 'p' {
            store.persist().unwrap();
            continue;
        }
        let durability = match step {
            'i' => CommitDurability::Immediate,
            _ => CommitDurability::Deferred,
        };
        let next = block(parent.number() + 1, parent.hash());
        commit_with(store, &next, &StateChanges::default(), durability).unwrap();
        parent = next;
    }
}

/// Deferred commits are seen at once, reach the disk with the next immediate commit (or a
/// persist, or closing the store), and a crash loses only those made since: the store opens
/// at the last block on disk and extends from there.
#[test]
fn a_crash_loses_only_the_deferred_commits_since_the_last_immediate_one() {
    if let Ok(job) = std::env::var(CRASH_ENV) {
        let (dir, plan) = job.split_once(',').unwrap();
        let store = ChainStore::open(std::path::Path::new(dir)).unwrap();
        commit_plan(&store, plan);
        assert_eq!(
            store.snapshot().unwrap().head_number(),
            Some(plan.replace('p', "").len() as u64)
        );
        std::process::abort();
    }
    for (plan, on_disk) in [("iidd", 2), ("iddid", 4), ("ddp", 2), ("ddd", 0)] {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_crash_loses_only_the_deferred_commits_since_the_last_immediate_one",
            ])
            .env(CRASH_ENV, format!("{},{plan}", dir.path().display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "{plan}: the child was to abort");
        let store = ChainStore::open(dir.path()).unwrap();
        let snapshot = store.snapshot().unwrap();
        assert_eq!(snapshot.head_number(), Some(on_disk), "plan {plan}");
        let head = snapshot.header(on_disk).unwrap().unwrap();
        let next = block(on_disk + 1, head.hash());
        commit(&store, &next, &StateChanges::default()).unwrap();
        assert_eq!(store.snapshot().unwrap().head_number(), Some(on_disk + 1));
    }
    // Closed rather than crashed: nothing is lost.
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    commit_plan(&store, "idd");
    drop(store);
    assert_eq!(ChainStore::open(dir.path()).unwrap().snapshot().unwrap().head_number(), Some(3));
}

/// A batch's blocks are each written on the state the ones before left, read back through
/// its view before anything is committed; snapshots see none of them until it finishes, a
/// dropped batch leaves nothing, and a block that does not follow the batch's head is
/// refused. What a peer is sent of a block is its stored header, body and certificate.
#[test]
fn a_batch_of_blocks_is_one_transaction_whose_view_shows_its_own_writes() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Address::repeat_byte(1);
    let balance = |n: u64| {
        let mut changes = StateChanges::default();
        let account = Account {
            nonce: n,
            balance: U256::from(n * 100),
            storage_root: B256::ZERO,
            code_hash: EMPTY_CODE_HASH,
        };
        changes
            .accounts
            .insert(alice, AccountChange { account: Some(account), ..Default::default() });
        changes
    };
    let store = ChainStore::open(dir.path()).unwrap();
    let genesis = block(0, B256::ZERO);
    commit(&store, &genesis, &balance(0)).unwrap();
    let blocks: Vec<Block> = (1..=3).fold(vec![genesis], |mut chain, n| {
        chain.push(block(n, chain.last().unwrap().hash()));
        chain
    });
    let write = |batch: &mut btcr_storage::StoreBatch<'_>, b: &Block, changes: &StateChanges| {
        let certificate = CommitCertificate {
            height: b.number(),
            round: 0,
            block_hash: b.hash(),
            signatures: vec![],
        };
        batch.commit(BlockCommit {
            block: b,
            tx_hashes: &[],
            senders: &[],
            receipts: &[],
            changes,
            node_writes: &NodeWrites::default(),
            certificate: Some(&certificate),
            next_validators: None,
        })
    };

    // Dropped: nothing written.
    {
        let mut batch = store.begin_batch().unwrap();
        write(&mut batch, &blocks[1], &balance(1)).unwrap();
        assert_eq!(batch.head().unwrap().number, 1);
    }
    assert_eq!(store.snapshot().unwrap().head_number(), Some(0));

    let mut batch = store.begin_batch().unwrap();
    for n in 1..=2u64 {
        {
            let view = batch.view().unwrap();
            let before = view.account(&alice).unwrap().unwrap();
            assert_eq!(before.nonce, n - 1, "the view shows the batch's earlier blocks");
            assert_eq!(view.block_hash(n - 1).unwrap(), Some(blocks[n as usize - 1].hash()));
        }
        write(&mut batch, &blocks[n as usize], &balance(n)).unwrap();
    }
    // Block 1 again does not follow the batch's head (2).
    let refused = write(&mut batch, &blocks[1], &balance(1)).unwrap_err();
    assert!(matches!(refused, StoreError::NotNextBlock { number: 1, .. }), "{refused}");
    assert_eq!(batch.len(), 2);
    let outside = store.snapshot().unwrap();
    assert_eq!(outside.head_number(), Some(0), "nothing shows before the batch finishes");
    batch.finish().unwrap();
    assert_eq!(outside.head_number(), Some(0), "an older view stays as it was");
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.head_number(), Some(2));
    assert_eq!(snapshot.account(&alice).unwrap().unwrap().nonce, 2);
    assert_eq!(snapshot.supply(), U256::from(200));
    let mut item = Vec::new();
    assert!(snapshot.certified_block_bytes(2, &mut item).unwrap());
    let mut expected = alloy_rlp::encode(&blocks[2].header);
    expected.extend(alloy_rlp::encode(&blocks[2].body));
    expected.extend(alloy_rlp::encode(snapshot.certificate(2).unwrap().unwrap()));
    assert_eq!(item, expected);
    assert!(!snapshot.certified_block_bytes(3, &mut item).unwrap());
    assert!(!snapshot.certified_block_bytes(0, &mut item).unwrap(), "genesis has none");
    drop((snapshot, outside, store));

    let store = ChainStore::open(dir.path()).unwrap();
    assert_eq!(store.snapshot().unwrap().head_number(), Some(2), "on disk");
    commit(&store, &blocks[3], &balance(3)).unwrap();
}
