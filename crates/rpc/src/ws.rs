//! WebSocket sessions: JSON-RPC requests over one connection, plus `eth_subscribe` for
//! `newHeads`, `logs` and `newPendingTransactions`.
//!
//! Requests on one connection run concurrently and are answered as they finish (clients
//! match answers by id), up to a budget of request bytes in flight per connection. When the
//! connection closes, its requests still waiting for a worker are dropped unrun.
//!
//! Each subscription is a task that forwards what it sees to the connection's outbox, a
//! bounded channel the session writes to the socket. A client that reads too slowly fills
//! the outbox; the subscription tasks then wait, and the chain's broadcast channels drop the
//! oldest items for them (a `newHeads` subscriber skips heads; a `logs` subscriber catches
//! up block by block, at most [`LOGS_CATCH_UP`] blocks back).

use std::{collections::HashMap, sync::Arc};

use alloy_primitives::{B256, U128};
use alloy_rpc_types_eth::Filter;
use axum::extract::ws::{Message, WebSocket};
use btcr_http::{ConnectionPermit, WorkerError, Workers};
use btcr_interfaces::{ChainReader, Mempool};
use btcr_metrics::GaugeGuard;
use btcr_primitives::Header;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::{
    sync::{
        Semaphore,
        broadcast::{self, error::RecvError},
        mpsc,
    },
    task::AbortHandle,
};
use tokio_util::sync::CancellationToken;

use crate::{
    RpcConfig, RpcError, eth::Params, format::header_json, jsonrpc, logs, router::RpcState,
};

/// Notifications and answers waiting to be written to one connection.
const OUTBOX: usize = 1024;
/// What a request counts against its connection's in-flight budget at the least, in bytes,
/// so that tiny requests cannot pile up without bound.
const MIN_REQUEST_COST: u32 = 4096;
/// Most blocks a `logs` subscription reads to catch up after falling behind.
const LOGS_CATCH_UP: u64 = 128;

/// What a method can do with the connection it arrived on.
pub(crate) trait Session: Send + Sync {
    fn subscribe(&self, params: &Params) -> Result<Value, RpcError>;
    fn unsubscribe(&self, params: &Params) -> Result<Value, RpcError>;
}

struct WsSession {
    chain: Arc<dyn ChainReader>,
    pool: Arc<dyn Mempool>,
    config: Arc<RpcConfig>,
    runtime: tokio::runtime::Handle,
    workers: Workers,
    outbox: mpsc::Sender<String>,
    subscriptions: Mutex<Subscriptions>,
}

#[derive(Default)]
struct Subscriptions {
    /// Each subscription's task, and its place in the subscriptions gauge.
    tasks: HashMap<U128, (AbortHandle, GaugeGuard)>,
    next_id: u128,
}

impl WsSession {
    fn close(&self) {
        for (_, (task, _counted)) in self.subscriptions.lock().tasks.drain() {
            task.abort();
        }
    }
}

fn notification(id: U128, result: Value) -> String {
    json!({
        "jsonrpc": "2.0",
        "method": "eth_subscription",
        "params": { "subscription": id, "result": result },
    })
    .to_string()
}

impl Session for WsSession {
    fn subscribe(&self, params: &Params) -> Result<Value, RpcError> {
        let kind: String = params.required(0, "subscription kind")?;
        let mut subs = self.subscriptions.lock();
        let max = self.config.max_subscriptions_per_connection;
        if subs.tasks.len() >= max {
            return Err(RpcError::server(format!(
                "too many subscriptions on this connection (at most {max})"
            )));
        }
        subs.next_id += 1;
        let id = U128::from(subs.next_id);
        let chain = self.chain.clone();
        let outbox = self.outbox.clone();
        // Each task gets a receiver made here, before the id is answered: whatever happens
        // after the client has its id reaches it, however late the task first runs.
        let (task, label) = match kind.as_str() {
            "newHeads" => {
                (self.runtime.spawn(new_heads(chain.subscribe_new_heads(), outbox, id)), "newHeads")
            }
            "logs" => {
                let filter: Filter = params.optional(1, "filter")?.unwrap_or_default();
                let filter = crate::logs::bounded(filter)?;
                let heads = chain.subscribe_new_heads();
                let task = self.runtime.spawn(logs_task(
                    chain,
                    heads,
                    self.workers.clone(),
                    outbox,
                    id,
                    filter,
                ));
                (task, "logs")
            }
            "newPendingTransactions" => {
                let task = self.runtime.spawn(pending(self.pool.subscribe_pending(), outbox, id));
                (task, "newPendingTransactions")
            }
            other => {
                return Err(RpcError::invalid_params(format!(
                    "unknown subscription {other:?}; expected newHeads, logs or newPendingTransactions"
                )));
            }
        };
        let counted = btcr_metrics::metrics().ws_subscription(label);
        subs.tasks.insert(id, (task.abort_handle(), counted));
        Ok(json!(id))
    }

    fn unsubscribe(&self, params: &Params) -> Result<Value, RpcError> {
        let id: U128 = params.required(0, "subscription id")?;
        let Some((task, _counted)) = self.subscriptions.lock().tasks.remove(&id) else {
            return Ok(json!(false));
        };
        task.abort();
        Ok(json!(true))
    }
}

async fn new_heads(mut heads: broadcast::Receiver<Header>, outbox: mpsc::Sender<String>, id: U128) {
    loop {
        let header = match heads.recv().await {
            Ok(header) => header,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let mut fields = header_json(&header, header.hash(), 0);
        fields.remove("size");
        fields.remove("uncles");
        if outbox.send(notification(id, Value::Object(fields))).await.is_err() {
            return;
        }
    }
}

async fn logs_task(
    chain: Arc<dyn ChainReader>,
    mut heads: broadcast::Receiver<Header>,
    workers: Workers,
    outbox: mpsc::Sender<String>,
    id: U128,
    filter: Filter,
) {
    let mut next: Option<u64> = None;
    loop {
        let head = match heads.recv().await {
            Ok(header) => header.number,
            // Missed heads are read back from the store below.
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let from = next.unwrap_or(head).max(head.saturating_sub(LOGS_CATCH_UP - 1));
        next = Some(head + 1);
        let (chain2, filter2) = (chain.clone(), filter.clone());
        // Scanned on the request workers, like `eth_getLogs`: however many subscriptions a
        // head wakes, they take the same few threads as every other request.
        let found = workers
            .run(move || {
                let view = chain2.view().map_err(RpcError::read)?;
                let mut out = Vec::new();
                for number in from..=head.min(view.head().number) {
                    logs::block_logs(view.as_ref(), &filter2, number, &mut out)?;
                }
                Ok::<_, RpcError>(out)
            })
            .await;
        let Ok(Ok(found)) = found else {
            tracing::warn!(target: "btcr::rpc", "a logs subscription could not read block {head}");
            continue;
        };
        for log in found {
            let Ok(value) = serde_json::to_value(log) else { continue };
            if outbox.send(notification(id, value)).await.is_err() {
                return;
            }
        }
    }
}

async fn pending(mut hashes: broadcast::Receiver<B256>, outbox: mpsc::Sender<String>, id: U128) {
    loop {
        let hash: B256 = match hashes.recv().await {
            Ok(hash) => hash,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        if outbox.send(notification(id, json!(hash))).await.is_err() {
            return;
        }
    }
}

/// Serves one WebSocket connection until the client leaves; `_permit` holds its place
/// among the server's connections.
pub(crate) async fn serve(
    mut socket: WebSocket,
    state: RpcState,
    _permit: ConnectionPermit,
    client: Option<std::net::IpAddr>,
) {
    let _counted = btcr_metrics::metrics().ws_connection();
    let config = state.config.clone();
    let (outbox, mut outgoing) = mpsc::channel::<String>(OUTBOX);
    let session = Arc::new(WsSession {
        chain: state.chain.clone(),
        pool: state.pool.clone(),
        config: config.clone(),
        runtime: tokio::runtime::Handle::current(),
        workers: state.workers.clone(),
        outbox,
        subscriptions: Mutex::new(Subscriptions::default()),
    });
    // Requests run concurrently, each answering through the outbox when done (clients match
    // answers by id). What they may hold at once is bounded by bytes, so a connection never
    // holds more request data than one message of the largest size allowed.
    let budget = u32::try_from(config.max_ws_message_bytes).unwrap_or(u32::MAX).max(1);
    let in_flight = Arc::new(Semaphore::new(budget as usize));
    // Cancelled when the connection ends: its requests still queued are dropped unrun.
    let closed = CancellationToken::new();
    let _cancel_on_close = closed.clone().drop_guard();
    'connection: loop {
        tokio::select! {
            incoming = socket.recv() => {
                let body: Vec<u8> = match incoming {
                    Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
                    Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                };
                let cost = u32::try_from(body.len()).unwrap_or(u32::MAX).max(MIN_REQUEST_COST).min(budget);
                // While waiting for room, keep writing answers out: they are what frees it.
                let permit = loop {
                    tokio::select! {
                        permit = in_flight.clone().acquire_many_owned(cost) => match permit {
                            Ok(permit) => break permit,
                            Err(_) => break 'connection,
                        },
                        Some(note) = outgoing.recv() => {
                            if socket.send(Message::Text(note.into())).await.is_err() {
                                break 'connection;
                            }
                        }
                    }
                };
                let (state, session, closed) = (state.clone(), session.clone(), closed.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    let outbox = session.outbox.clone();
                    let parsed = jsonrpc::parse_small(&body);
                    let quick = parsed.as_ref().is_some_and(jsonrpc::is_quick);
                    let id = parsed.as_ref().and_then(|p| p.get("id")).cloned().unwrap_or(Value::Null);
                    let workers = state.workers.clone();
                    let handled = workers.handle(quick, move || {
                        let session = Some(session.as_ref() as &dyn Session);
                        state.handle(parsed, &body, session, client)
                    });
                    let text = tokio::select! {
                        // Dropping the job's future before a worker takes it cancels it.
                        _ = closed.cancelled() => return,
                        response = handled => match response {
                            Ok(Some(response)) => String::from_utf8(response).expect("JSON text is UTF-8"),
                            Ok(None) | Err(WorkerError::Failed) => return,
                            Err(busy @ WorkerError::Busy) => {
                                jsonrpc::error_response(id, &RpcError::limit_exceeded(busy.to_string()))
                                    .to_string()
                            }
                        },
                    };
                    // The connection may have closed meanwhile; then nobody is waiting.
                    let _ = outbox.send(text).await;
                });
            }
            Some(note) = outgoing.recv() => {
                if socket.send(Message::Text(note.into())).await.is_err() {
                    break;
                }
            }
        }
    }
    session.close();
}
