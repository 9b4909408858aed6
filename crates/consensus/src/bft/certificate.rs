//! Commit certificates as the node stores them: the precommit signatures of validators
//! holding more than two thirds of the voting power. The single-validator engine signs the
//! same precommit, so every certificate on every BTCR chain is checked the same way.

use alloy_primitives::{B256, Bytes};
use btcr_crypto::SecretKey;
use btcr_primitives::{
    CommitCertificate, GenesisValidator, Misbehavior, MisbehaviorKind, SignedValue,
    ValidatorSignature,
};
use malachitebft_app_channel::app::types::core::{
    NilOrVal, Round, SignedProposal, SignedVote, VoteType,
};

use super::context::{
    BftSignature, BlockId, BtcrContext, Height, Proposal, Validator, ValidatorAddress,
    ValidatorKey, ValidatorPrivateKey, ValidatorSet, Vote,
};
use super::parts::{ProposalInit, parts_sign_bytes};

/// The BFT form of an account key (both are secp256k1 keys).
pub fn consensus_key(key: &SecretKey) -> ValidatorPrivateKey {
    ValidatorPrivateKey::from_slice(key.to_bytes().as_slice())
        .expect("a valid secp256k1 secret is a valid consensus key")
}

fn precommit_bytes(
    chain_id: u64,
    height: u64,
    round: u32,
    hash: B256,
    who: ValidatorAddress,
) -> Vec<u8> {
    Vote::new(VoteType::Precommit, Height(height), Round::new(round), NilOrVal::Val(hash), who)
        .sign_bytes(chain_id)
}

/// The signature `key` contributes to the certificate of `block_hash`: its precommit.
pub fn sign_commit(
    key: &SecretKey,
    chain_id: u64,
    height: u64,
    round: u32,
    block_hash: B256,
) -> ValidatorSignature {
    let private = consensus_key(key);
    let who = ValidatorAddress::of(&private.public_key());
    let signature = private.sign(&precommit_bytes(chain_id, height, round, block_hash, who));
    ValidatorSignature { validator: who.0, signature: Bytes::from(signature.to_vec()) }
}

/// What `key` signs at the end of its proposal stream for the block hashed `data_hash` at
/// `height` and `round` (with no proof-of-lock round), as evidence carries it: for tools and
/// tests that build `double-proposal-parts` evidence outside the engine.
pub fn sign_proposal_stream(
    key: &SecretKey,
    chain_id: u64,
    height: u64,
    round: u32,
    data_hash: B256,
) -> SignedValue {
    let private = consensus_key(key);
    let proposer = ValidatorAddress::of(&private.public_key());
    let init = ProposalInit {
        height: Height(height),
        round: Round::new(round),
        proposer,
        pol_round: Round::Nil,
    };
    let signature = private.sign(&parts_sign_bytes(chain_id, &init, &data_hash));
    signed_value(NilOrVal::Val(data_hash), Round::Nil, &signature)
}

/// Why a certificate does not prove a decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// A signer is not in the validator set.
    #[error("{0} is not a validator")]
    NotAValidator(alloy_primitives::Address),
    /// A validator signed twice.
    #[error("{0} signed twice")]
    Duplicate(alloy_primitives::Address),
    /// A signature does not verify.
    #[error("bad signature from {0}")]
    BadSignature(alloy_primitives::Address),
    /// The signers hold two thirds of the power or less.
    #[error("signers hold {signed} of {total} voting power, not more than two thirds")]
    NotEnoughPower {
        /// Power that signed.
        signed: u64,
        /// Total power.
        total: u64,
    },
}

/// Checks that `certificate` holds valid precommits from more than two thirds of `set`.
pub fn verify_certificate(
    chain_id: u64,
    certificate: &CommitCertificate,
    set: &ValidatorSet,
) -> Result<(), CertificateError> {
    use malachitebft_app_channel::app::types::core::{Validator as _, ValidatorSet as _};
    let mut seen = std::collections::HashSet::new();
    let mut signed = 0u64;
    for s in &certificate.signatures {
        let who = ValidatorAddress(s.validator);
        let validator =
            set.get_by_address(&who).ok_or(CertificateError::NotAValidator(s.validator))?;
        if !seen.insert(s.validator) {
            return Err(CertificateError::Duplicate(s.validator));
        }
        let bytes = precommit_bytes(
            chain_id,
            certificate.height,
            certificate.round,
            certificate.block_hash,
            who,
        );
        let signature = BftSignature::from_slice(&s.signature)
            .map_err(|_| CertificateError::BadSignature(s.validator))?;
        validator
            .public_key()
            .verify(&bytes, &signature)
            .map_err(|_| CertificateError::BadSignature(s.validator))?;
        signed += validator.voting_power();
    }
    let total = set.total_voting_power();
    // More than two thirds, without overflow: 3 * signed > 2 * total.
    if u128::from(signed) * 3 <= u128::from(total) * 2 {
        return Err(CertificateError::NotEnoughPower { signed, total });
    }
    Ok(())
}

fn signed_value(value: NilOrVal<B256>, pol_round: Round, signature: &BftSignature) -> SignedValue {
    SignedValue {
        value: match value {
            NilOrVal::Nil => B256::ZERO,
            NilOrVal::Val(v) => v,
        },
        pol_round: pol_round.as_u32().map_or(0, |r| u64::from(r) + 1),
        signature: Bytes::from(signature.to_vec()),
    }
}

/// Evidence from two conflicting votes of one validator.
pub fn double_vote(
    first: &SignedVote<BtcrContext>,
    second: &SignedVote<BtcrContext>,
) -> Misbehavior {
    let vote = &first.message;
    Misbehavior {
        validator: vote.validator_address.0,
        height: vote.height.0,
        round: vote.round.as_u32().unwrap_or(0),
        kind: match vote.vote_type {
            VoteType::Prevote => MisbehaviorKind::DoublePrevote,
            VoteType::Precommit => MisbehaviorKind::DoublePrecommit,
        },
        first: signed_value(first.message.value, Round::Nil, &first.signature),
        second: signed_value(second.message.value, Round::Nil, &second.signature),
    }
}

/// Evidence from two conflicting proposals of one validator.
pub fn double_proposal(
    first: &SignedProposal<BtcrContext>,
    second: &SignedProposal<BtcrContext>,
) -> Misbehavior {
    let proposal = &first.message;
    let value = |p: &Proposal| NilOrVal::Val(p.value.0);
    Misbehavior {
        validator: proposal.validator_address.0,
        height: proposal.height.0,
        round: proposal.round.as_u32().unwrap_or(0),
        kind: MisbehaviorKind::DoubleProposal,
        first: signed_value(value(&first.message), first.message.pol_round, &first.signature),
        second: signed_value(value(&second.message), second.message.pol_round, &second.signature),
    }
}

/// Evidence from two proposal streams of one validator for one height and round, told apart
/// by what their `Fin` parts signed: the hash of the block and the proof-of-lock round.
pub fn double_proposal_parts(
    first: (&ProposalInit, B256, &BftSignature),
    second: (&ProposalInit, B256, &BftSignature),
) -> Misbehavior {
    let init = first.0;
    let message = |(init, hash, signature): (&ProposalInit, B256, &BftSignature)| {
        signed_value(NilOrVal::Val(hash), init.pol_round, signature)
    };
    Misbehavior {
        validator: init.proposer.0,
        height: init.height.0,
        round: init.round.as_u32().unwrap_or(0),
        kind: MisbehaviorKind::DoubleProposalParts,
        first: message(first),
        second: message(second),
    }
}

/// The proof-of-lock round a [`SignedValue`] encodes (its round plus one, zero for none).
fn pol_round_of(m: &SignedValue) -> Round {
    match m.pol_round {
        0 => Round::Nil,
        n => Round::new(u32::try_from(n - 1).unwrap_or(u32::MAX)),
    }
}

/// The sign bytes of one message of `evidence`.
fn misbehavior_sign_bytes(chain_id: u64, evidence: &Misbehavior, m: &SignedValue) -> Vec<u8> {
    let who = ValidatorAddress(evidence.validator);
    let (height, round) = (Height(evidence.height), Round::new(evidence.round));
    let vote = |t| {
        let value = if m.value == B256::ZERO { NilOrVal::Nil } else { NilOrVal::Val(m.value) };
        Vote::new(t, height, round, value, who).sign_bytes(chain_id)
    };
    match evidence.kind {
        MisbehaviorKind::DoublePrevote => vote(VoteType::Prevote),
        MisbehaviorKind::DoublePrecommit => vote(VoteType::Precommit),
        MisbehaviorKind::DoubleProposal => {
            let pol_round = pol_round_of(m);
            Proposal { height, round, value: BlockId(m.value), pol_round, validator_address: who }
                .sign_bytes(chain_id)
        }
        MisbehaviorKind::DoubleProposalParts => {
            let init = ProposalInit { height, round, proposer: who, pol_round: pol_round_of(m) };
            parts_sign_bytes(chain_id, &init, &m.value)
        }
    }
}

/// Checks evidence: two different messages of one kind, height and round, both signed by
/// `key` (the key of `evidence.validator`).
pub fn verify_misbehavior(
    chain_id: u64,
    evidence: &Misbehavior,
    key: &ValidatorKey,
) -> Result<(), String> {
    if ValidatorAddress::of(key).0 != evidence.validator {
        return Err("the key is not the validator's".into());
    }
    let first = misbehavior_sign_bytes(chain_id, evidence, &evidence.first);
    let second = misbehavior_sign_bytes(chain_id, evidence, &evidence.second);
    if first == second {
        return Err("the two messages are the same".into());
    }
    for (bytes, m) in [(first, &evidence.first), (second, &evidence.second)] {
        let signature = BftSignature::from_slice(&m.signature)
            .map_err(|_| "a signature is malformed".to_owned())?;
        key.verify(&bytes, &signature).map_err(|_| "a signature does not verify".to_owned())?;
    }
    Ok(())
}

/// The consensus set of a list of validators (the genesis file's, or the staking contract's):
/// each key decoded and checked against its address.
pub fn validator_set(validators: &[GenesisValidator]) -> Result<ValidatorSet, String> {
    let mut set = Vec::with_capacity(validators.len());
    for v in validators {
        let key = ValidatorKey::from_sec1_bytes(&v.public_key)
            .map_err(|_| format!("validator {}: publicKey is not a secp256k1 key", v.address))?;
        if ValidatorAddress::of(&key).0 != v.address {
            return Err(format!("validator {}: publicKey belongs to another address", v.address));
        }
        set.push(Validator::new(key, v.power));
    }
    ValidatorSet::new(set).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use malachitebft_app_channel::app::types::core::SignedMessage;

    use super::*;

    use crate::bft::test_validators as genesis;

    #[test]
    fn a_certificate_needs_more_than_two_thirds_of_valid_signatures() {
        let keys: Vec<SecretKey> = (0..4).map(|_| SecretKey::random()).collect();
        let set = validator_set(&genesis(&keys)).unwrap();
        let hash = B256::repeat_byte(7);
        let certificate = |signers: &[&SecretKey]| CommitCertificate {
            height: 9,
            round: 1,
            block_hash: hash,
            signatures: signers.iter().map(|k| sign_commit(k, 5, 9, 1, hash)).collect(),
        };
        assert_eq!(
            verify_certificate(5, &certificate(&[&keys[0], &keys[1], &keys[2]]), &set),
            Ok(())
        );
        assert_eq!(
            verify_certificate(5, &certificate(&[&keys[0], &keys[1]]), &set),
            Err(CertificateError::NotEnoughPower { signed: 2, total: 4 })
        );
        assert_eq!(
            verify_certificate(5, &certificate(&[&keys[0], &keys[1], &keys[1]]), &set),
            Err(CertificateError::Duplicate(keys[1].address()))
        );
        let stranger = SecretKey::random();
        assert_eq!(
            verify_certificate(5, &certificate(&[&keys[0], &keys[1], &stranger]), &set),
            Err(CertificateError::NotAValidator(stranger.address()))
        );
        // Signed on another chain, or for another round.
        assert!(
            verify_certificate(6, &certificate(&[&keys[0], &keys[1], &keys[2]]), &set).is_err()
        );
        let mut other_round = certificate(&[&keys[0], &keys[1], &keys[2]]);
        other_round.round = 0;
        assert!(verify_certificate(5, &other_round, &set).is_err());
    }

    #[test]
    fn double_signing_evidence_verifies_and_forgeries_do_not() {
        let secret = SecretKey::random();
        let key = consensus_key(&secret);
        let public = key.public_key();
        let me = ValidatorAddress::of(&public);
        let vote = |value| {
            let v = Vote::new(VoteType::Prevote, Height(4), Round::new(1), value, me);
            let signature = key.sign(&v.sign_bytes(9));
            SignedMessage::new(v, signature)
        };
        let evidence =
            double_vote(&vote(NilOrVal::Val(B256::repeat_byte(1))), &vote(NilOrVal::Nil));
        assert_eq!(evidence.kind, MisbehaviorKind::DoublePrevote);
        assert_eq!(verify_misbehavior(9, &evidence, &public), Ok(()));
        assert!(verify_misbehavior(10, &evidence, &public).is_err(), "another chain");
        let mut same = evidence.clone();
        same.second = same.first.clone();
        assert!(verify_misbehavior(9, &same, &public).is_err(), "one message twice");
        let mut forged = evidence.clone();
        forged.second.value = B256::repeat_byte(7);
        assert!(verify_misbehavior(9, &forged, &public).is_err());
        let stranger = consensus_key(&SecretKey::random()).public_key();
        assert!(verify_misbehavior(9, &evidence, &stranger).is_err());

        let proposal = |byte, pol_round| {
            let p = Proposal {
                height: Height(4),
                round: Round::new(0),
                value: BlockId(B256::repeat_byte(byte)),
                pol_round,
                validator_address: me,
            };
            let signature = key.sign(&p.sign_bytes(9));
            SignedMessage::new(p, signature)
        };
        let evidence = double_proposal(&proposal(1, Round::Nil), &proposal(2, Round::new(0)));
        assert_eq!(evidence.kind, MisbehaviorKind::DoubleProposal);
        assert_eq!(verify_misbehavior(9, &evidence, &public), Ok(()));
    }

    #[test]
    fn genesis_keys_must_match_their_addresses() {
        let keys: Vec<SecretKey> = (0..2).map(|_| SecretKey::random()).collect();
        let mut validators = genesis(&keys);
        assert!(validator_set(&validators).is_ok());
        validators[0].public_key = validators[1].public_key.clone();
        assert!(validator_set(&validators).unwrap_err().contains("another address"));
        validators[0].public_key = vec![9u8; 33].into();
        assert!(validator_set(&validators).unwrap_err().contains("not a secp256k1 key"));
    }
}
