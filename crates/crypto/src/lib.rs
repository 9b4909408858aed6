//! Keys and signatures: secp256k1 account and validator keys, BIP-39 mnemonics with BIP-44
//! derivation (`m/44'/60'/0'/0/i`), and recovery of signers from signatures.

use std::{path::Path, str::FromStr};

use alloy_primitives::{Address, B256, Signature};
use alloy_signer::SignerSync;
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner};

#[doc(hidden)]
pub mod fuzzing;
pub mod keystore;

/// The well-known BIP-39 test mnemonic that local development chains fund. Its keys are
/// public knowledge: never hold value with them.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// A key, mnemonic or signature that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Not a valid secp256k1 private key.
    #[error("invalid private key: {0}")]
    InvalidKey(String),
    /// The mnemonic or derivation failed.
    #[error("invalid mnemonic: {0}")]
    Mnemonic(String),
    /// The signature does not recover.
    #[error("invalid signature: {0}")]
    Signature(String),
    /// Reading or writing a key file failed.
    #[error("key file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// A secp256k1 private key: an account's, or a validator's consensus key.
#[derive(Clone)]
pub struct SecretKey {
    signer: PrivateKeySigner,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "SecretKey({})", self.address())
    }
}

impl SecretKey {
    /// A fresh random key from the operating system's generator.
    pub fn random() -> Self {
        Self { signer: PrivateKeySigner::random() }
    }

    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: &B256) -> Result<Self, CryptoError> {
        PrivateKeySigner::from_bytes(bytes)
            .map(|signer| Self { signer })
            .map_err(|e| CryptoError::InvalidKey(e.to_string()))
    }

    /// The key from hex (with or without `0x`).
    pub fn from_hex(hex: &str) -> Result<Self, CryptoError> {
        PrivateKeySigner::from_str(hex.trim())
            .map(|signer| Self { signer })
            .map_err(|e| CryptoError::InvalidKey(e.to_string()))
    }

    /// Key `index` of `phrase` on the Ethereum BIP-44 path `m/44'/60'/0'/0/index`.
    pub fn from_mnemonic(phrase: &str, index: u32) -> Result<Self, CryptoError> {
        MnemonicBuilder::from_phrase(phrase)
            .index(index)
            .and_then(|b| b.build())
            .map(|signer| Self { signer })
            .map_err(|e| CryptoError::Mnemonic(e.to_string()))
    }

    /// The 32 key bytes.
    pub fn to_bytes(&self) -> B256 {
        self.signer.to_bytes()
    }

    /// The Ethereum address of the key.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The public key, compressed (33 bytes, SEC1): how genesis files name a validator's
    /// consensus key.
    pub fn public_key(&self) -> [u8; 33] {
        let point = self.signer.credential().verifying_key().to_encoded_point(true);
        point.as_bytes().try_into().expect("a compressed secp256k1 point is 33 bytes")
    }

    /// The public key without its SEC1 prefix (64 bytes, `x ‖ y`): how the staking contract
    /// names a validator's consensus key, since its keccak256 gives the address.
    pub fn public_key_uncompressed(&self) -> [u8; 64] {
        let point = self.signer.credential().verifying_key().to_encoded_point(false);
        point.as_bytes()[1..].try_into().expect("an uncompressed secp256k1 point is 65 bytes")
    }

    /// The underlying signer, for signing transactions.
    pub fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }

    /// Signs a 32-byte digest: 65 bytes `r ‖ s ‖ v`, `v` being 27 or 28.
    pub fn sign_hash(&self, hash: &B256) -> Result<[u8; 65], CryptoError> {
        self.signer
            .sign_hash_sync(hash)
            .map(|sig| sig.as_bytes())
            .map_err(|e| CryptoError::Signature(e.to_string()))
    }

    /// Signs a transaction and returns its EIP-2718 encoding, as the network carries it.
    pub fn sign_transaction<T>(&self, tx: T) -> alloy_primitives::Bytes
    where
        T: alloy_consensus::SignableTransaction<alloy_primitives::Signature>,
        alloy_consensus::TxEnvelope: From<alloy_consensus::Signed<T>>,
    {
        use alloy_eips::eip2718::Encodable2718;
        let signature =
            self.signer.sign_hash_sync(&tx.signature_hash()).expect("signing a hash cannot fail");
        alloy_consensus::TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into()
    }

    /// Reads a key stored as hex in `path`.
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let file_error =
            |reason: String| CryptoError::File { path: path.display().to_string(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        Self::from_hex(&text)
    }

    /// Reads the key in `path`, or, when there is none, makes a new one and saves it there.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        if path.exists() {
            return Self::load(path);
        }
        let key = Self::random();
        key.save(path)?;
        Ok(key)
    }

    /// Writes the key as hex to `path`, readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), CryptoError> {
        let file_error =
            |reason: String| CryptoError::File { path: path.display().to_string(), reason };
        let hex = format!("{}\n", self.to_bytes());
        #[cfg(unix)]
        {
            use std::{io::Write, os::unix::fs::OpenOptionsExt};
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| file_error(e.to_string()))?;
            file.write_all(hex.as_bytes()).map_err(|e| file_error(e.to_string()))?;
            file.sync_all().map_err(|e| file_error(e.to_string()))?;
        }
        #[cfg(not(unix))]
        std::fs::write(path, hex).map_err(|e| file_error(e.to_string()))?;
        Ok(())
    }
}

/// A compressed public key (33 bytes) as `x ‖ y` (64 bytes).
pub fn decompress_public_key(key: &[u8]) -> Result<[u8; 64], CryptoError> {
    let key = alloy_signer::k256::PublicKey::from_sec1_bytes(key)
        .map_err(|_| CryptoError::InvalidKey("not a secp256k1 public key".into()))?;
    let point =
        alloy_signer::k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key, false);
    Ok(point.as_bytes()[1..].try_into().expect("an uncompressed secp256k1 point is 65 bytes"))
}

/// A public key given as `x ‖ y` (64 bytes), compressed (33 bytes).
pub fn compress_public_key(key: &[u8]) -> Result<[u8; 33], CryptoError> {
    if key.len() != 64 {
        return Err(CryptoError::InvalidKey(format!(
            "a public key is 64 bytes, not {}",
            key.len()
        )));
    }
    let mut sec1 = [0u8; 65];
    sec1[0] = 4;
    sec1[1..].copy_from_slice(key);
    let key = alloy_signer::k256::PublicKey::from_sec1_bytes(&sec1)
        .map_err(|_| CryptoError::InvalidKey("not a point of secp256k1".into()))?;
    let point =
        alloy_signer::k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key, true);
    Ok(point.as_bytes().try_into().expect("a compressed secp256k1 point is 33 bytes"))
}

/// The address that signed `hash`, from a 65-byte signature made by [`SecretKey::sign_hash`].
pub fn recover_signer(hash: &B256, signature: &[u8]) -> Result<Address, CryptoError> {
    let sig = Signature::from_raw(signature).map_err(|e| CryptoError::Signature(e.to_string()))?;
    sig.recover_address_from_prehash(hash).map_err(|e| CryptoError::Signature(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_mnemonic_derives_the_well_known_first_account() {
        let key = SecretKey::from_mnemonic(DEV_MNEMONIC, 0).unwrap();
        assert_eq!(
            key.address(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse::<Address>().unwrap()
        );
        let second = SecretKey::from_mnemonic(DEV_MNEMONIC, 1).unwrap();
        assert_ne!(second.address(), key.address());
    }

    #[test]
    fn sign_and_recover() {
        let key = SecretKey::random();
        let hash = B256::repeat_byte(7);
        let sig = key.sign_hash(&hash).unwrap();
        assert_eq!(recover_signer(&hash, &sig).unwrap(), key.address());
        assert_ne!(recover_signer(&B256::repeat_byte(8), &sig).unwrap(), key.address());
        assert!(recover_signer(&hash, &sig[..10]).is_err());
    }

    #[test]
    fn public_keys_convert_between_forms_and_name_the_address() {
        let key = SecretKey::random();
        let full = key.public_key_uncompressed();
        assert_eq!(decompress_public_key(&key.public_key()).unwrap(), full);
        assert_eq!(compress_public_key(&full).unwrap(), key.public_key());
        assert_eq!(Address::from_slice(&alloy_primitives::keccak256(full)[12..]), key.address());
        assert!(compress_public_key(&full[..63]).is_err());
        assert!(compress_public_key(&[1u8; 64]).is_err(), "not on the curve");
        assert!(decompress_public_key(&[9u8; 33]).is_err());
    }

    #[test]
    fn key_file_roundtrip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("validator.key");
        let key = SecretKey::random();
        key.save(&path).unwrap();
        assert_eq!(SecretKey::load(&path).unwrap().address(), key.address());
        // Never overwrite an existing key.
        assert!(key.save(&path).is_err());
        std::fs::write(&path, "not hex").unwrap();
        assert!(SecretKey::load(&path).unwrap_err().to_string().contains("invalid private key"));
        assert!(SecretKey::from_mnemonic("not a mnemonic", 0).is_err());
        // Made once, then read back.
        let fresh = dir.path().join("p2p.key");
        let made = SecretKey::load_or_create(&fresh).unwrap();
        assert_eq!(SecretKey::load_or_create(&fresh).unwrap().address(), made.address());
        assert!(SecretKey::load_or_create(&path).is_err(), "a damaged file is not replaced");
    }
}
