//! `btcr wallet`: keys kept as encrypted key files, balances, and transfers of BTCR or ERC-20
//! tokens through a node's JSON-RPC.

use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use alloy_primitives::{Address, B256};
use btcr_crypto::{SecretKey, keystore::ScryptParams};
use btcr_wallet::{
    Asset, KeyStore, RpcClient, format_units, parse_units,
    send::{token_balance, token_decimals, token_symbol},
};
use clap::{Args, Subcommand, ValueEnum};
use eyre::{WrapErr, bail, eyre};

/// Options of `btcr wallet`.
#[derive(Debug, Args)]
pub struct WalletArgs {
    /// Directory of key files (default: `$BTCR_HOME/keystore`, else `~/.btcr/keystore`).
    #[arg(long, global = true, env = "BTCR_KEYSTORE")]
    keystore: Option<PathBuf>,
    /// JSON-RPC URL of the node.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8545")]
    rpc: String,
    /// Read the password from the first line of this file instead of a prompt.
    #[arg(long = "password-file", global = true)]
    password_file: Option<PathBuf>,
    #[command(subcommand)]
    command: WalletCommand,
}

/// Cost of the key derivation that protects new key files.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kdf {
    /// scrypt n = 2^18, r = 8, p = 1: what Ethereum wallets write; about a second to unlock.
    Standard,
    /// scrypt n = 2^12, r = 8, p = 6: fast, for tests and throwaway keys.
    Light,
}

impl Kdf {
    fn params(self) -> ScryptParams {
        match self {
            Self::Standard => ScryptParams::STANDARD,
            Self::Light => ScryptParams::LIGHT,
        }
    }
}

#[derive(Debug, Subcommand)]
enum WalletCommand {
    /// Create a key from a new BIP-39 mnemonic (shown once: write it down).
    New {
        /// Name of the key file (default: the address).
        #[arg(long)]
        name: Option<String>,
        /// Words in the mnemonic: 12, 15, 18, 21 or 24.
        #[arg(long, default_value_t = 12)]
        words: usize,
        /// Account index i of the path m/44'/60'/0'/0/i.
        #[arg(long, default_value_t = 0)]
        index: u32,
        /// Key derivation cost of the key file.
        #[arg(long, value_enum, default_value_t = Kdf::Standard)]
        kdf: Kdf,
    },
    /// Import a key from a mnemonic, a private key, or another wallet's key file.
    Import {
        /// Import from a BIP-39 mnemonic (read from a prompt or --secret-file).
        #[arg(long, group = "source")]
        mnemonic: bool,
        /// Import a hex private key (read from a prompt or --secret-file).
        #[arg(long = "private-key", group = "source")]
        private_key: bool,
        /// Import a Web3 Secret Storage key file; its password is asked for (or read from
        /// --secret-file), and the key is stored under the wallet password.
        #[arg(long = "keystore-file", group = "source")]
        keystore_file: Option<PathBuf>,
        /// Read the mnemonic, private key or key file password from this file.
        #[arg(long = "secret-file")]
        secret_file: Option<PathBuf>,
        /// Account index i of the path m/44'/60'/0'/0/i (with --mnemonic).
        #[arg(long, default_value_t = 0)]
        index: u32,
        /// Name of the key file (default: the address).
        #[arg(long)]
        name: Option<String>,
        /// Key derivation cost of the key file.
        #[arg(long, value_enum, default_value_t = Kdf::Standard)]
        kdf: Kdf,
    },
    /// List the stored keys.
    List,
    /// Show the BTCR (or token) balance of a stored key or any address.
    Balance {
        /// A key name or an address.
        account: String,
        /// An ERC-20 token address: show its balance instead.
        #[arg(long)]
        token: Option<Address>,
    },
    /// Send BTCR or an ERC-20 token and wait for the receipt.
    Send {
        /// The sending key (name or address).
        #[arg(long)]
        from: String,
        /// The recipient.
        #[arg(long)]
        to: Address,
        /// The amount, in BTCR or in token units (decimals allowed: `1.5`).
        #[arg(long)]
        amount: String,
        /// An ERC-20 token address: send this token instead of BTCR.
        #[arg(long)]
        token: Option<Address>,
        /// Seconds to wait for the receipt.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Print a stored key's private key or its key file.
    Export {
        /// The key (name or address).
        account: String,
        /// Print the hex private key (after unlocking it).
        #[arg(long = "private-key", group = "what", required = true)]
        private_key: bool,
        /// Print the encrypted key file as it is stored.
        #[arg(long = "keystore-file", group = "what")]
        keystore_file: bool,
    },
}

fn default_keystore() -> eyre::Result<PathBuf> {
    if let Some(home) = std::env::var_os("BTCR_HOME") {
        return Ok(PathBuf::from(home).join("keystore"));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| eyre!("HOME is not set; pass --keystore"))?;
    Ok(PathBuf::from(home).join(".btcr").join("keystore"))
}

/// The first line of `path`, without its line ending.
fn first_line(path: &Path) -> eyre::Result<String> {
    let text =
        std::fs::read_to_string(path).wrap_err_with(|| format!("reading {}", path.display()))?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// A secret from `file`, or typed at a prompt without echo.
pub(crate) fn secret(file: Option<&Path>, prompt: &str) -> eyre::Result<String> {
    match file {
        Some(path) => first_line(path),
        None => {
            if !std::io::stdin().is_terminal() {
                bail!("{prompt}: no terminal to ask on; pass the matching --…-file option");
            }
            rpassword::prompt_password(format!("{prompt}: ")).wrap_err("reading from the terminal")
        }
    }
}

impl WalletArgs {
    fn store(&self) -> eyre::Result<KeyStore> {
        Ok(KeyStore::new(match &self.keystore {
            Some(dir) => dir.clone(),
            None => default_keystore()?,
        }))
    }

    fn password(&self) -> eyre::Result<String> {
        secret(self.password_file.as_deref(), "Password")
    }

    /// A password for a new key file: from the file, or typed twice.
    fn new_password(&self) -> eyre::Result<String> {
        new_secret(self.password_file.as_deref())
    }
}

/// A new password: the first line of `file`, or typed twice at the terminal.
pub(crate) fn new_secret(file: Option<&Path>) -> eyre::Result<String> {
    if file.is_some() {
        return secret(file, "Password");
    }
    let first = secret(None, "New password")?;
    if first.is_empty() {
        bail!("the password is empty");
    }
    if secret(None, "Repeat the password")? != first {
        bail!("the passwords differ");
    }
    Ok(first)
}

pub fn run(args: WalletArgs) -> eyre::Result<()> {
    let store = args.store()?;
    let rpc = RpcClient::new(args.rpc.clone());
    match &args.command {
        WalletCommand::New { name, words, index, kdf } => {
            let phrase = btcr_crypto::keystore::new_mnemonic(*words)?;
            let key = SecretKey::from_mnemonic(&phrase, *index)?;
            let password = args.new_password()?;
            let entry = store.add(&key, name.as_deref(), &password, kdf.params())?;
            println!("Address   {}", entry.address);
            println!("Key file  {}", entry.path.display());
            println!("Path      m/44'/60'/0'/0/{index}");
            println!();
            println!("Mnemonic (shown once; anyone who has it controls the funds):");
            println!("  {phrase}");
        }
        WalletCommand::Import {
            mnemonic,
            private_key,
            keystore_file,
            secret_file,
            index,
            name,
            kdf,
        } => {
            let key = if *mnemonic {
                let phrase = secret(secret_file.as_deref(), "Mnemonic")?;
                SecretKey::from_mnemonic(phrase.trim(), *index)?
            } else if *private_key {
                let hex = secret(secret_file.as_deref(), "Private key")?;
                SecretKey::from_hex(hex.trim())?
            } else if let Some(file) = keystore_file {
                let json = read_keystore_file(file)?;
                let password = secret(secret_file.as_deref(), "Password of the key file")?;
                btcr_crypto::keystore::decrypt(&json, &password)
                    .wrap_err_with(|| format!("opening {}", file.display()))?
            } else {
                bail!("say what to import: --mnemonic, --private-key or --keystore-file FILE");
            };
            let password = args.new_password()?;
            let entry = store.add(&key, name.as_deref(), &password, kdf.params())?;
            println!("Imported {} as {:?} ({})", entry.address, entry.name, entry.path.display());
        }
        WalletCommand::List => {
            let keys = store.list()?;
            if keys.is_empty() {
                println!("No keys in {}", store.dir().display());
            }
            for key in keys {
                println!("{}  {}", key.address, key.name);
            }
        }
        WalletCommand::Balance { account, token } => {
            let address = resolve(&store, account)?;
            match token {
                None => {
                    let balance = rpc.balance(address)?;
                    println!("{} BTCR", format_units(balance, 18));
                }
                Some(token) => {
                    let decimals = token_decimals(&rpc, *token)?;
                    let balance = token_balance(&rpc, *token, address)?;
                    let symbol = token_symbol(&rpc, *token).unwrap_or_else(|| token.to_string());
                    println!("{} {symbol}", format_units(balance, decimals));
                }
            }
        }
        WalletCommand::Send { from, to, amount, token, timeout } => {
            let entry = store.find(from)?;
            let (asset, decimals, unit) = match token {
                None => (Asset::Native, 18, "BTCR".to_owned()),
                Some(token) => (
                    Asset::Token(*token),
                    token_decimals(&rpc, *token)?,
                    token_symbol(&rpc, *token).unwrap_or_else(|| token.to_string()),
                ),
            };
            let value = parse_units(amount, decimals)?;
            let key = store.unlock(&entry, &args.password()?)?;
            let spinner = Spinner::new();
            let sent = btcr_wallet::send(
                &rpc,
                &key,
                *to,
                value,
                asset,
                Duration::from_secs(*timeout),
                |elapsed| spinner.tick(elapsed),
            );
            spinner.clear();
            let sent = sent?;
            println!("Transaction {}", sent.hash);
            println!("Included in block {}", sent.block);
            println!(
                "Status      {}",
                if sent.success {
                    format!("sent {} {unit} to {to}", format_units(value, decimals))
                } else {
                    "failed (reverted)".into()
                }
            );
            println!("Fee         {} BTCR ({} gas)", format_units(sent.fee, 18), sent.gas_used);
            if !sent.success {
                bail!("transaction {} failed", sent.hash);
            }
        }
        WalletCommand::Export { account, private_key, keystore_file } => {
            let entry = store.find(account)?;
            if *keystore_file {
                print!("{}", std::fs::read_to_string(&entry.path)?);
                println!();
            } else if *private_key {
                let key = store.unlock(&entry, &args.password()?)?;
                println!("{}", B256::from(key.to_bytes()));
            }
        }
    }
    Ok(())
}

/// A stored key's address, or an address given as such.
fn resolve(store: &KeyStore, account: &str) -> eyre::Result<Address> {
    if let Ok(address) = account.parse::<Address>() {
        return Ok(address);
    }
    Ok(store.find(account)?.address)
}

/// A one-line progress indicator on the terminal; silent when stderr is not one.
struct Spinner {
    active: bool,
}

impl Spinner {
    fn new() -> Self {
        Self { active: std::io::stderr().is_terminal() }
    }

    fn tick(&self, elapsed: Duration) {
        if !self.active {
            return;
        }
        const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
        let frame = FRAMES[(elapsed.as_millis() / 100) as usize % FRAMES.len()];
        let mut err = std::io::stderr();
        let _ = write!(err, "\r{frame} waiting for the receipt ({:.1}s)", elapsed.as_secs_f64());
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.active {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r{:60}\r", "");
            let _ = err.flush();
        }
    }
}

/// A keystore file's text, refused unread beyond [`btcr_crypto::keystore::MAX_KEYSTORE_BYTES`].
fn read_keystore_file(file: &std::path::Path) -> eyre::Result<String> {
    use std::io::Read;
    let max = btcr_crypto::keystore::MAX_KEYSTORE_BYTES;
    let mut json = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(max as u64 + 1).read_to_string(&mut json))
        .wrap_err_with(|| format!("reading {}", file.display()))?;
    if json.len() > max {
        bail!("{} is larger than a keystore ({max} bytes at most)", file.display());
    }
    Ok(json)
}
