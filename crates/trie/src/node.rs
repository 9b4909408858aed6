//! Tree nodes, their hashes, their positions and their encodings.

use std::fmt;

use alloy_primitives::{Address, B256};
use sha2::{Digest, Sha256};

use crate::TrieError;

/// Root of an empty tree.
pub const EMPTY_ROOT: B256 = B256::ZERO;

/// Names one tree in the shared node table: the account tree, or one account's storage tree.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreeId(pub [u8; 21]);

impl TreeId {
    /// The tree of all accounts.
    pub const ACCOUNTS: Self = Self([0; 21]);

    /// The storage tree of the account at `address`.
    pub fn storage(address: Address) -> Self {
        let mut id = [0u8; 21];
        id[0] = 1;
        id[1..].copy_from_slice(address.as_slice());
        Self(id)
    }
}

impl fmt::Debug for TreeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::ACCOUNTS {
            write!(f, "accounts")
        } else {
            write!(f, "storage:{}", Address::from_slice(&self.0[1..]))
        }
    }
}

/// The position of a node: which tree, the key bits that lead to it (bits at and below
/// `depth` are zero), and how deep. Ordered by tree, then path, then depth: one tree's nodes
/// are contiguous, and a node sorts next to the nodes of its own subtree, so the nodes that
/// one changed key rewrites share few store pages.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeKey {
    /// The tree.
    pub tree: TreeId,
    /// The first `depth` bits of every key below this position.
    pub path: B256,
    /// Depth from the root (0..=256).
    pub depth: u16,
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{}/{}", self.tree, self.depth, self.path)
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl NodeKey {
    /// Length of [`NodeKey::to_bytes`].
    pub const ENCODED_LEN: usize = 21 + 2 + 32;

    /// The root position of `tree`.
    pub fn root(tree: TreeId) -> Self {
        Self { tree, depth: 0, path: B256::ZERO }
    }

    /// The position of this node's child on side `bit` (0 left, 1 right).
    pub fn child(&self, bit: u8) -> Self {
        let mut path = self.path;
        let d = self.depth as usize;
        if bit == 1 {
            path[d / 8] |= 1 << (7 - (d % 8));
        }
        Self { tree: self.tree, depth: self.depth + 1, path }
    }

    /// Big-endian encoding: tree, path, depth. Byte order matches `Ord`, so a range scan over
    /// one tree's prefix finds exactly its nodes.
    pub fn to_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..21].copy_from_slice(&self.tree.0);
        out[21..53].copy_from_slice(self.path.as_slice());
        out[53..].copy_from_slice(&self.depth.to_be_bytes());
        out
    }

    /// Decodes [`NodeKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_LEN {
            return None;
        }
        let mut tree = [0u8; 21];
        tree.copy_from_slice(&bytes[..21]);
        let depth = u16::from_be_bytes([bytes[53], bytes[54]]);
        Some(Self { tree: TreeId(tree), path: B256::from_slice(&bytes[21..53]), depth })
    }
}

/// A stored node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Node {
    /// The only key in its subtree, with the hash of its value.
    Leaf {
        /// The full 256-bit key.
        key: B256,
        /// Hash (or, for storage, the value itself) committed for the key.
        value: B256,
    },
    /// A subtree with at least two keys: the hashes of its halves ([`EMPTY_ROOT`] if empty).
    Internal {
        /// Hash of the subtree whose next key bit is 0.
        left: B256,
        /// Hash of the subtree whose next key bit is 1.
        right: B256,
    },
}

/// Hash of a leaf: `sha256(0x00 ‖ key ‖ value)`. The tree hashes with SHA-256 because the
/// CPU computes it in hardware, several times faster than keccak256 in software, and a block
/// hashes every node on the paths it changes.
pub fn leaf_hash(key: &B256, value: &B256) -> B256 {
    tagged_hash(0, key, value)
}

/// Hash of an internal node: `sha256(0x01 ‖ left ‖ right)`.
pub fn internal_hash(left: &B256, right: &B256) -> B256 {
    tagged_hash(1, left, right)
}

fn tagged_hash(tag: u8, a: &B256, b: &B256) -> B256 {
    let mut buf = [0u8; 65];
    buf[0] = tag;
    buf[1..33].copy_from_slice(a.as_slice());
    buf[33..].copy_from_slice(b.as_slice());
    B256::from(<[u8; 32]>::from(Sha256::digest(buf)))
}

/// Node positions are mostly hash output already, so a multiply-and-rotate fold is enough to
/// spread them in hash maps, several times cheaper than the default SipHash.
#[derive(Default, Clone, Copy)]
pub struct FoldHasher(u64);

impl std::hash::Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        // A final avalanche: hash maps index buckets by the low bits, which the multiplies
        // above mix poorly (trailing path bytes are zero for all but the deepest nodes).
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
}

/// A hash map keyed by node position.
pub type NodeMap<V> =
    std::collections::HashMap<NodeKey, V, std::hash::BuildHasherDefault<FoldHasher>>;

impl Node {
    /// Length of [`Node::encode`].
    pub const ENCODED_LEN: usize = 65;

    /// The node's hash.
    pub fn hash(&self) -> B256 {
        match self {
            Self::Leaf { key, value } => leaf_hash(key, value),
            Self::Internal { left, right } => internal_hash(left, right),
        }
    }

    /// Tag byte (0 leaf, 1 internal) followed by the two 32-byte fields.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        let (tag, a, b) = match self {
            Self::Leaf { key, value } => (0, key, value),
            Self::Internal { left, right } => (1, left, right),
        };
        out[0] = tag;
        out[1..33].copy_from_slice(a.as_slice());
        out[33..].copy_from_slice(b.as_slice());
        out
    }

    /// Decodes [`Node::encode`]; `key` only names the position in the error.
    pub fn decode(key: &NodeKey, bytes: &[u8]) -> Result<Self, TrieError> {
        let corrupt = |reason| TrieError::Corrupt { key: key.to_string(), reason };
        if bytes.len() != Self::ENCODED_LEN {
            return Err(corrupt("wrong length"));
        }
        let a = B256::from_slice(&bytes[1..33]);
        let b = B256::from_slice(&bytes[33..]);
        match bytes[0] {
            0 => Ok(Self::Leaf { key: a, value: b }),
            1 => Ok(Self::Internal { left: a, right: b }),
            _ => Err(corrupt("unknown tag")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_node_encodings_roundtrip() {
        let k = NodeKey::root(TreeId::storage(Address::repeat_byte(7))).child(1).child(0).child(1);
        assert_eq!(k.depth, 3);
        assert_eq!(k.path[0], 0b1010_0000);
        assert_eq!(NodeKey::from_bytes(&k.to_bytes()), Some(k));
        for n in [
            Node::Leaf { key: B256::repeat_byte(1), value: B256::repeat_byte(2) },
            Node::Internal { left: B256::repeat_byte(3), right: B256::ZERO },
        ] {
            assert_eq!(Node::decode(&k, &n.encode()).unwrap(), n);
        }
        assert!(Node::decode(&k, &[9u8; 65]).is_err());
        assert!(Node::decode(&k, &[0u8; 3]).is_err());
    }

    #[test]
    fn leaf_and_internal_hashes_are_domain_separated() {
        let a = B256::repeat_byte(1);
        let b = B256::repeat_byte(2);
        assert_ne!(leaf_hash(&a, &b), internal_hash(&a, &b));
    }
}
