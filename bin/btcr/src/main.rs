//! `btcr`: the BTCR node and command-line tool. Parses arguments, sets up logging and hands
//! over to the node crate; no chain logic lives here.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

mod accounts;
mod db;
mod wallet;

use btcr_http::HttpConfig;
use btcr_node::{
    dev::{self, DevOptions},
    testnet::{self, ConsensusMode, TestnetOptions},
};
use btcr_rpc::RpcConfig;
use clap::{Args, Parser, Subcommand};
use eyre::WrapErr;

/// Appends a line to a banner (writing to a `String` cannot fail).
macro_rules! say {
    ($b:expr) => {
        $b.push('\n')
    };
    ($b:expr, $($arg:tt)*) => {{
        $b.push_str(&format!($($arg)*));
        $b.push('\n');
    }};
}

/// Bitcoin Reload: a proof-of-stake chain with Proof-of-History and an EVM.
#[derive(Debug, Parser)]
#[command(name = "btcr", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log filter (for example `info`, `btcr=debug`); overrides RUST_LOG.
    #[arg(long = "log.filter", global = true, env = "BTCR_LOG")]
    log_filter: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long = "log.json", global = true)]
    log_json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a local single-validator development chain with funded accounts.
    Dev(DevArgs),
    /// Manage keys and send BTCR or tokens through a node.
    Wallet(wallet::WalletArgs),
    /// Write genesis, keys and settings for a multi-validator network on 127.0.0.1.
    Testnet(TestnetArgs),
    /// Start a node of a multi-validator network from its home directory.
    Node(NodeArgs),
    /// Administer the accounts service: create an administrator, check the audit log.
    Accounts(accounts::AccountsArgs),
    /// Run the accounts service as its own process, over a shared PostgreSQL (and Redis),
    /// beside the nodes: stateless, so several replicas can serve one address.
    Api(ApiArgs),
    /// Follow a node's committed blocks into PostgreSQL: blocks, transactions, receipts,
    /// logs, token transfers, balances over time, validators. Resumes where it stopped.
    Indexer(IndexerArgs),
    /// Work on a stopped node's chain store: snapshots (export, import, inspect) and
    /// pruning old blocks.
    Db(db::DbArgs),
}

/// Options of `btcr indexer`.
#[derive(Debug, Args)]
struct IndexerArgs {
    /// The node to follow: its HTTP address (`http://host:8545`).
    #[arg(long)]
    node: String,
    /// The database to write (`postgres://user:password@host/db`); the tables are made
    /// when missing.
    #[arg(long, env = "BTCR_INDEXER_POSTGRES")]
    postgres: String,
    /// Stop once this block is indexed (a backfill); without it, follow the chain until
    /// stopped (Ctrl-C or SIGTERM).
    #[arg(long)]
    to: Option<u64>,
    /// How often to print how far and how fast.
    #[arg(long = "progress-every", default_value = "2s", value_parser = humantime::parse_duration)]
    progress_every: Duration,
    /// Backfill in bulk (`--bulk true`): the secondary indexes (by sender, address,
    /// token, …) are dropped while catching up and made at the node's head, which is
    /// much faster than keeping them through millions of rows. Default: in bulk when the
    /// index is empty, or when a bulk backfill was interrupted.
    #[arg(long)]
    bulk: Option<bool>,
}

/// Where the accounts service keeps its data and counts its rate limits.
#[derive(Debug, Args)]
struct AccountsServiceArgs {
    /// The accounts database: `postgres://user@host/db` (shared by replicas) or
    /// `sqlite:PATH`; a node without it uses `accounts.db` in its data directory.
    #[arg(long = "accounts.database-url", env = "BTCR_ACCOUNTS_DATABASE_URL")]
    database_url: Option<String>,
    /// Count rate limits in this Redis (`redis://host:port/db`), shared by every replica
    /// that names it; without it they are counted in this process.
    #[arg(long = "redis-url", env = "BTCR_REDIS_URL")]
    redis_url: Option<String>,
}

impl AccountsServiceArgs {
    fn options(&self) -> btcr_node::AccountsOptions {
        btcr_node::AccountsOptions {
            database_url: self.database_url.clone(),
            redis_url: self.redis_url.clone(),
        }
    }
}

/// How webhooks are delivered.
#[derive(Debug, Args)]
struct NotifyArgs {
    /// Let webhooks reach loopback and private addresses (refused by default, so that a
    /// user cannot make the node call inside its own network).
    #[arg(long = "notify.allow-private-targets", env = "BTCR_NOTIFY_ALLOW_PRIVATE_TARGETS")]
    allow_private_targets: bool,
    /// The waits before each retry of a failed webhook, comma-separated; once spent the
    /// message is failed (it can be replayed). Default: 5s,5m,30m,2h,5h,10h,10h.
    #[arg(long = "notify.retry-delays", value_delimiter = ',', value_parser = humantime::parse_duration)]
    retry_delays: Option<Vec<Duration>>,
    /// Deliver through RabbitMQ (`amqp://user:password@host:5672/vhost`): a quorum queue
    /// with publisher confirms, manual acknowledgements and a dead-letter queue, shared by
    /// every node and `btcr api` replica that names it. Without it the workers take from
    /// the outbox table of the application database.
    #[arg(long = "amqp-url", env = "BTCR_AMQP_URL")]
    amqp_url: Option<String>,
    /// Send the `email` channel's mail through this SMTP server: `smtp://host:25` (plain,
    /// a relay on your own network), `smtp://user:password@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:password@host:465`. Without it, e-mail subscriptions
    /// are refused.
    #[arg(long = "smtp-url", env = "BTCR_SMTP_URL")]
    smtp_url: Option<String>,
    /// The sender of notification mail.
    #[arg(
        long = "smtp-from",
        env = "BTCR_SMTP_FROM",
        default_value = "BTCR <notifications@localhost>"
    )]
    smtp_from: String,
}

impl NotifyArgs {
    fn options(&self) -> btcr_node::NotifyOptions {
        btcr_node::NotifyOptions {
            allow_private_targets: self.allow_private_targets,
            retry_delays: self.retry_delays.clone(),
            amqp_url: self.amqp_url.clone(),
            smtp: self
                .smtp_url
                .clone()
                .map(|url| btcr_node::SmtpConfig { url, from: self.smtp_from.clone() }),
        }
    }
}

/// Options of `btcr api`.
#[derive(Debug, Args)]
struct ApiArgs {
    /// The node whose chain the administrators' statistics show (`http://host:port`).
    #[arg(long)]
    node: String,
    /// Address to serve the accounts routes (`/api/v1/auth`, `/me`, `/admin`, …) on.
    #[arg(long = "api.addr", default_value = "127.0.0.1:8546")]
    addr: SocketAddr,
    /// Most requests in progress at once; the rest are refused with 503.
    #[arg(long = "api.max-connections", default_value_t = 500)]
    max_connections: usize,
    /// Largest request body, in bytes.
    #[arg(long = "api.max-body-bytes", default_value_t = 1024 * 1024)]
    max_body_bytes: usize,
    /// Browser origins allowed to call the service, comma-separated (`*` for any).
    /// Default: pages from localhost.
    #[arg(long = "api.cors", value_delimiter = ',')]
    cors: Option<Vec<String>>,
    #[command(flatten)]
    accounts: AccountsServiceArgs,
    #[command(flatten)]
    notify: NotifyArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
}

/// Options of `btcr testnet`.
#[derive(Debug, Args)]
struct TestnetArgs {
    /// Number of validators.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// How the validator set is chosen: `pos` (voting power is stake; the genesis set has
    /// equal stakes until staking changes them) or `poa` (the genesis validators, each with
    /// the same power, for good).
    #[arg(long, default_value = "pos", value_parser = ["pos", "poa"])]
    mode: String,
    /// Full nodes (they follow the chain and serve RPC, without voting) besides the
    /// validators.
    #[arg(long = "full-nodes", default_value_t = 0)]
    full_nodes: usize,
    /// Blocks per epoch: a proof-of-stake set changes only between epochs, elected by the
    /// staking contract at the end of each.
    #[arg(long = "epoch-length", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    epoch_length: u64,
    /// Directory to write into: `genesis.json` and one home directory per node.
    #[arg(long)]
    out: PathBuf,
    /// The first node's p2p port; node i listens on this plus i.
    #[arg(long = "p2p-port", default_value_t = 26600)]
    p2p_port: u16,
    /// The first node's transaction-network port; node i listens on this plus i.
    #[arg(long = "gossip-port", default_value_t = 26700)]
    gossip_port: u16,
    /// The first node's JSON-RPC port; node i serves on this plus i.
    #[arg(long = "rpc-port", default_value_t = 8545)]
    rpc_port: u16,
    /// How long a proposer fills its block, for example `500ms` (10ms to 60s).
    #[arg(long = "block-time", default_value = "500ms", value_parser = parse_block_time)]
    block_time: Duration,
    /// Each node's host name, `{i}` standing for its index (for example
    /// `btcr-validator-{i}.btcr-validator` for a Kubernetes StatefulSet): the nodes then
    /// listen on all interfaces at the same ports and reach each other by name. Without it,
    /// every node is on 127.0.0.1 with ports one apart.
    #[arg(long)]
    hosts: Option<String>,
    #[command(flatten)]
    genesis: GenesisArgs,
}

/// What a new chain's genesis funds and allows, shared by `btcr dev` and `btcr testnet`.
#[derive(Debug, Args)]
struct GenesisArgs {
    /// Number of funded accounts derived from the test mnemonic.
    #[arg(long, default_value_t = 10)]
    accounts: u32,
    /// Balance of each funded account, in BTCR.
    #[arg(long, default_value_t = 10_000)]
    balance: u64,
    /// Block gas limit of a new chain (a reopened chain keeps its own).
    #[arg(long = "gas-limit", default_value_t = 30_000_000, value_parser = clap::value_parser!(u64).range(1_000_000..=10_000_000_000))]
    gas_limit: u64,
}

/// A block time between 10 ms and 60 s, written like `500ms` or `1s`.
fn parse_block_time(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d < Duration::from_millis(10) || d > Duration::from_secs(60) {
        return Err("the block time must be between 10ms and 60s".into());
    }
    Ok(d)
}

/// Options of `btcr node`.
#[derive(Debug, Args)]
struct NodeArgs {
    /// The node's home directory, as `btcr testnet` writes it (node.json, genesis.json,
    /// keys); the chain is kept in its `data` directory.
    #[arg(long)]
    home: PathBuf,
    #[command(flatten)]
    rpc: RpcArgs,
    #[command(flatten)]
    accounts: AccountsServiceArgs,
    #[command(flatten)]
    notify: NotifyArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
}

/// Options of the operations endpoints.
#[derive(Debug, Args)]
struct MetricsArgs {
    /// Serve `/metrics` (Prometheus), `/health` and `/ready` on this address (for example
    /// `127.0.0.1:9464`); not served when absent. Keep it off the public network.
    #[arg(long = "metrics.addr")]
    metrics_addr: Option<SocketAddr>,
}

/// Options of `btcr dev`.
#[derive(Debug, Args)]
struct DevArgs {
    /// Interval between blocks, for example `1s` or `200ms` (10ms to 60s).
    #[arg(long = "block-time", default_value = "1s", value_parser = parse_block_time)]
    block_time: Duration,
    /// Keep the chain in this directory (reopened on the next start); a temporary directory,
    /// deleted on exit, when absent.
    #[arg(long)]
    datadir: Option<PathBuf>,
    #[command(flatten)]
    genesis: GenesisArgs,
    #[command(flatten)]
    rpc: RpcArgs,
    #[command(flatten)]
    accounts: AccountsServiceArgs,
    #[command(flatten)]
    notify: NotifyArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
}

/// JSON-RPC server options; every limit bounds what one client can make the node do.
#[derive(Debug, Args)]
struct RpcArgs {
    /// Address of the JSON-RPC server (`btcr dev`: 127.0.0.1:8545; `btcr node`: the address
    /// in node.json).
    #[arg(long = "rpc.addr")]
    addr: Option<SocketAddr>,
    /// Largest JSON-RPC request body, in bytes.
    #[arg(long = "rpc.max-body-bytes", default_value_t = 5 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Largest WebSocket message, in bytes.
    #[arg(long = "rpc.max-ws-message-bytes", default_value_t = 5 * 1024 * 1024)]
    max_ws_message_bytes: usize,
    /// Most requests in one JSON-RPC batch.
    #[arg(long = "rpc.max-batch", default_value_t = 1000)]
    max_batch: usize,
    /// Most HTTP requests in progress plus WebSocket connections open at once.
    #[arg(long = "rpc.max-connections", default_value_t = 500)]
    max_connections: usize,
    /// Most subscriptions on one WebSocket connection.
    #[arg(long = "rpc.max-subscriptions", default_value_t = 100)]
    max_subscriptions: usize,
    /// Most polled filters installed at once (they expire after 5 minutes unpolled).
    #[arg(long = "rpc.max-filters", default_value_t = 1000)]
    max_filters: usize,
    /// Most polled filters one client (one IP address) may have installed at once.
    #[arg(long = "rpc.max-filters-per-client", default_value_t = 100)]
    max_filters_per_client: usize,
    /// Browser origins allowed to call the server, comma-separated (`*` for any); an
    /// origin without a port allows every port. Default: pages from localhost.
    #[arg(long = "rpc.cors", value_delimiter = ',')]
    cors: Option<Vec<String>>,
    /// Most gas one eth_call or eth_estimateGas may use.
    #[arg(long = "rpc.gas-cap", default_value_t = 50_000_000)]
    gas_cap: u64,
    /// Most blocks one eth_getLogs may scan.
    #[arg(long = "rpc.max-logs-range", default_value_t = 10_000)]
    max_logs_range: u64,
    /// Most logs one eth_getLogs may return.
    #[arg(long = "rpc.max-logs", default_value_t = 10_000)]
    max_logs: usize,
    /// Most accounts one eth_call or eth_estimateGas may override.
    #[arg(long = "rpc.max-state-overrides", default_value_t = 256)]
    max_state_overrides: usize,
    /// Longest JSON-RPC answer, to one request or a whole batch, in bytes; a batch's
    /// requests past it are answered -32005 without running.
    #[arg(long = "rpc.max-response-bytes", default_value_t = 25 * 1024 * 1024)]
    max_response_bytes: usize,
    /// Most gas the eth_call, eth_estimateGas and eth_createAccessList calls of one batch
    /// may use together.
    #[arg(long = "rpc.batch-gas-cap", default_value_t = 250_000_000)]
    batch_gas_cap: u64,
    /// Longest time one eth_call, eth_estimateGas or eth_createAccessList may run, in
    /// milliseconds (all the runs of an estimate together); past it the call is aborted.
    #[arg(long = "rpc.evm-timeout-ms", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    evm_timeout_ms: u64,
    /// Requests executed at once; the rest wait (default: the number of cores).
    #[arg(long = "rpc.workers")]
    workers: Option<usize>,
}

impl RpcArgs {
    /// The HTTP server's settings (shared by JSON-RPC, REST and the portal).
    fn http(&self) -> HttpConfig {
        HttpConfig {
            listen: self.addr.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8545))),
            max_body_bytes: self.max_body_bytes,
            max_connections: self.max_connections,
            cors_origins: self.cors.clone().unwrap_or_else(btcr_http::default_cors_origins),
            workers: self.workers.unwrap_or_else(btcr_http::default_workers),
        }
    }

    /// JSON-RPC's own limits.
    fn rpc(&self) -> RpcConfig {
        RpcConfig {
            max_ws_message_bytes: self.max_ws_message_bytes,
            max_batch: self.max_batch,
            max_subscriptions_per_connection: self.max_subscriptions,
            max_filters: self.max_filters,
            max_filters_per_client: self.max_filters_per_client,
            gas_cap: self.gas_cap,
            max_logs_block_range: self.max_logs_range,
            max_logs: self.max_logs,
            max_state_overrides: self.max_state_overrides,
            max_response_bytes: self.max_response_bytes,
            batch_gas_cap: self.batch_gas_cap,
            evm_timeout: std::time::Duration::from_millis(self.evm_timeout_ms),
        }
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The causes, one after another, without a backtrace: this is for people.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> eyre::Result<()> {
    let cli = Cli::parse();
    // The wallet and testnet are short-lived: no logging setup, no async runtime.
    let command = match cli.command {
        Command::Wallet(args) => return wallet::run(args),
        Command::Testnet(args) => return run_testnet(args),
        Command::Db(args) => return db::run(args),
        command => command,
    };
    init_logging(cli.log_filter.as_deref(), cli.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("btcr-rt")
        .build()
        .wrap_err("starting the async runtime")?;
    match command {
        Command::Dev(args) => runtime.block_on(run_dev(args)),
        Command::Node(args) => runtime.block_on(run_node(args)),
        Command::Accounts(args) => runtime.block_on(accounts::run(args)),
        Command::Api(args) => runtime.block_on(run_api(args)),
        Command::Indexer(args) => runtime.block_on(run_indexer(args)),
        Command::Wallet(_) | Command::Testnet(_) | Command::Db(_) => {
            unreachable!("handled above")
        }
    }
}

fn run_testnet(args: TestnetArgs) -> eyre::Result<()> {
    let nodes = testnet::write_testnet(&TestnetOptions {
        validators: args.validators,
        mode: if args.mode == "poa" { ConsensusMode::Poa } else { ConsensusMode::Pos },
        full_nodes: args.full_nodes,
        epoch_length: args.epoch_length,
        out: args.out.clone(),
        p2p_port: args.p2p_port,
        gossip_port: args.gossip_port,
        rpc_port: args.rpc_port,
        block_time: args.block_time,
        n_accounts: args.genesis.accounts,
        balance_btcr: args.genesis.balance,
        gas_limit: args.genesis.gas_limit,
        hosts: args.hosts.clone(),
    })?;
    let mut b = String::new();
    say!(b, "Wrote a network of {} nodes to {}", nodes.len(), args.out.display());
    say!(
        b,
        "Chain id {}, {}",
        testnet::TESTNET_CHAIN_ID,
        match args.mode.as_str() {
            "poa" => "proof of authority",
            _ => "proof of stake",
        }
    );
    for node in &nodes {
        let role = match node.validator {
            Some(address) => format!("validator {address}"),
            None => "full node".to_owned(),
        };
        say!(
            b,
            "  {}  {role}  JSON-RPC http://{}  p2p {}",
            node.home.display(),
            node.file.rpc_addr,
            node.file.p2p_listen
        );
    }
    say!(b, "Start each with: btcr node --home <home directory>");
    say!(b, "Funded accounts come from the test mnemonic, as in `btcr dev`.");
    print_lines(&b);
    Ok(())
}

async fn run_node(args: NodeArgs) -> eyre::Result<()> {
    let mut config =
        testnet::load_node(&args.home, args.rpc.http(), args.rpc.rpc(), args.rpc.addr)?;
    config.accounts = args.accounts.options();
    config.notify = args.notify.options();
    config.metrics_addr = args.metrics.metrics_addr;
    let node = btcr_node::launch(config.clone()).await?;
    let network = config.network.as_ref().expect("load_node always configures the network");
    // One buffer, written once: the lines come out in order, and a closed standard output
    // does not stop the node.
    let mut b = String::new();
    say!(b);
    say!(b, "BTCR node {}", network.moniker);
    say!(b, "Chain id        {}", config.genesis.chain_id);
    match &config.validator_key {
        Some(key) => say!(b, "Validator       {}", key.address()),
        None => say!(b, "Full node       (no validator key)"),
    }
    say!(b, "Data directory  {}", config.datadir.display());
    say!(b, "p2p             {}", network.listen);
    say!(b, "JSON-RPC        http://{}", node.rpc_addr);
    say!(b, "Portal          http://{}/", node.rpc_addr);
    if let Some(addr) = node.metrics_addr {
        say!(b, "Metrics         http://{addr}/metrics  (/health, /ready)");
    }
    say!(b);
    print_lines(&b);
    Ok(node.wait().await?)
}

async fn run_dev(args: DevArgs) -> eyre::Result<()> {
    let setup = dev::prepare(DevOptions {
        block_time: args.block_time,
        datadir: args.datadir,
        n_accounts: args.genesis.accounts,
        balance_btcr: args.genesis.balance,
        gas_limit: args.genesis.gas_limit,
        http: args.rpc.http(),
        rpc: args.rpc.rpc(),
    })?;
    let mut config = setup.config.clone();
    config.accounts = args.accounts.options();
    config.notify = args.notify.options();
    config.metrics_addr = args.metrics.metrics_addr;
    let node = btcr_node::launch(config).await?;
    print_banner(&setup, node.rpc_addr, node.metrics_addr);
    node.wait().await?;
    drop(setup.tempdir);
    Ok(())
}

async fn run_indexer(args: IndexerArgs) -> eyre::Result<()> {
    let config = btcr_indexer::IndexerConfig {
        node_url: args.node.clone(),
        postgres_url: args.postgres.clone(),
        to: args.to,
        progress_every: args.progress_every,
        bulk: args.bulk,
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        btcr_node::shutdown_signal().await;
        tracing::info!(target: "btcr::indexer", "stopping: the batch under way is written first");
        stop.cancel();
    });
    eprintln!("Indexing {} into PostgreSQL", args.node);
    let started = std::time::Instant::now();
    let done = btcr_indexer::run(&config, shutdown).await?;
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let mut b = String::new();
    say!(
        b,
        "Indexed {} blocks and {} transactions in {:.1} s ({:.0} blocks/s, {:.0} tx/s); last block {}",
        done.blocks,
        done.transactions,
        seconds,
        done.blocks as f64 / seconds,
        done.transactions as f64 / seconds,
        done.height.map_or_else(|| "none".to_owned(), |h| h.to_string())
    );
    print_lines(&b);
    Ok(())
}

async fn run_api(args: ApiArgs) -> eyre::Result<()> {
    let http = HttpConfig {
        listen: args.addr,
        max_body_bytes: args.max_body_bytes,
        max_connections: args.max_connections,
        cors_origins: args.cors.clone().unwrap_or_else(btcr_http::default_cors_origins),
        workers: btcr_http::default_workers(),
    };
    let service = btcr_node::launch_api(btcr_node::ApiServiceConfig {
        http,
        accounts: args.accounts.options(),
        notify: args.notify.options(),
        node_url: args.node.clone(),
        metrics_addr: args.metrics.metrics_addr,
    })
    .await?;
    let mut b = String::new();
    say!(b);
    say!(b, "BTCR API service (accounts, notifications)");
    say!(b, "Listening       http://{}/api/v1", service.local_addr);
    say!(b, "Node            {}", args.node);
    if let Some(addr) = service.metrics_addr {
        say!(b, "Metrics         http://{addr}/metrics  (/health, /ready)");
    }
    say!(
        b,
        "Rate limits     {}",
        if args.accounts.redis_url.is_some() { "shared (Redis)" } else { "this process" }
    );
    say!(b);
    print_lines(&b);
    service.wait().await;
    Ok(())
}

/// Writes the startup banner. A closed standard output (a harness that stopped reading) is
/// no reason for the node to stop, so write errors are ignored.
fn print_lines(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn print_banner(setup: &dev::DevSetup, rpc_addr: SocketAddr, metrics_addr: Option<SocketAddr>) {
    let genesis = &setup.config.genesis;
    let mut b = String::new();
    say!(b);
    say!(b, "BTCR development chain");
    say!(b, "======================");
    say!(b, "Chain id        {}", genesis.chain_id);
    say!(b, "Block time      {}", humantime::format_duration(setup.config.block_time));
    say!(
        b,
        "Data directory  {}{}",
        setup.config.datadir.display(),
        if setup.tempdir.is_some() { " (temporary)" } else { "" }
    );
    say!(b, "JSON-RPC        http://{rpc_addr}");
    say!(b, "Portal          http://{rpc_addr}/  (REST API: /api/v1, docs: /api/v1/docs)");
    if let Some(addr) = metrics_addr {
        say!(b, "Metrics         http://{addr}/metrics  (/health, /ready)");
    }
    say!(
        b,
        "Staking         {} (epochs of {} blocks)",
        btcr_staking::STAKING_ADDRESS,
        genesis.consensus.epoch_length
    );
    say!(b);
    match setup.accounts.first().and_then(|(address, _)| genesis.alloc.get(address)) {
        Some(first) => {
            let wei_per_btcr = alloy_primitives::U256::from(btcr_primitives::WEI_PER_BTCR);
            say!(b, "Funded accounts ({} BTCR each at genesis)", first.balance / wei_per_btcr);
        }
        None => say!(b, "No funded accounts"),
    }
    for (i, (address, key)) in setup.accounts.iter().enumerate() {
        say!(b, "({i}) {address}  private key {key}");
    }
    say!(b);
    say!(b, "Mnemonic        {}", setup.mnemonic);
    say!(b, "Derivation path m/44'/60'/0'/0/<index>");
    say!(b, "These keys are public test keys: never send real value to them.");
    say!(b);
    print_lines(&b);
}

fn init_logging(filter: Option<&str>, json: bool) {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = match filter {
        Some(f) => EnvFilter::new(f),
        // The BFT engine reports every height and round at `info`; BTCR's own lines say
        // what matters, so the engine's are shown from warnings up unless asked for.
        None => EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,arc_malachitebft=warn")),
    };
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
