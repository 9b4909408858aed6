//! The JSON the explorer answers with; each type is a schema of the OpenAPI document.

use serde::Serialize;
use utoipa::ToSchema;

/// The network at a glance.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The chain's id.
    pub chain_id: u64,
    /// The head's height.
    pub height: u64,
    /// The highest finalized block (every committed block is final).
    pub finalized_height: u64,
    /// Mean interval between the last blocks (ms); `null` until two were seen.
    pub block_time_ms: Option<f64>,
    /// Transactions per second over the last minute of blocks seen by this node.
    pub tx_per_second: f64,
    /// Validators in the set deciding the next block.
    pub validators: usize,
    /// Peers on the transaction network.
    pub peers: u64,
    /// Every coin in existence after the head block, staked ones included (wei).
    pub supply: String,
}

/// A block in a list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockSummary {
    pub(crate) number: u64,
    pub(crate) hash: String,
    pub(crate) timestamp_ms: u64,
    pub(crate) proposer: String,
    pub(crate) transaction_count: usize,
    pub(crate) gas_used: u64,
}

/// A page of blocks, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockPage {
    pub(crate) items: Vec<BlockSummary>,
    /// Pass as `before` for the next page; `null` on the last page.
    pub(crate) next_cursor: Option<String>,
}

/// A block's Proof-of-History chain.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PohView {
    pub(crate) start_hash: String,
    pub(crate) end_hash: String,
    pub(crate) ticks: u64,
    pub(crate) entries: usize,
}

/// One validator's precommit signature.
#[derive(Serialize, ToSchema)]
pub(crate) struct SignatureView {
    pub(crate) validator: String,
    pub(crate) signature: String,
}

/// Proof that the block is final.
#[derive(Serialize, ToSchema)]
pub(crate) struct CertificateView {
    pub(crate) round: u32,
    pub(crate) signatures: Vec<SignatureView>,
}

/// A block in full.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockDetail {
    pub(crate) number: u64,
    pub(crate) hash: String,
    pub(crate) parent_hash: String,
    pub(crate) timestamp_ms: u64,
    pub(crate) proposer: String,
    pub(crate) state_root: String,
    pub(crate) transactions_root: String,
    pub(crate) receipts_root: String,
    pub(crate) gas_used: u64,
    pub(crate) gas_limit: u64,
    pub(crate) base_fee_per_gas: u64,
    pub(crate) poh: PohView,
    /// `null` for genesis.
    pub(crate) certificate: Option<CertificateView>,
    pub(crate) transaction_count: usize,
    /// Hashes of its transactions, in order.
    pub(crate) transactions: Vec<String>,
}

/// An ERC-20 `Transfer` event a transaction emitted.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenTransfer {
    pub(crate) token: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) value: String,
}

/// A transaction with its result.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransactionView {
    pub(crate) hash: String,
    pub(crate) block_number: u64,
    pub(crate) block_hash: String,
    pub(crate) index: u32,
    pub(crate) timestamp_ms: u64,
    pub(crate) from: String,
    /// `null` for a contract creation.
    pub(crate) to: Option<String>,
    /// The contract a creation made.
    pub(crate) contract_address: Option<String>,
    pub(crate) value: String,
    pub(crate) nonce: u64,
    /// `legacy`, `eip2930` or `eip1559`.
    pub(crate) r#type: String,
    pub(crate) gas_limit: u64,
    pub(crate) gas_used: u64,
    pub(crate) effective_gas_price: String,
    /// `gasUsed × effectiveGasPrice`, in wei.
    pub(crate) fee: String,
    /// `success` or `failed`.
    pub(crate) status: String,
    pub(crate) input: String,
    pub(crate) log_count: usize,
    pub(crate) token_transfers: Vec<TokenTransfer>,
}

/// A page of transactions.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransactionPage {
    pub(crate) items: Vec<TransactionView>,
    /// For cursor pages: pass as `before` for the next page; `null` on the last page.
    pub(crate) next_cursor: Option<String>,
}

/// An account.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddressView {
    pub(crate) address: String,
    pub(crate) balance: String,
    pub(crate) nonce: u64,
    pub(crate) is_contract: bool,
    pub(crate) code_size: usize,
    /// Its non-zero balances of the ERC-20 tokens it sent or received (at most 100, and
    /// as many as 5,000,000 gas of views can read).
    pub(crate) tokens: Vec<TokenBalance>,
}

/// A balance of one ERC-20 token.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenBalance {
    /// The token contract.
    pub(crate) token: String,
    /// `null` when the contract does not answer `name()`.
    pub(crate) name: Option<String>,
    /// `null` when the contract does not answer `symbol()`.
    pub(crate) symbol: Option<String>,
    /// `null` when the contract does not answer `decimals()`.
    pub(crate) decimals: Option<u8>,
    /// In the token's smallest unit.
    pub(crate) balance: String,
}

/// An ERC-20 token contract.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenInfo {
    pub(crate) token: String,
    pub(crate) name: Option<String>,
    pub(crate) symbol: Option<String>,
    pub(crate) decimals: u8,
    /// In the token's smallest unit.
    pub(crate) total_supply: String,
}

/// A registered validator.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ValidatorRow {
    pub(crate) address: String,
    pub(crate) public_key: String,
    pub(crate) commission_bps: u16,
    /// `active`, `candidate` or `jailed`.
    pub(crate) status: String,
    pub(crate) stake: String,
    pub(crate) self_stake: String,
    pub(crate) unbonding: String,
    pub(crate) slashed: String,
    pub(crate) jailed_until_epoch: u64,
    pub(crate) voting_power: u64,
    /// `signedBlocks / windowBlocks`, from 0 to 1; `null` when not in the set.
    pub(crate) uptime: Option<f64>,
    /// Of the window's blocks, those whose commit certificate holds its precommit.
    pub(crate) signed_blocks: u64,
    /// The latest blocks (at most 100) decided by the current set; 0 when not in it.
    pub(crate) window_blocks: u64,
}

/// What a search found.
#[derive(Serialize, ToSchema)]
pub(crate) struct SearchResult {
    /// `block`, `transaction` or `address`.
    pub(crate) kind: String,
    /// The block's height, the transaction's hash or the address.
    pub(crate) id: String,
}
