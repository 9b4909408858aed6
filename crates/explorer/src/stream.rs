//! The block stream for indexers: `GET /api/v1/blocks/stream?from=N[&to=M]` answers a
//! binary body of frames (`btcr_primitives::StreamFrame`: each committed block from `N` on
//! with its receipts, senders, the balances it left, its signers and, at an epoch's end, the
//! next validator set), then keeps the connection open and sends each new block as it is
//! committed, with a `head` frame each time it reaches the head and every 5 s while there
//! is no new block. With `to`, it ends after block `M`.
//!
//! Reads run on the request workers, at most 64 blocks or 8 MiB of frames per job, and at
//! most two such batches wait for a client that reads slowly (the socket's backpressure
//! reaches the reads). Senders come from the store; a block stored before the store kept
//! them has its senders recovered (and no balances). The stream holds a place among the
//! server's connections for its life. It is not in the OpenAPI document: its body is not
//! JSON.

use std::{convert::Infallible, time::Duration};

use axum::{
    Extension, Router,
    body::{Body, Bytes},
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use btcr_http::{ApiError, ApiQuery, ConnectionPermit};
use btcr_interfaces::{ChainReader, ChainView};
use btcr_primitives::{AccountBalance, StreamFrame, StreamValidator, StreamedBlock};
use serde::Deserialize;
use tokio::sync::{broadcast::error::RecvError, mpsc};

use crate::{ExplorerState, read_error};

/// Where an indexer reads the chain.
pub const STREAM_PATH: &str = "/api/v1/blocks/stream";
/// The body's media type.
pub const STREAM_CONTENT_TYPE: &str = "application/x-btcr-block-stream";
/// Blocks read per job.
const BATCH_BLOCKS: u64 = 64;
/// Bytes of frames per job (a batch ends after the block that passes it).
const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Batches waiting for the client.
const AHEAD: usize = 2;
/// How often a waiting stream says where the head is.
const HEAD_EVERY: Duration = Duration::from_secs(5);

/// Where a stream starts and ends, as the query string gives it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStreamQuery {
    from: Option<String>,
    to: Option<String>,
}

/// Where a stream starts and ends.
#[derive(Debug)]
struct StreamQuery {
    /// The first block.
    from: u64,
    /// The last block (none: follow the chain).
    to: Option<u64>,
}

impl StreamQuery {
    fn parse(raw: RawStreamQuery) -> Result<Self, ApiError> {
        let number = |name: &str, value: &str| {
            value.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("{name}: {value:?} is not a block number"))
            })
        };
        let from = raw
            .from
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("from: the first block is required"))?;
        let query = Self {
            from: number("from", from)?,
            to: raw.to.as_deref().map(|to| number("to", to)).transpose()?,
        };
        if query.to.is_some_and(|to| to < query.from) {
            return Err(ApiError::bad_request("to: the last block is before `from`"));
        }
        Ok(query)
    }
}

/// The stream's route.
pub(crate) fn routes() -> Router<ExplorerState> {
    Router::new().route(STREAM_PATH, get(stream))
}

async fn stream(
    State(shared): State<ExplorerState>,
    Extension(permit): Extension<ConnectionPermit>,
    ApiQuery(query): ApiQuery<RawStreamQuery>,
) -> Result<Response, ApiError> {
    let query = StreamQuery::parse(query)?;
    let (frames, receiver) = mpsc::channel::<Bytes>(AHEAD);
    // Subscribed before the first read, so that no block committed meanwhile is missed.
    let heads = shared.chain.subscribe_new_heads();
    tokio::spawn(async move {
        // The stream keeps its place among the connections until it ends.
        let _permit = permit;
        if let Err(e) = feed(shared, query, heads, frames).await {
            tracing::warn!(target: "btcr::explorer", error = %e.message(), "a block stream ended");
        }
    });
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (Ok::<_, Infallible>(chunk), receiver))
    });
    Ok(([(header::CONTENT_TYPE, STREAM_CONTENT_TYPE)], Body::from_stream(body)).into_response())
}

/// Sends the frames of `query`'s blocks into `frames` until the client goes or `to` is sent.
async fn feed(
    shared: ExplorerState,
    query: StreamQuery,
    mut heads: tokio::sync::broadcast::Receiver<btcr_primitives::Header>,
    frames: mpsc::Sender<Bytes>,
) -> Result<(), ApiError> {
    let mut next = query.from;
    loop {
        if query.to.is_some_and(|to| next > to) {
            return Ok(());
        }
        let chain = shared.chain.clone();
        let to = query.to;
        let (batch, sent, head) = shared
            .workers
            .run(move || read_batch(chain.as_ref(), next, to))
            .await
            .map_err(|e| ApiError::unavailable(e.to_string(), 1))??;
        if sent > 0 {
            next += sent;
            if frames.send(Bytes::from(batch)).await.is_err() {
                return Ok(());
            }
            continue;
        }
        // At the head: say so (a reader that backfills knows it has caught up), then wait
        // for the next block, saying where the head is every few seconds meanwhile.
        if frames.send(Bytes::from(StreamFrame::Head(head).encode())).await.is_err() {
            return Ok(());
        }
        let wait = tokio::time::sleep(HEAD_EVERY);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = frames.closed() => return Ok(()),
                received = heads.recv() => match received {
                    Ok(header) if header.number >= next => break,
                    Ok(_) => continue,
                    // Missed heads are read from the store all the same.
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return Ok(()),
                },
                _ = &mut wait => {
                    let frame = Bytes::from(StreamFrame::Head(head).encode());
                    if frames.send(frame).await.is_err() {
                        return Ok(());
                    }
                    wait.as_mut().reset(tokio::time::Instant::now() + HEAD_EVERY);
                }
            }
        }
    }
}

/// The frames of blocks `from` on (up to the head, `to`, [`BATCH_BLOCKS`] blocks or
/// [`BATCH_BYTES`]), how many, and the head they were read at.
fn read_batch(
    chain: &dyn ChainReader,
    from: u64,
    to: Option<u64>,
) -> Result<(Vec<u8>, u64, u64), ApiError> {
    let view = chain.view().map_err(read_error)?;
    let head = view.head().number;
    let last = head.min(to.unwrap_or(u64::MAX)).min(from.saturating_add(BATCH_BLOCKS - 1));
    let mut out = Vec::new();
    let mut sent = 0;
    for number in from..=last {
        if from > head {
            break;
        }
        let block = streamed_block(view.as_ref(), number)?;
        out.extend_from_slice(&StreamFrame::Block(Box::new(block)).encode());
        sent += 1;
        if out.len() >= BATCH_BYTES {
            break;
        }
    }
    Ok((out, sent, head))
}

/// Block `number` with everything the stream sends about it.
fn streamed_block(view: &dyn ChainView, number: u64) -> Result<StreamedBlock, ApiError> {
    let missing =
        |what: &str| ApiError::internal(format!("the store lacks the {what} of block {number}"));
    let block = view.block(number).map_err(read_error)?.ok_or_else(|| missing("body"))?;
    let receipts = view.receipts(number).map_err(read_error)?.ok_or_else(|| missing("receipts"))?;
    let stored = view.block_accounts(number).map_err(read_error)?;
    let (senders, balances_known, balances) = match stored {
        Some(accounts) if accounts.senders.len() == block.body.transactions.len() => {
            (accounts.senders, true, accounts.balances)
        }
        _ => {
            let recovered = btcr_execution::recover_transactions(block.body.transactions.clone())
                .map_err(|(i, e)| {
                ApiError::internal(format!("transaction {i} of block {number}: {e}"))
            })?;
            (recovered.iter().map(|tx| tx.sender).collect(), false, Vec::<AccountBalance>::new())
        }
    };
    let signers = view
        .certificate(number)
        .map_err(read_error)?
        .map(|c| c.signatures.into_iter().map(|s| s.validator).collect())
        .unwrap_or_default();
    let next_validators = view
        .validator_set_starting(number + 1)
        .map_err(read_error)?
        .unwrap_or_default()
        .into_iter()
        .map(|v| StreamValidator { address: v.address, power: v.power })
        .collect();
    Ok(StreamedBlock {
        block,
        receipts,
        senders,
        balances_known,
        balances,
        signers,
        next_validators,
    })
}
