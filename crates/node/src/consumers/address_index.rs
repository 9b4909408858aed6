//! The address and token index: each transaction listed under the addresses it concerns,
//! and each holder's tokens, written with the consumer's checkpoint in one transaction of
//! the chain store.

use std::sync::Arc;

use alloy_consensus::Transaction as _;
use btcr_interfaces::{CommittedBlock, Consumer, ConsumerError};
use btcr_primitives::{TokenTransferLog, created_contract};
use btcr_storage::{ADDRESS_INDEX, BlockAddresses, ChainStore};

/// Keeps the address index of the chain store.
#[derive(Debug)]
pub struct AddressIndexer {
    store: ChainStore,
}

impl AddressIndexer {
    /// Indexes into `store`.
    pub fn new(store: ChainStore) -> Self {
        Self { store }
    }
}

/// What a block's transactions add to the address indexes: each transaction concerns its
/// sender, its recipient or the contract it creates, and the senders and recipients of the
/// ERC-20 tokens it moved; those holders and tokens go to the token index.
pub fn block_addresses(block: &CommittedBlock) -> BlockAddresses {
    let mut out = BlockAddresses::default();
    for ((tx, sender, _), receipt) in block.transactions().zip(&block.receipts) {
        let mut addresses = vec![sender];
        addresses.extend(tx.to().or_else(|| created_contract(tx, sender)));
        for transfer in receipt.logs().iter().filter_map(TokenTransferLog::decode) {
            for holder in transfer.holders() {
                addresses.push(holder);
                out.token_holders.push((holder, transfer.token));
            }
        }
        addresses.sort_unstable();
        addresses.dedup();
        out.transactions.push(addresses);
    }
    out.token_holders.sort_unstable();
    out.token_holders.dedup();
    out
}

impl Consumer for AddressIndexer {
    fn name(&self) -> &'static str {
        ADDRESS_INDEX
    }

    fn start(&mut self, _head: u64) -> Result<Option<u64>, ConsumerError> {
        let snapshot = self.store.snapshot().map_err(write_error)?;
        snapshot.consumer_checkpoint(ADDRESS_INDEX).map_err(write_error)
    }

    fn apply(&mut self, blocks: &[Arc<CommittedBlock>]) -> Result<(), ConsumerError> {
        let rows: Vec<_> = blocks.iter().map(|b| (b.number(), block_addresses(b))).collect();
        // A batch read back from the store waits for the disk; a live block's rows become
        // durable with the next commit, and a crash before it loses the checkpoint too.
        self.store.index_blocks(&rows, blocks.len() > 1).map_err(write_error)
    }
}

fn write_error(e: btcr_storage::StoreError) -> ConsumerError {
    ConsumerError::Write { context: "the address index".into(), source: Box::new(e) }
}
