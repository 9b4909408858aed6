//! A proposed block on the wire: the proposer splits the encoded block into proposal parts
//! (`Init`, `Data`…, `Fin` with its signature over all of them); each validator collects the
//! parts of every stream, in any order, within fixed memory limits, and checks the signature
//! before it decodes anything.

use std::collections::{BTreeMap, HashMap, VecDeque};

use alloy_primitives::{B256, keccak256};
use bytes::Bytes;
use malachitebft_app_channel::app::{
    streaming::{StreamContent, StreamId, StreamMessage},
    types::{PeerId, core::Round},
};

use super::{
    context::{BftSignature, Height, ProposalPart, ValidatorAddress, ValidatorKey},
    signing::BtcrSigner,
};

/// Bytes of block data in each `Data` part.
pub const PART_DATA_BYTES: usize = 256 * 1024;
/// The largest encoded block accepted from a proposer.
pub const MAX_BLOCK_BYTES: usize = 64 * 1024 * 1024;
/// Streams collected at once; the oldest is dropped to make room.
pub const MAX_STREAMS: usize = 32;
/// Bytes held by all incomplete streams together; the oldest are dropped to stay below.
pub const MAX_BUFFERED_BYTES: usize = 2 * MAX_BLOCK_BYTES;

/// The header of a proposal stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProposalInit {
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// Who proposes.
    pub proposer: ValidatorAddress,
    /// The round of the proof of lock, or nil.
    pub pol_round: Round,
}

/// The bytes a proposer signs in the `Fin` part: the stream's header and the hash of its
/// data.
pub fn parts_sign_bytes(chain_id: u64, init: &ProposalInit, data_hash: &B256) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"btcr/bft/parts\0");
    out.extend_from_slice(&chain_id.to_be_bytes());
    out.extend_from_slice(&init.height.0.to_be_bytes());
    out.extend_from_slice(&init.round.as_i64().to_be_bytes());
    out.extend_from_slice(init.proposer.0.as_slice());
    out.extend_from_slice(&init.pol_round.as_i64().to_be_bytes());
    out.extend_from_slice(data_hash.as_slice());
    out
}

/// Splits an encoded block into signed proposal parts.
pub fn split(
    chain_id: u64,
    signer: &BtcrSigner,
    init: ProposalInit,
    block: &Bytes,
) -> Vec<ProposalPart> {
    let mut parts = Vec::with_capacity(2 + block.len().div_ceil(PART_DATA_BYTES));
    parts.push(ProposalPart::Init {
        height: init.height,
        round: init.round,
        proposer: init.proposer,
        pol_round: init.pol_round,
    });
    let mut offset = 0;
    while offset < block.len() {
        let end = (offset + PART_DATA_BYTES).min(block.len());
        parts.push(ProposalPart::Data(block.slice(offset..end)));
        offset = end;
    }
    let signature = signer.sign_bytes(&parts_sign_bytes(chain_id, &init, &keccak256(block)));
    parts.push(ProposalPart::Fin(signature));
    parts
}

/// Wraps parts into the messages of one stream, ending with the stream's end marker.
pub fn stream_messages(
    stream_id: StreamId,
    parts: &[ProposalPart],
) -> Vec<StreamMessage<ProposalPart>> {
    let mut messages: Vec<StreamMessage<ProposalPart>> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            StreamMessage::new(stream_id.clone(), i as u64, StreamContent::Data(p.clone()))
        })
        .collect();
    messages.push(StreamMessage::new(stream_id, parts.len() as u64, StreamContent::Fin));
    messages
}

/// The stream id of our proposal at `height` and `round`: unique per publisher.
pub fn stream_id(height: Height, round: Round) -> StreamId {
    let mut bytes = Vec::with_capacity(16);
    bytes.extend_from_slice(&height.0.to_be_bytes());
    bytes.extend_from_slice(&round.as_i64().to_be_bytes());
    StreamId::new(Bytes::from(bytes))
}

/// A complete, correctly signed proposal.
#[derive(Clone, Debug)]
pub struct Assembled {
    /// Its header.
    pub init: ProposalInit,
    /// The encoded block.
    pub block: Bytes,
    /// The parts as received, to stream again if asked.
    pub parts: Vec<ProposalPart>,
}

/// The bytes of a stream's `Data` parts.
pub fn data_bytes(parts: &[ProposalPart]) -> usize {
    parts.iter().map(|p| if let ProposalPart::Data(data) = p { data.len() } else { 0 }).sum()
}

/// Checks a complete stream's parts: `Init` first, `Fin` last, only `Data` between, a block
/// within [`MAX_BLOCK_BYTES`], and the signature of `key_of(proposer)`.
pub fn assemble(
    chain_id: u64,
    parts: Vec<ProposalPart>,
    key_of: impl FnOnce(Height, &ValidatorAddress) -> Option<ValidatorKey>,
) -> Result<Assembled, String> {
    let (
        Some(ProposalPart::Init { height, round, proposer, pol_round }),
        Some(ProposalPart::Fin(sig)),
    ) = (parts.first(), parts.last())
    else {
        return Err("a proposal stream must start with Init and end with Fin".into());
    };
    let init =
        ProposalInit { height: *height, round: *round, proposer: *proposer, pol_round: *pol_round };
    let signature: BftSignature = sig.clone();
    let middle = &parts[1..parts.len() - 1];
    if middle.iter().any(|p| !matches!(p, ProposalPart::Data(_))) {
        return Err("only Data parts may come between Init and Fin".into());
    }
    let size = data_bytes(middle);
    if size > MAX_BLOCK_BYTES {
        return Err(format!("proposed block of {size} bytes exceeds {MAX_BLOCK_BYTES}"));
    }
    let mut block = Vec::with_capacity(size);
    for part in middle {
        if let ProposalPart::Data(data) = part {
            block.extend_from_slice(data);
        }
    }
    let key = key_of(init.height, &init.proposer)
        .ok_or_else(|| format!("{} is not a validator at height {}", init.proposer, init.height))?;
    let bytes = parts_sign_bytes(chain_id, &init, &keccak256(&block));
    key.verify(&bytes, &signature)
        .map_err(|_| format!("bad proposal signature from {}", init.proposer))?;
    Ok(Assembled { init, block: Bytes::from(block), parts })
}

#[derive(Default)]
struct PartialStream {
    parts: BTreeMap<u64, ProposalPart>,
    end: Option<u64>,
    bytes: usize,
}

/// Collects proposal streams from every publisher until they are complete.
#[derive(Default)]
pub struct Streams {
    streams: HashMap<(PeerId, StreamId), PartialStream>,
    /// Insertion order, oldest first, for eviction.
    order: VecDeque<(PeerId, StreamId)>,
    bytes: usize,
}

/// The most messages one stream may hold: every data part of the largest block, the `Init`,
/// the `Fin` and the end marker.
const MAX_STREAM_MESSAGES: u64 = (MAX_BLOCK_BYTES / PART_DATA_BYTES) as u64 + 3;

impl Streams {
    /// Adds a message from `publisher`. Returns the stream's parts, in order, once all have
    /// arrived. Messages with impossible sequence numbers are dropped.
    pub fn insert(
        &mut self,
        publisher: PeerId,
        message: StreamMessage<ProposalPart>,
    ) -> Option<Vec<ProposalPart>> {
        if message.sequence >= MAX_STREAM_MESSAGES {
            return None;
        }
        let key = (publisher, message.stream_id.clone());
        if !self.streams.contains_key(&key) {
            while self.streams.len() >= MAX_STREAMS {
                self.evict_oldest();
            }
            self.order.push_back(key.clone());
        }
        let stream = self.streams.entry(key.clone()).or_default();
        match message.content {
            StreamContent::Fin => stream.end = Some(message.sequence),
            StreamContent::Data(part) => {
                let size = match &part {
                    ProposalPart::Data(d) => d.len(),
                    _ => 0,
                };
                if stream.parts.insert(message.sequence, part).is_none() {
                    stream.bytes += size;
                    self.bytes += size;
                }
            }
        }
        let complete = stream.end.is_some_and(|end| {
            stream.parts.len() as u64 == end
                && stream.parts.keys().next_back().copied() == end.checked_sub(1)
        });
        if complete {
            let stream = self.remove(&key)?;
            return Some(stream.parts.into_values().collect());
        }
        if self.streams.get(&key).is_some_and(|s| s.bytes > MAX_BLOCK_BYTES + PART_DATA_BYTES) {
            self.remove(&key);
        }
        while self.bytes > MAX_BUFFERED_BYTES {
            self.evict_oldest();
        }
        None
    }

    fn remove(&mut self, key: &(PeerId, StreamId)) -> Option<PartialStream> {
        let stream = self.streams.remove(key)?;
        self.bytes -= stream.bytes;
        self.order.retain(|k| k != key);
        Some(stream)
    }

    fn evict_oldest(&mut self) {
        if let Some(key) = self.order.pop_front()
            && let Some(stream) = self.streams.remove(&key)
        {
            self.bytes -= stream.bytes;
        }
    }

    /// Streams still incomplete.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream is incomplete.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bft::context::ValidatorPrivateKey;

    fn peer(seed: u8) -> PeerId {
        let keypair = malachitebft_app_channel::app::types::Keypair::ed25519_from_bytes([seed; 32])
            .expect("valid key");
        PeerId::from_bytes(&keypair.public().to_peer_id().to_bytes()).expect("valid peer id")
    }

    fn setup() -> (BtcrSigner, ValidatorKey, ProposalInit) {
        let key = ValidatorPrivateKey::from_slice(&[9u8; 32]).unwrap();
        let public = key.public_key();
        let init = ProposalInit {
            height: Height(4),
            round: Round::new(0),
            proposer: ValidatorAddress::of(&public),
            pol_round: Round::Nil,
        };
        (BtcrSigner::new(key, 5), public, init)
    }

    #[test]
    fn a_block_split_and_shuffled_comes_back_whole_and_signed() {
        let (signer, public, init) = setup();
        let block: Bytes =
            (0..PART_DATA_BYTES * 2 + 17).map(|i| i as u8).collect::<Vec<_>>().into();
        let parts = split(5, &signer, init, &block);
        assert_eq!(parts.len(), 5, "Init, three Data, Fin");
        let mut messages = stream_messages(stream_id(init.height, init.round), &parts);
        messages.reverse();
        let mut streams = Streams::default();
        let mut done = None;
        for m in messages {
            assert!(done.is_none(), "complete only with the last message");
            done = streams.insert(peer(1), m);
        }
        let parts = done.expect("complete");
        assert!(streams.is_empty());
        let assembled = assemble(5, parts, |_, a| (*a == init.proposer).then(|| public.clone()))
            .expect("valid");
        assert_eq!(assembled.block, block);
        assert_eq!(assembled.init, init);
    }

    #[test]
    fn forged_reordered_or_foreign_streams_are_refused() {
        let (signer, public, init) = setup();
        let block = Bytes::from_static(b"a small block");
        let key_of =
            |_: Height, a: &ValidatorAddress| (*a == init.proposer).then(|| public.clone());

        // Data changed after signing.
        let mut parts = split(5, &signer, init, &block);
        parts[1] = ProposalPart::Data(Bytes::from_static(b"another block"));
        assert!(assemble(5, parts, key_of).unwrap_err().contains("bad proposal signature"));
        // Signed for another chain.
        let parts = split(6, &signer, init, &block);
        assert!(assemble(5, parts, key_of).is_err());
        // A proposer outside the set.
        let parts = split(5, &signer, init, &block);
        assert!(assemble(5, parts, |_, _| None).unwrap_err().contains("not a validator"));
        // Init missing.
        let parts = split(5, &signer, init, &block)[1..].to_vec();
        assert!(assemble(5, parts, key_of).is_err());
        // Another stream's Init in the middle.
        let mut parts = split(5, &signer, init, &block);
        parts.insert(1, parts[0].clone());
        assert!(assemble(5, parts, key_of).is_err());
        // Another validator signing in the proposer's name.
        let other = BtcrSigner::new(ValidatorPrivateKey::from_slice(&[8u8; 32]).unwrap(), 5);
        let parts = split(5, &other, init, &block);
        assert!(assemble(5, parts, key_of).is_err());
    }

    #[test]
    fn streams_are_kept_apart_and_bounded() {
        let (signer, _, init) = setup();
        let block = Bytes::from_static(b"block");
        let parts = split(5, &signer, init, &block);
        let messages = stream_messages(stream_id(init.height, init.round), &parts);
        let mut streams = Streams::default();
        // The same stream id from two publishers is two streams.
        for m in &messages[..messages.len() - 1] {
            assert!(streams.insert(peer(1), m.clone()).is_none());
            assert!(streams.insert(peer(2), m.clone()).is_none());
        }
        assert_eq!(streams.len(), 2);
        assert!(streams.insert(peer(1), messages.last().unwrap().clone()).is_some());
        assert_eq!(streams.len(), 1);
        // Many half-sent streams: only the newest MAX_STREAMS are kept.
        for i in 0..(MAX_STREAMS as u64 + 10) {
            let id = stream_id(Height(100 + i), Round::new(0));
            streams
                .insert(peer(3), StreamMessage::new(id, 0, StreamContent::Data(parts[0].clone())));
        }
        assert_eq!(streams.len(), MAX_STREAMS);
        // A sequence number no block can reach is dropped.
        let id = stream_id(Height(1), Round::new(0));
        let far = StreamMessage::new(id, MAX_STREAM_MESSAGES, StreamContent::Fin);
        assert!(streams.insert(peer(4), far).is_none());
        assert_eq!(streams.len(), MAX_STREAMS);
    }
}
