//! BTCR's Prometheus metrics: one set per process, registered once, written by the crates
//! that do the work and read by the node's metrics server.
//!
//! ```text
//!  chain commit ─┐                                       ┌─ sampled at each scrape by the
//!  JSON-RPC ─────┤                                       │  node: pool sizes, peers, store
//!  WebSocket ────┼─▶ btcr_metrics::metrics() ──encode──▶ /metrics ◀─ size, consumers' lag,
//!  logins ───────┤      (counters, gauges,               │  queue depth, consensus round
//!  deliveries ───┘       histograms)                     └─ + the BFT engine's own registry
//! ```
//!
//! Rules that keep the series bounded: no label ever carries an address, a hash, a user or
//! anything else a client chooses. A JSON-RPC method is a label only when the node knows it
//! (an unknown one counts as `other`), statuses are error codes, and every other label is a
//! word from a fixed list.
//!
//! The text is OpenMetrics (`application/openmetrics-text; version=1.0.0`); counters are registered without their
//! `_total` suffix, which the encoding adds.

use std::sync::LazyLock;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Registry, Unit},
};

/// A floating-point gauge.
pub type GaugeF64 = Gauge<f64, std::sync::atomic::AtomicU64>;

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The chain: what each commit adds.
#[derive(Debug)]
pub struct ChainMetrics {
    /// The number of the latest committed block.
    pub head_height: Gauge,
    /// The number of the latest final block (with BFT finality, the head).
    pub finalized_height: Gauge,
    /// Seconds between a block's timestamp and its parent's.
    pub block_interval: Histogram,
    /// Seconds a block's commit took (the store's fsync'd write, the pool pruned).
    pub commit_latency: Histogram,
    /// Seconds from a block's timestamp to its commit on this node.
    pub finality_latency: Histogram,
    /// Transactions in each committed block.
    pub block_transactions: Histogram,
    /// Gas used by each committed block.
    pub block_gas: Histogram,
    /// Transactions committed since the process started.
    pub transactions: Counter,
    /// Gas used by the blocks committed since the process started.
    pub gas_used: Counter,
    /// Blocks committed since the process started.
    pub blocks: Counter,
    /// Seconds each block's Proof-of-History verification took.
    pub poh_verify: Histogram,
    /// Seconds each verification of another proposer's block took (re-execution included).
    pub block_verify: Histogram,
    /// Blocks refused as invalid by verification.
    pub invalid_blocks: Counter,
    /// Validators in the set that decided the latest block.
    pub validator_set_size: Gauge,
    /// Signatures in the latest block's commit certificate.
    pub certificate_signers: Gauge,
    /// Validators of the deciding set whose precommit a committed block's certificate
    /// lacks, summed over blocks.
    pub certificate_missing_signers: Counter,
}

/// The transaction pool, sampled at each scrape.
#[derive(Debug, Default)]
pub struct PoolMetrics {
    /// Executable transactions.
    pub pending: Gauge,
    /// Transactions waiting for an earlier nonce.
    pub queued: Gauge,
    /// How many transactions the pool holds at most.
    pub capacity: Gauge,
}

/// A JSON-RPC method and how its call ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// The method, or `other` for one the node does not serve.
    pub method: String,
    /// `ok`, or the JSON-RPC error code.
    pub status: String,
}

/// A JSON-RPC method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    /// The method, or `other`.
    pub method: String,
}

/// A kind of WebSocket subscription.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SubscriptionLabel {
    /// `newHeads`, `logs` or `newPendingTransactions`.
    pub kind: &'static str,
}

/// JSON-RPC over HTTP and WebSocket.
#[derive(Debug)]
pub struct RpcMetrics {
    /// Calls by method and outcome.
    pub requests: Family<RpcLabels, Counter>,
    /// Seconds each call took, by method.
    pub latency: HistogramFamily<MethodLabel>,
    /// Open WebSocket connections.
    pub ws_connections: Gauge,
    /// Live WebSocket subscriptions by kind.
    pub ws_subscriptions: Family<SubscriptionLabel, Gauge>,
}

/// Consensus, sampled at each scrape (the BFT engine's own metrics come with its registry).
#[derive(Debug, Default)]
pub struct ConsensusMetrics {
    /// The height the engine works on.
    pub height: Gauge,
    /// The round the engine last started at that height (0 is the first).
    pub round: Gauge,
}

/// A consumer of committed blocks.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabel {
    /// Its name (a fixed list: the node's own consumers).
    pub consumer: String,
}

/// The node's resources, sampled at each scrape.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    /// Connected peers on the transaction network.
    pub peers: Gauge,
    /// Bytes of the chain store's files.
    pub store_bytes: Gauge,
    /// Bytes free for an unprivileged user on the data directory's file system.
    pub disk_available_bytes: Gauge,
    /// Blocks each consumer is behind the head.
    pub consumer_lag: Family<ConsumerLabel, Gauge>,
    /// Seconds since the head block's timestamp.
    pub head_age: GaugeF64,
    /// Unix time the process started.
    pub start_time: Gauge,
}

/// How a login ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabel {
    /// `ok`, `second_factor` (a code is asked for next), `failed` (wrong password, unknown
    /// address or wrong code), `refused` (disabled account), `limited` (rate limit) or
    /// `error`.
    pub result: &'static str,
}

/// The accounts service.
#[derive(Debug)]
pub struct AccountsMetrics {
    /// Login attempts (password, then second factor) by result.
    pub logins: Family<LoginLabel, Counter>,
}

/// A delivery attempt's channel and outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// `webhook` or `email`.
    pub channel: &'static str,
    /// `delivered` or `failed`.
    pub result: &'static str,
}

/// The notification pipeline.
#[derive(Debug)]
pub struct NotifyMetrics {
    /// Delivery attempts by channel and outcome.
    pub attempts: Family<DeliveryLabels, Counter>,
    /// Endpoints disabled after failing for too long.
    pub endpoints_disabled: Counter,
    /// Messages waiting for delivery (sampled at each scrape).
    pub queue_depth: Gauge,
    /// Messages that gave up after their last retry (sampled at each scrape).
    pub failed_messages: Gauge,
}

/// Every metric of the process.
#[derive(Debug)]
pub struct Metrics {
    /// The chain.
    pub chain: ChainMetrics,
    /// The transaction pool.
    pub pool: PoolMetrics,
    /// JSON-RPC.
    pub rpc: RpcMetrics,
    /// Consensus.
    pub consensus: ConsensusMetrics,
    /// The node's resources.
    pub node: NodeMetrics,
    /// The accounts service.
    pub accounts: AccountsMetrics,
    /// Notifications.
    pub notify: NotifyMetrics,
    registry: Registry,
}

fn seconds(start: f64, factor: f64, n: u16) -> Histogram {
    Histogram::new(exponential_buckets(start, factor, n))
}

fn rpc_latency() -> Histogram {
    seconds(0.000_1, 2.5, 12)
}

impl Metrics {
    fn new() -> Self {
        let chain = ChainMetrics {
            head_height: Gauge::default(),
            finalized_height: Gauge::default(),
            block_interval: Histogram::new([
                0.05, 0.1, 0.2, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
            ]),
            commit_latency: seconds(0.000_5, 2.0, 14),
            finality_latency: Histogram::new([
                0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0,
            ]),
            block_transactions: Histogram::new([
                0.0, 1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0,
            ]),
            block_gas: Histogram::new([
                21_000.0, 100_000.0, 1e6, 5e6, 1e7, 2e7, 3e7, 6e7, 1e8, 3e8,
            ]),
            transactions: Counter::default(),
            gas_used: Counter::default(),
            blocks: Counter::default(),
            poh_verify: seconds(0.000_25, 2.0, 14),
            block_verify: seconds(0.000_5, 2.0, 14),
            invalid_blocks: Counter::default(),
            validator_set_size: Gauge::default(),
            certificate_signers: Gauge::default(),
            certificate_missing_signers: Counter::default(),
        };
        let rpc = RpcMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(rpc_latency),
            ws_connections: Gauge::default(),
            ws_subscriptions: Family::default(),
        };
        let accounts = AccountsMetrics { logins: Family::default() };
        let notify = NotifyMetrics {
            attempts: Family::default(),
            endpoints_disabled: Counter::default(),
            queue_depth: Gauge::default(),
            failed_messages: Gauge::default(),
        };
        let mut metrics = Self {
            chain,
            pool: PoolMetrics::default(),
            rpc,
            consensus: ConsensusMetrics::default(),
            node: NodeMetrics::default(),
            accounts,
            notify,
            registry: Registry::default(),
        };
        metrics.register();
        metrics
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        let c = &self.chain;
        r.register(
            "btcr_chain_head_height",
            "Number of the latest committed block",
            c.head_height.clone(),
        );
        r.register(
            "btcr_chain_finalized_height",
            "Number of the latest final block",
            c.finalized_height.clone(),
        );
        r.register_with_unit(
            "btcr_block_interval",
            "Time between a block's timestamp and its parent's",
            Unit::Seconds,
            c.block_interval.clone(),
        );
        r.register_with_unit(
            "btcr_block_commit",
            "Time a block's commit took on this node",
            Unit::Seconds,
            c.commit_latency.clone(),
        );
        r.register_with_unit(
            "btcr_block_finality",
            "Time from a block's timestamp to its commit on this node",
            Unit::Seconds,
            c.finality_latency.clone(),
        );
        r.register(
            "btcr_block_transactions",
            "Transactions per committed block",
            c.block_transactions.clone(),
        );
        r.register("btcr_block_gas_used", "Gas used per committed block", c.block_gas.clone());
        r.register("btcr_transactions", "Transactions committed", c.transactions.clone());
        r.register("btcr_gas_used", "Gas used by committed blocks", c.gas_used.clone());
        r.register("btcr_blocks", "Blocks committed", c.blocks.clone());
        r.register_with_unit(
            "btcr_poh_verify",
            "Time a block's Proof-of-History verification took",
            Unit::Seconds,
            c.poh_verify.clone(),
        );
        r.register_with_unit(
            "btcr_block_verify",
            "Time the verification of another proposer's block took",
            Unit::Seconds,
            c.block_verify.clone(),
        );
        r.register("btcr_blocks_invalid", "Blocks refused as invalid", c.invalid_blocks.clone());
        r.register(
            "btcr_validator_set_size",
            "Validators in the set that decided the latest block",
            c.validator_set_size.clone(),
        );
        r.register(
            "btcr_certificate_signers",
            "Signatures in the latest block's commit certificate",
            c.certificate_signers.clone(),
        );
        r.register(
            "btcr_certificate_missing_signers",
            "Validators whose precommit a committed block's certificate lacks",
            c.certificate_missing_signers.clone(),
        );

        let p = &self.pool;
        r.register("btcr_txpool_pending", "Executable transactions in the pool", p.pending.clone());
        r.register(
            "btcr_txpool_queued",
            "Transactions waiting for an earlier nonce",
            p.queued.clone(),
        );
        r.register(
            "btcr_txpool_capacity",
            "Transactions the pool holds at most",
            p.capacity.clone(),
        );

        let rpc = &self.rpc;
        r.register(
            "btcr_rpc_requests",
            "JSON-RPC calls by method and outcome",
            rpc.requests.clone(),
        );
        r.register_with_unit(
            "btcr_rpc_request_duration",
            "Time a JSON-RPC call took, by method",
            Unit::Seconds,
            rpc.latency.clone(),
        );
        r.register("btcr_ws_connections", "Open WebSocket connections", rpc.ws_connections.clone());
        r.register(
            "btcr_ws_subscriptions",
            "Live WebSocket subscriptions by kind",
            rpc.ws_subscriptions.clone(),
        );

        let cs = &self.consensus;
        r.register(
            "btcr_consensus_height",
            "Height the consensus engine works on",
            cs.height.clone(),
        );
        r.register(
            "btcr_consensus_round",
            "Round the consensus engine last started at its height",
            cs.round.clone(),
        );

        let n = &self.node;
        r.register("btcr_peers", "Connected peers on the transaction network", n.peers.clone());
        r.register_with_unit(
            "btcr_store",
            "Size of the chain store's files",
            Unit::Bytes,
            n.store_bytes.clone(),
        );
        r.register_with_unit(
            "btcr_disk_available",
            "Space free on the data directory's file system",
            Unit::Bytes,
            n.disk_available_bytes.clone(),
        );
        r.register(
            "btcr_consumer_lag_blocks",
            "Blocks a consumer is behind the head",
            n.consumer_lag.clone(),
        );
        r.register_with_unit(
            "btcr_head_age",
            "Time since the head block's timestamp",
            Unit::Seconds,
            n.head_age.clone(),
        );
        r.register_with_unit(
            "btcr_process_start_time",
            "Unix time the process started",
            Unit::Seconds,
            n.start_time.clone(),
        );

        r.register("btcr_logins", "Login attempts by result", self.accounts.logins.clone());

        let q = &self.notify;
        r.register(
            "btcr_notify_attempts",
            "Delivery attempts by channel and outcome",
            q.attempts.clone(),
        );
        r.register(
            "btcr_notify_endpoints_disabled",
            "Endpoints disabled after failing for too long",
            q.endpoints_disabled.clone(),
        );
        r.register(
            "btcr_notify_queue_depth",
            "Messages waiting for delivery",
            q.queue_depth.clone(),
        );
        r.register(
            "btcr_notify_failed_messages",
            "Messages that gave up after their last retry",
            q.failed_messages.clone(),
        );
    }

    /// Counts one JSON-RPC call of `method` (`None`: a method the node does not serve) that
    /// ended with `status` (`None`: a result, else the error code) after `seconds`.
    pub fn rpc_call(&self, method: Option<&str>, status: Option<i64>, seconds: f64) {
        let method = method.unwrap_or("other").to_owned();
        let status = status.map_or_else(|| "ok".to_owned(), |code| code.to_string());
        self.rpc.latency.get_or_create(&MethodLabel { method: method.clone() }).observe(seconds);
        self.rpc.requests.get_or_create(&RpcLabels { method, status }).inc();
    }

    /// Counts a login attempt that ended with `result` (see [`LoginLabel`]).
    pub fn login(&self, result: &'static str) {
        self.accounts.logins.get_or_create(&LoginLabel { result }).inc();
    }

    /// Counts a delivery attempt.
    pub fn delivery(&self, channel: &'static str, delivered: bool) {
        let result = if delivered { "delivered" } else { "failed" };
        self.notify.attempts.get_or_create(&DeliveryLabels { channel, result }).inc();
    }

    /// A WebSocket connection, counted while the guard lives.
    pub fn ws_connection(&'static self) -> GaugeGuard {
        GaugeGuard::new(self.rpc.ws_connections.clone())
    }

    /// A WebSocket subscription of `kind`, counted while the guard lives.
    pub fn ws_subscription(&'static self, kind: &'static str) -> GaugeGuard {
        GaugeGuard::new(
            self.rpc.ws_subscriptions.get_or_create(&SubscriptionLabel { kind }).clone(),
        )
    }
}

/// Holds one unit of a gauge: added when made, taken back when dropped.
#[derive(Debug)]
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    fn new(gauge: Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics, registered on first use.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// Appends the process's metrics to `out` in the OpenMetrics text format, without the
/// closing `# EOF` line (so that another registry's text may follow).
pub fn encode(out: &mut String) {
    prometheus_client::encoding::text::encode_registry(out, &metrics().registry)
        .expect("writing into a String cannot fail");
}

/// Appends the closing `# EOF` line.
pub fn encode_eof(out: &mut String) {
    prometheus_client::encoding::text::encode_eof(out).expect("writing into a String cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_described_and_labels_are_encoded() {
        let m = metrics();
        m.rpc_call(Some("eth_blockNumber"), None, 0.001);
        m.rpc_call(None, Some(-32601), 0.000_2);
        m.login("failed");
        m.delivery("webhook", false);
        let guard = m.ws_subscription("newHeads");
        m.chain.transactions.inc_by(3);
        let mut text = String::new();
        encode(&mut text);
        encode_eof(&mut text);
        assert!(text.ends_with("# EOF\n"), "{text}");
        for line in [
            "# TYPE btcr_chain_head_height gauge",
            "# TYPE btcr_block_commit_seconds histogram",
            "btcr_rpc_requests_total{method=\"eth_blockNumber\",status=\"ok\"} 1",
            "btcr_rpc_requests_total{method=\"other\",status=\"-32601\"} 1",
            "btcr_logins_total{result=\"failed\"} 1",
            "btcr_notify_attempts_total{channel=\"webhook\",result=\"failed\"} 1",
            "btcr_ws_subscriptions{kind=\"newHeads\"} 1",
            "btcr_transactions_total 3",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        drop(guard);
        let mut text = String::new();
        encode(&mut text);
        assert!(text.lines().any(|l| l == "btcr_ws_subscriptions{kind=\"newHeads\"} 0"), "{text}");
    }
}
