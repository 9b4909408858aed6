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
/// Incomplete streams held at once, from all publishers together.
pub const MAX_STREAMS: usize = 64;
/// Incomplete streams held for one publisher: a proposer has a round or two in flight, and
/// a validator that restreams a locked value one more. Its own oldest make room, so no
/// publisher can push another's stream out by opening many.
pub const MAX_STREAMS_PER_PEER: usize = 4;
/// Bytes held for one publisher's incomplete streams: two of the largest blocks.
pub const MAX_PEER_BYTES: usize = 2 * MAX_BLOCK_BYTES;
/// Bytes held by all incomplete streams together.
pub const MAX_BUFFERED_BYTES: usize = 4 * MAX_BLOCK_BYTES;
/// Streams refused at their `Init` that are remembered, so that their later parts are
/// dropped on arrival instead of opening the stream again.
const MAX_REFUSED: usize = 256;

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
/// data. The stream id is covered too: a stream is taken only under the id its header
/// names ([`stream_id`]), so its parts cannot be published again under other ids. The
/// publisher is not: a validator that restreams a value it is locked on publishes another
/// proposer's parts.
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
    /// The hash of the encoded block, as the `Fin` signed it.
    pub data_hash: B256,
    /// The proposer's signature in the `Fin`.
    pub signature: BftSignature,
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
    let data_hash = keccak256(&block);
    let bytes = parts_sign_bytes(chain_id, &init, &data_hash);
    key.verify(&bytes, &signature)
        .map_err(|_| format!("bad proposal signature from {}", init.proposer))?;
    Ok(Assembled { init, block: Bytes::from(block), data_hash, signature, parts })
}

#[derive(Default)]
struct PartialStream {
    parts: BTreeMap<u64, ProposalPart>,
    end: Option<u64>,
    bytes: usize,
    /// When it was opened, in messages taken: the smallest is the oldest.
    opened: u64,
}

/// Why a message was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A sequence number no block can reach.
    Sequence,
    /// An `Init` anywhere but first, or something else first.
    Misplaced,
    /// The stream id is not the one its `Init` names.
    StreamId,
    /// The caller refused the stream's `Init` (a height, round or proposer it does not
    /// expect).
    Init,
    /// A stream refused before.
    Refused,
    /// A `Data` part larger than [`PART_DATA_BYTES`], or a stream grown past the largest
    /// block.
    TooLarge,
}

/// What [`Streams::insert`] did with a message.
#[derive(Debug)]
pub enum Inserted {
    /// Kept; the stream is not complete yet.
    Pending,
    /// The stream's parts, in order: all have arrived.
    Complete(Vec<ProposalPart>),
    /// Dropped, and why.
    Refused(Refusal),
}

/// Collects proposal streams from every publisher until they are complete, within bounds
/// per publisher and in all (see the constants above).
#[derive(Default)]
pub struct Streams {
    streams: HashMap<(PeerId, StreamId), PartialStream>,
    /// Streams and bytes per publisher.
    peers: HashMap<PeerId, (usize, usize)>,
    /// Streams refused at their `Init`, oldest first.
    refused: VecDeque<(PeerId, StreamId)>,
    bytes: usize,
    clock: u64,
}

/// The most messages one stream may hold: every data part of the largest block, the `Init`,
/// the `Fin` and the end marker.
const MAX_STREAM_MESSAGES: u64 = (MAX_BLOCK_BYTES / PART_DATA_BYTES) as u64 + 3;

fn part_bytes(part: &ProposalPart) -> usize {
    match part {
        ProposalPart::Data(d) => d.len(),
        _ => 0,
    }
}

impl Streams {
    /// Adds a message from `publisher`. An `Init` is shown to `admit` as it arrives, before
    /// any of the stream's data is collected; a stream it refuses is dropped and its later
    /// parts with it. Returns the stream's parts, in order, once all have arrived.
    pub fn insert(
        &mut self,
        publisher: PeerId,
        message: StreamMessage<ProposalPart>,
        admit: impl FnOnce(&ProposalInit) -> bool,
    ) -> Inserted {
        let key = (publisher, message.stream_id.clone());
        match self.check(&key, &message, admit) {
            Ok(()) => {}
            Err(refusal) => {
                if matches!(refusal, Refusal::Init | Refusal::Misplaced | Refusal::StreamId) {
                    self.refuse(key);
                }
                return Inserted::Refused(refusal);
            }
        }
        if !self.streams.contains_key(&key) {
            self.make_room(publisher);
            self.clock += 1;
            let stream = PartialStream { opened: self.clock, ..Default::default() };
            self.streams.insert(key.clone(), stream);
            self.peers.entry(publisher).or_default().0 += 1;
        }
        let stream = self.streams.get_mut(&key).expect("just inserted");
        let (mut added, mut taken) = (0, 0);
        match message.content {
            StreamContent::Fin => stream.end = Some(message.sequence),
            StreamContent::Data(part) => {
                added = part_bytes(&part);
                if let Some(old) = stream.parts.insert(message.sequence, part) {
                    taken = part_bytes(&old);
                }
            }
        }
        stream.bytes = stream.bytes + added - taken;
        self.bytes = self.bytes + added - taken;
        let peer = self.peers.get_mut(&publisher).expect("counted with its stream");
        peer.1 = peer.1 + added - taken;
        let complete = stream.end.is_some_and(|end| {
            stream.parts.len() as u64 == end
                && stream.parts.keys().next_back().copied() == end.checked_sub(1)
        });
        if complete {
            let parts = self.remove(&key).map(|s| s.parts.into_values().collect());
            return parts.map_or(Inserted::Pending, Inserted::Complete);
        }
        if stream.bytes > MAX_BLOCK_BYTES + PART_DATA_BYTES {
            self.remove(&key);
            return Inserted::Refused(Refusal::TooLarge);
        }
        while self.peers.get(&publisher).is_some_and(|p| p.1 > MAX_PEER_BYTES) {
            self.evict_oldest_of(publisher);
        }
        while self.bytes > MAX_BUFFERED_BYTES {
            let heaviest = self.peers.iter().max_by_key(|(_, p)| p.1).map(|(peer, _)| *peer);
            match heaviest {
                Some(peer) => self.evict_oldest_of(peer),
                None => break,
            }
        }
        Inserted::Pending
    }

    /// The checks a message passes before anything of it is kept.
    fn check(
        &self,
        key: &(PeerId, StreamId),
        message: &StreamMessage<ProposalPart>,
        admit: impl FnOnce(&ProposalInit) -> bool,
    ) -> Result<(), Refusal> {
        if message.sequence >= MAX_STREAM_MESSAGES {
            return Err(Refusal::Sequence);
        }
        if self.refused.contains(key) {
            return Err(Refusal::Refused);
        }
        match &message.content {
            StreamContent::Data(ProposalPart::Init { height, round, proposer, pol_round }) => {
                if message.sequence != 0 {
                    return Err(Refusal::Misplaced);
                }
                if message.stream_id != stream_id(*height, *round) {
                    return Err(Refusal::StreamId);
                }
                let init = ProposalInit {
                    height: *height,
                    round: *round,
                    proposer: *proposer,
                    pol_round: *pol_round,
                };
                if !admit(&init) {
                    return Err(Refusal::Init);
                }
            }
            StreamContent::Data(_) if message.sequence == 0 => return Err(Refusal::Misplaced),
            StreamContent::Data(ProposalPart::Data(data)) if data.len() > PART_DATA_BYTES => {
                return Err(Refusal::TooLarge);
            }
            StreamContent::Fin if message.sequence < 2 => return Err(Refusal::Misplaced),
            _ => {}
        }
        Ok(())
    }

    /// Drops a stream and remembers it as refused.
    fn refuse(&mut self, key: (PeerId, StreamId)) {
        self.remove(&key);
        if self.refused.len() >= MAX_REFUSED {
            self.refused.pop_front();
        }
        self.refused.push_back(key);
    }

    /// Room for one more stream of `publisher`: its own oldest goes when it holds its
    /// share, and the oldest of the publisher holding the most when all streams are taken.
    fn make_room(&mut self, publisher: PeerId) {
        while self.peers.get(&publisher).is_some_and(|p| p.0 >= MAX_STREAMS_PER_PEER) {
            self.evict_oldest_of(publisher);
        }
        while self.streams.len() >= MAX_STREAMS {
            let busiest = self.peers.iter().max_by_key(|(_, p)| p.0).map(|(peer, _)| *peer);
            match busiest {
                Some(peer) => self.evict_oldest_of(peer),
                None => break,
            }
        }
    }

    fn evict_oldest_of(&mut self, publisher: PeerId) {
        let oldest = self
            .streams
            .iter()
            .filter(|((peer, _), _)| *peer == publisher)
            .min_by_key(|(_, s)| s.opened)
            .map(|(key, _)| key.clone());
        match oldest {
            Some(key) => {
                self.remove(&key);
            }
            // Nothing of it is held: its count is stale.
            None => {
                self.peers.remove(&publisher);
            }
        }
    }

    fn remove(&mut self, key: &(PeerId, StreamId)) -> Option<PartialStream> {
        let stream = self.streams.remove(key)?;
        self.bytes -= stream.bytes;
        if let Some(peer) = self.peers.get_mut(&key.0) {
            peer.0 -= 1;
            peer.1 -= stream.bytes;
            if peer.0 == 0 {
                self.peers.remove(&key.0);
            }
        }
        Some(stream)
    }

    /// Streams still incomplete.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream is incomplete.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Bytes of data held by incomplete streams.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Incomplete streams held for `publisher`.
    pub fn of(&self, publisher: &PeerId) -> usize {
        self.peers.get(publisher).map_or(0, |p| p.0)
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
            if let Inserted::Complete(parts) = streams.insert(peer(1), m, |_| true) {
                done = Some(parts);
            }
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

    fn complete(inserted: Inserted) -> bool {
        matches!(inserted, Inserted::Complete(_))
    }

    fn pending(inserted: Inserted) -> bool {
        matches!(inserted, Inserted::Pending)
    }

    /// The first message (the `Init`) of a stream for `height`.
    fn opening(
        signer: &BtcrSigner,
        init: ProposalInit,
        height: u64,
    ) -> StreamMessage<ProposalPart> {
        let init = ProposalInit { height: Height(height), ..init };
        let parts = split(5, signer, init, &Bytes::from_static(b"block"));
        stream_messages(stream_id(init.height, init.round), &parts).remove(0)
    }

    #[test]
    fn streams_are_kept_apart_and_bounded_per_publisher() {
        let (signer, _, init) = setup();
        let block = Bytes::from_static(b"block");
        let parts = split(5, &signer, init, &block);
        let messages = stream_messages(stream_id(init.height, init.round), &parts);
        let mut streams = Streams::default();
        // The same stream id from two publishers is two streams.
        for m in &messages[..messages.len() - 1] {
            assert!(pending(streams.insert(peer(1), m.clone(), |_| true)));
            assert!(pending(streams.insert(peer(2), m.clone(), |_| true)));
        }
        assert_eq!(streams.len(), 2);
        assert!(complete(streams.insert(peer(1), messages.last().unwrap().clone(), |_| true)));
        assert_eq!(streams.len(), 1);
        // One publisher opening stream after stream keeps only its newest few, and pushes
        // out no one else's (the 32 one-message streams of the audit evicted all others).
        for h in 100..200 {
            assert!(pending(streams.insert(peer(3), opening(&signer, init, h), |_| true)));
        }
        assert_eq!(streams.of(&peer(3)), MAX_STREAMS_PER_PEER);
        assert_eq!(streams.of(&peer(2)), 1, "the honest stream is still there");
        // Many publishers together: the busiest lose theirs first; the one-stream
        // publisher keeps its own.
        for seed in 10..60 {
            for h in 0..MAX_STREAMS_PER_PEER as u64 {
                streams.insert(peer(seed), opening(&signer, init, 300 + h), |_| true);
            }
        }
        assert!(streams.len() <= MAX_STREAMS);
        assert_eq!(streams.of(&peer(2)), 1, "the honest stream is still there");
        assert!(complete(streams.insert(peer(2), messages.last().unwrap().clone(), |_| true)));
        // A sequence number no block can reach is dropped.
        let id = stream_id(Height(1), Round::new(0));
        let far = StreamMessage::new(id, MAX_STREAM_MESSAGES, StreamContent::Fin);
        assert!(matches!(
            streams.insert(peer(4), far, |_| true),
            Inserted::Refused(Refusal::Sequence)
        ));
        assert_eq!(streams.of(&peer(4)), 0);
    }

    #[test]
    fn an_init_is_checked_on_arrival_and_a_refused_stream_stays_refused() {
        let (signer, _, init) = setup();
        let block: Bytes = vec![7u8; PART_DATA_BYTES + 1].into();
        let parts = split(5, &signer, init, &block);
        let id = stream_id(init.height, init.round);
        let messages = stream_messages(id.clone(), &parts);
        let mut streams = Streams::default();
        // The caller does not expect this proposer here: nothing of the stream is kept, and
        // its data that follows is dropped on arrival.
        let mut shown = None;
        let refused = streams.insert(peer(1), messages[0].clone(), |i| {
            shown = Some(*i);
            false
        });
        assert!(matches!(refused, Inserted::Refused(Refusal::Init)));
        assert_eq!(shown, Some(init), "the Init is shown as it arrives");
        for m in &messages[1..] {
            let again = streams.insert(peer(1), m.clone(), |_| true);
            assert!(matches!(again, Inserted::Refused(Refusal::Refused)));
        }
        assert!(streams.is_empty());
        assert_eq!(streams.bytes(), 0);
        // A stream under another id than its Init names (parts published again under a new
        // id) is refused.
        let other = stream_messages(stream_id(init.height, Round::new(1)), &parts);
        let renamed = streams.insert(peer(2), other[0].clone(), |_| true);
        assert!(matches!(renamed, Inserted::Refused(Refusal::StreamId)));
        // An Init anywhere but first, data first, an end before any data, an oversized part.
        let mut late = messages[0].clone();
        late.sequence = 1;
        assert!(matches!(
            streams.insert(peer(3), late, |_| true),
            Inserted::Refused(Refusal::Misplaced)
        ));
        let mut first = messages[1].clone();
        first.sequence = 0;
        assert!(matches!(
            streams.insert(peer(4), first, |_| true),
            Inserted::Refused(Refusal::Misplaced)
        ));
        let early = StreamMessage::new(id.clone(), 1, StreamContent::Fin);
        assert!(matches!(
            streams.insert(peer(5), early, |_| true),
            Inserted::Refused(Refusal::Misplaced)
        ));
        let huge = ProposalPart::Data(vec![0u8; PART_DATA_BYTES + 1].into());
        let huge = StreamMessage::new(id, 1, StreamContent::Data(huge));
        assert!(matches!(
            streams.insert(peer(6), huge, |_| true),
            Inserted::Refused(Refusal::TooLarge)
        ));
        assert!(streams.is_empty());
    }

    #[test]
    fn a_part_sent_again_is_counted_at_its_new_size() {
        let (signer, _, init) = setup();
        let id = stream_id(init.height, init.round);
        let mut streams = Streams::default();
        let data = |n: usize| {
            StreamMessage::new(
                id.clone(),
                1,
                StreamContent::Data(ProposalPart::Data(vec![1u8; n].into())),
            )
        };
        assert!(pending(streams.insert(peer(1), opening(&signer, init, init.height.0), |_| true)));
        assert!(pending(streams.insert(peer(1), data(10), |_| true)));
        // Before, a part replaced by a larger one kept its first size in the count, so a
        // publisher could hold any amount behind a small figure.
        for n in [PART_DATA_BYTES, 3, PART_DATA_BYTES / 2] {
            assert!(pending(streams.insert(peer(1), data(n), |_| true)));
            assert_eq!(streams.bytes(), n);
        }
        // One publisher's streams hold at most MAX_PEER_BYTES: its oldest go first.
        for h in 0..3u64 {
            let stream = stream_id(Height(h + 50), init.round);
            assert!(pending(streams.insert(peer(2), opening(&signer, init, h + 50), |_| true)));
            for seq in 1..=(MAX_BLOCK_BYTES / PART_DATA_BYTES) as u64 {
                let part = ProposalPart::Data(vec![2u8; PART_DATA_BYTES].into());
                streams.insert(
                    peer(2),
                    StreamMessage::new(stream.clone(), seq, StreamContent::Data(part)),
                    |_| true,
                );
            }
        }
        assert_eq!(streams.of(&peer(2)), 2);
        assert_eq!(streams.bytes(), MAX_PEER_BYTES + PART_DATA_BYTES / 2);
        assert_eq!(streams.of(&peer(1)), 1, "another publisher's stream stays");
    }
}
