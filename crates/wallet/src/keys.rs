//! A directory of key files, one Web3 Secret Storage JSON file per key, named
//! `NAME.json`. Files are written with owner-only permissions and never overwritten.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use crate::error::{Context as _, WalletResult, bail, invalid};
use alloy_primitives::Address;
use btcr_crypto::{
    SecretKey,
    keystore::{self, ScryptParams},
};

/// One stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// Its name (the file name without `.json`).
    pub name: String,
    /// Its address.
    pub address: Address,
    /// The file.
    pub path: PathBuf,
}

/// The key directory.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

/// Whether `name` can name a key file: letters, digits, `-`, `_` and `.`, not starting
/// with a dot, at most 64 characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl KeyStore {
    /// The key directory at `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every stored key, by name.
    pub fn list(&self) -> WalletResult<Vec<KeyEntry>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).wrap_err_with(|| format!("reading {}", self.dir.display())),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let Some(name) =
                path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let json = fs::read_to_string(&path)
                .wrap_err_with(|| format!("reading {}", path.display()))?;
            let address = keystore::address(&json)
                .ok()
                .flatten()
                .ok_or_else(|| invalid!("{} does not name its address", path.display()))?;
            out.push(KeyEntry { name: name.to_owned(), address, path });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The key named `name_or_address` (a name, or an address in any case).
    pub fn find(&self, name_or_address: &str) -> WalletResult<KeyEntry> {
        let keys = self.list()?;
        let by_address: Option<Address> = name_or_address.parse().ok();
        keys.into_iter()
            .find(|k| k.name == name_or_address || Some(k.address) == by_address)
            .ok_or_else(|| invalid!("no key named {name_or_address} in {}", self.dir.display()))
    }

    /// Encrypts `key` under `password` and stores it as `name` (default: its address).
    pub fn add(
        &self,
        key: &SecretKey,
        name: Option<&str>,
        password: &str,
        params: ScryptParams,
    ) -> WalletResult<KeyEntry> {
        let address = key.address();
        let name = name.map(str::to_owned).unwrap_or_else(|| address.to_string());
        if !valid_name(&name) {
            bail!("invalid key name {name:?}: use letters, digits, '-', '_' and '.'");
        }
        if let Some(existing) =
            self.list()?.into_iter().find(|k| k.address == address || k.name == name)
        {
            bail!("the key store already holds {} as {:?}", existing.address, existing.name);
        }
        let json = keystore::encrypt(key, password, params)?;
        fs::create_dir_all(&self.dir)
            .wrap_err_with(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join(format!("{name}.json"));
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file =
            options.open(&path).wrap_err_with(|| format!("creating {}", path.display()))?;
        file.write_all(json.as_bytes())?;
        file.sync_all()?;
        Ok(KeyEntry { name, address, path })
    }

    /// Decrypts the key of `entry`.
    pub fn unlock(&self, entry: &KeyEntry, password: &str) -> WalletResult<SecretKey> {
        let json = fs::read_to_string(&entry.path)
            .wrap_err_with(|| format!("reading {}", entry.path.display()))?;
        let key = keystore::decrypt(&json, password)
            .wrap_err_with(|| format!("unlocking {}", entry.name))?;
        if key.address() != entry.address {
            bail!(
                "{} holds the key of {}, not of {}",
                entry.path.display(),
                key.address(),
                entry.address
            );
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_listed_found_and_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path().join("keys"));
        assert!(store.list().unwrap().is_empty());
        let key = SecretKey::random();
        let entry = store.add(&key, Some("alice"), "pw", ScryptParams::LIGHT).unwrap();
        assert_eq!(store.find("alice").unwrap(), entry);
        assert_eq!(store.find(&key.address().to_string().to_lowercase()).unwrap(), entry);
        assert_eq!(store.unlock(&entry, "pw").unwrap().address(), key.address());
        let e = store.unlock(&entry, "nope").unwrap_err();
        assert!(format!("{e:#}").contains("wrong password"), "{e:#}");
        // Neither the name nor the key can be stored twice.
        assert!(store.add(&key, Some("bob"), "pw", ScryptParams::LIGHT).is_err());
        assert!(store.add(&SecretKey::random(), Some("alice"), "pw", ScryptParams::LIGHT).is_err());
        assert!(store.add(&SecretKey::random(), Some("../x"), "pw", ScryptParams::LIGHT).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&entry.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(store.find("carol").is_err());
    }
}
