//! Starting and stopping a node.

use std::{path::PathBuf, sync::Arc};

use alloy_primitives::Address;
use btcr_consensus::{
    EngineConfig, EngineHandle, SingleValidatorEngine,
    bft::{BftConfig, BftEngine, certificate::validator_set},
};
use btcr_crypto::SecretKey;
use btcr_http::{HttpConfig, HttpServer, Workers};
use btcr_network::{Gossip, GossipConfig};
use btcr_primitives::Genesis;
use btcr_rpc::RpcConfig;
use btcr_storage::ChainStore;
use btcr_txpool::PoolConfig;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{
    ChainServices,
    api_service::AccountsOptions,
    error::{Context as _, NodeError, NodeResult, bail},
    reader::NodeFigures,
};

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the chain store lives.
    pub datadir: PathBuf,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// The validator's consensus key; `None` for a full node (network mode only).
    pub validator_key: Option<SecretKey>,
    /// Interval between blocks (the genesis value unless overridden).
    pub block_time: std::time::Duration,
    /// The HTTP server's settings (address, limits, workers, CORS).
    pub http: HttpConfig,
    /// JSON-RPC's settings.
    pub rpc: RpcConfig,
    /// Transaction pool limits.
    pub pool: PoolConfig,
    /// Peers and BFT consensus; `None` runs the single-validator engine of a dev chain.
    pub network: Option<NetworkConfig>,
    /// The accounts service's database and rate-limit store (default: `accounts.db` in
    /// the data directory, limits in this process).
    pub accounts: AccountsOptions,
    /// Webhook delivery.
    pub notify: crate::NotifyOptions,
    /// Where to serve `/metrics`, `/health` and `/ready`; `None`: not served.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// How a node of a multi-validator network reaches its peers.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The node's name in logs and in its peers' view.
    pub moniker: String,
    /// The node's network key (an ed25519 seed; it names the node to its peers).
    pub p2p_secret: [u8; 32],
    /// Where to listen for peers, as a multiaddress (`/ip4/127.0.0.1/tcp/26600`).
    pub listen: String,
    /// Peers to keep connected to, as multiaddresses.
    pub peers: Vec<String>,
    /// Where the transaction network listens (a multiaddress).
    pub gossip_listen: String,
    /// Transaction-network peers to start from; the rest are discovered.
    pub gossip_peers: Vec<String>,
    /// Established transaction-network connections allowed in each direction.
    pub gossip_max_peers: u32,
    /// Whether consensus finds peers beyond `peers` (see `NodeFile::discovery`).
    pub discovery: bool,
}

/// A running node.
#[derive(Debug)]
pub struct NodeHandle {
    /// The chain, its consumers and its read API.
    pub services: ChainServices,
    /// Address of the HTTP server (JSON-RPC, REST, the portal).
    pub rpc_addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    engine: Option<EngineHandle>,
    /// The transaction network of a multi-validator node.
    pub gossip: Option<Gossip>,
    /// Address of the operations endpoints (`/metrics`, `/health`, `/ready`), when served.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl NodeHandle {
    /// A token that is cancelled when the node stops, for whatever reason.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops the node: the engine finishes the block in progress, the RPC server closes.
    pub fn stop(mut self) -> NodeResult<()> {
        self.shutdown.cancel();
        self.join_engine()
    }

    /// Waits until the node stops (Ctrl-C / SIGTERM, or a fatal error), then stops it.
    pub async fn wait(mut self) -> NodeResult<()> {
        let shutdown = self.shutdown.clone();
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = shutdown_signal() => info!(target: "btcr::node", "shutdown requested"),
        }
        self.shutdown.cancel();
        tokio::task::spawn_blocking(move || self.join_engine()).await?
    }

    fn join_engine(&mut self) -> NodeResult<()> {
        let stopped = match self.engine.take() {
            Some(engine) => engine.stop().wrap_err("consensus engine failed"),
            None => Ok(()),
        };
        // Synced blocks whose commits did not wait for the disk go there now.
        self.services.chain.store().persist().wrap_err("writing the last blocks to disk")?;
        stopped
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Opens the store, starts the chain's consumers, the HTTP server and the consensus engine.
pub async fn launch(config: NodeConfig) -> NodeResult<NodeHandle> {
    config.genesis.validate()?;
    validator_set(&config.genesis.validators)
        .map_err(|e| NodeError::Invalid(format!("invalid genesis: {e}")))?;
    let validator = config.validator_key.as_ref().map(|k| k.address());
    if config.network.is_none() {
        let Some(validator) = validator else {
            bail!("a single-validator chain needs its validator key");
        };
        if config.genesis.validators.len() != 1 || config.genesis.validators[0].address != validator
        {
            bail!(
                "this node runs a single-validator chain: the genesis must list exactly its validator key's address {validator}"
            );
        }
    }
    let datadir = config.datadir.clone();
    let genesis = config.genesis.clone();
    let pool = config.pool.clone();
    let shutdown = CancellationToken::new();
    let consumers_fail = shutdown.clone();
    let services = tokio::task::spawn_blocking(move || -> NodeResult<ChainServices> {
        let store = ChainStore::open(&datadir.join("chain"))?;
        let proposer = validator.unwrap_or(Address::ZERO);
        Ok(ChainServices::open(store, genesis, proposer, pool, consumers_fail)?)
    })
    .await??;
    let chain = services.chain.clone();
    let head = chain.head_header();
    info!(target: "btcr::node", number = head.number, hash = %head.hash(), "opened chain");

    // The accounts service: its embedded database next to the chain, unless told otherwise.
    let accounts = config.accounts.open(Some(&config.datadir)).await?;
    // The notifications: a consumer of the chain writing into the same database, and the
    // workers that deliver what it wrote.
    let notify = config.notify.open(&accounts).await?;
    services
        .chain
        .events()
        .attach(
            btcr_notify::NotifyConsumer::new(notify.clone(), tokio::runtime::Handle::current())
                .with_rewards(services.api.clone()),
            shutdown.clone(),
        )
        .wrap_err("starting the notifications consumer")?;
    notify.spawn_workers(shutdown.clone());
    let metrics_addr = match config.metrics_addr {
        Some(addr) => {
            let probe = crate::operations::NodeProbe {
                chain: chain.clone(),
                api: services.api.clone(),
                datadir: config.datadir.clone(),
                accounts: accounts.clone(),
                notify: notify.clone(),
                block_time: config.block_time,
                networked: config.network.is_some(),
            };
            btcr_metrics::metrics().pool.capacity.set(config.pool.max_transactions as i64);
            let local = crate::operations::start(addr, Arc::new(probe), shutdown.clone())
                .await
                .wrap_err_with(|| format!("starting the metrics server on {addr}"))?;
            Some(local)
        }
        None => None,
    };

    let workers = Workers::new(config.http.workers).wrap_err("starting the HTTP workers")?;
    let api = services.api.clone();
    let rpc = btcr_rpc::router(
        api.clone(),
        api.clone(),
        api.clone(),
        config.rpc.clone(),
        workers.clone(),
    );
    let http = HttpServer::new(config.http.clone())
        .root(rpc.http, rpc.websocket)
        .api(btcr_explorer::router(api.clone(), api.clone(), workers))
        .api(btcr_accounts::http::router(accounts.clone(), Arc::new(NodeFigures(api))))
        .api(btcr_notify::http::router(notify, accounts.clone()))
        .api(btcr_http::docs_router(crate::openapi_document()))
        .authenticator(Arc::new(btcr_accounts::AccountsAuthenticator::new(accounts)))
        .fallback(btcr_portal::router())
        .start(shutdown.clone())
        .await
        .wrap_err_with(|| format!("starting the HTTP server on {}", config.http.listen))?;
    let gossip = match &config.network {
        Some(network) => {
            let gossip = Gossip::start(
                GossipConfig {
                    chain_id: config.genesis.chain_id,
                    secret: network.p2p_secret,
                    listen: network.gossip_listen.clone(),
                    bootstrap: network.gossip_peers.clone(),
                    max_peers: network.gossip_max_peers,
                },
                chain.clone(),
                chain.clone(),
                shutdown.clone(),
            )
            .await
            .wrap_err("starting the transaction network")?;
            chain.set_publisher(gossip.publisher());
            Some(gossip)
        }
        None => None,
    };
    let engine = match (&config.network, &config.validator_key) {
        (Some(network), key) => {
            if let Some(key) = key {
                services
                    .report_evidence(key.clone())
                    .wrap_err("starting the reports of double signing")?;
            }
            info!(
                target: "btcr::node",
                moniker = %network.moniker,
                listen = %network.listen,
                validator = ?validator,
                validators = config.genesis.validators.len(),
                "starting BFT consensus"
            );
            BftEngine::new(
                chain.clone(),
                BftConfig {
                    chain_id: config.genesis.chain_id,
                    moniker: network.moniker.clone(),
                    home: config.datadir.clone(),
                    validator_key: key.clone(),
                    p2p_secret: network.p2p_secret,
                    listen: network.listen.clone(),
                    peers: network.peers.clone(),
                    discovery: network.discovery,
                    block_time: config.block_time,
                },
                shutdown.clone(),
            )
            .spawn_after({
                // Far behind its peers, the node first catches up by ranges.
                let catch_up = gossip.as_ref().map(|gossip| {
                    crate::catch_up::catch_up(
                        chain.clone(),
                        gossip.block_client(),
                        crate::catch_up::catch_up_threshold(),
                        shutdown.clone(),
                    )
                });
                async move {
                    match catch_up {
                        Some(catch_up) => catch_up.await,
                        None => Ok(()),
                    }
                }
            })
        }
        (None, Some(key)) => SingleValidatorEngine::new(
            chain.clone(),
            key.clone(),
            EngineConfig { chain_id: config.genesis.chain_id, block_time: config.block_time },
            shutdown.clone(),
        )
        .spawn(),
        (None, None) => {
            // Refused before anything started; kept as an error rather than a panic.
            shutdown.cancel();
            bail!("a single-validator chain needs its validator key");
        }
    };
    Ok(NodeHandle {
        services,
        rpc_addr: http.local_addr,
        shutdown,
        engine: Some(engine),
        gossip,
        metrics_addr,
    })
}
