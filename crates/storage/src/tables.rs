//! Table definitions and key layouts. Changing any of them changes [`crate::SCHEMA_VERSION`].

use redb::TableDefinition;

/// Store-wide values: `schema_version` (u32 BE), `head` (u64 BE), `chain_id` (u64 BE),
/// `genesis_hash` (32 bytes), `supply` (U256 BE: the sum of all balances in [`ACCOUNTS`],
/// kept by each commit).
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Block number → RLP header.
pub(crate) const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
/// Block hash → block number.
pub(crate) const BLOCK_NUMBERS: TableDefinition<&[u8; 32], u64> =
    TableDefinition::new("block_numbers");
/// Block number → RLP body (transactions and PoH entries).
pub(crate) const BODIES: TableDefinition<u64, &[u8]> = TableDefinition::new("bodies");
/// Block number → RLP list of receipt envelopes.
pub(crate) const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
/// Block number → RLP commit certificate.
pub(crate) const CERTIFICATES: TableDefinition<u64, &[u8]> = TableDefinition::new("certificates");
/// Transaction hash → (block number, index in block).
pub(crate) const TX_INDEX: TableDefinition<&[u8; 32], (u64, u32)> =
    TableDefinition::new("tx_index");
/// Address → RLP account.
pub(crate) const ACCOUNTS: TableDefinition<&[u8; 20], &[u8]> = TableDefinition::new("accounts");
/// Address ‖ slot (52 bytes) → value (32 bytes, never zero).
pub(crate) const STORAGE: TableDefinition<&[u8; 52], &[u8; 32]> = TableDefinition::new("storage");
/// Code hash → code.
pub(crate) const CODE: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("code");
/// Tree page position ([`btcr_trie::NodeKey::to_bytes`] of the page's top) → encoded page.
pub(crate) const TRIE_PAGES: TableDefinition<&[u8; 55], &[u8]> = TableDefinition::new("trie_pages");

/// Height ‖ validator ‖ kind (29 bytes) → RLP misbehavior evidence seen by this node.
pub(crate) const MISBEHAVIOR: TableDefinition<&[u8; 29], &[u8]> =
    TableDefinition::new("misbehavior");

/// Address ‖ block number ‖ index in block (32 bytes) → nothing: the transactions that an
/// address sent, received, created a contract with, or sent or received tokens in.
pub(crate) const ADDRESS_TXS: TableDefinition<&[u8; 32], ()> = TableDefinition::new("address_txs");

/// Holder ‖ token (40 bytes) → nothing: the ERC-20 tokens whose `Transfer` events named the
/// holder, filled with [`ADDRESS_TXS`] by the address index's consumer.
pub(crate) const ADDRESS_TOKENS: TableDefinition<&[u8; 40], ()> =
    TableDefinition::new("address_tokens");

/// Consumer name → the last block it applied (u64): each consumer of committed blocks that
/// keeps its output in this store writes its checkpoint here, in the same transaction.
pub(crate) const CONSUMERS: TableDefinition<&str, u64> = TableDefinition::new("consumers");

/// First block a validator set decides → RLP list of the set's validators (address, public
/// key, power): written by the commit of the block that ends each epoch, so that the set
/// that decided any stored block can be read back.
pub(crate) const VALIDATOR_SETS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("validator_sets");

pub(crate) fn address_token_key(holder: &[u8; 20], token: &[u8; 20]) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..20].copy_from_slice(holder);
    key[20..].copy_from_slice(token);
    key
}

pub(crate) fn address_tx_key(address: &[u8; 20], number: u64, index: u32) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..20].copy_from_slice(address);
    key[20..28].copy_from_slice(&number.to_be_bytes());
    key[28..].copy_from_slice(&index.to_be_bytes());
    key
}

pub(crate) fn misbehavior_key(height: u64, validator: &[u8; 20], kind: u8) -> [u8; 29] {
    let mut key = [0u8; 29];
    key[..8].copy_from_slice(&height.to_be_bytes());
    key[8..28].copy_from_slice(validator);
    key[28] = kind;
    key
}

pub(crate) fn storage_key(address: &[u8; 20], slot: &[u8; 32]) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address);
    key[20..].copy_from_slice(slot);
    key
}

/// Block number → RLP of its `BlockAccounts`: the senders of its transactions and the
/// balances it left (schema 8; blocks stored before it have no entry).
pub(crate) const BLOCK_ACCOUNTS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("block_accounts");
