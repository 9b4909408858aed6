//! The one-command development chain: a genesis with funded accounts from the test mnemonic
//! and a single validator, in a temporary directory unless one is given.

use std::{path::PathBuf, time::Duration};

use crate::error::{Context as _, NodeResult};
use alloy_primitives::{Address, B256};
use btcr_crypto::{DEV_MNEMONIC, SecretKey};
use btcr_http::HttpConfig;
use btcr_poh::PohConfig;
use btcr_primitives::{Genesis, GenesisValidator};
use btcr_rpc::RpcConfig;
use btcr_txpool::PoolConfig;

use crate::{NodeConfig, testnet::dev_genesis};

/// Chain id of development chains.
pub const DEV_CHAIN_ID: u64 = 1337;

/// What `btcr dev` can be asked for.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Interval between blocks.
    pub block_time: Duration,
    /// Data directory; a temporary one when `None`.
    pub datadir: Option<PathBuf>,
    /// Number of funded accounts.
    pub n_accounts: u32,
    /// Balance of each, in whole BTCR.
    pub balance_btcr: u64,
    /// Block gas limit of a new chain.
    pub gas_limit: u64,
    /// The HTTP server's settings.
    pub http: HttpConfig,
    /// JSON-RPC's settings.
    pub rpc: RpcConfig,
}

/// A prepared development chain.
#[derive(Debug)]
pub struct DevSetup {
    /// The node configuration.
    pub config: NodeConfig,
    /// Funded accounts and their keys.
    pub accounts: Vec<(Address, B256)>,
    /// The mnemonic they come from.
    pub mnemonic: &'static str,
    /// Whether the chain was created now (rather than reopened from `datadir`).
    pub created: bool,
    /// Keeps a temporary data directory alive; it is deleted when this is dropped.
    pub tempdir: Option<tempfile::TempDir>,
}

/// The PoH parameters of a development chain: 32 ticks per block of 2,000 hashes each, so a
/// block costs about 3-4 ms of one core at ~19M hashes/s whatever the block time, which
/// leaves the CPU to execution and RPC even at 200 ms blocks on two cores.
pub fn dev_poh() -> PohConfig {
    PohConfig { hashes_per_tick: 2_000, ticks_per_block: 32 }
}

/// Builds (or reopens) a development chain.
pub fn prepare(options: DevOptions) -> NodeResult<DevSetup> {
    let (datadir, tempdir) = match &options.datadir {
        Some(dir) => (dir.clone(), None),
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("btcr-dev-")
                .tempdir()
                .wrap_err("creating a temporary data directory")?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    std::fs::create_dir_all(&datadir)
        .wrap_err_with(|| format!("creating {}", datadir.display()))?;
    let mut accounts = Vec::new();
    for i in 0..options.n_accounts {
        let key = SecretKey::from_mnemonic(DEV_MNEMONIC, i)?;
        accounts.push((key.address(), key.to_bytes()));
    }
    let validator_key = SecretKey::load_or_create(&datadir.join("validator.key"))?;
    let genesis_path = datadir.join("genesis.json");
    let created = !genesis_path.exists();
    let genesis = if created {
        let validator = GenesisValidator {
            address: validator_key.address(),
            public_key: validator_key.public_key().to_vec().into(),
            power: 1000,
        };
        // One validator decides every block (the single-validator engine); the staking
        // contract runs as on any proof-of-stake chain, rewards included.
        let genesis = dev_genesis(
            DEV_CHAIN_ID,
            btcr_primitives::ConsensusParams::default(),
            vec![validator],
            options.block_time,
            options.gas_limit,
            options.n_accounts,
            options.balance_btcr,
        )?;
        std::fs::write(&genesis_path, genesis.to_json())
            .wrap_err_with(|| format!("writing {}", genesis_path.display()))?;
        genesis
    } else {
        Genesis::load(&genesis_path)?
    };
    // The block time is a local choice on a dev chain, where one validator decides alone:
    // reopening with another `--block-time` is allowed and leaves the genesis as it was.
    let config = NodeConfig {
        datadir,
        genesis,
        validator_key: Some(validator_key),
        block_time: options.block_time,
        http: options.http,
        rpc: options.rpc,
        pool: PoolConfig::default(),
        network: None,
        accounts: Default::default(),
        notify: Default::default(),
        metrics_addr: None,
    };
    Ok(DevSetup { config, accounts, mnemonic: DEV_MNEMONIC, created, tempdir })
}
