//! The node's operations probe: what `--metrics.addr` serves through
//! `btcr_http::operations` (`/metrics`, `/health`, `/ready`).
//!
//! - The sample (before a scrape, at most once a second): pool sizes, peers, consumers'
//!   lag, the consensus position, the store's size and the disk's free space (on the
//!   blocking pool), the delivery queue's depth.
//! - The text: `btcr_metrics`'s, then the BFT engine's registry, then `# EOF`.
//! - Readiness: the head is recent (ten block times, at least 15 s), a node of a network
//!   has peers, and the app database answers `SELECT 1` within 2 s.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use btcr_accounts::Accounts;
use btcr_http::operations::{Probe, ProbeFuture, Readiness, serve_operations};
use btcr_interfaces::NodeStatus;
use btcr_notify::Notify;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::{Chain, NodeApi, NodeResult};

/// How long a database query of a sample or a readiness check may take.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);
/// A head older than this many block times (and at least [`MIN_SYNC_LAG`]) is not synced.
const SYNC_LAG_BLOCKS: u32 = 10;
const MIN_SYNC_LAG: Duration = Duration::from_secs(15);

/// What the operations endpoints read of a node.
#[derive(Clone)]
pub(crate) struct NodeProbe {
    /// The chain: the head and the pool.
    pub chain: Arc<Chain>,
    /// Peers, consumers, consensus.
    pub api: Arc<NodeApi>,
    /// The data directory (the chain store is its `chain`).
    pub datadir: PathBuf,
    /// The app database (accounts, notifications).
    pub accounts: Accounts,
    /// The notification pipeline (its queue).
    pub notify: Notify,
    /// The interval between blocks.
    pub block_time: Duration,
    /// Whether this node has peers to expect (a node of a network).
    pub networked: bool,
}

/// Serves `probe`'s operations endpoints (a node's, or `btcr api`'s) on `addr` until
/// `shutdown`.
pub(crate) async fn start(
    addr: SocketAddr,
    probe: Arc<dyn Probe>,
    shutdown: CancellationToken,
) -> NodeResult<SocketAddr> {
    let started = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    btcr_metrics::metrics().node.start_time.set(i64::try_from(started).unwrap_or(i64::MAX));
    Ok(serve_operations(addr, probe, shutdown).await?)
}

impl Probe for NodeProbe {
    fn sample(&self) -> ProbeFuture<'_, ()> {
        Box::pin(sample(self))
    }

    fn encode(&self, out: &mut String) {
        btcr_metrics::encode(out);
        btcr_consensus::encode_engine_metrics(out);
        btcr_metrics::encode_eof(out);
    }

    fn ready(&self) -> ProbeFuture<'_, Readiness> {
        Box::pin(ready(self))
    }
}

/// The app database's check: `SELECT 1` within [`DATABASE_TIMEOUT`].
async fn database_check(accounts: &Accounts) -> (bool, serde_json::Value) {
    let answered = match tokio::time::timeout(DATABASE_TIMEOUT, accounts.database().ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {DATABASE_TIMEOUT:?}")),
    };
    let check = json!({
        "ok": answered.is_ok(),
        "backend": accounts.database().backend_name(),
        "error": answered.as_ref().err(),
    });
    (answered.is_ok(), check)
}

/// Samples the delivery queue's depth and the messages that gave up.
async fn sample_queue(notify: &Notify) {
    let m = btcr_metrics::metrics();
    match tokio::time::timeout(DATABASE_TIMEOUT, notify.queue_counts()).await {
        Ok(Ok((pending, failed))) => {
            m.notify.queue_depth.set(pending);
            m.notify.failed_messages.set(failed);
        }
        Ok(Err(e)) => tracing::warn!(target: "btcr::metrics", "reading the delivery queue: {e}"),
        Err(_) => tracing::warn!(target: "btcr::metrics", "reading the delivery queue timed out"),
    }
}

/// What the operations endpoints read of `btcr api`: its database and delivery queue.
#[derive(Clone)]
pub(crate) struct ServiceProbe {
    /// The app database.
    pub accounts: Accounts,
    /// The notification pipeline.
    pub notify: Notify,
}

impl Probe for ServiceProbe {
    fn sample(&self) -> ProbeFuture<'_, ()> {
        Box::pin(sample_queue(&self.notify))
    }

    fn encode(&self, out: &mut String) {
        btcr_metrics::encode(out);
        btcr_metrics::encode_eof(out);
    }

    fn ready(&self) -> ProbeFuture<'_, Readiness> {
        Box::pin(async move {
            let (ok, database) = database_check(&self.accounts).await;
            Readiness { ready: ok, checks: json!({ "database": database }) }
        })
    }
}

async fn ready(probe: &NodeProbe) -> Readiness {
    let head = probe.chain.head_header();
    let age = head_age(head.timestamp_ms);
    let max_age = (probe.block_time * SYNC_LAG_BLOCKS).max(MIN_SYNC_LAG);
    let synced = age <= max_age;
    let peers = probe.api.peers();
    let peers_ok = !probe.networked || peers > 0;
    let (database_ok, database) = database_check(&probe.accounts).await;
    Readiness {
        ready: synced && peers_ok && database_ok,
        checks: json!({
            "synced": {
                "ok": synced,
                "head": head.number,
                "headAgeSeconds": age.as_secs_f64(),
                "maxAgeSeconds": max_age.as_secs_f64(),
            },
            "peers": { "ok": peers_ok, "peers": peers, "required": u64::from(probe.networked) },
            "database": database,
        }),
    }
}

fn head_age(timestamp_ms: u64) -> Duration {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    Duration::from_millis(u64::try_from(now_ms).unwrap_or(u64::MAX).saturating_sub(timestamp_ms))
}

/// Reads what the metrics show but nothing counts.
async fn sample(probe: &NodeProbe) {
    let m = btcr_metrics::metrics();
    let head = probe.chain.head_header();
    let height = i64::try_from(head.number).unwrap_or(i64::MAX);
    m.chain.head_height.set(height);
    m.chain.finalized_height.set(height);
    m.node.head_age.set(head_age(head.timestamp_ms).as_secs_f64());
    let (pending, queued) = probe.chain.pool_counts();
    m.pool.pending.set(pending as i64);
    m.pool.queued.set(queued as i64);
    m.node.peers.set(i64::try_from(probe.api.peers()).unwrap_or(i64::MAX));
    for consumer in probe.api.consumers() {
        let lag = match consumer.applied {
            Some(applied) => head.number.saturating_sub(applied),
            None => head.number.saturating_add(1),
        };
        m.node
            .consumer_lag
            .get_or_create(&btcr_metrics::ConsumerLabel { consumer: consumer.name.to_owned() })
            .set(i64::try_from(lag).unwrap_or(i64::MAX));
    }
    if let Some(position) = probe.api.consensus() {
        m.consensus.height.set(i64::try_from(position.height).unwrap_or(i64::MAX));
        m.consensus.round.set(i64::from(position.round));
    }
    let datadir = probe.datadir.clone();
    let disk = tokio::task::spawn_blocking(move || {
        (bytes_under(&datadir.join("chain")), available_bytes(&datadir))
    })
    .await;
    if let Ok((store, available)) = disk {
        m.node.store_bytes.set(i64::try_from(store).unwrap_or(i64::MAX));
        if let Some(available) = available {
            m.node.disk_available_bytes.set(i64::try_from(available).unwrap_or(i64::MAX));
        }
    }
    sample_queue(&probe.notify).await;
}

/// The bytes of the files at `path` (a file, or a directory's files one level down).
fn bytes_under(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else { return 0 };
    if meta.is_file() {
        return meta.len();
    }
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.metadata().ok())
        .filter(std::fs::Metadata::is_file)
        .map(|meta| meta.len())
        .sum()
}

/// The bytes an unprivileged user may still write on `path`'s file system.
fn available_bytes(path: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}
