//! The wire and WAL encoding of every consensus message: a compact, fixed-layout binary
//! format written here, so that each field's size is known and every length a peer sends is
//! bounded before anything is allocated.
//!
//! Layout rules: integers are big-endian; a round is one byte (0 for nil, 1 then a `u32`);
//! an address is 20 bytes, a hash 32, a signature 64 (`r ‖ s`); a byte string or a list is a
//! `u32` count then its items, and each has its own limit. A message must be read to its
//! last byte: trailing bytes are an error.

use alloy_primitives::{Address, B256};
use bytes::Bytes;
use malachitebft_app_channel::app::{
    consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg},
    streaming::{StreamContent, StreamId, StreamMessage},
    types::{
        PeerId,
        codec::{Codec, HasEncodedLen},
        core::{
            ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate,
            PolkaSignature, Round, RoundCertificate, RoundCertificateType, RoundSignature,
            SignedExtension, SignedMessage, SignedProposal, SignedVote, ValidatorProof, Validity,
            VoteType,
        },
    },
};
use malachitebft_sync::{self as sync, RawDecidedValue, Request, Response, Status};

use super::context::{
    BftSignature, BtcrContext, Height, Proposal, ProposalPart, ValidatorAddress, Vote,
};

/// The most bytes of block data one proposal part carries.
pub const MAX_PART_DATA: usize = 512 * 1024;
/// The most signatures a certificate may hold (the largest validator set BTCR allows).
pub const MAX_SIGNATURES: usize = 1_000;
/// The most decided values one sync response may hold.
pub const MAX_SYNC_VALUES: usize = 256;
/// The most bytes of one decided value (an encoded block) in a sync response.
pub const MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;
/// The most bytes of a peer id, a stream id or a public key.
const MAX_SHORT_BYTES: usize = 128;
const SIGNATURE_LEN: usize = 64;

/// A message that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ended inside a field.
    #[error("message truncated while reading {0}")]
    Truncated(&'static str),
    /// A tag names no variant.
    #[error("unknown {what} tag {tag}")]
    UnknownTag {
        /// The field.
        what: &'static str,
        /// The tag read.
        tag: u8,
    },
    /// A length is above its limit.
    #[error("{what} of {len} exceeds the limit of {limit}")]
    TooLong {
        /// The field.
        what: &'static str,
        /// The length read.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A field holds an invalid value.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Bytes are left after the message.
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
}

/// BTCR's codec for consensus, sync and the WAL.
#[derive(Clone, Copy, Debug, Default)]
pub struct BtcrCodec;

/// Writes fields in the layout described in the module documentation.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn len(&mut self, n: usize) {
        // Every encoder checks its limits, all far below u32::MAX, before writing.
        self.u32(u32::try_from(n).expect("lengths are bounded far below u32::MAX"));
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    fn height(&mut self, h: Height) {
        self.u64(h.0);
    }
    fn round(&mut self, r: Round) {
        match r.as_u32() {
            None => self.u8(0),
            Some(n) => {
                self.u8(1);
                self.u32(n);
            }
        }
    }
    fn address(&mut self, a: &ValidatorAddress) {
        self.0.extend_from_slice(a.0.as_slice());
    }
    fn hash(&mut self, h: &B256) {
        self.0.extend_from_slice(h.as_slice());
    }
    fn signature(&mut self, s: &BftSignature) {
        self.0.extend_from_slice(&s.to_vec());
    }
    fn vote_type(&mut self, t: VoteType) {
        self.u8(match t {
            VoteType::Prevote => 0,
            VoteType::Precommit => 1,
        });
    }
    fn nil_or_hash(&mut self, v: &NilOrVal<B256>) {
        match v {
            NilOrVal::Nil => self.u8(0),
            NilOrVal::Val(h) => {
                self.u8(1);
                self.hash(h);
            }
        }
    }
    fn extension(&mut self, e: &Option<SignedExtension<BtcrContext>>) {
        match e {
            None => self.u8(0),
            Some(e) => {
                self.u8(1);
                self.signature(&e.signature);
            }
        }
    }
    fn vote(&mut self, v: &Vote) {
        self.vote_type(v.vote_type);
        self.height(v.height);
        self.round(v.round);
        self.nil_or_hash(&v.value);
        self.address(&v.validator_address);
        self.extension(&v.extension);
    }
    fn signed_vote(&mut self, v: &SignedVote<BtcrContext>) {
        self.vote(&v.message);
        self.signature(&v.signature);
    }
    fn proposal(&mut self, p: &Proposal) {
        self.height(p.height);
        self.round(p.round);
        self.hash(&p.value.0);
        self.round(p.pol_round);
        self.address(&p.validator_address);
    }
    fn part(&mut self, part: &ProposalPart) -> Result<(), CodecError> {
        match part {
            ProposalPart::Init { height, round, proposer, pol_round } => {
                self.u8(0);
                self.height(*height);
                self.round(*round);
                self.address(proposer);
                self.round(*pol_round);
            }
            ProposalPart::Data(data) => {
                check_len("proposal part data", data.len(), MAX_PART_DATA)?;
                self.u8(1);
                self.bytes(data);
            }
            ProposalPart::Fin(signature) => {
                self.u8(2);
                self.signature(signature);
            }
        }
        Ok(())
    }
    fn short_bytes(&mut self, what: &'static str, b: &[u8]) -> Result<(), CodecError> {
        check_len(what, b.len(), MAX_SHORT_BYTES)?;
        self.bytes(b);
        Ok(())
    }
    fn count(&mut self, what: &'static str, n: usize, limit: usize) -> Result<(), CodecError> {
        check_len(what, n, limit)?;
        self.len(n);
        Ok(())
    }
    fn finish(self) -> Bytes {
        Bytes::from(self.0)
    }
}

fn check_len(what: &'static str, len: usize, limit: usize) -> Result<(), CodecError> {
    if len > limit { Err(CodecError::TooLong { what, len, limit }) } else { Ok(()) }
}

/// Reads fields back, refusing anything truncated, unknown or over its limit.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        if self.rest.len() < n {
            return Err(CodecError::Truncated(what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, CodecError> {
        Ok(u64::from_be_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }
    fn count(&mut self, what: &'static str, limit: usize) -> Result<usize, CodecError> {
        let n = self.u32(what)? as usize;
        check_len(what, n, limit)?;
        Ok(n)
    }
    fn bytes(&mut self, what: &'static str, limit: usize) -> Result<&'a [u8], CodecError> {
        let n = self.count(what, limit)?;
        self.take(n, what)
    }
    fn height(&mut self) -> Result<Height, CodecError> {
        self.u64("height").map(Height)
    }
    fn round(&mut self) -> Result<Round, CodecError> {
        match self.u8("round")? {
            0 => Ok(Round::Nil),
            1 => Ok(Round::new(self.u32("round")?)),
            tag => Err(CodecError::UnknownTag { what: "round", tag }),
        }
    }
    fn address(&mut self) -> Result<ValidatorAddress, CodecError> {
        Ok(ValidatorAddress(Address::from_slice(self.take(20, "address")?)))
    }
    fn hash(&mut self) -> Result<B256, CodecError> {
        Ok(B256::from_slice(self.take(32, "hash")?))
    }
    fn signature(&mut self) -> Result<BftSignature, CodecError> {
        BftSignature::from_slice(self.take(SIGNATURE_LEN, "signature")?)
            .map_err(|_| CodecError::Invalid("signature"))
    }
    fn vote_type(&mut self) -> Result<VoteType, CodecError> {
        match self.u8("vote type")? {
            0 => Ok(VoteType::Prevote),
            1 => Ok(VoteType::Precommit),
            tag => Err(CodecError::UnknownTag { what: "vote type", tag }),
        }
    }
    fn nil_or_hash(&mut self) -> Result<NilOrVal<B256>, CodecError> {
        match self.u8("vote value")? {
            0 => Ok(NilOrVal::Nil),
            1 => Ok(NilOrVal::Val(self.hash()?)),
            tag => Err(CodecError::UnknownTag { what: "vote value", tag }),
        }
    }
    fn extension(&mut self) -> Result<Option<SignedExtension<BtcrContext>>, CodecError> {
        match self.u8("extension")? {
            0 => Ok(None),
            1 => Ok(Some(SignedMessage::new((), self.signature()?))),
            tag => Err(CodecError::UnknownTag { what: "extension", tag }),
        }
    }
    fn vote(&mut self) -> Result<Vote, CodecError> {
        Ok(Vote {
            vote_type: self.vote_type()?,
            height: self.height()?,
            round: self.round()?,
            value: self.nil_or_hash()?,
            validator_address: self.address()?,
            extension: self.extension()?,
        })
    }
    fn signed_vote(&mut self) -> Result<SignedVote<BtcrContext>, CodecError> {
        let vote = self.vote()?;
        Ok(SignedMessage::new(vote, self.signature()?))
    }
    fn proposal(&mut self) -> Result<Proposal, CodecError> {
        Ok(Proposal {
            height: self.height()?,
            round: self.round()?,
            value: super::context::BlockId(self.hash()?),
            pol_round: self.round()?,
            validator_address: self.address()?,
        })
    }
    fn part(&mut self) -> Result<ProposalPart, CodecError> {
        match self.u8("proposal part")? {
            0 => Ok(ProposalPart::Init {
                height: self.height()?,
                round: self.round()?,
                proposer: self.address()?,
                pol_round: self.round()?,
            }),
            1 => Ok(ProposalPart::Data(Bytes::copy_from_slice(
                self.bytes("proposal part data", MAX_PART_DATA)?,
            ))),
            2 => Ok(ProposalPart::Fin(self.signature()?)),
            tag => Err(CodecError::UnknownTag { what: "proposal part", tag }),
        }
    }
    fn peer_id(&mut self) -> Result<PeerId, CodecError> {
        PeerId::from_bytes(self.bytes("peer id", MAX_SHORT_BYTES)?)
            .map_err(|_| CodecError::Invalid("peer id"))
    }
    fn end<T>(self, value: T) -> Result<T, CodecError> {
        if self.rest.is_empty() { Ok(value) } else { Err(CodecError::Trailing(self.rest.len())) }
    }
}

/// Implements `Codec<T>` from a writer and a reader function.
macro_rules! codec {
    ($t:ty, |$w:ident, $v:ident| $enc:block, |$r:ident| $dec:block) => {
        impl Codec<$t> for BtcrCodec {
            type Error = CodecError;

            fn encode(&self, $v: &$t) -> Result<Bytes, CodecError> {
                let mut $w = Writer::default();
                $enc;
                Ok($w.finish())
            }

            fn decode(&self, bytes: Bytes) -> Result<$t, CodecError> {
                let mut $r = Reader::new(&bytes);
                let value = $dec;
                $r.end(value)
            }
        }
    };
}

codec!(ProposalPart, |w, part| { w.part(part)? }, |r| { r.part()? });

codec!(
    SignedConsensusMsg<BtcrContext>,
    |w, msg| {
        match msg {
            SignedConsensusMsg::Vote(v) => {
                w.u8(0);
                w.signed_vote(v);
            }
            SignedConsensusMsg::Proposal(p) => {
                w.u8(1);
                w.proposal(&p.message);
                w.signature(&p.signature);
            }
        }
    },
    |r| {
        match r.u8("consensus message")? {
            0 => SignedConsensusMsg::Vote(r.signed_vote()?),
            1 => {
                let proposal = r.proposal()?;
                SignedConsensusMsg::Proposal(SignedProposal::new(proposal, r.signature()?))
            }
            tag => return Err(CodecError::UnknownTag { what: "consensus message", tag }),
        }
    }
);

fn write_polka(w: &mut Writer, c: &PolkaCertificate<BtcrContext>) -> Result<(), CodecError> {
    w.height(c.height);
    w.round(c.round);
    w.hash(&c.value_id);
    w.count("polka signatures", c.polka_signatures.len(), MAX_SIGNATURES)?;
    for s in &c.polka_signatures {
        w.address(&s.address);
        w.signature(&s.signature);
    }
    Ok(())
}

fn read_polka(r: &mut Reader<'_>) -> Result<PolkaCertificate<BtcrContext>, CodecError> {
    let height = r.height()?;
    let round = r.round()?;
    let value_id = r.hash()?;
    let n = r.count("polka signatures", MAX_SIGNATURES)?;
    let mut polka_signatures = Vec::with_capacity(n);
    for _ in 0..n {
        let address = r.address()?;
        polka_signatures.push(PolkaSignature::new(address, r.signature()?));
    }
    Ok(PolkaCertificate { height, round, value_id, polka_signatures })
}

codec!(
    LivenessMsg<BtcrContext>,
    |w, msg| {
        match msg {
            LivenessMsg::Vote(v) => {
                w.u8(0);
                w.signed_vote(v);
            }
            LivenessMsg::PolkaCertificate(c) => {
                w.u8(1);
                write_polka(&mut w, c)?;
            }
            LivenessMsg::SkipRoundCertificate(c) => {
                w.u8(2);
                w.height(c.height);
                w.round(c.round);
                w.u8(match c.cert_type {
                    RoundCertificateType::Skip => 0,
                    RoundCertificateType::Precommit => 1,
                });
                w.count("round signatures", c.round_signatures.len(), MAX_SIGNATURES)?;
                for s in &c.round_signatures {
                    w.vote_type(s.vote_type);
                    w.nil_or_hash(&s.value_id);
                    w.address(&s.address);
                    w.signature(&s.signature);
                }
            }
        }
    },
    |r| {
        match r.u8("liveness message")? {
            0 => LivenessMsg::Vote(r.signed_vote()?),
            1 => LivenessMsg::PolkaCertificate(read_polka(&mut r)?),
            2 => {
                let height = r.height()?;
                let round = r.round()?;
                let cert_type = match r.u8("certificate type")? {
                    0 => RoundCertificateType::Skip,
                    1 => RoundCertificateType::Precommit,
                    tag => return Err(CodecError::UnknownTag { what: "certificate type", tag }),
                };
                let n = r.count("round signatures", MAX_SIGNATURES)?;
                let mut round_signatures = Vec::with_capacity(n);
                for _ in 0..n {
                    let vote_type = r.vote_type()?;
                    let value_id = r.nil_or_hash()?;
                    let address = r.address()?;
                    round_signatures.push(RoundSignature::new(
                        vote_type,
                        value_id,
                        address,
                        r.signature()?,
                    ));
                }
                LivenessMsg::SkipRoundCertificate(RoundCertificate {
                    height,
                    round,
                    cert_type,
                    round_signatures,
                })
            }
            tag => return Err(CodecError::UnknownTag { what: "liveness message", tag }),
        }
    }
);

codec!(PolkaCertificate<BtcrContext>, |w, c| { write_polka(&mut w, c)? }, |r| {
    read_polka(&mut r)?
});

codec!(
    StreamMessage<ProposalPart>,
    |w, msg| {
        w.short_bytes("stream id", &msg.stream_id.to_bytes())?;
        w.u64(msg.sequence);
        match &msg.content {
            StreamContent::Data(part) => {
                w.u8(0);
                w.part(part)?;
            }
            StreamContent::Fin => w.u8(1),
        }
    },
    |r| {
        let stream_id =
            StreamId::new(Bytes::copy_from_slice(r.bytes("stream id", MAX_SHORT_BYTES)?));
        let sequence = r.u64("sequence")?;
        let content = match r.u8("stream content")? {
            0 => StreamContent::Data(r.part()?),
            1 => StreamContent::Fin,
            tag => return Err(CodecError::UnknownTag { what: "stream content", tag }),
        };
        StreamMessage::new(stream_id, sequence, content)
    }
);

codec!(
    ValidatorProof<BtcrContext>,
    |w, proof| {
        w.short_bytes("public key", &proof.public_key)?;
        w.short_bytes("peer id", &proof.peer_id)?;
        w.signature(&proof.signature);
    },
    |r| {
        let public_key = r.bytes("public key", MAX_SHORT_BYTES)?.to_vec();
        let peer_id = r.bytes("peer id", MAX_SHORT_BYTES)?.to_vec();
        ValidatorProof::new(public_key, peer_id, r.signature()?)
    }
);

codec!(
    ProposedValue<BtcrContext>,
    |w, v| {
        w.height(v.height);
        w.round(v.round);
        w.round(v.valid_round);
        w.address(&v.proposer);
        w.hash(&v.value.0);
        w.u8(match v.validity {
            Validity::Valid => 1,
            Validity::Invalid => 0,
        });
    },
    |r| {
        ProposedValue {
            height: r.height()?,
            round: r.round()?,
            valid_round: r.round()?,
            proposer: r.address()?,
            value: super::context::BlockId(r.hash()?),
            validity: match r.u8("validity")? {
                1 => Validity::Valid,
                0 => Validity::Invalid,
                tag => return Err(CodecError::UnknownTag { what: "validity", tag }),
            },
        }
    }
);

codec!(
    Status<BtcrContext>,
    |w, s| {
        w.short_bytes("peer id", &s.peer_id.to_bytes())?;
        w.height(s.tip_height);
        w.height(s.history_min_height);
    },
    |r| {
        Status { peer_id: r.peer_id()?, tip_height: r.height()?, history_min_height: r.height()? }
    }
);

codec!(
    Request<BtcrContext>,
    |w, req| {
        let Request::ValueRequest(req) = req;
        w.height(*req.range.start());
        w.height(*req.range.end());
    },
    |r| {
        let start = r.height()?;
        let end = r.height()?;
        if end < start {
            return Err(CodecError::Invalid("sync request range"));
        }
        Request::ValueRequest(sync::ValueRequest::new(start..=end))
    }
);

fn write_certificate(
    w: &mut Writer,
    c: &ExtendedCommitCertificate<BtcrContext>,
) -> Result<(), CodecError> {
    w.height(c.height);
    w.round(c.round);
    w.hash(&c.value_id);
    w.count("commit signatures", c.commit_signatures.len(), MAX_SIGNATURES)?;
    for s in &c.commit_signatures {
        w.address(&s.address);
        w.signature(&s.signature);
        w.extension(&s.extension);
    }
    Ok(())
}

fn read_certificate(
    r: &mut Reader<'_>,
) -> Result<ExtendedCommitCertificate<BtcrContext>, CodecError> {
    let height = r.height()?;
    let round = r.round()?;
    let value_id = r.hash()?;
    let n = r.count("commit signatures", MAX_SIGNATURES)?;
    let mut commit_signatures = Vec::with_capacity(n);
    for _ in 0..n {
        commit_signatures.push(ExtendedCommitSignature {
            address: r.address()?,
            signature: r.signature()?,
            extension: r.extension()?,
        });
    }
    Ok(ExtendedCommitCertificate { height, round, value_id, commit_signatures })
}

codec!(
    Response<BtcrContext>,
    |w, resp| {
        let Response::ValueResponse(resp) = resp;
        w.height(resp.start_height);
        w.count("sync values", resp.values.len(), MAX_SYNC_VALUES)?;
        for v in &resp.values {
            check_len("decided value", v.value_bytes.len(), MAX_VALUE_BYTES)?;
            w.bytes(&v.value_bytes);
            write_certificate(&mut w, &v.certificate)?;
        }
    },
    |r| {
        let start_height = r.height()?;
        let n = r.count("sync values", MAX_SYNC_VALUES)?;
        let mut values = Vec::with_capacity(n.min(16));
        for _ in 0..n {
            let value_bytes = Bytes::copy_from_slice(r.bytes("decided value", MAX_VALUE_BYTES)?);
            values.push(RawDecidedValue::new(value_bytes, read_certificate(&mut r)?));
        }
        Response::ValueResponse(sync::ValueResponse::new(start_height, values))
    }
);

impl HasEncodedLen<Response<BtcrContext>> for BtcrCodec {
    fn encoded_len(&self, resp: &Response<BtcrContext>) -> Result<usize, CodecError> {
        let Response::ValueResponse(resp) = resp;
        // Height, count, then per value: length, bytes, and a certificate of fixed-size
        // parts.
        let mut len = 8 + 4;
        for v in &resp.values {
            let signature = 20 + SIGNATURE_LEN + 1;
            let signatures: usize = v
                .certificate
                .commit_signatures
                .iter()
                .map(|s| signature + if s.extension.is_some() { SIGNATURE_LEN } else { 0 })
                .sum();
            let round = if v.certificate.round.is_defined() { 5 } else { 1 };
            len += 4 + v.value_bytes.len() + 8 + round + 32 + 4 + signatures;
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use malachitebft_app_channel::app::types::core::SignedProposal;

    use super::*;
    use crate::bft::context::{BlockId, ValidatorPrivateKey};

    fn key() -> ValidatorPrivateKey {
        ValidatorPrivateKey::from_slice(&[7u8; 32]).expect("valid key")
    }

    fn peer() -> PeerId {
        let keypair = malachitebft_app_channel::app::types::Keypair::ed25519_from_bytes([3u8; 32])
            .expect("valid key");
        PeerId::from_bytes(&keypair.public().to_peer_id().to_bytes()).expect("valid peer id")
    }

    fn round_trip<T>(value: &T) -> Bytes
    where
        BtcrCodec: Codec<T>,
        T: PartialEq + std::fmt::Debug,
        <BtcrCodec as Codec<T>>::Error: std::fmt::Debug,
    {
        let bytes = BtcrCodec.encode(value).expect("encodes");
        let back: T = BtcrCodec.decode(bytes.clone()).expect("decodes");
        assert_eq!(&back, value);
        // Every strict prefix is refused, and so is one extra byte.
        for n in 0..bytes.len() {
            assert!(
                <BtcrCodec as Codec<T>>::decode(&BtcrCodec, bytes.slice(..n)).is_err(),
                "prefix of {n} bytes accepted"
            );
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(<BtcrCodec as Codec<T>>::decode(&BtcrCodec, Bytes::from(longer)).is_err());
        bytes
    }

    fn vote(value: NilOrVal<B256>) -> Vote {
        Vote::new(
            VoteType::Precommit,
            Height(9),
            Round::new(2),
            value,
            ValidatorAddress(Address::repeat_byte(4)),
        )
    }

    #[test]
    fn consensus_messages_round_trip() {
        let k = key();
        let v = vote(NilOrVal::Val(B256::repeat_byte(1)));
        round_trip(&SignedConsensusMsg::<BtcrContext>::Vote(SignedMessage::new(
            v.clone(),
            k.sign(b"vote"),
        )));
        let mut extended = vote(NilOrVal::Nil);
        extended.extension = Some(SignedMessage::new((), k.sign(b"ext")));
        round_trip(&SignedConsensusMsg::<BtcrContext>::Vote(SignedMessage::new(
            extended,
            k.sign(b"vote"),
        )));
        let proposal = Proposal {
            height: Height(3),
            round: Round::new(0),
            value: BlockId(B256::repeat_byte(2)),
            pol_round: Round::Nil,
            validator_address: ValidatorAddress(Address::repeat_byte(5)),
        };
        round_trip(&SignedConsensusMsg::<BtcrContext>::Proposal(SignedProposal::new(
            proposal,
            k.sign(b"proposal"),
        )));
        let polka = PolkaCertificate::<BtcrContext> {
            height: Height(1),
            round: Round::new(1),
            value_id: B256::repeat_byte(8),
            polka_signatures: vec![PolkaSignature::new(
                ValidatorAddress(Address::repeat_byte(1)),
                k.sign(b"a"),
            )],
        };
        round_trip(&polka);
        round_trip(&LivenessMsg::<BtcrContext>::PolkaCertificate(polka));
        round_trip(&LivenessMsg::<BtcrContext>::Vote(SignedMessage::new(v, k.sign(b"v"))));
        round_trip(&LivenessMsg::<BtcrContext>::SkipRoundCertificate(RoundCertificate {
            height: Height(4),
            round: Round::new(3),
            cert_type: RoundCertificateType::Precommit,
            round_signatures: vec![RoundSignature::new(
                VoteType::Prevote,
                NilOrVal::Nil,
                ValidatorAddress(Address::repeat_byte(2)),
                k.sign(b"r"),
            )],
        }));
        round_trip(&ValidatorProof::<BtcrContext>::new(
            k.public_key().to_vec(),
            peer().to_bytes(),
            k.sign(b"proof"),
        ));
    }

    #[test]
    fn parts_streams_and_wal_values_round_trip() {
        let k = key();
        let parts = [
            ProposalPart::Init {
                height: Height(2),
                round: Round::new(1),
                proposer: ValidatorAddress(Address::repeat_byte(3)),
                pol_round: Round::new(0),
            },
            ProposalPart::Data(Bytes::from(vec![9u8; 1000])),
            ProposalPart::Fin(k.sign(b"parts")),
        ];
        for (i, part) in parts.into_iter().enumerate() {
            round_trip(&part);
            round_trip(&StreamMessage::new(
                StreamId::new(Bytes::from_static(b"stream-1")),
                i as u64,
                StreamContent::Data(part),
            ));
        }
        round_trip(&StreamMessage::<ProposalPart>::new(
            StreamId::new(Bytes::from_static(b"s")),
            3,
            StreamContent::Fin,
        ));
        round_trip(&ProposedValue::<BtcrContext> {
            height: Height(5),
            round: Round::new(0),
            valid_round: Round::Nil,
            proposer: ValidatorAddress(Address::repeat_byte(6)),
            value: BlockId(B256::repeat_byte(7)),
            validity: Validity::Invalid,
        });
    }

    #[test]
    fn sync_messages_round_trip_and_report_their_length() {
        let k = key();
        round_trip(&Status::<BtcrContext> {
            peer_id: peer(),
            tip_height: Height(100),
            history_min_height: Height(1),
        });
        round_trip(&Request::<BtcrContext>::ValueRequest(sync::ValueRequest::new(
            Height(3)..=Height(9),
        )));
        let certificate = |round| ExtendedCommitCertificate::<BtcrContext> {
            height: Height(3),
            round,
            value_id: B256::repeat_byte(1),
            commit_signatures: vec![
                ExtendedCommitSignature {
                    address: ValidatorAddress(Address::repeat_byte(1)),
                    signature: k.sign(b"c"),
                    extension: None,
                },
                ExtendedCommitSignature {
                    address: ValidatorAddress(Address::repeat_byte(2)),
                    signature: k.sign(b"d"),
                    extension: Some(SignedMessage::new((), k.sign(b"e"))),
                },
            ],
        };
        for response in [
            Response::ValueResponse(sync::ValueResponse::new(Height(3), vec![])),
            Response::ValueResponse(sync::ValueResponse::new(
                Height(3),
                vec![
                    RawDecidedValue::new(Bytes::from_static(b"block"), certificate(Round::new(1))),
                    RawDecidedValue::new(Bytes::new(), certificate(Round::Nil)),
                ],
            )),
        ] {
            let bytes = round_trip(&response);
            assert_eq!(BtcrCodec.encoded_len(&response).unwrap(), bytes.len());
        }
    }

    #[test]
    fn lengths_above_their_limits_are_refused_before_allocating() {
        // A data part claiming 4 GiB.
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = <BtcrCodec as Codec<ProposalPart>>::decode(&BtcrCodec, Bytes::from(bytes));
        assert!(matches!(err, Err(CodecError::TooLong { .. })), "{err:?}");
        // Encoding refuses an oversized part too.
        let big = ProposalPart::Data(Bytes::from(vec![0u8; MAX_PART_DATA + 1]));
        assert!(BtcrCodec.encode(&big).is_err());
        // A certificate claiming more signatures than any validator set holds.
        let mut w = Writer::default();
        w.height(Height(1));
        w.round(Round::new(0));
        w.hash(&B256::ZERO);
        w.u32(MAX_SIGNATURES as u32 + 1);
        let err =
            <BtcrCodec as Codec<PolkaCertificate<BtcrContext>>>::decode(&BtcrCodec, w.finish());
        assert!(matches!(err, Err(CodecError::TooLong { .. })), "{err:?}");
        // Unknown tags.
        let err = <BtcrCodec as Codec<ProposalPart>>::decode(&BtcrCodec, Bytes::from_static(&[9]));
        assert_eq!(err, Err(CodecError::UnknownTag { what: "proposal part", tag: 9 }));
        // A reversed sync range.
        let mut w = Writer::default();
        w.height(Height(9));
        w.height(Height(3));
        let err = <BtcrCodec as Codec<Request<BtcrContext>>>::decode(&BtcrCodec, w.finish());
        assert_eq!(err, Err(CodecError::Invalid("sync request range")));
    }
}
