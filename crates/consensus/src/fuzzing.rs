//! Entry points for the fuzz targets (`fuzz/`), also run over the kept corpora by the node's
//! tests: whatever the bytes, these return without a panic, within bounded memory.

use bytes::Bytes;
use malachitebft_app_channel::app::{
    consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg},
    streaming::{StreamContent, StreamId, StreamMessage},
    types::{PeerId, codec::Codec, core::ValidatorProof},
};
use malachitebft_sync::{Request, Response, Status};

use crate::bft::{
    BtcrContext, ProposalPart,
    codec::BtcrCodec,
    parts::{self, Inserted, MAX_BUFFERED_BYTES, MAX_STREAMS_PER_PEER, Streams},
};

/// Decodes `data` as the message selected by its first byte; what decodes must encode and
/// decode again to the same bytes.
pub fn codec(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    let bytes = Bytes::copy_from_slice(rest);
    match which % 9 {
        0 => round_trip::<ProposalPart>(bytes),
        1 => round_trip::<SignedConsensusMsg<BtcrContext>>(bytes),
        2 => round_trip::<LivenessMsg<BtcrContext>>(bytes),
        3 => round_trip::<StreamMessage<ProposalPart>>(bytes),
        4 => round_trip::<ValidatorProof<BtcrContext>>(bytes),
        5 => round_trip::<ProposedValue<BtcrContext>>(bytes),
        6 => round_trip::<Status<BtcrContext>>(bytes),
        7 => round_trip::<Request<BtcrContext>>(bytes),
        _ => round_trip::<Response<BtcrContext>>(bytes),
    }
}

fn round_trip<T>(bytes: Bytes)
where
    BtcrCodec: Codec<T>,
{
    let codec = BtcrCodec;
    let Ok(value) = codec.decode(bytes) else { return };
    let encoded = codec.encode(&value).expect("what decodes encodes");
    let again = codec.decode(encoded.clone()).expect("what was encoded decodes");
    assert_eq!(codec.encode(&again).expect("encodes"), encoded, "encoding is stable");
}

static FULL_PART: [u8; parts::PART_DATA_BYTES] = [0; parts::PART_DATA_BYTES];

/// Eight publishers, made once (a key each costs more than the rest of an input).
static PEERS: std::sync::LazyLock<Vec<PeerId>> = std::sync::LazyLock::new(|| {
    (0..8u8)
        .map(|i| {
            let keypair =
                malachitebft_app_channel::app::types::Keypair::ed25519_from_bytes([i + 1; 32])
                    .expect("a valid key");
            PeerId::from_bytes(&keypair.public().to_peer_id().to_bytes()).expect("a peer id")
        })
        .collect()
});

/// Feeds [`Streams`] the messages `data` describes: each is a publisher (one byte, of
/// eight), a stream (one byte, of four), a sequence number (one byte) and a part (a tag
/// byte, then for data a length byte and that many bytes). The buffers stay within their
/// bounds after every message, and a complete stream is in order.
pub fn reassembly(data: &[u8]) {
    let peers = &*PEERS;
    let mut streams = Streams::default();
    let mut rest = data;
    while let [publisher, stream, sequence, tag, tail @ ..] = rest {
        rest = tail;
        let content = match tag % 4 {
            0 => {
                let Some((&len, tail)) = rest.split_first() else { return };
                let len = usize::from(len).min(tail.len());
                let (chunk, tail) = tail.split_at(len);
                rest = tail;
                StreamContent::Data(ProposalPart::Data(Bytes::copy_from_slice(chunk)))
            }
            1 => match BtcrCodec.decode(Bytes::copy_from_slice(rest)) {
                // A whole encoded part (an Init, a Fin) takes the rest of the input.
                Ok(part) => {
                    rest = &[];
                    StreamContent::Data(part)
                }
                Err(_) => return,
            },
            2 => StreamContent::Fin,
            // A full part, shared rather than copied: reaching the byte bounds is cheap.
            _ => StreamContent::Data(ProposalPart::Data(Bytes::from_static(&FULL_PART))),
        };
        let id = StreamId::new(Bytes::from(vec![stream % 4]));
        let message = StreamMessage::new(id, u64::from(*sequence), content);
        let publisher = peers[usize::from(publisher % 8)];
        let admit = tag & 0x80 == 0;
        if let Inserted::Complete(parts) = streams.insert(publisher, message, |_| admit) {
            assert!(matches!(parts.first(), Some(ProposalPart::Init { .. })), "Init first");
            assert!(matches!(parts.last(), Some(ProposalPart::Fin(_))), "Fin last");
        }
        assert!(streams.bytes() <= MAX_BUFFERED_BYTES, "within the bound of all streams");
        assert!(streams.of(&publisher) <= MAX_STREAMS_PER_PEER, "within a publisher's bound");
    }
}
