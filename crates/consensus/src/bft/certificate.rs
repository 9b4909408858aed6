//! Commit certificates as the node stores them: the precommit signatures of validators
//! holding more than two thirds of the voting power. The single-validator engine signs the
//! same precommit, so every certificate on every BTCR chain is checked the same way.

use alloy_primitives::{B256, Bytes};
use btcr_crypto::SecretKey;
use btcr_primitives::{CommitCertificate, GenesisValidator, ValidatorSignature};
use malachitebft_app_channel::app::types::core::{NilOrVal, Round, VoteType};

use super::context::{
    BftSignature, Height, Validator, ValidatorAddress, ValidatorKey, ValidatorPrivateKey,
    ValidatorSet, Vote,
};

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

/// The validator set a genesis file names: each key decoded and checked against its address.
pub fn genesis_validator_set(validators: &[GenesisValidator]) -> Result<ValidatorSet, String> {
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
    use super::*;

    fn genesis(keys: &[SecretKey]) -> Vec<GenesisValidator> {
        keys.iter()
            .map(|k| GenesisValidator {
                address: k.address(),
                public_key: k.public_key().to_vec().into(),
                power: 1,
            })
            .collect()
    }

    #[test]
    fn a_certificate_needs_more_than_two_thirds_of_valid_signatures() {
        let keys: Vec<SecretKey> = (0..4).map(|_| SecretKey::random()).collect();
        let set = genesis_validator_set(&genesis(&keys)).unwrap();
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
    fn genesis_keys_must_match_their_addresses() {
        let keys: Vec<SecretKey> = (0..2).map(|_| SecretKey::random()).collect();
        let mut validators = genesis(&keys);
        assert!(genesis_validator_set(&validators).is_ok());
        validators[0].public_key = validators[1].public_key.clone();
        assert!(genesis_validator_set(&validators).unwrap_err().contains("another address"));
        validators[0].public_key = vec![9u8; 33].into();
        assert!(genesis_validator_set(&validators).unwrap_err().contains("not a secp256k1 key"));
    }
}
