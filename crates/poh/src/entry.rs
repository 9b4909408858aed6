//! PoH entries and the hash functions that both the generator and the verifier run.

use alloy_primitives::{B256, keccak256};
use alloy_rlp::{RlpDecodable, RlpEncodable};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One step of a block's PoH chain.
///
/// Starting from the previous entry's `hash` (or the block's start hash) apply `num_hashes`
/// SHA-256 hashes. For a mixin entry (`n_transactions > 0`) the last of them is
/// `sha256(prev || batch_hash(next n_transactions tx hashes))`; for a tick entry all of them
/// are plain `sha256(prev)`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PohEntry {
    /// Hashes since the previous entry, the mixin hash included.
    pub num_hashes: u64,
    /// The chain's hash after this entry.
    pub hash: B256,
    /// Transactions mixed in by this entry; 0 marks a tick.
    pub n_transactions: u32,
}

impl PohEntry {
    /// Whether this entry is a tick (mixes in no transactions).
    pub fn is_tick(&self) -> bool {
        self.n_transactions == 0
    }
}

/// What a header commits its block's entries to: keccak256 of their RLP list. A node that
/// holds a block certified by the validators compares the entries with it instead of
/// re-hashing their chains (see [`crate::verify_structure`]).
pub fn entries_root(entries: &[PohEntry]) -> B256 {
    let mut out = Vec::with_capacity(alloy_rlp::list_length(entries));
    alloy_rlp::encode_list::<_, PohEntry>(entries, &mut out);
    keccak256(out)
}

/// The value a batch of transactions mixes into the chain: sha256 of their hashes
/// concatenated in execution order.
pub fn batch_hash(tx_hashes: &[B256]) -> B256 {
    let mut hasher = Sha256::new();
    for tx_hash in tx_hashes {
        hasher.update(tx_hash);
    }
    B256::from(<[u8; 32]>::from(hasher.finalize()))
}

/// Applies `n` plain hashes to `hash` in place: the hot loop of both generation and
/// verification, kept to one `Sha256::digest` of a 32-byte stack buffer per step.
#[inline]
pub(crate) fn hash_n(hash: &mut [u8; 32], n: u64) {
    // A local copy lets the chain live in registers instead of going through the reference.
    let mut local = *hash;
    for _ in 0..n {
        local = Sha256::digest(local).into();
    }
    *hash = local;
}

/// `sha256(prev || mixin)`.
pub(crate) fn hash_mixin(prev: &[u8; 32], mixin: &B256) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(mixin);
    hasher.finalize().into()
}

/// The hash an entry must carry given the previous hash: `num_hashes` hashes, the last one
/// mixing in `mixin` if there is one. A mixin with `num_hashes == 0` is still applied; the
/// verifier rejects such entries before it gets here.
pub fn next_hash(prev: B256, num_hashes: u64, mixin: Option<B256>) -> B256 {
    let mut hash = prev.0;
    match mixin {
        Some(mixin) => {
            hash_n(&mut hash, num_hashes.saturating_sub(1));
            hash = hash_mixin(&hash, &mixin);
        }
        None => hash_n(&mut hash, num_hashes),
    }
    B256::from(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_rlp::{Decodable, Encodable};

    #[test]
    fn next_hash_matches_definition() {
        let start = B256::repeat_byte(1);
        let once = B256::from(<[u8; 32]>::from(Sha256::digest(start)));
        let twice = B256::from(<[u8; 32]>::from(Sha256::digest(once)));
        assert_eq!(next_hash(start, 0, None), start);
        assert_eq!(next_hash(start, 2, None), twice);

        let mixin = B256::repeat_byte(2);
        let mut concat = once.to_vec();
        concat.extend_from_slice(mixin.as_slice());
        let mixed = B256::from(<[u8; 32]>::from(Sha256::digest(&concat)));
        assert_eq!(next_hash(start, 2, Some(mixin)), mixed);
    }

    #[test]
    fn batch_hash_is_sha256_of_concatenation() {
        let txs = [B256::repeat_byte(3), B256::repeat_byte(4)];
        let concat = [txs[0].as_slice(), txs[1].as_slice()].concat();
        assert_eq!(batch_hash(&txs).0, <[u8; 32]>::from(Sha256::digest(&concat)));
    }

    #[test]
    fn entry_rlp_roundtrip() {
        let entry = PohEntry { num_hashes: 12_500, hash: B256::repeat_byte(9), n_transactions: 3 };
        let mut buf = Vec::new();
        entry.encode(&mut buf);
        assert_eq!(PohEntry::decode(&mut buf.as_slice()).unwrap(), entry);
    }
}
