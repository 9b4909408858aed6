//! Tree nodes, their hashes, their positions and their encodings.

use std::fmt;

use alloy_primitives::{Address, B256};

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
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeKey {
    /// The tree.
    pub tree: TreeId,
    /// The first `depth` bits of every key below this position.
    pub path: B256,
    /// Depth from the root (0..=256).
    pub depth: u16,
}

/// Positions are hashed in maps on every node an update visits, so the whole key is folded
/// into one word first: one round of the map's hasher instead of one per eight bytes.
impl std::hash::Hash for NodeKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let word = |bytes: &[u8]| {
            let mut w = [0u8; 8];
            w[..bytes.len()].copy_from_slice(bytes);
            u64::from_le_bytes(w)
        };
        let path = &self.path.0;
        let tree = &self.tree.0;
        let folded = word(&path[..8])
            ^ word(&path[8..16]).rotate_left(13)
            ^ word(&path[16..24]).rotate_left(29)
            ^ word(&path[24..]).rotate_left(41)
            ^ word(&tree[..8]).rotate_left(7)
            ^ word(&tree[8..16]).rotate_left(23)
            ^ word(&tree[16..]).rotate_left(37)
            ^ u64::from(self.depth).rotate_left(53);
        state.write_u64(folded);
    }
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

/// Hash of a leaf: one SHA-256 compression of the 64-byte block `key ‖ value` from
/// [`LEAF_IV`].
///
/// Every node hashes exactly one 64-byte block, so the tree uses the SHA-256 compression
/// function itself, with no padding block: half the work of a full SHA-256, which would
/// compress a second block of padding. A fixed-length input needs no length padding, and
/// leaves and internal nodes start from different initial values, so neither can be passed
/// off as the other. The CPU computes the compression in hardware, several times faster than
/// keccak256 in software, and a block hashes every node on the paths it changes.
pub fn leaf_hash(key: &B256, value: &B256) -> B256 {
    compress(LEAF_IV, key, value)
}

/// Hash of an internal node: one SHA-256 compression of `left ‖ right` from
/// [`INTERNAL_IV`].
pub fn internal_hash(left: &B256, right: &B256) -> B256 {
    compress(INTERNAL_IV, left, right)
}

/// Initial state for leaf hashes: the words of `sha256("btcr/trie/leaf")`.
pub const LEAF_IV: [u32; 8] = [
    0x3b4464fd, 0x03b47d71, 0x2824ad90, 0x598b00a9, 0x9acad143, 0x237db2c0, 0x3a71fd2a, 0x699ddf4f,
];

/// Initial state for internal-node hashes: the words of `sha256("btcr/trie/internal")`.
pub const INTERNAL_IV: [u32; 8] = [
    0x93346ce6, 0x3fbd5df4, 0xf13bd80a, 0xda2426f1, 0xb469fa3a, 0x5c5b4755, 0x1e809872, 0x6633a7d3,
];

fn compress(iv: [u32; 8], a: &B256, b: &B256) -> B256 {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(a.as_slice());
    block[32..].copy_from_slice(b.as_slice());
    let mut state = iv;
    sha2::block_api::compress256(&mut state, &[block]);
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    B256::from(out)
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

    /// Decodes an encoding already checked by [`Node::decode`].
    pub(crate) fn from_checked(bytes: &[u8]) -> Self {
        let a = B256::from_slice(&bytes[1..33]);
        let b = B256::from_slice(&bytes[33..65]);
        if bytes[0] == 0 {
            Self::Leaf { key: a, value: b }
        } else {
            Self::Internal { left: a, right: b }
        }
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
    fn initial_values_are_derived_as_documented() {
        use sha2::{Digest, Sha256};
        for (iv, label) in [(LEAF_IV, "btcr/trie/leaf"), (INTERNAL_IV, "btcr/trie/internal")] {
            let digest = Sha256::digest(label.as_bytes());
            let words: Vec<u32> =
                digest.chunks_exact(4).map(|c| u32::from_be_bytes(c.try_into().unwrap())).collect();
            assert_eq!(iv.as_slice(), words.as_slice(), "{label}");
        }
    }

    #[test]
    fn leaf_and_internal_hashes_are_domain_separated() {
        let a = B256::repeat_byte(1);
        let b = B256::repeat_byte(2);
        assert_ne!(leaf_hash(&a, &b), internal_hash(&a, &b));
    }
}
