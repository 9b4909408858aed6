//! Multi-validator networks: `btcr testnet` writes one home directory per node (genesis,
//! keys, `node.json`), and `btcr node --home DIR` starts a node from one.
//!
//! ```text
//! OUT/genesis.json            the shared genesis (validators with their public keys)
//! OUT/node0/genesis.json      a copy, so that a home directory is self-contained
//! OUT/node0/node.json         moniker, RPC address, p2p listen address, peers, block time
//! OUT/node0/validator.key     the validator key (absent on a full node)
//! OUT/node0/p2p.key           the network key (created on first start when absent)
//! OUT/node0/data/             chain store and consensus WAL, created by the node
//! ```

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::error::{Context as _, NodeResult, bail};
use alloy_primitives::{Address, U256};
use btcr_crypto::{DEV_MNEMONIC, SecretKey};
use btcr_http::HttpConfig;
pub use btcr_primitives::ConsensusMode;
use btcr_primitives::{ConsensusParams, Genesis, GenesisAccount, GenesisValidator, WEI_PER_BTCR};
use btcr_rpc::RpcConfig;
use btcr_txpool::PoolConfig;
use serde::{Deserialize, Serialize};

use crate::{NetworkConfig, NodeConfig, dev::dev_poh};

/// Chain id of networks made by `btcr testnet`.
pub const TESTNET_CHAIN_ID: u64 = 4242;
/// The most validators `btcr testnet` writes.
pub const MAX_TESTNET_VALIDATORS: usize = 100;

/// A node's own settings, kept in `HOME/node.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeFile {
    /// The node's name.
    pub moniker: String,
    /// Address of the JSON-RPC server.
    pub rpc_addr: SocketAddr,
    /// Where to listen for peers (a multiaddress).
    pub p2p_listen: String,
    /// Peers to keep connected to (multiaddresses).
    pub peers: Vec<String>,
    /// Where the transaction network listens (a multiaddress).
    pub gossip_listen: String,
    /// Transaction-network peers to start from (multiaddresses); others are discovered.
    pub gossip_peers: Vec<String>,
    /// How long this node fills a block when it proposes, in milliseconds.
    pub block_time_ms: u64,
    /// Whether consensus finds peers beyond `peers` through discovery (default on). Off,
    /// the node talks only to `peers` at the addresses given: a network whose links pass
    /// through proxies, such as the fault-injection harness's.
    #[serde(default = "default_discovery")]
    pub discovery: bool,
}

fn default_discovery() -> bool {
    true
}

impl NodeFile {
    /// Reads `HOME/node.json`.
    pub fn load(home: &Path) -> NodeResult<Self> {
        let path = home.join("node.json");
        let text = std::fs::read_to_string(&path)
            .wrap_err_with(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).wrap_err_with(|| format!("parsing {}", path.display()))
    }

    fn save(&self, home: &Path) -> NodeResult<()> {
        let path = home.join("node.json");
        let text = serde_json::to_string_pretty(self).expect("node settings always serialise");
        std::fs::write(&path, text).wrap_err_with(|| format!("writing {}", path.display()))
    }
}

/// What `btcr testnet` can be asked for.
#[derive(Debug, Clone)]
pub struct TestnetOptions {
    /// Number of validators.
    pub validators: usize,
    /// Proof of stake or proof of authority.
    pub mode: ConsensusMode,
    /// Blocks per epoch (the set changes between epochs).
    pub epoch_length: u64,
    /// Full nodes (non-validators) to write besides them.
    pub full_nodes: usize,
    /// Directory to write into; it must not hold a network already.
    pub out: PathBuf,
    /// The first node's p2p port; node `i` listens on `p2p_port + i`.
    pub p2p_port: u16,
    /// The first node's transaction-network port; node `i` listens on `gossip_port + i`.
    pub gossip_port: u16,
    /// The first node's JSON-RPC port; node `i` serves on `rpc_port + i`.
    pub rpc_port: u16,
    /// Target interval between blocks.
    pub block_time: Duration,
    /// Funded accounts from the test mnemonic.
    pub n_accounts: u32,
    /// Balance of each, in whole BTCR.
    pub balance_btcr: u64,
    /// Each node's own host name, `{i}` standing for its index (for example
    /// `btcr-validator-{i}.btcr-validator` in a Kubernetes StatefulSet): nodes then listen
    /// on every interface at the same ports and reach each other by name. `None`: all on
    /// 127.0.0.1, node `i` on the ports plus `i`.
    pub hosts: Option<String>,
    /// Block gas limit.
    pub gas_limit: u64,
}

/// One node written by [`write_testnet`].
#[derive(Debug, Clone)]
pub struct TestnetNode {
    /// Its home directory.
    pub home: PathBuf,
    /// Its settings.
    pub file: NodeFile,
    /// Its validator address, for validators.
    pub validator: Option<Address>,
}

/// The multiaddress of a TCP port on 127.0.0.1.
pub fn local_multiaddr(port: u16) -> String {
    format!("/ip4/127.0.0.1/tcp/{port}")
}

/// Writes genesis, keys and settings for a network on 127.0.0.1.
pub fn write_testnet(options: &TestnetOptions) -> NodeResult<Vec<TestnetNode>> {
    if options.validators == 0 || options.validators > MAX_TESTNET_VALIDATORS {
        bail!("--validators must be between 1 and {MAX_TESTNET_VALIDATORS}");
    }
    let total = options.validators + options.full_nodes;
    let last_port = |base: u16| usize::from(base) + total - 1 <= usize::from(u16::MAX);
    if !last_port(options.p2p_port)
        || !last_port(options.gossip_port)
        || !last_port(options.rpc_port)
    {
        bail!("the port ranges run past 65535");
    }
    if options.out.join("genesis.json").exists() {
        bail!("{} already holds a network (genesis.json exists)", options.out.display());
    }
    if let Some(hosts) = &options.hosts {
        check_host_pattern(hosts)?;
    }
    std::fs::create_dir_all(&options.out)
        .wrap_err_with(|| format!("creating {}", options.out.display()))?;

    let keys: Vec<SecretKey> = (0..options.validators).map(|_| SecretKey::random()).collect();
    let validators = keys
        .iter()
        .map(|k| GenesisValidator {
            address: k.address(),
            public_key: k.public_key().to_vec().into(),
            power: 1000,
        })
        .collect();
    let genesis = dev_genesis(
        TESTNET_CHAIN_ID,
        ConsensusParams {
            mode: options.mode,
            epoch_length: options.epoch_length,
            ..Default::default()
        },
        validators,
        options.block_time,
        options.gas_limit,
        options.n_accounts,
        options.balance_btcr,
    )?;
    let genesis_json = genesis.to_json();
    std::fs::write(options.out.join("genesis.json"), &genesis_json)
        .wrap_err("writing genesis.json")?;

    let places = Places { options };
    let mut nodes = Vec::with_capacity(total);
    for i in 0..total {
        let home = options.out.join(format!("node{i}"));
        std::fs::create_dir_all(&home).wrap_err_with(|| format!("creating {}", home.display()))?;
        std::fs::write(home.join("genesis.json"), &genesis_json)
            .wrap_err_with(|| format!("writing {}/genesis.json", home.display()))?;
        let validator = keys.get(i).map(|k| -> NodeResult<Address> {
            k.save(&home.join("validator.key"))?;
            Ok(k.address())
        });
        let validator = validator.transpose()?;
        SecretKey::random().save(&home.join("p2p.key"))?;
        let file = NodeFile {
            moniker: format!("node{i}"),
            rpc_addr: places.rpc(i),
            p2p_listen: places.listen(options.p2p_port, i),
            // Validators know each other; a full node knows one validator and finds the
            // rest through discovery.
            peers: if i < options.validators {
                (0..total).filter(|j| *j != i).map(|j| places.peer(options.p2p_port, j)).collect()
            } else {
                vec![places.peer(options.p2p_port, 0)]
            },
            gossip_listen: places.listen(options.gossip_port, i),
            // One peer to start from (node 0, or node 1 for node 0): the rest are discovered.
            gossip_peers: Some(usize::from(i == 0))
                .filter(|first| *first < total)
                .map(|first| places.peer(options.gossip_port, first))
                .into_iter()
                .collect(),
            block_time_ms: options.block_time.as_millis() as u64,
            discovery: true,
        };
        file.save(&home)?;
        nodes.push(TestnetNode { home, file, validator });
    }
    Ok(nodes)
}

/// Where the nodes of a testnet listen and how they name each other.
struct Places<'a> {
    options: &'a TestnetOptions,
}

impl Places<'_> {
    fn host(&self, i: usize) -> Option<String> {
        self.options.hosts.as_ref().map(|pattern| pattern.replace("{i}", &i.to_string()))
    }

    /// Where node `i` listens on the port range starting at `base`.
    fn listen(&self, base: u16, i: usize) -> String {
        match self.host(i) {
            Some(_) => format!("/ip4/0.0.0.0/tcp/{base}"),
            None => local_multiaddr(base + i as u16),
        }
    }

    /// How the others reach node `i` on the port range starting at `base`.
    fn peer(&self, base: u16, i: usize) -> String {
        match self.host(i) {
            Some(host) => format!("/dns4/{host}/tcp/{base}"),
            None => local_multiaddr(base + i as u16),
        }
    }

    /// Node `i`'s JSON-RPC address.
    fn rpc(&self, i: usize) -> SocketAddr {
        match self.host(i) {
            Some(_) => SocketAddr::from(([0, 0, 0, 0], self.options.rpc_port)),
            None => SocketAddr::from(([127, 0, 0, 1], self.options.rpc_port + i as u16)),
        }
    }
}

/// A host-name pattern must name each node apart (`{i}`) and be a DNS name otherwise.
fn check_host_pattern(pattern: &str) -> NodeResult<()> {
    if !pattern.contains("{i}") {
        bail!("--hosts {pattern:?} must contain {{i}}, which stands for the node's index");
    }
    let name = pattern.replace("{i}", "0");
    let valid = name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !valid {
        bail!("--hosts {pattern:?} is not a DNS name (lower-case letters, digits, '-' and '.')");
    }
    Ok(())
}

/// BTCR each validator's own account holds at genesis, for the gas of reporting double
/// signing.
const VALIDATOR_GAS_FUNDS: u64 = 100;

/// A genesis with funded accounts from the test mnemonic; each validator's account holds a
/// little for gas.
pub(crate) fn dev_genesis(
    chain_id: u64,
    consensus: ConsensusParams,
    validators: Vec<GenesisValidator>,
    block_time: Duration,
    gas_limit: u64,
    n_accounts: u32,
    balance_btcr: u64,
) -> NodeResult<Genesis> {
    let balance = U256::from(balance_btcr) * U256::from(10u64).pow(U256::from(18));
    let mut alloc = std::collections::BTreeMap::new();
    for i in 0..n_accounts {
        let key = SecretKey::from_mnemonic(DEV_MNEMONIC, i)?;
        alloc.insert(key.address(), GenesisAccount { balance, ..Default::default() });
    }
    for v in &validators {
        alloc.entry(v.address).or_insert_with(|| GenesisAccount {
            balance: U256::from(VALIDATOR_GAS_FUNDS) * U256::from(WEI_PER_BTCR),
            ..Default::default()
        });
    }
    let genesis = Genesis {
        chain_id,
        timestamp_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        gas_limit,
        base_fee_per_gas: 1_000_000_000,
        block_time_ms: block_time.as_millis() as u64,
        poh: dev_poh(),
        consensus,
        forks: btcr_primitives::Forks::ALL,
        validators,
        alloc,
    };
    genesis.validate()?;
    Ok(genesis)
}

/// The configuration of the node whose home directory is `home`, with the HTTP server's
/// and JSON-RPC's settings `http` and `rpc`. `rpc_addr` overrides the address in
/// `node.json`.
pub fn load_node(
    home: &Path,
    mut http: HttpConfig,
    rpc: RpcConfig,
    rpc_addr: Option<SocketAddr>,
) -> NodeResult<NodeConfig> {
    let file = NodeFile::load(home)?;
    let genesis = Genesis::load(&home.join("genesis.json"))?;
    let key_path = home.join("validator.key");
    let validator_key = if key_path.exists() { Some(SecretKey::load(&key_path)?) } else { None };
    let p2p_key = SecretKey::load_or_create(&home.join("p2p.key"))?;
    if !(10..=60_000).contains(&file.block_time_ms) {
        bail!("node.json: blockTimeMs {} is outside 10..=60000", file.block_time_ms);
    }
    http.listen = rpc_addr.unwrap_or(file.rpc_addr);
    Ok(NodeConfig {
        datadir: home.join("data"),
        genesis,
        validator_key,
        block_time: Duration::from_millis(file.block_time_ms),
        http,
        rpc,
        pool: PoolConfig::default(),
        network: Some(NetworkConfig {
            moniker: file.moniker,
            p2p_secret: p2p_key.to_bytes().0,
            listen: file.p2p_listen,
            peers: file.peers,
            gossip_listen: file.gossip_listen,
            gossip_peers: file.gossip_peers,
            gossip_max_peers: 50,
            discovery: file.discovery,
        }),
        accounts: Default::default(),
        notify: Default::default(),
        metrics_addr: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(out: PathBuf) -> TestnetOptions {
        TestnetOptions {
            validators: 4,
            mode: ConsensusMode::Poa,
            epoch_length: 100,
            full_nodes: 1,
            out,
            p2p_port: 26600,
            gossip_port: 26700,
            rpc_port: 8545,
            block_time: Duration::from_millis(500),
            hosts: None,
            n_accounts: 3,
            balance_btcr: 100,
            gas_limit: 30_000_000,
        }
    }

    #[test]
    fn a_testnet_is_written_and_each_home_loads() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = write_testnet(&options(dir.path().to_path_buf())).unwrap();
        assert_eq!(nodes.len(), 5);
        let genesis = Genesis::load(&dir.path().join("genesis.json")).unwrap();
        assert_eq!(genesis.validators.len(), 4);
        assert_eq!(genesis.consensus.mode, ConsensusMode::Poa);
        for (i, node) in nodes.iter().enumerate() {
            let config =
                load_node(&node.home, HttpConfig::default(), RpcConfig::default(), None).unwrap();
            assert_eq!(config.genesis, genesis);
            assert_eq!(config.http.listen.port(), 8545 + i as u16);
            let network = config.network.unwrap();
            assert_eq!(network.listen, local_multiaddr(26600 + i as u16));
            let expected_peers = if node.validator.is_some() { 4 } else { 1 };
            assert_eq!(network.peers.len(), expected_peers, "validators list every other node");
            assert!(!network.peers.contains(&network.listen));
            assert_eq!(network.gossip_listen, local_multiaddr(26700 + i as u16));
            assert_eq!(network.gossip_peers.len(), 1, "one peer to start from");
            assert_eq!(config.validator_key.map(|k| k.address()), node.validator);
        }
        assert!(nodes[4].validator.is_none(), "the last node is a full node");
        // Writing over an existing network is refused.
        let err = write_testnet(&options(dir.path().to_path_buf())).unwrap_err();
        assert!(err.to_string().contains("already holds a network"), "{err}");
        // So are impossible sizes.
        let mut bad = options(dir.path().join("other"));
        bad.validators = 0;
        assert!(write_testnet(&bad).is_err());
    }

    #[test]
    fn a_testnet_for_named_hosts_listens_everywhere_and_names_its_peers() {
        let dir = tempfile::tempdir().unwrap();
        let mut named = options(dir.path().to_path_buf());
        named.hosts = Some("btcr-validator-{i}.btcr-validator".into());
        let nodes = write_testnet(&named).unwrap();
        for (i, node) in nodes.iter().enumerate() {
            let config =
                load_node(&node.home, HttpConfig::default(), RpcConfig::default(), None).unwrap();
            assert_eq!(config.http.listen, SocketAddr::from(([0, 0, 0, 0], 8545)));
            let network = config.network.unwrap();
            assert_eq!(network.listen, "/ip4/0.0.0.0/tcp/26600");
            assert_eq!(network.gossip_listen, "/ip4/0.0.0.0/tcp/26700");
            let own = format!("/dns4/btcr-validator-{i}.btcr-validator/tcp/26600");
            assert!(!network.peers.contains(&own), "node {i} lists itself");
            let first = "/dns4/btcr-validator-0.btcr-validator/tcp/26600".to_owned();
            assert!(i == 0 || network.peers.contains(&first), "node {i}: {:?}", network.peers);
        }
        for bad in ["btcr-validator", "Upper-{i}", "a..{i}", "-x{i}", "x{i}/y"] {
            let mut options = options(dir.path().join(bad.replace('/', "_")));
            options.hosts = Some(bad.into());
            let err = write_testnet(&options).unwrap_err();
            assert!(err.to_string().contains("--hosts"), "{bad}: {err}");
        }
    }
}
