//! What a node streams to an indexer (`GET /api/v1/blocks/stream`), and what the store keeps
//! beside each block so that it can: the sender of each transaction (an indexer need not
//! recover them) and the balance of every account the block changed (balances over time,
//! which the state alone, kept only at the head, cannot give).
//!
//! ```text
//!  frame   := length: u32, big-endian, of what follows ‖ kind: u8 ‖ payload
//!  kind 1  block     payload: RLP of StreamedBlock
//!  kind 2  head      payload: u64 BE, the node's head; sent when the stream reaches it
//!                    and every 5 s while it waits there
//!  kind 3  reverted  payload: u64 BE; blocks above it are no longer the chain, and the
//!                    next block frame is the one after it (a fork choice that can change
//!                    its mind: the proof-of-work mode to come)
//! ```

use alloy_primitives::{Address, U256};
use alloy_rlp::{Decodable, RlpDecodable, RlpEncodable};

use crate::{Block, ReceiptEnvelope};

/// The largest frame a reader takes: a block at its limit (64 MiB) with its receipts and
/// accounts.
pub const MAX_STREAM_FRAME: usize = 96 * 1024 * 1024;

/// An account's balance after a block.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountBalance {
    /// The account.
    pub address: Address,
    /// Its balance (wei) after the block; zero for an account the block removed.
    pub balance: U256,
}

/// What the store keeps beside a block about its accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockAccounts {
    /// The sender of each transaction, in order.
    pub senders: Vec<Address>,
    /// The balance after the block of every account it changed, in address order.
    pub balances: Vec<AccountBalance>,
}

/// A validator of a set, as the stream names it.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StreamValidator {
    /// Its address.
    pub address: Address,
    /// Its voting power.
    pub power: u64,
}

/// One committed block as the stream sends it.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StreamedBlock {
    /// The block.
    pub block: Block,
    /// Its receipts, in order.
    pub receipts: Vec<ReceiptEnvelope>,
    /// The sender of each transaction, in order.
    pub senders: Vec<Address>,
    /// Whether `balances` is known: blocks stored before the store kept them have none.
    pub balances_known: bool,
    /// The balance after the block of every account it changed.
    pub balances: Vec<AccountBalance>,
    /// The validators whose precommits finalized it (empty for genesis).
    pub signers: Vec<Address>,
    /// When it ends an epoch (and for genesis): the set that decides the blocks after it;
    /// empty otherwise.
    pub next_validators: Vec<StreamValidator>,
}

/// One frame of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamFrame {
    /// A committed block.
    Block(Box<StreamedBlock>),
    /// The node's head, while the stream waits for the next block.
    Head(u64),
    /// Blocks above this height are no longer the chain.
    Reverted(u64),
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The length prefix announces more than [`MAX_STREAM_FRAME`].
    #[error("a frame of {0} bytes is over the limit of {MAX_STREAM_FRAME}")]
    TooLarge(usize),
    /// Empty, an unknown kind, or a payload that does not decode.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

const BLOCK: u8 = 1;
const HEAD: u8 = 2;
const REVERTED: u8 = 3;

impl StreamFrame {
    /// The frame with its length prefix.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        match self {
            StreamFrame::Block(block) => {
                body.push(BLOCK);
                alloy_rlp::Encodable::encode(block.as_ref(), &mut body);
            }
            StreamFrame::Head(number) => {
                body.push(HEAD);
                body.extend_from_slice(&number.to_be_bytes());
            }
            StreamFrame::Reverted(number) => {
                body.push(REVERTED);
                body.extend_from_slice(&number.to_be_bytes());
            }
        }
        let mut framed = Vec::with_capacity(body.len() + 4);
        framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
        framed.extend_from_slice(&body);
        framed
    }

    /// The length a 4-byte prefix announces, refused past [`MAX_STREAM_FRAME`].
    pub fn length(prefix: [u8; 4]) -> Result<usize, StreamError> {
        let length = u32::from_be_bytes(prefix) as usize;
        if length > MAX_STREAM_FRAME {
            return Err(StreamError::TooLarge(length));
        }
        Ok(length)
    }

    /// A frame from what follows its length prefix.
    pub fn decode(body: &[u8]) -> Result<Self, StreamError> {
        let malformed = |m: String| StreamError::Malformed(m);
        let (&kind, payload) = body.split_first().ok_or_else(|| malformed("empty".into()))?;
        let number = || -> Result<u64, StreamError> {
            let bytes: [u8; 8] =
                payload.try_into().map_err(|_| malformed("a height is 8 bytes".into()))?;
            Ok(u64::from_be_bytes(bytes))
        };
        match kind {
            BLOCK => {
                let mut rest = payload;
                let block =
                    StreamedBlock::decode(&mut rest).map_err(|e| malformed(e.to_string()))?;
                if !rest.is_empty() {
                    return Err(malformed(format!("{} bytes after the block", rest.len())));
                }
                if block.senders.len() != block.block.body.transactions.len()
                    || block.receipts.len() != block.block.body.transactions.len()
                {
                    return Err(malformed(
                        "senders and receipts must match the transactions one for one".into(),
                    ));
                }
                Ok(StreamFrame::Block(Box::new(block)))
            }
            HEAD => Ok(StreamFrame::Head(number()?)),
            REVERTED => Ok(StreamFrame::Reverted(number()?)),
            other => Err(malformed(format!("unknown kind {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BlockBody, Header};

    fn sample() -> StreamedBlock {
        let header = Header {
            parent_hash: Default::default(),
            number: 7,
            timestamp_ms: 7,
            proposer: Address::ZERO,
            state_root: Default::default(),
            transactions_root: Default::default(),
            receipts_root: Default::default(),
            logs_bloom: Default::default(),
            gas_used: 0,
            gas_limit: 1,
            base_fee_per_gas: 1,
            poh_start_hash: Default::default(),
            poh_end_hash: Default::default(),
            poh_ticks: 0,
            extra_data: Default::default(),
            poh_entries_root: None,
        };
        StreamedBlock {
            block: Block { header, body: BlockBody::default() },
            receipts: Vec::new(),
            senders: Vec::new(),
            balances_known: true,
            balances: vec![AccountBalance {
                address: Address::repeat_byte(1),
                balance: U256::from(5),
            }],
            signers: vec![Address::repeat_byte(2)],
            next_validators: vec![StreamValidator { address: Address::repeat_byte(2), power: 1 }],
        }
    }

    #[test]
    fn frames_read_back_as_written() {
        for frame in
            [StreamFrame::Block(Box::new(sample())), StreamFrame::Head(9), StreamFrame::Reverted(3)]
        {
            let bytes = frame.encode();
            let length = StreamFrame::length(bytes[..4].try_into().unwrap()).unwrap();
            assert_eq!(length, bytes.len() - 4);
            assert_eq!(StreamFrame::decode(&bytes[4..]).unwrap(), frame);
        }
    }

    #[test]
    fn malformed_and_oversized_frames_are_refused() {
        assert!(matches!(
            StreamFrame::length(u32::MAX.to_be_bytes()),
            Err(StreamError::TooLarge(_))
        ));
        assert!(StreamFrame::decode(&[]).is_err());
        assert!(StreamFrame::decode(&[9, 0, 0]).is_err());
        assert!(StreamFrame::decode(&[HEAD, 1, 2]).is_err());
        let mut bytes = StreamFrame::Block(Box::new(sample())).encode();
        bytes.push(0);
        assert!(StreamFrame::decode(&bytes[4..]).is_err(), "trailing bytes");
        let mut lopsided = sample();
        lopsided.senders.push(Address::ZERO);
        let bytes = StreamFrame::Block(Box::new(lopsided)).encode();
        assert!(StreamFrame::decode(&bytes[4..]).is_err(), "a sender without a transaction");
    }
}
