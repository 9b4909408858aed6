//! BTCR's types for the BFT engine: heights, validators and their stake-weighted set, the
//! value validators agree on (a block, named by its hash), proposals, proposal parts and
//! votes, and how each is signed. Validator keys are secp256k1, like account keys, so a
//! validator's address is the Ethereum address of its key.

use std::fmt;

use alloy_primitives::{Address, B256, keccak256};
use bytes::Bytes;
use malachitebft_app_channel::app::types::core::{
    self as bft, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower,
};
use malachitebft_signing_ecdsa::{K256, K256Config, PrivateKey, PublicKey, Signature};

/// The signing scheme of consensus messages: ECDSA over secp256k1.
pub type Scheme = K256;
/// A validator's consensus public key.
pub type ValidatorKey = PublicKey<K256Config>;
/// A validator's private consensus key.
pub type ValidatorPrivateKey = PrivateKey<K256Config>;
/// A signature over a consensus message.
pub type BftSignature = Signature<K256Config>;

/// A block height.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl bft::Height for Height {
    /// Genesis, which is never decided.
    const ZERO: Self = Self(0);
    /// The first height consensus decides.
    const INITIAL: Self = Self(1);

    fn increment_by(&self, n: u64) -> Self {
        Self(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Self)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: the Ethereum address of its secp256k1 key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorAddress(pub Address);

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl bft::Address for ValidatorAddress {}

impl ValidatorAddress {
    /// The address of `key`.
    pub fn of(key: &ValidatorKey) -> Self {
        Self(alloy_signer::utils::public_key_to_address(key.inner()))
    }
}

/// What validators agree on at a height: one block, named by its hash. The block itself
/// travels as proposal parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(pub B256);

impl bft::Value for BlockId {
    type Id = B256;

    fn id(&self) -> B256 {
        self.0
    }
}

/// A validator: its key, the address derived from it, and its voting power (its stake, or 1
/// for each validator in proof-of-authority mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    address: ValidatorAddress,
    public_key: ValidatorKey,
    voting_power: VotingPower,
}

impl Validator {
    /// A validator with `public_key` and `voting_power`.
    pub fn new(public_key: ValidatorKey, voting_power: VotingPower) -> Self {
        Self { address: ValidatorAddress::of(&public_key), public_key, voting_power }
    }
}

impl bft::Validator<BtcrContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &ValidatorKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// Why a validator set cannot be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    /// No validator with power above zero.
    #[error("a validator set needs at least one validator with voting power")]
    Empty,
    /// One key listed twice.
    #[error("validator {0} is listed twice")]
    Duplicate(Address),
    /// The powers add up past what votes can count.
    #[error("the total voting power overflows")]
    Overflow,
}

/// The validators of a height, in a canonical order (highest power first, then by address),
/// so that every node indexes them the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total: VotingPower,
}

impl ValidatorSet {
    /// The set of `validators`; those with zero power are left out.
    pub fn new(validators: impl IntoIterator<Item = Validator>) -> Result<Self, ValidatorSetError> {
        let mut validators: Vec<Validator> =
            validators.into_iter().filter(|v| v.voting_power > 0).collect();
        validators.sort_by(|a, b| {
            b.voting_power.cmp(&a.voting_power).then_with(|| a.address.cmp(&b.address))
        });
        for pair in validators.windows(2) {
            if pair[0].address == pair[1].address {
                return Err(ValidatorSetError::Duplicate(pair[0].address.0));
            }
        }
        // Sorting by power first can separate duplicates with different powers.
        let mut addresses: Vec<ValidatorAddress> = validators.iter().map(|v| v.address).collect();
        addresses.sort_unstable();
        if let Some(pair) = addresses.windows(2).find(|p| p[0] == p[1]) {
            return Err(ValidatorSetError::Duplicate(pair[0].0));
        }
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        let total = validators
            .iter()
            .try_fold(0u64, |sum, v| sum.checked_add(v.voting_power))
            .ok_or(ValidatorSetError::Overflow)?;
        Ok(Self { validators, total })
    }

    /// The validators in canonical order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The consensus key of the validator at `address`, if it is in the set.
    pub fn key_of(&self, address: &ValidatorAddress) -> Option<ValidatorKey> {
        self.validators.iter().find(|v| &v.address == address).map(|v| v.public_key.clone())
    }

    /// The validator proposing at `height` and `round`: drawn with probability proportional
    /// to voting power, from a seed every node derives alike.
    pub fn proposer(&self, height: Height, round: Round) -> &Validator {
        let mut seed = [0u8; 16];
        seed[..8].copy_from_slice(&height.0.to_be_bytes());
        seed[8..].copy_from_slice(&round.as_i64().to_be_bytes());
        let digest = keccak256(seed);
        let draw = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % self.total;
        let mut below = 0u64;
        for validator in &self.validators {
            below += validator.voting_power;
            if draw < below {
                return validator;
            }
        }
        // `draw` is below the total, which is the sum of every power.
        &self.validators[self.validators.len() - 1]
    }
}

impl bft::ValidatorSet<BtcrContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.total
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators.iter().find(|v| &v.address == address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// A proposal: the proposer offers `value` at `height` and `round`, re-proposing what was
/// locked in `pol_round` when that is not nil.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The proposed block.
    pub value: BlockId,
    /// The round of the proof of lock, or nil.
    pub pol_round: Round,
    /// The proposer.
    pub validator_address: ValidatorAddress,
}

impl Proposal {
    /// The bytes a proposer signs.
    pub fn sign_bytes(&self, chain_id: u64) -> Vec<u8> {
        let mut out = sign_bytes_start(b"btcr/bft/proposal", chain_id, self.height, self.round);
        out.extend_from_slice(self.value.0.as_slice());
        out.extend_from_slice(&self.pol_round.as_i64().to_be_bytes());
        out.extend_from_slice(self.validator_address.0.as_slice());
        out
    }
}

impl bft::Proposal<BtcrContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockId {
        &self.value
    }

    fn take_value(self) -> BlockId {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator_address
    }
}

/// The start of every signed consensus message: its kind (tags differ in content and end
/// with a separator, so no tag is a prefix of another's encoding), the chain, the height and
/// the round.
fn sign_bytes_start(tag: &[u8], chain_id: u64, height: Height, round: Round) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(tag);
    out.push(0);
    out.extend_from_slice(&chain_id.to_be_bytes());
    out.extend_from_slice(&height.0.to_be_bytes());
    out.extend_from_slice(&round.as_i64().to_be_bytes());
    out
}

/// A piece of a proposed block as it streams to the other validators: a header saying
/// whose proposal follows, chunks of the encoded block, and the proposer's signature over
/// everything before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    /// The first part.
    Init {
        /// The height.
        height: Height,
        /// The round.
        round: Round,
        /// The proposer.
        proposer: ValidatorAddress,
        /// The round of the proof of lock, or nil.
        pol_round: Round,
    },
    /// A chunk of the encoded block.
    Data(Bytes),
    /// The last part: the proposer's signature over the parts before it.
    Fin(BftSignature),
}

impl bft::ProposalPart<BtcrContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, Self::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, Self::Fin(_))
    }
}

/// A prevote or precommit for a block, or for nil.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<B256>,
    /// The voter.
    pub validator_address: ValidatorAddress,
    /// BTCR does not use vote extensions; kept for the engine's interface.
    pub extension: Option<SignedExtension<BtcrContext>>,
}

impl Vote {
    /// A vote without an extension.
    pub fn new(
        vote_type: VoteType,
        height: Height,
        round: Round,
        value: NilOrVal<B256>,
        validator_address: ValidatorAddress,
    ) -> Self {
        Self { vote_type, height, round, value, validator_address, extension: None }
    }

    /// The bytes a validator signs. Two different votes of one validator at one height and
    /// round always differ here, which is what makes a double vote provable.
    pub fn sign_bytes(&self, chain_id: u64) -> Vec<u8> {
        let tag: &[u8] = match self.vote_type {
            VoteType::Prevote => b"btcr/bft/prevote",
            VoteType::Precommit => b"btcr/bft/precommit",
        };
        let mut out = sign_bytes_start(tag, chain_id, self.height, self.round);
        match &self.value {
            NilOrVal::Nil => out.push(0),
            NilOrVal::Val(hash) => {
                out.push(1);
                out.extend_from_slice(hash.as_slice());
            }
        }
        out.extend_from_slice(self.validator_address.0.as_slice());
        out
    }
}

impl bft::Vote<BtcrContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<B256> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<B256> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator_address
    }

    fn extension(&self) -> Option<&SignedExtension<BtcrContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<BtcrContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<BtcrContext>) -> Self {
        Self { extension: Some(extension), ..self }
    }
}

/// BTCR's consensus context: the types above, for one chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtcrContext {
    /// Signatures commit to the chain id, so that votes cannot be replayed on another chain.
    pub chain_id: u64,
}

impl bft::Context for BtcrContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Scheme;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        validator_set.proposer(height, round)
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        address: ValidatorAddress,
    ) -> Proposal {
        Proposal { height, round, value, pol_round, validator_address: address }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<B256>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote::new(VoteType::Prevote, height, round, value_id, address)
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<B256>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote::new(VoteType::Precommit, height, round, value_id, address)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bft::{Context, Height as _, ValidatorSet as _};
    use btcr_crypto::SecretKey;

    use super::*;

    fn key(secret: &SecretKey) -> ValidatorPrivateKey {
        ValidatorPrivateKey::from_slice(secret.to_bytes().as_slice()).expect("valid key")
    }

    #[test]
    fn a_validator_address_is_the_account_address_of_the_same_key() {
        let secret = SecretKey::random();
        let validator = Validator::new(key(&secret).public_key(), 5);
        assert_eq!(bft::Validator::address(&validator).0, secret.address());
    }

    #[test]
    fn heights_step_without_wrapping() {
        assert_eq!(Height(7).increment(), Height(8));
        assert_eq!(Height(0).decrement(), None);
        assert_eq!(Height(u64::MAX).increment(), Height(u64::MAX));
        assert_eq!(Height(9).decrement_by(4), Some(Height(5)));
    }

    #[test]
    fn the_set_is_canonical_and_refuses_bad_input() {
        let keys: Vec<ValidatorPrivateKey> = (0..4).map(|_| key(&SecretKey::random())).collect();
        let validators: Vec<Validator> = keys
            .iter()
            .zip([10, 40, 10, 0])
            .map(|(k, p)| Validator::new(k.public_key(), p))
            .collect();
        let a = ValidatorSet::new(validators.clone()).unwrap();
        let b = ValidatorSet::new(validators.iter().rev().cloned()).unwrap();
        assert_eq!(a, b, "input order does not matter");
        assert_eq!(a.count(), 3, "zero power is left out");
        assert_eq!(a.total_voting_power(), 60);
        assert_eq!(a.get_by_index(0).map(|v| v.voting_power), Some(40));
        let third = a.get_by_index(2).unwrap();
        assert_eq!(a.get_by_address(&third.address), Some(third));

        let twice =
            [Validator::new(keys[0].public_key(), 1), Validator::new(keys[0].public_key(), 2)];
        assert_eq!(
            ValidatorSet::new(twice),
            Err(ValidatorSetError::Duplicate(validators[0].address.0))
        );
        assert_eq!(ValidatorSet::new([validators[3].clone()]), Err(ValidatorSetError::Empty));
        let huge = [
            Validator::new(keys[0].public_key(), u64::MAX),
            Validator::new(keys[1].public_key(), 1),
        ];
        assert_eq!(ValidatorSet::new(huge), Err(ValidatorSetError::Overflow));
    }

    #[test]
    fn proposers_are_drawn_by_power_and_alike_everywhere() {
        let validators: Vec<Validator> = [1u64, 1, 2, 4]
            .into_iter()
            .map(|p| Validator::new(key(&SecretKey::random()).public_key(), p))
            .collect();
        let set = ValidatorSet::new(validators).unwrap();
        let ctx = BtcrContext { chain_id: 1 };
        let mut counts: HashMap<ValidatorAddress, u64> = HashMap::new();
        let n = 8_000u64;
        for h in 0..n {
            let chosen = ctx.select_proposer(&set, Height(h), Round::new(0));
            assert_eq!(chosen, set.proposer(Height(h), Round::new(0)), "deterministic");
            *counts.entry(chosen.address).or_default() += 1;
        }
        for v in set.validators() {
            let expected = n * v.voting_power / set.total_voting_power();
            let got = counts.get(&v.address).copied().unwrap_or(0);
            assert!(
                got.abs_diff(expected) < expected / 5,
                "power {} proposed {got} times, expected about {expected}",
                v.voting_power
            );
        }
        // A new round at the same height moves the proposer on (for some height, at least).
        assert!((0..32).any(|h| {
            set.proposer(Height(h), Round::new(0)) != set.proposer(Height(h), Round::new(1))
        }));
    }

    #[test]
    fn votes_sign_and_verify_and_differ_where_they_must() {
        let secret = SecretKey::random();
        let private = key(&secret);
        let public = private.public_key();
        let ctx = BtcrContext { chain_id: 1337 };
        let me = ValidatorAddress::of(&public);
        let block = B256::repeat_byte(3);
        let prevote = ctx.new_prevote(Height(5), Round::new(0), NilOrVal::Val(block), me);
        let signature = private.sign(&prevote.sign_bytes(ctx.chain_id));
        assert!(public.verify(&prevote.sign_bytes(ctx.chain_id), &signature).is_ok());

        let precommit = ctx.new_precommit(Height(5), Round::new(0), NilOrVal::Val(block), me);
        let nil = ctx.new_prevote(Height(5), Round::new(0), NilOrVal::Nil, me);
        let other_block =
            ctx.new_prevote(Height(5), Round::new(0), NilOrVal::Val(B256::repeat_byte(4)), me);
        let other_round = ctx.new_prevote(Height(5), Round::new(1), NilOrVal::Val(block), me);
        for other in [&precommit, &nil, &other_block, &other_round] {
            assert_ne!(other.sign_bytes(ctx.chain_id), prevote.sign_bytes(ctx.chain_id));
            assert!(public.verify(&other.sign_bytes(ctx.chain_id), &signature).is_err());
        }
        // Another chain's vote is another message.
        assert!(public.verify(&prevote.sign_bytes(1), &signature).is_err());
        // Another key's signature does not verify.
        let stranger = key(&SecretKey::random());
        let forged = stranger.sign(&prevote.sign_bytes(ctx.chain_id));
        assert!(public.verify(&prevote.sign_bytes(ctx.chain_id), &forged).is_err());
    }

    #[test]
    fn proposal_parts_mark_their_ends() {
        use bft::ProposalPart as _;
        let first = ProposalPart::Init {
            height: Height(1),
            round: Round::new(0),
            proposer: ValidatorAddress(Address::ZERO),
            pol_round: Round::Nil,
        };
        let data = ProposalPart::Data(Bytes::from_static(b"block"));
        let last = ProposalPart::Fin(key(&SecretKey::random()).sign(b"parts"));
        assert!(first.is_first() && !first.is_last());
        assert!(!data.is_first() && !data.is_last());
        assert!(last.is_last() && !last.is_first());
    }
}
