//! `btcr wallet` against a running dev chain: create, import (mnemonic, private key, another
//! wallet's key file), list, balances, BTCR and token transfers, export, and the errors a
//! person meets (wrong password, unknown key).

use std::{path::Path, process::Command, time::Duration};

use alloy_primitives::{Address, U256};
use btcr_crypto::{DEV_MNEMONIC, SecretKey, keystore};
use btcr_testkit::{DevProcess, TxBuilder, contracts::btcr_token_init_code, dev_key};

use crate::{CHAIN_ID, btcr_bin};

struct Wallet<'a> {
    keystore: &'a Path,
    rpc: String,
    password_file: std::path::PathBuf,
}

impl Wallet<'_> {
    /// Runs `btcr wallet ARGS`; returns (success, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(btcr_bin())
            .arg("wallet")
            .arg("--keystore")
            .arg(self.keystore)
            .args(["--rpc", &self.rpc])
            .arg("--password-file")
            .arg(&self.password_file)
            .args(args)
            .output()
            .expect("run btcr wallet");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args);
        assert!(ok, "btcr wallet {args:?} failed:\n{stdout}\n{stderr}");
        stdout
    }
}

fn field<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} in {out}"))
}

#[test]
fn wallet_commands_work_end_to_end() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node =
        DevProcess::start(btcr_bin(), &dir.path().join("chain"), &["--block-time", "100ms"])?;
    let keys = dir.path().join("keys");
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets)?;
    let password_file = secrets.join("password");
    std::fs::write(&password_file, "wallet password\n")?;
    let wallet = Wallet { keystore: &keys, rpc: node.rpc.url().to_owned(), password_file };

    // new: a mnemonic shown once, and a key file other wallets can read.
    let out = wallet.ok(&["new", "--name", "fresh", "--kdf", "light", "--words", "24"]);
    let fresh: Address = field(&out, "Address").parse()?;
    let mnemonic = out.lines().last().unwrap().trim();
    assert_eq!(mnemonic.split_whitespace().count(), 24);
    assert_eq!(SecretKey::from_mnemonic(mnemonic, 0)?.address(), fresh);
    let json = std::fs::read_to_string(keys.join("fresh.json"))?;
    assert_eq!(keystore::decrypt(&json, "wallet password")?.address(), fresh);

    // import: a dev account from the mnemonic, another from its private key, a third from
    // the specification's key file.
    let mnemonic_file = secrets.join("mnemonic");
    std::fs::write(&mnemonic_file, DEV_MNEMONIC)?;
    wallet.ok(&[
        "import",
        "--mnemonic",
        "--index",
        "1",
        "--name",
        "dev1",
        "--kdf",
        "light",
        "--secret-file",
        mnemonic_file.to_str().unwrap(),
    ]);
    let key_file = secrets.join("key");
    std::fs::write(&key_file, format!("{}\n", dev_key(2).to_bytes()))?;
    wallet.ok(&[
        "import",
        "--private-key",
        "--name",
        "dev2",
        "--kdf",
        "light",
        "--secret-file",
        key_file.to_str().unwrap(),
    ]);
    let foreign = secrets.join("foreign.json");
    std::fs::write(&foreign, include_str!("../../../../crates/crypto/tests/scrypt-vector.json"))?;
    let foreign_password = secrets.join("foreign-password");
    std::fs::write(&foreign_password, "testpassword")?;
    wallet.ok(&[
        "import",
        "--keystore-file",
        foreign.to_str().unwrap(),
        "--name",
        "imported",
        "--kdf",
        "light",
        "--secret-file",
        foreign_password.to_str().unwrap(),
    ]);
    // The same key twice is refused.
    let (ok, _, stderr) = wallet.run(&[
        "import",
        "--private-key",
        "--kdf",
        "light",
        "--secret-file",
        key_file.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("already holds"), "{stderr}");

    let list = wallet.ok(&["list"]);
    for (name, address) in
        [("dev1", dev_key(1).address()), ("dev2", dev_key(2).address()), ("fresh", fresh)]
    {
        assert!(list.contains(&format!("{address}  {name}")), "{list}");
    }
    assert!(list.contains("imported"), "{list}");

    // balance and send: 1.5 BTCR to the fresh key, with the fee printed.
    assert_eq!(wallet.ok(&["balance", "dev1"]).trim(), "10000 BTCR");
    let out = wallet.ok(&["send", "--from", "dev1", "--to", &fresh.to_string(), "--amount", "1.5"]);
    assert!(field(&out, "Status").starts_with("sent 1.5 BTCR"), "{out}");
    assert!(field(&out, "Fee").ends_with("(21000 gas)"), "{out}");
    assert_eq!(wallet.ok(&["balance", "fresh"]).trim(), "1.5 BTCR");
    assert_eq!(node.rpc.balance(fresh)?, U256::from(15u64) * U256::from(10u64).pow(U256::from(17)));

    // A token: deployed by dev key 2, sent with the wallet.
    let init = btcr_token_init_code("Reload Token", "RLD", U256::from(10u64).pow(U256::from(21)))?;
    let deploy =
        node.rpc.send_raw(&TxBuilder::create(CHAIN_ID, 0, init, 2_000_000).eip1559(&dev_key(2)))?;
    node.rpc.wait_for_receipt(deploy, Duration::from_secs(20))?;
    let token = dev_key(2).address().create(0).to_string();
    assert_eq!(wallet.ok(&["balance", "dev2", "--token", &token]).trim(), "1000 RLD");
    let out = wallet.ok(&[
        "send",
        "--from",
        "dev2",
        "--to",
        &fresh.to_string(),
        "--amount",
        "2.25",
        "--token",
        &token,
    ]);
    assert!(field(&out, "Status").starts_with("sent 2.25 RLD"), "{out}");
    assert_eq!(wallet.ok(&["balance", &fresh.to_string(), "--token", &token]).trim(), "2.25 RLD");

    // export: the private key after unlocking, or the key file as stored.
    let out = wallet.ok(&["export", "dev2", "--private-key"]);
    assert_eq!(out.trim(), dev_key(2).to_bytes().to_string());
    let out = wallet.ok(&["export", "fresh", "--keystore-file"]);
    assert_eq!(keystore::decrypt(&out, "wallet password")?.address(), fresh);

    // Errors a person can act on.
    let wrong = secrets.join("wrong");
    std::fs::write(&wrong, "not it")?;
    let out = Command::new(btcr_bin())
        .args(["wallet", "--keystore", keys.to_str().unwrap(), "--rpc", node.rpc.url()])
        .args(["--password-file", wrong.to_str().unwrap(), "export", "dev2", "--private-key"])
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wrong password"), "{stderr}");
    assert!(!stderr.contains(&dev_key(2).to_bytes().to_string()));
    let (ok, _, stderr) = wallet.run(&["balance", "nobody"]);
    assert!(!ok && stderr.contains("no key named nobody"), "{stderr}");
    let (ok, _, stderr) =
        wallet.run(&["send", "--from", "fresh", "--to", &fresh.to_string(), "--amount", "1.2.3"]);
    assert!(!ok && stderr.contains("invalid amount"), "{stderr}");
    let (ok, _, stderr) =
        wallet.run(&["send", "--from", "fresh", "--to", &fresh.to_string(), "--amount", "5000"]);
    assert!(!ok && stderr.contains("insufficient funds"), "{stderr}");
    Ok(())
}

/// A keystore file whose scrypt parameters would take 128 GiB (`r = 2^20`) once aborted the
/// process; now it, an unbounded `p` and a file too large to be a keystore are refused with
/// a message naming the bound, and the process exits normally.
#[test]
fn importing_a_keystore_with_hostile_scrypt_costs_is_refused_clearly() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let password = dir.path().join("password");
    std::fs::write(&password, "testpassword")?;
    let vector = include_str!("../../../../crates/crypto/tests/scrypt-vector.json");
    let cases = [
        ("r.json", vector.replace("\"r\": 1", "\"r\": 1048576"), "MiB"),
        ("p.json", vector.replace("\"p\": 8", "\"p\": 4294967295"), "MiB"),
        ("big.json", format!("{vector}{}", " ".repeat(keystore::MAX_KEYSTORE_BYTES)), "larger"),
    ];
    for (name, text, expected) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text)?;
        let out = Command::new(btcr_bin())
            .arg("wallet")
            .arg("--keystore")
            .arg(dir.path().join("keys"))
            .arg("--password-file")
            .arg(&password)
            .args(["import", "--kdf", "light", "--keystore-file"])
            .arg(&file)
            .arg("--secret-file")
            .arg(&password)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {:?}\n{stderr}", out.status);
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
    Ok(())
}
