//! Web3 Secret Storage (keystore version 3): a private key encrypted under a password, in
//! the JSON format that Ethereum wallets exchange.
//!
//! The password is stretched with scrypt (or, when reading, PBKDF2-HMAC-SHA256) into a
//! 32-byte key; its first half encrypts the private key with AES-128-CTR, and
//! `keccak256(second half ‖ ciphertext)` is the MAC that tells a wrong password from a right
//! one before anything is decrypted.

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy_primitives::{B256, hex, keccak256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::SecretKey;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// scrypt cost parameters for new keystores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptParams {
    /// log2 of the CPU/memory cost `n`.
    pub log_n: u8,
    /// Block size.
    pub r: u32,
    /// Parallelism.
    pub p: u32,
}

impl ScryptParams {
    /// The parameters most Ethereum wallets write: `n = 2^18`, `r = 8`, `p = 1` (256 MiB of
    /// memory and about a second to unlock).
    pub const STANDARD: Self = Self { log_n: 18, r: 8, p: 1 };
    /// Cheap parameters (`n = 2^12`, `r = 8`, `p = 6`) for tests and throwaway keys.
    pub const LIGHT: Self = Self { log_n: 12, r: 8, p: 6 };
}

/// Why a keystore cannot be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeystoreError {
    /// The password does not open this keystore.
    #[error("wrong password: the keystore's MAC does not match")]
    WrongPassword,
    /// The JSON is not a version 3 keystore this node reads.
    #[error("not a usable keystore: {0}")]
    Format(String),
    /// The key derivation parameters are out of range.
    #[error("keystore parameters out of range: {0}")]
    Params(String),
}

#[derive(Serialize, Deserialize)]
struct KeystoreJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    crypto: CryptoJson,
    id: String,
    version: u32,
}

#[derive(Serialize, Deserialize)]
struct CryptoJson {
    cipher: String,
    cipherparams: CipherParams,
    ciphertext: String,
    kdf: String,
    kdfparams: Value,
    mac: String,
}

#[derive(Serialize, Deserialize)]
struct CipherParams {
    iv: String,
}

/// Largest scrypt `n` accepted when reading (`2^20`).
const MAX_SCRYPT_LOG_N: u8 = 20;
/// Most memory scrypt may take when reading, counted as `128 · r · max(n, p)` bytes (it
/// allocates `128 · r · (n + p)`): 1 GiB, `n = 2^20` with `r = 8`: a keystore from elsewhere cannot make us allocate without bound.
pub const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
/// Most work scrypt may do when reading (`n · r · p` block mixes: 4 × the cost of
/// `n = 2^20, r = 8, p = 1`, a few seconds).
pub const MAX_SCRYPT_WORK: u64 = 1 << 25;
/// Largest keystore document read (real ones are under 1 KiB).
pub const MAX_KEYSTORE_BYTES: usize = 64 * 1024;
/// Largest PBKDF2 iteration count accepted when reading.
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;

fn unhex(field: &str, value: &str) -> Result<Vec<u8>, KeystoreError> {
    hex::decode(value).map_err(|e| KeystoreError::Format(format!("{field}: {e}")))
}

/// Encrypts `key` under `password` as a version 3 keystore.
pub fn encrypt(
    key: &SecretKey,
    password: &str,
    params: ScryptParams,
) -> Result<String, KeystoreError> {
    let salt: [u8; 32] = rand::random();
    let iv: [u8; 16] = rand::random();
    let scrypt = scrypt::Params::new(params.log_n, params.r, params.p)
        .map_err(|e| KeystoreError::Params(e.to_string()))?;
    let mut derived = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), &salt, &scrypt, &mut derived)
        .map_err(|e| KeystoreError::Params(e.to_string()))?;
    let mut ciphertext = key.to_bytes().0;
    Aes128Ctr::new(derived[..16].into(), &iv.into()).apply_keystream(&mut ciphertext);
    let mac = keccak256([&derived[16..32], &ciphertext[..]].concat());
    let id: [u8; 16] = rand::random();
    let json = KeystoreJson {
        address: Some(hex::encode(key.address())),
        crypto: CryptoJson {
            cipher: "aes-128-ctr".into(),
            cipherparams: CipherParams { iv: hex::encode(iv) },
            ciphertext: hex::encode(ciphertext),
            kdf: "scrypt".into(),
            kdfparams: serde_json::json!({
                "dklen": 32,
                "n": 1u64 << params.log_n,
                "r": params.r,
                "p": params.p,
                "salt": hex::encode(salt),
            }),
            mac: hex::encode(mac),
        },
        id: uuid_v4(id),
        version: 3,
    };
    serde_json::to_string_pretty(&json).map_err(|e| KeystoreError::Format(e.to_string()))
}

/// A random (version 4) UUID from 16 random bytes.
fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// The address a keystore names, if it names one (it is not authenticated).
pub fn address(json: &str) -> Result<Option<alloy_primitives::Address>, KeystoreError> {
    let parsed: KeystoreJson =
        serde_json::from_str(json).map_err(|e| KeystoreError::Format(e.to_string()))?;
    Ok(parsed.address.and_then(|a| a.parse().ok()))
}

/// How a keystore's key is derived from its password.
enum Derivation {
    Scrypt { log_n: u8, r: u32, p: u32 },
    Pbkdf2 { rounds: u32 },
}

/// A version 3 keystore, read and checked, still locked.
struct Locked {
    address: Option<alloy_primitives::Address>,
    derivation: Derivation,
    salt: Vec<u8>,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    mac: Vec<u8>,
}

/// Reads `json` as a version 3 keystore and checks its every field and bound, without the
/// password.
fn read_locked(json: &str) -> Result<Locked, KeystoreError> {
    if json.len() > MAX_KEYSTORE_BYTES {
        return Err(KeystoreError::Format(format!(
            "{} bytes: a keystore is at most {MAX_KEYSTORE_BYTES}",
            json.len()
        )));
    }
    let parsed: KeystoreJson =
        serde_json::from_str(json).map_err(|e| KeystoreError::Format(e.to_string()))?;
    if parsed.version != 3 {
        return Err(KeystoreError::Format(format!("version {} (expected 3)", parsed.version)));
    }
    let crypto = &parsed.crypto;
    if crypto.cipher != "aes-128-ctr" {
        return Err(KeystoreError::Format(format!(
            "cipher {} (expected aes-128-ctr)",
            crypto.cipher
        )));
    }
    let kdf = &crypto.kdfparams;
    let num = |name: &str| {
        kdf[name].as_u64().ok_or_else(|| KeystoreError::Format(format!("kdfparams.{name} missing")))
    };
    let salt = unhex("salt", kdf["salt"].as_str().unwrap_or_default())?;
    if num("dklen")? != 32 {
        return Err(KeystoreError::Format("kdfparams.dklen must be 32".into()));
    }
    let derivation = match crypto.kdf.as_str() {
        "scrypt" => {
            let n = num("n")?;
            if !n.is_power_of_two() || n < 2 {
                return Err(KeystoreError::Params(format!("scrypt n = {n} is not a power of two")));
            }
            let log_n = n.trailing_zeros() as u8;
            if log_n > MAX_SCRYPT_LOG_N {
                return Err(KeystoreError::Params(format!(
                    "scrypt n = 2^{log_n} is above the 2^{MAX_SCRYPT_LOG_N} this node accepts"
                )));
            }
            let (r, p) = (num("r")?, num("p")?);
            check_scrypt_cost(n, r, p)?;
            Derivation::Scrypt { log_n, r: r as u32, p: p as u32 }
        }
        "pbkdf2" => {
            if kdf["prf"] != "hmac-sha256" {
                return Err(KeystoreError::Format(format!(
                    "pbkdf2 prf {} (expected hmac-sha256)",
                    kdf["prf"]
                )));
            }
            let rounds =
                u32::try_from(num("c")?).map_err(|e| KeystoreError::Params(e.to_string()))?;
            if rounds == 0 || rounds > MAX_PBKDF2_ROUNDS {
                return Err(KeystoreError::Params(format!("pbkdf2 c = {rounds} out of range")));
            }
            Derivation::Pbkdf2 { rounds }
        }
        other => {
            return Err(KeystoreError::Format(format!("kdf {other} (expected scrypt or pbkdf2)")));
        }
    };
    let ciphertext = unhex("ciphertext", &crypto.ciphertext)?;
    let mac = unhex("mac", &crypto.mac)?;
    let iv = unhex("iv", &crypto.cipherparams.iv)?;
    if iv.len() != 16 || ciphertext.len() != 32 || mac.len() != 32 {
        return Err(KeystoreError::Format("iv must be 16 bytes, ciphertext 32 and mac 32".into()));
    }
    let address = match parsed.address {
        Some(a) => {
            Some(a.parse().map_err(|e| KeystoreError::Format(format!("address {a:?}: {e}")))?)
        }
        None => None,
    };
    Ok(Locked { address, derivation, salt, iv, ciphertext, mac })
}

/// Checks that `json` is a version 3 keystore this node could open (fields, sizes, and key
/// derivation costs within bounds) without opening it; answers the address it names.
pub fn check(json: &str) -> Result<Option<alloy_primitives::Address>, KeystoreError> {
    read_locked(json).map(|locked| locked.address)
}

/// Decrypts a version 3 keystore.
pub fn decrypt(json: &str, password: &str) -> Result<SecretKey, KeystoreError> {
    let locked = read_locked(json)?;
    let mut derived = [0u8; 32];
    match locked.derivation {
        Derivation::Scrypt { log_n, r, p } => {
            let params = scrypt::Params::new(log_n, r, p)
                .map_err(|e| KeystoreError::Params(e.to_string()))?;
            scrypt::scrypt(password.as_bytes(), &locked.salt, &params, &mut derived)
                .map_err(|e| KeystoreError::Params(e.to_string()))?;
        }
        Derivation::Pbkdf2 { rounds } => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                password.as_bytes(),
                &locked.salt,
                rounds,
                &mut derived,
            );
        }
    }
    if keccak256([&derived[16..32], &locked.ciphertext[..]].concat()).as_slice()
        != locked.mac.as_slice()
    {
        return Err(KeystoreError::WrongPassword);
    }
    let mut plain = [0u8; 32];
    plain.copy_from_slice(&locked.ciphertext);
    Aes128Ctr::new(derived[..16].into(), locked.iv.as_slice().into()).apply_keystream(&mut plain);
    SecretKey::from_bytes(&B256::from(plain)).map_err(|e| KeystoreError::Format(e.to_string()))
}

/// Refuses scrypt parameters that would take more than [`MAX_SCRYPT_MEMORY`] or more than
/// [`MAX_SCRYPT_WORK`], before anything is allocated.
fn check_scrypt_cost(n: u64, r: u64, p: u64) -> Result<(), KeystoreError> {
    if r == 0 || p == 0 {
        return Err(KeystoreError::Params(format!(
            "scrypt r = {r}, p = {p}: both must be positive"
        )));
    }
    let memory = 128u64.saturating_mul(r).saturating_mul(n.max(p));
    if memory > MAX_SCRYPT_MEMORY {
        return Err(KeystoreError::Params(format!(
            "scrypt n = {n}, r = {r}, p = {p} needs {} MiB; this node allows {} MiB",
            memory >> 20,
            MAX_SCRYPT_MEMORY >> 20
        )));
    }
    let work = n.saturating_mul(r).saturating_mul(p);
    if work > MAX_SCRYPT_WORK {
        return Err(KeystoreError::Params(format!(
            "scrypt n = {n}, r = {r}, p = {p} is {work} block mixes; this node allows {MAX_SCRYPT_WORK}"
        )));
    }
    Ok(())
}

/// A fresh BIP-39 English mnemonic of `words` words (12, 15, 18, 21 or 24).
pub fn new_mnemonic(words: usize) -> Result<String, crate::CryptoError> {
    use coins_bip39::{English, Entropy, Mnemonic};
    let entropy = match words {
        12 => Entropy::from(rand::random::<[u8; 16]>()),
        15 => Entropy::from(rand::random::<[u8; 20]>()),
        18 => Entropy::from(rand::random::<[u8; 24]>()),
        21 => Entropy::from(rand::random::<[u8; 28]>()),
        24 => Entropy::from(rand::random::<[u8; 32]>()),
        other => {
            return Err(crate::CryptoError::Mnemonic(format!(
                "{other} words: a mnemonic has 12, 15, 18, 21 or 24"
            )));
        }
    };
    Ok(Mnemonic::<English>::new_from_entropy(entropy).to_phrase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two test vectors of the Web3 Secret Storage definition: one PBKDF2, one scrypt,
    /// both under the password "testpassword".
    const PBKDF2_VECTOR: &str = include_str!("../tests/pbkdf2-vector.json");
    const SCRYPT_VECTOR: &str = include_str!("../tests/scrypt-vector.json");
    const VECTOR_KEY: &str = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";

    #[test]
    fn the_specification_test_vectors_decrypt() {
        for vector in [PBKDF2_VECTOR, SCRYPT_VECTOR] {
            let key = decrypt(vector, "testpassword").unwrap();
            assert_eq!(hex::encode(key.to_bytes()), VECTOR_KEY);
            assert_eq!(decrypt(vector, "wrong").unwrap_err(), KeystoreError::WrongPassword);
        }
    }

    #[test]
    fn encrypted_keys_round_trip_and_refuse_other_passwords() {
        let key = SecretKey::random();
        let json = encrypt(&key, "correct horse", ScryptParams::LIGHT).unwrap();
        assert_eq!(decrypt(&json, "correct horse").unwrap().to_bytes(), key.to_bytes());
        assert_eq!(address(&json).unwrap(), Some(key.address()));
        assert_eq!(decrypt(&json, "battery staple").unwrap_err(), KeystoreError::WrongPassword);
        let parsed: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["version"], 3);
        assert_eq!(parsed["crypto"]["kdfparams"]["n"], 4096);
        assert_eq!(parsed["id"].as_str().unwrap().len(), 36);
    }

    #[test]
    fn hostile_parameters_are_refused() {
        let huge = SCRYPT_VECTOR.replace("262144", "4294967296");
        assert!(matches!(decrypt(&huge, "testpassword"), Err(KeystoreError::Params(_))));
        let v2 = SCRYPT_VECTOR.replace("\"version\": 3", "\"version\": 2");
        assert!(matches!(decrypt(&v2, "testpassword"), Err(KeystoreError::Format(_))));
        assert!(matches!(decrypt("{}", "x"), Err(KeystoreError::Format(_))));
    }

    /// `r = 2^20` once aborted the process (an allocation of 128 GiB); `p` was unbounded.
    /// Each is refused by name before anything is allocated, and sane costs still decrypt.
    #[test]
    fn scrypt_costs_beyond_the_memory_and_work_bounds_are_refused_before_allocating() {
        let with = |n: &str, r: &str, p: &str| {
            SCRYPT_VECTOR
                .replace("\"n\": 262144", &format!("\"n\": {n}"))
                .replace("\"r\": 1", &format!("\"r\": {r}"))
                .replace("\"p\": 8", &format!("\"p\": {p}"))
        };
        for (n, r, p, what) in [
            ("262144", "1048576", "1", "MiB"),
            ("1024", "1048576", "1", "MiB"),
            ("262144", "8", "4294967295", "MiB"),
            ("1048576", "1", "64", "block mixes"),
            ("1048576", "8", "8", "block mixes"),
            ("262144", "0", "1", "positive"),
            ("262144", "8", "0", "positive"),
        ] {
            let doc = with(n, r, p);
            assert!(doc.contains(&format!("\"r\": {r}")), "the vector's layout changed");
            match decrypt(&doc, "testpassword") {
                Err(KeystoreError::Params(message)) => {
                    assert!(message.contains(what), "n={n} r={r} p={p}: {message}")
                }
                other => panic!("n={n} r={r} p={p}: {other:?}"),
            }
        }
        let padded = format!("{}{}", SCRYPT_VECTOR, " ".repeat(MAX_KEYSTORE_BYTES));
        assert!(matches!(decrypt(&padded, "testpassword"), Err(KeystoreError::Format(_))));
        assert_eq!(
            hex::encode(decrypt(&with("262144", "1", "8"), "testpassword").unwrap().to_bytes()),
            VECTOR_KEY
        );
    }

    #[test]
    fn mnemonics_have_the_requested_length_and_derive_keys() {
        for words in [12, 24] {
            let phrase = new_mnemonic(words).unwrap();
            assert_eq!(phrase.split_whitespace().count(), words);
            SecretKey::from_mnemonic(&phrase, 0).unwrap();
        }
        assert!(new_mnemonic(13).is_err());
    }
}
