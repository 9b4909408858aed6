//! Block headers, bodies and commit certificates.

use alloy_consensus::TxEnvelope;
use alloy_primitives::{Address, B256, Bloom, Bytes, keccak256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use btcr_poh::PohEntry;
use serde::{Deserialize, Serialize};

/// A block header. Its hash, `keccak256(rlp(header))`, commits to every field, and so to the
/// transactions (through `transactions_root`), their results (`receipts_root`), the state
/// after the block (`state_root`) and the block's Proof-of-History chain.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[rlp(trailing)]
pub struct Header {
    /// Hash of the parent block's header; zero for genesis.
    pub parent_hash: B256,
    /// Height of the block; genesis is 0.
    pub number: u64,
    /// Milliseconds since the Unix epoch at which the proposer built the block. The EVM's
    /// `TIMESTAMP` and the RPC's `timestamp` are this value in whole seconds.
    pub timestamp_ms: u64,
    /// Validator that proposed the block; priority fees are paid to it.
    pub proposer: Address,
    /// Root of the authenticated state after executing the block.
    pub state_root: B256,
    /// Ethereum-style ordered trie root of the block's transactions.
    pub transactions_root: B256,
    /// Ethereum-style ordered trie root of the block's receipts.
    pub receipts_root: B256,
    /// Union of the blooms of all receipts.
    pub logs_bloom: Bloom,
    /// Gas used by all transactions of the block.
    pub gas_used: u64,
    /// Gas limit of the block.
    pub gas_limit: u64,
    /// EIP-1559 base fee per gas of this block (burned).
    pub base_fee_per_gas: u64,
    /// First hash of the block's Proof-of-History chain (the parent's `poh_end_hash`).
    pub poh_start_hash: B256,
    /// Last hash of the block's Proof-of-History chain.
    pub poh_end_hash: B256,
    /// Number of PoH ticks in the block.
    pub poh_ticks: u64,
    /// Free-form bytes set by the proposer (at most 32).
    pub extra_data: Bytes,
    /// keccak256 of the RLP list of the block's PoH entries (`btcr_poh::entries_root`), from
    /// the genesis's `forks.pohEntriesRoot` height on; absent before it, and then not encoded,
    /// so that older blocks keep their hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poh_entries_root: Option<B256>,
}

impl Header {
    /// The block hash: keccak256 of the RLP encoding of the header.
    pub fn hash(&self) -> B256 {
        keccak256(alloy_rlp::encode(self))
    }

    /// The base fee of the block after this one (EIP-1559 with Ethereum's parameters).
    pub fn next_base_fee(&self) -> u64 {
        alloy_eips::eip1559::calc_next_block_base_fee(
            self.gas_used,
            self.gas_limit,
            self.base_fee_per_gas,
            alloy_eips::eip1559::BaseFeeParams::ethereum(),
        )
    }

    /// Timestamp in whole seconds, as the EVM and Ethereum clients see it.
    pub fn timestamp_secs(&self) -> u64 {
        self.timestamp_ms / 1000
    }
}

/// The part of a block that the header commits to through its roots and PoH hashes.
#[derive(Debug, Clone, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
pub struct BlockBody {
    /// Transactions in execution order.
    pub transactions: Vec<TxEnvelope>,
    /// The block's Proof-of-History entries; mixin entries name how many of the transactions
    /// they cover, in order.
    pub poh_entries: Vec<PohEntry>,
}

/// A full block. Its RLP encoding (a list of the header and the body) is how blocks travel
/// between validators.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// Transactions and PoH entries.
    pub body: BlockBody,
}

impl Block {
    /// Hash of the block's header.
    pub fn hash(&self) -> B256 {
        self.header.hash()
    }

    /// Height of the block.
    pub fn number(&self) -> u64 {
        self.header.number
    }
}

/// One validator's signature over a decided block.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable, Serialize, Deserialize)]
pub struct ValidatorSignature {
    /// The validator's address (derived from its consensus key).
    pub validator: Address,
    /// 64-byte secp256k1 ECDSA signature (`r ‖ s`, low S) over the validator's precommit for
    /// the block (SHA-256 of its sign bytes; see the consensus crate).
    pub signature: Bytes,
}

/// Proof that a block was decided: the signatures of validators holding more than two thirds
/// of the voting power for `(height, round, block_hash)`. A single-validator chain's
/// certificate holds one signature.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitCertificate {
    /// Height of the decided block.
    pub height: u64,
    /// Consensus round in which it was decided.
    pub round: u32,
    /// Hash of the decided block.
    pub block_hash: B256,
    /// Signatures of the committing validators.
    pub signatures: Vec<ValidatorSignature>,
}

/// What a validator signed twice at one height and round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MisbehaviorKind {
    /// Two different proposals.
    DoubleProposal,
    /// Two different prevotes.
    DoublePrevote,
    /// Two different precommits.
    DoublePrecommit,
    /// Two different proposal streams (the signed `Fin` of each, over a different block or
    /// proof-of-lock round) for one height and round.
    DoubleProposalParts,
}

impl MisbehaviorKind {
    /// The kind's code in encodings.
    pub fn code(self) -> u8 {
        match self {
            Self::DoubleProposal => 0,
            Self::DoublePrevote => 1,
            Self::DoublePrecommit => 2,
            Self::DoubleProposalParts => 3,
        }
    }

    /// The kind with `code`.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::DoubleProposal),
            1 => Some(Self::DoublePrevote),
            2 => Some(Self::DoublePrecommit),
            3 => Some(Self::DoubleProposalParts),
            _ => None,
        }
    }
}

/// Proof that a validator signed two conflicting consensus messages at one height and round:
/// both messages (what they were for) and both signatures, enough for anyone holding the
/// validator's public key to check it.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Misbehavior {
    /// The validator.
    pub validator: Address,
    /// The height.
    pub height: u64,
    /// The round.
    pub round: u32,
    /// What was signed twice.
    pub kind: MisbehaviorKind,
    /// The first message.
    pub first: SignedValue,
    /// The conflicting message.
    pub second: SignedValue,
}

/// One of the two messages of a [`Misbehavior`].
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedValue {
    /// The block it was for (for proposal parts, the hash of the encoded block); zero for a
    /// vote for nil.
    pub value: B256,
    /// For a proposal, its proof-of-lock round plus one (zero for none); zero for a vote.
    pub pol_round: u64,
    /// The validator's 64-byte signature.
    pub signature: Bytes,
}

impl Encodable for MisbehaviorKind {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        self.code().encode(out);
    }

    fn length(&self) -> usize {
        self.code().length()
    }
}

impl Decodable for MisbehaviorKind {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Self::from_code(u8::decode(buf)?)
            .ok_or(alloy_rlp::Error::Custom("unknown misbehavior kind"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            parent_hash: B256::repeat_byte(1),
            number: 7,
            timestamp_ms: 1_700_000_000_123,
            proposer: Address::repeat_byte(2),
            state_root: B256::repeat_byte(3),
            transactions_root: B256::repeat_byte(4),
            receipts_root: B256::repeat_byte(5),
            logs_bloom: Bloom::repeat_byte(6),
            gas_used: 21_000,
            gas_limit: 30_000_000,
            base_fee_per_gas: 1_000_000_000,
            poh_start_hash: B256::repeat_byte(7),
            poh_end_hash: B256::repeat_byte(8),
            poh_ticks: 32,
            extra_data: Bytes::from_static(b"btcr"),
            poh_entries_root: None,
        }
    }

    #[test]
    fn header_roundtrips_and_hash_commits_to_every_field() {
        let h = header();
        let encoded = alloy_rlp::encode(&h);
        let decoded: Header = alloy_rlp::Decodable::decode(&mut encoded.as_slice()).unwrap();
        assert_eq!(decoded, h);

        let base = h.hash();
        let mut changed = vec![];
        let mut x = h.clone();
        x.poh_ticks += 1;
        changed.push(x);
        let mut x = h.clone();
        x.poh_end_hash = B256::ZERO;
        changed.push(x);
        let mut x = h.clone();
        x.state_root = B256::ZERO;
        changed.push(x);
        let mut x = h.clone();
        x.timestamp_ms += 1;
        changed.push(x);
        for c in changed {
            assert_ne!(c.hash(), base);
        }
    }

    #[test]
    fn the_entries_root_is_encoded_only_when_set_and_the_hash_covers_it() {
        let old = header();
        let mut new = header();
        new.poh_entries_root = Some(B256::repeat_byte(10));
        let encoded = alloy_rlp::encode(&new);
        assert_eq!(Header::decode(&mut encoded.as_slice()).unwrap(), new);
        // A header without it is encoded as before the field existed: 15 items.
        let without = alloy_rlp::encode(&old);
        let mut payload = &without[..];
        let list = alloy_rlp::Header::decode(&mut payload).unwrap();
        assert!(list.list);
        let mut items = 0;
        while !payload.is_empty() {
            let item = alloy_rlp::Header::decode(&mut payload).unwrap();
            payload = &payload[item.payload_length..];
            items += 1;
        }
        assert_eq!(items, 15);
        assert_eq!(encoded.len(), without.len() + 33);
        assert_ne!(new.hash(), old.hash());
        let mut other = new.clone();
        other.poh_entries_root = Some(B256::repeat_byte(11));
        assert_ne!(other.hash(), new.hash());
    }

    #[test]
    fn body_roundtrips() {
        let body = BlockBody {
            transactions: vec![],
            poh_entries: vec![PohEntry {
                num_hashes: 5,
                hash: B256::repeat_byte(9),
                n_transactions: 0,
            }],
        };
        let encoded = alloy_rlp::encode(&body);
        let decoded: BlockBody = alloy_rlp::Decodable::decode(&mut encoded.as_slice()).unwrap();
        assert_eq!(decoded, body);
    }

    #[test]
    fn misbehavior_roundtrips() {
        let value = |b: u8| SignedValue {
            value: B256::repeat_byte(b),
            pol_round: 0,
            signature: Bytes::from(vec![b; 64]),
        };
        for kind in [
            MisbehaviorKind::DoubleProposal,
            MisbehaviorKind::DoublePrevote,
            MisbehaviorKind::DoublePrecommit,
        ] {
            let m = Misbehavior {
                validator: Address::repeat_byte(9),
                height: 12,
                round: 3,
                kind,
                first: value(1),
                second: value(2),
            };
            let encoded = alloy_rlp::encode(&m);
            assert_eq!(encoded.len(), m.length());
            let decoded: Misbehavior = Decodable::decode(&mut encoded.as_slice()).unwrap();
            assert_eq!(decoded, m);
        }
    }
}

/// One receipt of a block, read alone, with what the receipts before it say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockReceipt {
    /// The receipt.
    pub receipt: alloy_consensus::ReceiptEnvelope,
    /// Gas its transaction used (its cumulative gas less the previous receipt's).
    pub gas_used: u64,
    /// Index within the block of its first log.
    pub first_log_index: u64,
}

impl BlockReceipt {
    /// Each of a block's receipts with the gas its transaction used and its first log's
    /// index.
    pub fn all(receipts: &[alloy_consensus::ReceiptEnvelope]) -> Vec<BlockReceipt> {
        let (mut cumulative, mut logs) = (0, 0);
        receipts
            .iter()
            .map(|receipt| {
                let read = BlockReceipt {
                    receipt: receipt.clone(),
                    gas_used: receipt.cumulative_gas_used().saturating_sub(cumulative),
                    first_log_index: logs,
                };
                cumulative = receipt.cumulative_gas_used();
                logs += receipt.logs().len() as u64;
                read
            })
            .collect()
    }
}

impl Header {
    /// What each unit of gas of `tx` cost in this block: the base fee and the tip.
    pub fn effective_gas_price(&self, tx: &alloy_consensus::TxEnvelope) -> u128 {
        use alloy_consensus::Transaction as _;
        tx.effective_tip_per_gas(self.base_fee_per_gas).unwrap_or_default()
            + u128::from(self.base_fee_per_gas)
    }
}
