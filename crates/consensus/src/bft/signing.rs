//! Signing and verifying consensus messages with a validator's secp256k1 key (ECDSA over
//! SHA-256 of the message's sign bytes, low-S, 64 bytes).

use async_trait::async_trait;
use malachitebft_app_channel::{
    Signer, Verifier,
    app::types::core::{
        PublicKey, SignedMessage, SignedProposal, SignedVote, SigningScheme, ValidatorProof,
        VoteExtensionScope,
    },
};
use malachitebft_signing::{Error, VerificationResult};

use super::context::{
    BftSignature, BtcrContext, Proposal, Scheme, ValidatorKey, ValidatorPrivateKey, Vote,
};

/// The bytes signed for a vote extension. BTCR sends none, but the engine's interface asks
/// for a way to sign them, bound to the precommit they ride on.
fn extension_sign_bytes(chain_id: u64, scope: &VoteExtensionScope<BtcrContext>) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(b"btcr/bft/extension\0");
    out.extend_from_slice(&chain_id.to_be_bytes());
    out.extend_from_slice(&scope.height.0.to_be_bytes());
    out.extend_from_slice(&scope.round.as_i64().to_be_bytes());
    out.extend_from_slice(scope.value_id.as_slice());
    out.extend_from_slice(scope.validator_address.0.as_slice());
    out
}

fn verdict(key: &ValidatorKey, bytes: &[u8], signature: &BftSignature) -> VerificationResult {
    VerificationResult::from_bool(key.verify(bytes, signature).is_ok())
}

/// Checks signatures on consensus messages of one chain.
#[derive(Clone, Copy, Debug)]
pub struct BtcrVerifier {
    chain_id: u64,
}

impl BtcrVerifier {
    /// A verifier for the chain `chain_id`.
    pub fn new(chain_id: u64) -> Self {
        Self { chain_id }
    }
}

#[async_trait]
impl Verifier<BtcrContext> for BtcrVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &BftSignature,
        public_key: &PublicKey<BtcrContext>,
    ) -> Result<VerificationResult, Error> {
        Ok(verdict(public_key, &vote.sign_bytes(self.chain_id), signature))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &BftSignature,
        public_key: &PublicKey<BtcrContext>,
    ) -> Result<VerificationResult, Error> {
        Ok(verdict(public_key, &proposal.sign_bytes(self.chain_id), signature))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<BtcrContext>,
        _extension: &(),
        signature: &BftSignature,
        public_key: &PublicKey<BtcrContext>,
    ) -> Result<VerificationResult, Error> {
        Ok(verdict(public_key, &extension_sign_bytes(self.chain_id, scope), signature))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<BtcrContext>,
    ) -> Result<VerificationResult, Error> {
        let key = Scheme::decode_public_key(&proof.public_key)
            .map_err(|e| Error::from_source(format!("validator proof public key: {e}")))?;
        Ok(verdict(&key, &proof.preimage(), &proof.signature))
    }
}

/// Signs consensus messages with one validator's key.
#[derive(Clone, Debug)]
pub struct BtcrSigner {
    key: ValidatorPrivateKey,
    chain_id: u64,
}

impl BtcrSigner {
    /// A signer with `key` for the chain `chain_id`.
    pub fn new(key: ValidatorPrivateKey, chain_id: u64) -> Self {
        Self { key, chain_id }
    }

    /// Signs raw sign bytes (a proposal's parts, for example).
    pub fn sign_bytes(&self, bytes: &[u8]) -> BftSignature {
        self.key.sign(bytes)
    }

    /// The validator's public key.
    pub fn public_key(&self) -> ValidatorKey {
        self.key.public_key()
    }
}

#[async_trait]
impl Signer<BtcrContext> for BtcrSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedVote<BtcrContext>, Error> {
        let signature = self.key.sign(&vote.sign_bytes(self.chain_id));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedProposal<BtcrContext>, Error> {
        let signature = self.key.sign(&proposal.sign_bytes(self.chain_id));
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<BtcrContext>,
        extension: (),
    ) -> Result<SignedMessage<BtcrContext, ()>, Error> {
        let signature = self.key.sign(&extension_sign_bytes(self.chain_id, &scope));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<BtcrContext>, Error> {
        let bytes = ValidatorProof::<BtcrContext>::signing_bytes(&public_key, &peer_id);
        let signature = self.key.sign(&bytes);
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;
    use malachitebft_app_channel::app::types::core::{NilOrVal, Round, VoteType};

    use super::*;
    use crate::bft::context::{Height, ValidatorAddress};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(f)
    }

    #[test]
    fn what_the_signer_signs_the_verifier_accepts_and_nothing_else() {
        block_on(async {
            let key = ValidatorPrivateKey::from_slice(&[5u8; 32]).unwrap();
            let public = key.public_key();
            let signer = BtcrSigner::new(key, 77);
            let verifier = BtcrVerifier::new(77);
            let me = ValidatorAddress::of(&public);
            let vote = Vote::new(VoteType::Prevote, Height(3), Round::new(1), NilOrVal::Nil, me);
            let signed = signer.sign_vote(vote.clone()).await.unwrap();
            assert!(
                verifier
                    .verify_signed_vote(&vote, &signed.signature, &public)
                    .await
                    .unwrap()
                    .is_valid()
            );
            // The same signature on another chain, or for another vote, is refused.
            let other_chain = BtcrVerifier::new(78);
            assert!(
                other_chain
                    .verify_signed_vote(&vote, &signed.signature, &public)
                    .await
                    .unwrap()
                    .is_invalid()
            );
            let other = Vote::new(VoteType::Precommit, Height(3), Round::new(1), NilOrVal::Nil, me);
            assert!(
                verifier
                    .verify_signed_vote(&other, &signed.signature, &public)
                    .await
                    .unwrap()
                    .is_invalid()
            );

            let proof = signer.sign_validator_proof(public.to_vec(), vec![1, 2, 3]).await.unwrap();
            assert!(verifier.verify_validator_proof(&proof).await.unwrap().is_valid());
            let mut forged = proof.clone();
            forged.peer_id = vec![1, 2, 4];
            assert!(verifier.verify_validator_proof(&forged).await.unwrap().is_invalid());

            let scope = VoteExtensionScope::new(Height(3), Round::new(0), B256::repeat_byte(1), me);
            let ext = signer.sign_vote_extension(scope.clone(), ()).await.unwrap();
            assert!(
                verifier
                    .verify_signed_vote_extension(&scope, &(), &ext.signature, &public)
                    .await
                    .unwrap()
                    .is_valid()
            );
        });
    }
}
