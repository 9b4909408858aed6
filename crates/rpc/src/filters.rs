//! Polled filters: `eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`,
//! `eth_getFilterChanges`, `eth_getFilterLogs`, `eth_uninstallFilter`.
//!
//! Filters live in the server, shared by every connection (HTTP has no session to tie them
//! to), bounded in number, and removed when a client has not polled one for
//! [`FILTER_TTL`]. A pending-transaction filter keeps at most [`MAX_PENDING_HASHES`] hashes
//! between polls; older ones are dropped.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{B256, U128};
use std::net::IpAddr;

use alloy_rpc_types_eth::Filter;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use btcr_interfaces::Mempool;

use crate::{
    RpcError,
    eth::{Ctx, Params},
    logs,
};

/// A filter nobody polled for this long is removed.
pub const FILTER_TTL: Duration = Duration::from_secs(5 * 60);
/// Most transaction hashes a pending-transaction filter holds between polls.
pub const MAX_PENDING_HASHES: usize = 10_000;

enum Kind {
    /// New block hashes; `next` is the first block not yet reported.
    Blocks { next: u64 },
    /// Logs of new blocks matching `filter`.
    Logs { filter: Box<Filter>, next: u64 },
    /// Hashes of transactions that became pending.
    Pending { hashes: VecDeque<B256> },
}

struct Installed {
    kind: Kind,
    polled: Instant,
    /// The address of the client that installed it, when known.
    owner: Option<IpAddr>,
}

/// The installed filters.
pub(crate) struct Filters {
    inner: Mutex<Inner>,
    max: usize,
}

#[derive(Default)]
struct Inner {
    filters: HashMap<U128, Installed>,
    next_id: u128,
}

impl Filters {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { inner: Mutex::new(Inner::default()), max })
    }

    fn install(&self, ctx: &Ctx<'_>, kind: Kind) -> Result<Value, RpcError> {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        inner.filters.retain(|_, f| now.duration_since(f.polled) < FILTER_TTL);
        let per_client = ctx.config.max_filters_per_client;
        if let Some(owner) = ctx.client
            && inner.filters.values().filter(|f| f.owner == Some(owner)).count() >= per_client
        {
            return Err(RpcError::limit_exceeded(format!(
                "{owner} has {per_client} filters installed, the most one client may \
                 (--rpc.max-filters-per-client); uninstall some or let them expire"
            )));
        }
        if inner.filters.len() >= self.max {
            return Err(RpcError::server(format!(
                "too many filters installed (at most {}); uninstall some or let them expire",
                self.max
            )));
        }
        // Ids are not guessable from one another, so one client cannot poll away another's
        // changes by counting.
        inner.next_id += 1;
        let id = U128::from(u128::from_be_bytes(
            alloy_primitives::keccak256(inner.next_id.to_be_bytes())[..16]
                .try_into()
                .expect("16 bytes"),
        ));
        inner.filters.insert(id, Installed { kind, polled: now, owner: ctx.client });
        Ok(json!(id))
    }

    /// Feeds newly pending transaction hashes to the pending-transaction filters until the
    /// pool's channel closes.
    pub(crate) async fn feed_pending(self: Arc<Self>, pool: Arc<dyn Mempool>) {
        let mut pending = pool.subscribe_pending();
        loop {
            let hash = match pending.recv().await {
                Ok(hash) => hash,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            let mut inner = self.inner.lock();
            let now = Instant::now();
            inner.filters.retain(|_, f| now.duration_since(f.polled) < FILTER_TTL);
            for f in inner.filters.values_mut() {
                if let Kind::Pending { hashes } = &mut f.kind {
                    if hashes.len() == MAX_PENDING_HASHES {
                        hashes.pop_front();
                    }
                    hashes.push_back(hash);
                }
            }
        }
    }
}

pub(crate) fn new_filter(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let filter = crate::logs::bounded(params.required(0, "filter")?)?;
    let head = ctx.view.head().number;
    ctx.filters.install(ctx, Kind::Logs { filter: Box::new(filter), next: head + 1 })
}

pub(crate) fn new_block_filter(ctx: &Ctx<'_>) -> Result<Value, RpcError> {
    let head = ctx.view.head().number;
    ctx.filters.install(ctx, Kind::Blocks { next: head + 1 })
}

pub(crate) fn new_pending_filter(ctx: &Ctx<'_>) -> Result<Value, RpcError> {
    ctx.filters.install(ctx, Kind::Pending { hashes: VecDeque::new() })
}

pub(crate) fn uninstall(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let id: U128 = params.required(0, "filter id")?;
    Ok(json!(ctx.filters.inner.lock().filters.remove(&id).is_some()))
}

fn not_found() -> RpcError {
    RpcError::server("filter not found")
}

pub(crate) fn changes(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let id: U128 = params.required(0, "filter id")?;
    let head = ctx.view.head().number;
    // Take what the poll needs under the lock, read the chain without it.
    let (blocks, log_filter) = {
        let mut inner = ctx.filters.inner.lock();
        let f = inner.filters.get_mut(&id).ok_or_else(not_found)?;
        f.polled = Instant::now();
        match &mut f.kind {
            Kind::Pending { hashes } => {
                return Ok(json!(hashes.drain(..).collect::<Vec<_>>()));
            }
            Kind::Blocks { next } => {
                let from = *next;
                *next = head + 1;
                ((from, head), None)
            }
            Kind::Logs { filter, next } => {
                let from = *next;
                *next = head + 1;
                ((from, head), Some(filter.clone()))
            }
        }
    };
    let (from, to) = blocks;
    if from > to {
        return Ok(json!([]));
    }
    // A client that fell far behind gets the latest blocks within the scan limit.
    let from = from.max(to.saturating_sub(ctx.config.max_logs_block_range - 1));
    match log_filter {
        None => {
            let mut hashes = Vec::new();
            for number in from..=to {
                let header = ctx
                    .view
                    .header(number)
                    .map_err(RpcError::read)?
                    .ok_or_else(|| RpcError::internal(format!("header {number} is missing")))?;
                hashes.push(header.hash());
            }
            Ok(json!(hashes))
        }
        Some(filter) => {
            serde_json::to_value(logs::collect(ctx, &filter, from, to)?).map_err(RpcError::internal)
        }
    }
}

pub(crate) fn filter_logs(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let id: U128 = params.required(0, "filter id")?;
    let filter = {
        let mut inner = ctx.filters.inner.lock();
        let f = inner.filters.get_mut(&id).ok_or_else(not_found)?;
        f.polled = Instant::now();
        match &f.kind {
            Kind::Logs { filter, .. } => filter.clone(),
            _ => return Err(RpcError::server("filter is not a log filter")),
        }
    };
    let logs = match logs::range(ctx.view, &filter)? {
        Some((from, to)) => logs::collect(ctx, &filter, from, to)?,
        None => Vec::new(),
    };
    serde_json::to_value(logs).map_err(RpcError::internal)
}
