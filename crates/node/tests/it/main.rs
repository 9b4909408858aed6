//! The block pipeline across two nodes: a block proposed on one verifies and commits to the
//! same state on another, and every kind of tampering is refused.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use btcr_consensus::{BlockPipeline, PipelineError, bft::certificate::sign_commit};
use btcr_crypto::SecretKey;
use btcr_interfaces::{ChainReader, ChainView};
use btcr_node::ChainServices;
use btcr_node::{Chain, recompute_state_root};
use btcr_primitives::{
    Block, CommitCertificate, Genesis, GenesisAccount, GenesisValidator, PohConfig,
};
use btcr_storage::ChainStore;
use btcr_testkit::{
    TxBuilder,
    contracts::{BtcrToken, btcr_token_init_code},
    dev_key,
};
use btcr_txpool::PoolConfig;
use tokio_util::sync::CancellationToken;

mod catch_up;
mod fuzz_corpora;
mod staking;

const CHAIN_ID: u64 = 1337;

fn genesis(validator: &SecretKey) -> Genesis {
    let balance = U256::from(10u64).pow(U256::from(22));
    Genesis {
        chain_id: CHAIN_ID,
        timestamp_ms: 1_700_000_000_000,
        gas_limit: 30_000_000,
        base_fee_per_gas: 1_000_000_000,
        block_time_ms: 100,
        poh: PohConfig { hashes_per_tick: 200, ticks_per_block: 8 },
        consensus: Default::default(),
        forks: btcr_primitives::Forks::ALL,
        validators: vec![GenesisValidator {
            address: validator.address(),
            public_key: validator.public_key().to_vec().into(),
            power: 1000,
        }],
        alloc: (0..4)
            .map(|i| (dev_key(i).address(), GenesisAccount { balance, ..Default::default() }))
            .collect(),
    }
}

struct Node {
    services: ChainServices,
    chain: Arc<Chain>,
    store: ChainStore,
    _dir: tempfile::TempDir,
}

impl Node {
    /// A view of the chain once every consumer has caught up with the head.
    fn view(&self) -> Arc<dyn ChainView> {
        self.wait();
        self.services.api.view().unwrap()
    }

    /// Waits until the consumers have handled everything up to the head.
    fn wait(&self) {
        let head = self.chain.head_header().number;
        assert!(self.services.wait_idle(head, Duration::from_secs(30)), "consumers stalled");
    }
}

fn open_node(dir: tempfile::TempDir, genesis: &Genesis, validator: &SecretKey) -> Node {
    let store = ChainStore::open(dir.path()).unwrap();
    let services = ChainServices::open(
        store.clone(),
        genesis.clone(),
        validator.address(),
        PoolConfig::default(),
        CancellationToken::new(),
    )
    .unwrap();
    Node { chain: services.chain.clone(), services, store, _dir: dir }
}

fn node(genesis: &Genesis, validator: &SecretKey) -> Node {
    open_node(tempfile::tempdir().unwrap(), genesis, validator)
}

fn certificate(key: &SecretKey, block: &Block) -> CommitCertificate {
    let hash = block.hash();
    CommitCertificate {
        height: block.number(),
        round: 0,
        block_hash: hash,
        signatures: vec![sign_commit(key, CHAIN_ID, block.number(), 0, hash)],
    }
}

/// Fills `chain`'s pool with transfers from three senders and an ERC-20 deployment.
fn load(chain: &Chain) {
    for i in 0..3u32 {
        let key = dev_key(i);
        for nonce in 0..10 {
            let raw = TxBuilder::transfer(
                CHAIN_ID,
                nonce,
                Address::repeat_byte(i as u8 + 1),
                U256::from(nonce + 1),
            )
            .eip1559(&key);
            chain.submit_raw(&raw).unwrap();
        }
    }
    let init = btcr_token_init_code("T", "T", U256::from(1_000_000u64)).unwrap();
    chain
        .submit_raw(&TxBuilder::create(CHAIN_ID, 0, init, 2_000_000).eip1559(&dev_key(3)))
        .unwrap();
}

fn propose(chain: &Chain) -> Block {
    let height = chain.head_header().number + 1;
    chain.propose(height, Instant::now() + Duration::from_millis(150)).unwrap()
}

#[test]
fn a_block_proposed_on_one_node_commits_identically_on_another() {
    let validator = SecretKey::random();
    let genesis = genesis(&validator);
    let a = node(&genesis, &validator);
    let b = node(&genesis, &validator);
    assert_eq!(a.chain.head_header(), b.chain.head_header());

    load(&a.chain);
    let block = propose(&a.chain);
    assert_eq!(block.body.transactions.len(), 31, "all pooled transactions fit in one block");
    assert_eq!(block.header.poh_ticks, 8);
    b.chain.verify(&block).unwrap();
    let cert = certificate(&validator, &block);
    a.chain.commit(block.hash(), cert.clone()).unwrap();
    b.chain.commit(block.hash(), cert).unwrap();

    for n in [&a, &b] {
        let head = n.chain.head_header();
        assert_eq!(head.hash(), block.hash());
        let snapshot = n.chain.store().snapshot().unwrap();
        assert_eq!(recompute_state_root(&snapshot).unwrap(), head.state_root);
    }
    // The pool forgot what was included.
    assert_eq!(a.chain.pool_counts(), (0, 0));

    // An empty block on top verifies too.
    let empty = propose(&a.chain);
    assert!(empty.body.transactions.is_empty());
    b.chain.verify(&empty).unwrap();
}

#[test]
fn a_verifier_that_pooled_the_transactions_reuses_their_senders_and_agrees() {
    let validator = SecretKey::random();
    let genesis = genesis(&validator);
    let a = node(&genesis, &validator);
    let b = node(&genesis, &validator);
    // Both pools hold the same signed transactions, as gossip leaves them.
    load(&a.chain);
    load(&b.chain);
    assert_eq!(b.chain.pool_counts(), a.chain.pool_counts());
    let block = propose(&a.chain);
    assert_eq!(block.body.transactions.len(), 31);
    b.chain.verify(&block).unwrap();
    let cert = certificate(&validator, &block);
    a.chain.commit(block.hash(), cert.clone()).unwrap();
    b.chain.commit(block.hash(), cert).unwrap();
    assert_eq!(b.chain.head_header(), a.chain.head_header());
    assert_eq!(b.chain.pool_counts(), (0, 0), "the verifier's pool forgot them too");
}

/// Two nodes of one chain and a block of pooled transfers that the first proposed, for the
/// second to verify once tampered with.
struct Tampering {
    genesis: Genesis,
    validator: SecretKey,
    verifier: Node,
    block: Block,
}

impl Tampering {
    fn new() -> Self {
        let validator = SecretKey::random();
        let genesis = genesis(&validator);
        let proposer = node(&genesis, &validator);
        let verifier = node(&genesis, &validator);
        load(&proposer.chain);
        let block = propose(&proposer.chain);
        assert!(block.body.transactions.len() > 2);
        Self { genesis, validator, verifier, block }
    }

    /// Why the verifier refuses `block`; panics if it does not.
    fn refused(&self, block: &Block) -> String {
        match self.verifier.chain.verify(block) {
            Err(PipelineError::InvalidBlock(reason)) => reason.to_string(),
            other => panic!("tampered block was not refused: {other:?}"),
        }
    }
}

#[test]
fn tampered_blocks_are_refused() {
    let tampering = Tampering::new();
    let (validator, b, block) = (&tampering.validator, &tampering.verifier, &tampering.block);
    let refused = |block: &Block| tampering.refused(block);

    let mut t = block.clone();
    t.header.state_root = B256::repeat_byte(1);
    assert!(refused(&t).contains("state root"), "{}", refused(&t));

    let mut t = block.clone();
    t.header.receipts_root = B256::repeat_byte(1);
    assert!(refused(&t).contains("receipts root"));

    let mut t = block.clone();
    t.header.gas_used += 1;
    assert!(refused(&t).contains("gas used"));

    let mut t = block.clone();
    t.header.base_fee_per_gas += 1;
    assert!(refused(&t).contains("base fee"));

    let mut t = block.clone();
    t.header.timestamp_ms += 3_600_000;
    assert!(refused(&t).contains("in the future"));

    let mut t = block.clone();
    t.header.parent_hash = B256::repeat_byte(2);
    assert!(refused(&t).contains("does not extend"));

    let mut t = block.clone();
    let i = t.body.poh_entries.len() / 2;
    t.body.poh_entries[i].hash = B256::repeat_byte(3);
    assert!(refused(&t).starts_with("PoH"), "{}", refused(&t));

    let mut t = block.clone();
    t.body.poh_entries.pop();
    assert!(refused(&t).starts_with("PoH"), "{}", refused(&t));

    // Reordering transactions breaks the PoH mixins (and the transactions root).
    let mut t = block.clone();
    t.body.transactions.swap(0, 1);
    refused(&t);

    // Dropping a transaction breaks the PoH transaction count.
    let mut t = block.clone();
    t.body.transactions.pop();
    refused(&t);

    let mut t = block.clone();
    t.header.poh_end_hash = B256::repeat_byte(4);
    assert!(refused(&t).contains("PoH"));

    // The untouched block still verifies.
    b.chain.verify(block).unwrap();
    // A block nobody proposed or verified cannot be committed.
    let mut unknown = block.clone();
    unknown.header.extra_data = Bytes::from_static(b"x");
    assert!(matches!(
        b.chain.commit(unknown.hash(), certificate(validator, &unknown)),
        Err(PipelineError::UnknownBlock(_))
    ));
}

/// A synced block, whose certificate the engine checked, has its PoH entries compared with the
/// root its header commits to instead of having their hash chains run again: only what more
/// than two thirds of the validators signed after running them is trusted that way. A chain
/// whose genesis predates the root keeps checking the chains in full.
#[test]
fn a_certified_block_is_trusted_for_its_poh_chains_only_through_its_header() {
    let tampering = Tampering::new();
    let (b, block) = (&tampering.verifier, &tampering.block);
    let root = block.header.poh_entries_root.expect("a new chain's headers carry the root");
    assert_eq!(root, btcr_poh::entries_root(&block.body.poh_entries));
    let certified_refusal = |block: &Block| match b.chain.verify_certified(block) {
        Err(PipelineError::InvalidBlock(reason)) => reason.to_string(),
        other => panic!("not refused: {other:?}"),
    };

    // The entries changed under an unchanged header: the root no longer matches.
    let mut t = block.clone();
    let middle = t.body.poh_entries.len() / 2;
    t.body.poh_entries[middle].hash = B256::repeat_byte(3);
    assert!(certified_refusal(&t).contains("PoH entries root"), "{}", certified_refusal(&t));
    // A header naming those entries is a block whose chain breaks in the middle: refused when
    // proposed, and taken as certified only because the validators would have signed it.
    t.header.poh_entries_root = Some(btcr_poh::entries_root(&t.body.poh_entries));
    assert!(tampering.refused(&t).starts_with("PoH"), "{}", tampering.refused(&t));
    b.chain.verify_certified(&t).unwrap();
    // The entries' structure is checked all the same.
    let mut t = block.clone();
    t.body.poh_entries.remove(middle);
    t.header.poh_entries_root = Some(btcr_poh::entries_root(&t.body.poh_entries));
    assert!(certified_refusal(&t).starts_with("PoH"), "{}", certified_refusal(&t));
    // A header without the root, where the genesis asks for it.
    let mut t = block.clone();
    t.header.poh_entries_root = None;
    assert!(certified_refusal(&t).contains("PoH entries root"), "{}", certified_refusal(&t));

    b.chain.verify_certified(block).unwrap();
    b.chain.commit(block.hash(), certificate(&tampering.validator, block)).unwrap();
    assert_eq!(b.chain.head_header(), block.header);

    // A chain started before the root existed: no root, and the chains run in full.
    let validator = SecretKey::random();
    let mut genesis = genesis(&validator);
    genesis.forks = btcr_primitives::Forks::default();
    let (proposer, verifier) = (node(&genesis, &validator), node(&genesis, &validator));
    load(&proposer.chain);
    let block = propose(&proposer.chain);
    assert_eq!(block.header.poh_entries_root, None);
    let mut t = block.clone();
    let middle = t.body.poh_entries.len() / 2;
    t.body.poh_entries[middle].hash = B256::repeat_byte(3);
    match verifier.chain.verify_certified(&t) {
        Err(PipelineError::InvalidBlock(reason)) => assert!(reason.to_string().starts_with("PoH")),
        other => panic!("not refused: {other:?}"),
    }
    verifier.chain.verify_certified(&block).unwrap();
}

/// A block of more transactions than its gas limit could ever pay for is refused on that
/// count alone: before, each of them had its sender recovered first (a 64 MiB block of tiny
/// transactions cost each validator some 600,000 recoveries before the block was full).
#[test]
fn a_block_of_more_transactions_than_its_gas_pays_for_is_refused_before_recovering_senders() {
    let tampering = Tampering::new();
    let block = &tampering.block;
    let mut t = block.clone();
    let one = t.body.transactions[0].clone();
    let room = (tampering.genesis.gas_limit / 21_000) as usize + 1;
    t.body.transactions = vec![one; room];
    let reason = tampering.refused(&t);
    assert!(reason.contains("need more than the gas limit"), "{reason}");
    let mut t = block.clone();
    t.header.gas_limit += 1;
    let reason = tampering.refused(&t);
    assert!(reason.contains("is not the chain's"), "{reason}");
    tampering.verifier.chain.verify(block).unwrap();
}

/// A proposer could stamp each block a millisecond after its parent forever, holding the
/// chain's clock (and every contract's `block.timestamp`) back at will. Now a block comes at
/// least half a block interval after its parent, as every block's paced PoH slot does.
#[test]
fn a_block_stamped_less_than_half_an_interval_after_its_parent_is_refused() {
    let tampering = Tampering::new();
    let parent = tampering.verifier.chain.head_header();
    let least = tampering.genesis.min_block_interval_ms();
    assert_eq!(least, tampering.genesis.block_time_ms / 2);
    let mut t = tampering.block.clone();
    t.header.timestamp_ms = parent.timestamp_ms + 1;
    let reason = tampering.refused(&t);
    assert!(reason.contains(&format!("less than {least} ms after the parent's")), "{reason}");
    t.header.timestamp_ms = parent.timestamp_ms + least;
    tampering.verifier.chain.verify(&t).unwrap();
    assert!(tampering.block.header.timestamp_ms >= parent.timestamp_ms + least);
}

#[test]
fn reopening_checks_the_genesis() {
    let validator = SecretKey::random();
    let genesis = genesis(&validator);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = ChainStore::open(dir.path()).unwrap();
        Chain::open(store, genesis.clone(), validator.address(), PoolConfig::default()).unwrap();
    }
    let mut other = genesis.clone();
    other.chain_id = 7;
    let store = ChainStore::open(dir.path()).unwrap();
    let err = Chain::open(store, other, validator.address(), PoolConfig::default()).unwrap_err();
    assert!(err.to_string().contains("holds another chain"), "{err}");
}

#[test]
fn account_and_storage_proofs_verify_against_the_committed_root() {
    use alloy_sol_types::SolValue;
    let validator = SecretKey::random();
    let genesis = genesis(&validator);
    let a = node(&genesis, &validator);
    load(&a.chain);
    let block = propose(&a.chain);
    a.chain.commit(block.hash(), certificate(&validator, &block)).unwrap();
    let root = a.chain.head_header().state_root;
    let snapshot = a.chain.store().snapshot().unwrap();

    // The token deployed by dev key 3 stores name, symbol and totalSupply in slots 0-2 and
    // its balances in a mapping at slot 3 (solc layout: keccak256(abi.encode(holder, 3))).
    let token = dev_key(3).address().create(0);
    let holder_slot = U256::from_be_bytes(
        alloy_primitives::keccak256((dev_key(3).address(), U256::from(3)).abi_encode()).0,
    );
    let empty_slot = U256::from(12345);
    let proof =
        btcr_execution::account_proof(&*snapshot, token, &[holder_slot, empty_slot, U256::from(2)])
            .unwrap();
    let account = proof.account.expect("the token exists");
    assert!(account.has_code());
    assert_eq!(proof.storage[0].value, U256::from(1_000_000u64), "the deployer holds the supply");
    assert_eq!(proof.storage[1].value, U256::ZERO);
    assert_eq!(proof.storage[2].value, U256::from(1_000_000u64));
    proof.verify(root).unwrap();

    // A proof does not verify against another root, nor with a changed value.
    assert!(proof.verify(B256::repeat_byte(9)).is_err());
    let mut forged = proof.clone();
    forged.storage[0].value = U256::from(2_000_000u64);
    assert!(forged.verify(root).is_err());
    let mut forged = proof.clone();
    forged.account.as_mut().unwrap().balance += U256::from(1);
    assert!(forged.verify(root).is_err());

    // Absent accounts are provable too.
    let nobody =
        btcr_execution::account_proof(&*snapshot, Address::repeat_byte(0xee), &[U256::ZERO])
            .unwrap();
    assert!(nobody.account.is_none());
    nobody.verify(root).unwrap();
    // An EOA with balance.
    let eoa = btcr_execution::account_proof(&*snapshot, dev_key(0).address(), &[]).unwrap();
    assert_eq!(eoa.account.unwrap().nonce, 10);
    eoa.verify(root).unwrap();
}

#[test]
fn a_contract_touched_without_storage_writes_keeps_its_storage_root() {
    use alloy_sol_types::SolCall;
    use btcr_testkit::contracts::BtcrToken;
    let validator = SecretKey::random();
    let genesis = genesis(&validator);
    let a = node(&genesis, &validator);
    let b = node(&genesis, &validator);
    load(&a.chain);
    let deployer = dev_key(3);
    let token = deployer.address().create(0);
    // Block 1 deploys the token; block 2 calls it in a way that writes no slot (a transfer
    // of nothing to the sender itself), so the state root computation must carry the
    // token's storage root over from the executor instead of rebuilding it.
    let noop = BtcrToken::transferCall { to: deployer.address(), amount: U256::ZERO }.abi_encode();
    for step in 0..2 {
        if step == 1 {
            let raw = TxBuilder::call(CHAIN_ID, 1, token, noop.clone().into(), 200_000)
                .eip1559(&deployer);
            a.chain.submit_raw(&raw).unwrap();
        }
        let block = propose(&a.chain);
        assert!(!block.body.transactions.is_empty());
        b.chain.verify(&block).unwrap();
        let cert = certificate(&validator, &block);
        a.chain.commit(block.hash(), cert.clone()).unwrap();
        b.chain.commit(block.hash(), cert).unwrap();
    }
    let snapshot = a.chain.store().snapshot().unwrap();
    let receipts = snapshot.receipts(2).unwrap().unwrap();
    assert!(receipts[0].status(), "the no-op transfer succeeds");
    let head = a.chain.head_header();
    assert_eq!(recompute_state_root(&snapshot).unwrap(), head.state_root);
    let proof = btcr_execution::account_proof(&*snapshot, token, &[U256::from(2)]).unwrap();
    assert_ne!(proof.account.unwrap().storage_root, B256::ZERO);
    assert_eq!(proof.storage[0].value, U256::from(1_000_000u64));
    proof.verify(head.state_root).unwrap();
}

#[test]
fn a_slot_too_short_for_the_pool_still_yields_valid_blocks_and_loses_nothing() {
    let validator = SecretKey::random();
    let mut genesis = genesis(&validator);
    genesis.gas_limit = 1_000_000_000;
    let balance = U256::from(10u64).pow(U256::from(22));
    genesis.alloc = (0..32)
        .map(|i| (dev_key(i).address(), GenesisAccount { balance, ..Default::default() }))
        .collect();
    let a = node(&genesis, &validator);
    let b = node(&genesis, &validator);
    let mut submitted = 0;
    for nonce in 0..64 {
        for i in 0..32u32 {
            let raw = TxBuilder::transfer(CHAIN_ID, nonce, Address::repeat_byte(9), U256::from(1))
                .eip1559(&dev_key(i));
            a.chain.submit_raw(&raw).unwrap();
            submitted += 1;
        }
    }
    // Slots far shorter than executing the pool takes: the PoH's last tick often comes before
    // the proposer's last batch is mixed in. Each block must still verify elsewhere, and what
    // did not fit must wait in the pool for a later block.
    let mut included = 0;
    for slot_us in [200, 500, 1_000, 2_000, 3_000, 5_000, 8_000, 13_000, 500_000] {
        let height = a.chain.head_header().number + 1;
        let block =
            a.chain.propose(height, Instant::now() + Duration::from_micros(slot_us)).unwrap();
        b.chain.verify(&block).unwrap();
        let cert = certificate(&validator, &block);
        a.chain.commit(block.hash(), cert.clone()).unwrap();
        b.chain.commit(block.hash(), cert).unwrap();
        included += block.body.transactions.len();
    }
    assert_eq!(included, submitted, "every pooled transaction was included exactly once");
    assert_eq!(a.chain.pool_counts(), (0, 0));
    assert_eq!(a.chain.head_header(), b.chain.head_header());
}

#[test]
fn token_transfers_are_indexed_by_holder_and_an_older_store_is_indexed_again_on_opening() {
    let validator = SecretKey::random();
    let genesis = genesis(&validator);
    let node = node(&genesis, &validator);
    let commit = |chain: &Chain| {
        let block = propose(chain);
        chain.commit(block.hash(), certificate(&validator, &block)).unwrap();
    };
    load(&node.chain);
    commit(&node.chain);
    let token = dev_key(3).address().create(0);
    let (owner, bob) = (dev_key(3).address(), Address::repeat_byte(0xb0));
    let call = BtcrToken::transferCall { to: bob, amount: U256::from(5) }.abi_encode();
    let raw = TxBuilder::call(CHAIN_ID, 1, token, call.into(), 200_000).eip1559(&dev_key(3));
    let moved = node.chain.submit_raw(&raw).unwrap();
    commit(&node.chain);
    let location = node.view().transaction_location(&moved).unwrap().unwrap();

    let indexed = |node: &Node| {
        let view = node.view();
        (
            view.address_tokens(&owner, 10).unwrap(),
            view.address_tokens(&bob, 10).unwrap(),
            view.address_transactions(&bob, None, 10).unwrap(),
            view.address_transactions(&token, None, 10).unwrap().len(),
            view.indexed_height().unwrap(),
        )
    };
    let expected = (vec![token], vec![token], vec![location], 2, Some(2));
    assert_eq!(indexed(&node), expected, "the minting and the transfer name their holders");

    // A store of schema 5 had neither token transfers in the address index nor the token
    // index: emptied and marked so, it is indexed again, from genesis, when the chain opens.
    let Node { services, chain, store, _dir: dir } = node;
    drop((services, chain, store));
    {
        let db = redb::Database::open(dir.path().join("chain.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        txn.open_table(meta)
            .unwrap()
            .insert("schema_version", 5u32.to_be_bytes().as_slice())
            .unwrap();
        let txs: redb::TableDefinition<&[u8; 32], ()> = redb::TableDefinition::new("address_txs");
        let tokens: redb::TableDefinition<&[u8; 40], ()> =
            redb::TableDefinition::new("address_tokens");
        let consumers: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("consumers");
        assert!(txn.delete_table(txs).unwrap() && txn.delete_table(tokens).unwrap());
        assert!(txn.delete_table(consumers).unwrap());
        txn.commit().unwrap();
    }
    let store = ChainStore::open(dir.path()).unwrap();
    let snapshot = store.snapshot().unwrap();
    assert!(snapshot.address_tokens(&bob, 10).unwrap().is_empty());
    assert_eq!(snapshot.consumer_checkpoint(btcr_storage::ADDRESS_INDEX).unwrap(), None);
    drop((snapshot, store));
    let node = open_node(dir, &genesis, &validator);
    assert_eq!(indexed(&node), expected);
}

/// Gossip recovered each transaction's sender before its duplicate and nonce checks, so that
/// replaying committed transactions cost the victim an ECDSA recovery each and the peer
/// nothing. Pooled and committed transactions are now known by hash first, and found stale
/// (the network counts them against the peer; see `btcr_network::MAX_STALE_TXS`).
#[test]
fn transactions_a_peer_replays_are_found_stale_before_any_signature_is_recovered() {
    use btcr_network::{TxSink, Verdict};
    let validator = SecretKey::random();
    let genesis = genesis(&validator);
    let a = node(&genesis, &validator);
    let key = dev_key(0);
    let raws: Vec<bytes::Bytes> = (0..5)
        .map(|nonce| {
            let tx = TxBuilder::transfer(CHAIN_ID, nonce, Address::repeat_byte(9), U256::from(1));
            bytes::Bytes::from(tx.eip1559(&key).to_vec())
        })
        .collect();
    assert_eq!(a.chain.receive(&raws[..3]), vec![Verdict::Accept; 3]);
    assert_eq!(a.chain.admission_recoveries(), 3);

    // Pooled: known by hash.
    assert_eq!(a.chain.receive(&raws[..3]), vec![Verdict::Stale; 3]);
    assert_eq!(a.chain.admission_recoveries(), 3, "no recovery for pooled transactions");

    // Committed: known by hash too, though no longer pooled.
    let block = propose(&a.chain);
    assert_eq!(block.body.transactions.len(), 3);
    a.chain.commit(block.hash(), certificate(&validator, &block)).unwrap();
    assert_eq!(a.chain.pool_counts(), (0, 0));
    assert_eq!(a.chain.receive(&raws[..3]), vec![Verdict::Stale; 3]);
    assert_eq!(a.chain.admission_recoveries(), 3, "no recovery for committed transactions");

    // New ones still go through in full.
    assert_eq!(a.chain.receive(&raws[3..]), vec![Verdict::Accept; 2]);
    assert_eq!(a.chain.admission_recoveries(), 5);

    // A different transaction whose nonce is used is stale too; one its sender cannot pay
    // for is only unwanted now.
    let reused = TxBuilder::transfer(CHAIN_ID, 0, Address::repeat_byte(8), U256::from(1));
    let broke = TxBuilder::transfer(CHAIN_ID, 0, Address::repeat_byte(8), U256::from(1));
    let raws = [reused.eip1559(&key), broke.eip1559(&SecretKey::random())]
        .map(|raw| bytes::Bytes::from(raw.to_vec()));
    assert_eq!(a.chain.receive(&raws), vec![Verdict::Stale, Verdict::Ignore]);
}

#[test]
fn a_pruned_node_gives_peers_no_block_it_no_longer_keeps_and_says_where_its_history_starts() {
    let validator = SecretKey::random();
    let genesis = genesis(&validator);
    let n = node(&genesis, &validator);
    for _ in 0..12 {
        let block = propose(&n.chain);
        n.chain.commit(block.hash(), certificate(&validator, &block)).unwrap();
    }
    n.wait();
    assert_eq!(n.chain.history_start().unwrap(), 1);
    assert!(n.chain.decided(2).unwrap().is_some());
    assert_eq!(n.store.prune_blocks(4, 100, |_, _| {}).unwrap(), Some(1..9));
    // Asked by a peer for a pruned height: none (not a failure that would stop the engine).
    assert_eq!(n.chain.history_start().unwrap(), 9);
    assert!(n.chain.decided(2).unwrap().is_none());
    assert!(n.chain.decided(8).unwrap().is_none());
    let (block, certificate) = n.chain.decided(9).unwrap().expect("kept");
    assert_eq!(certificate.block_hash, block.hash());
    // A node catching up by ranges is told the same, and sent nothing it no longer keeps.
    use btcr_network::BlockSource;
    assert_eq!(n.chain.status(), (9, 12));
    assert!(n.chain.blocks(2, 10, usize::MAX).is_empty());
    let kept = n.chain.blocks(9, 10, usize::MAX);
    assert_eq!(kept.len(), 4);
    assert_eq!(btcr_node::decode_certified(&kept[0]).unwrap(), (block, certificate));
    // And it goes on.
    let block = propose(&n.chain);
    n.chain.commit(block.hash(), self::certificate(&validator, &block)).unwrap();
    assert_eq!(n.chain.head_header().number, 13);
}

/// A node catching up applies ranges of certified blocks in one store transaction each, on
/// the state the blocks before left, to the same head and state as the node that made them;
/// a peer's forged certificate, a certificate of another block, a gap, a block whose roots
/// do not re-execute (though its validators signed it) and undecodable bytes are refused,
/// and the blocks before a refused one are kept.
#[test]
fn ranges_of_certified_blocks_apply_as_their_proposer_committed_them_and_forgeries_stop_there() {
    use btcr_network::BlockSource;
    let validator = SecretKey::random();
    let genesis = genesis(&validator);
    let a = node(&genesis, &validator);
    load(&a.chain);
    for _ in 0..8 {
        let block = propose(&a.chain);
        a.chain.commit(block.hash(), certificate(&validator, &block)).unwrap();
    }
    assert_eq!(a.chain.status(), (1, 8));
    // What a peer is sent, as it decodes.
    let items = a.chain.blocks(1, 100, usize::MAX);
    assert_eq!(items.len(), 8);
    assert_eq!(a.chain.blocks(3, 2, usize::MAX).len(), 2);
    assert_eq!(a.chain.blocks(3, 100, 1).len(), 1, "one at least, past the byte limit");
    assert!(a.chain.blocks(9, 10, usize::MAX).is_empty());
    let blocks: Vec<(Block, CommitCertificate)> =
        items.iter().map(|i| btcr_node::decode_certified(i).unwrap()).collect();
    for (n, (block, cert)) in blocks.iter().enumerate() {
        let (stored, stored_cert) = a.chain.decided(n as u64 + 1).unwrap().unwrap();
        assert_eq!((block, cert), (&stored, &stored_cert));
    }
    let mut trailing = items[0].to_vec();
    trailing.push(0);
    assert!(btcr_node::decode_certified(&trailing).is_err());
    assert!(btcr_node::decode_certified(&items[0][..items[0].len() - 1]).is_err());
    assert_eq!(blocks[0].0.body.transactions.len(), 31);

    let b = node(&genesis, &validator);
    let refusal = |applied: (usize, Result<(), PipelineError>)| match applied {
        (n, Err(PipelineError::InvalidBlock(reason))) => (n, reason.to_string()),
        other => panic!("not refused: {other:?}"),
    };
    let (n, outcome) = b.chain.apply_certified(&blocks[..3]);
    assert_eq!(n, 3);
    outcome.unwrap();
    assert_eq!(b.chain.head_header(), blocks[2].0.header);

    // Signed by a key that is not the validator's.
    let (block, _) = blocks[3].clone();
    let forged = certificate(&SecretKey::random(), &block);
    let (n, reason) = refusal(b.chain.apply_certified(&[(block.clone(), forged)]));
    assert_eq!(n, 0);
    assert!(reason.contains("certificate of block 4"), "{reason}");
    // Another block's certificate.
    let (n, reason) = refusal(b.chain.apply_certified(&[(block.clone(), blocks[4].1.clone())]));
    assert!(n == 0 && reason.contains("decides block"), "{reason}");
    // Roots that do not re-execute, signed all the same.
    let mut lie = block.clone();
    lie.header.state_root = B256::repeat_byte(7);
    let signed = certificate(&validator, &lie);
    let (n, reason) = refusal(b.chain.apply_certified(&[(lie, signed)]));
    assert!(n == 0 && reason.contains("state root differs"), "{reason}");
    assert_eq!(b.chain.head_header(), blocks[2].0.header, "nothing applied");
    // A gap after a good block: the good one is kept.
    let (n, reason) = refusal(b.chain.apply_certified(&[blocks[3].clone(), blocks[5].clone()]));
    assert!(n == 1 && reason.contains("does not extend"), "{reason}");
    assert_eq!(b.chain.head_header(), blocks[3].0.header);

    let (n, outcome) = b.chain.apply_certified(&blocks[4..]);
    assert_eq!(n, 4);
    outcome.unwrap();
    let head = a.chain.head_header();
    assert_eq!(b.chain.head_header(), head);
    let snapshot = b.chain.store().snapshot().unwrap();
    assert_eq!(recompute_state_root(&snapshot).unwrap(), head.state_root);
    // The consumers followed, and the first block's transactions are found by hash.
    let tx = *blocks[0].0.body.transactions[0].tx_hash();
    assert_eq!(b.view().transaction_location(&tx).unwrap(), Some((1, 0)));
    assert_eq!(b.chain.status(), (1, 8));
}
