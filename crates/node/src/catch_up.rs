//! Catching up by ranges: a node that starts far behind its peers fetches decided blocks
//! with their certificates from them and applies hundreds per store transaction
//! (`Chain::apply_certified`), before its consensus engine starts; the engine's sync, one
//! height at a time through the BFT state machine, then does the last few.
//!
//! ```text
//!  peers' Status ─▶ best head ≥ ours + CATCH_UP_FROM?  no ─▶ start the engine
//!        │ yes (and again while ≥ FINISH_WITHIN behind)
//!        │ yes
//!        ▼
//!  Range requests to one peer a round (in turn), RANGES_AHEAD in flight
//!        ▼ (in order)
//!  decode ─▶ apply_certified (certificates, re-execution, one durable commit) ─▶ again
//! ```
//!
//! A peer whose range does not decode, or holds a block or certificate that does not check,
//! or that keeps answering no blocks where its status says it has them, is not asked again
//! by this node until it restarts; the blocks before the bad one are kept. Blocks are only ever taken with a certificate of the set that the local state
//! names, so a peer can waste a node's time but not make it commit anything else.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_rlp::Decodable;
use btcr_consensus::PipelineError;
use btcr_network::{BlockClient, BlockRequestError, BlockSource, PeerId};
use btcr_primitives::{Block, BlockBody, CommitCertificate, Header};
use bytes::Bytes;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::Chain;

/// How many blocks behind its best peer a starting node must be to catch up by ranges;
/// `BTCR_CATCH_UP_FROM` overrides it (0: never).
pub const CATCH_UP_FROM: u64 = 256;
/// Once catching up by ranges, it goes on until it is this close to its best peer.
const FINISH_WITHIN: u64 = 4;
/// Blocks asked in one range request.
const RANGE_BLOCKS: u32 = 128;
/// Range requests in flight at most (no more than a peer reads for others at once,
/// `btcr_network::MAX_SERVING`, so that one peer alone never answers busy).
const RANGES_AHEAD: usize = 4;
/// Empty answers a peer may give for blocks its status says it holds (busy, or lying)
/// before it is not asked again.
const MAX_EMPTY_RANGES: u32 = 3;
/// How long a starting node waits for a first peer before it leaves catching up to the
/// engine.
const PEER_WAIT: Duration = Duration::from_secs(3);
/// How long peers have to say what they hold.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);
/// Rounds in a row that apply nothing (and find out no peer) before the node gives up
/// catching up by ranges.
const MAX_FRUITLESS_ROUNDS: u32 = 5;

/// The distance behind its best peer from which a starting node catches up by ranges:
/// [`CATCH_UP_FROM`], or `BTCR_CATCH_UP_FROM`; `None` (0): never.
pub fn catch_up_threshold() -> Option<u64> {
    match std::env::var("BTCR_CATCH_UP_FROM").ok().and_then(|v| v.parse::<u64>().ok()) {
        Some(0) => None,
        Some(n) => Some(n),
        None => Some(CATCH_UP_FROM),
    }
}

impl BlockSource for Chain {
    fn status(&self) -> (u64, u64) {
        match self.store().snapshot() {
            Ok(snapshot) => (snapshot.earliest().max(1), snapshot.head_number().unwrap_or(0)),
            Err(_) => (1, 0),
        }
    }

    fn blocks(&self, from: u64, count: u32, max_bytes: usize) -> Vec<Bytes> {
        let Ok(snapshot) = self.store().snapshot() else { return Vec::new() };
        let mut items = Vec::new();
        let mut bytes = 0;
        for number in from.max(1)..from.saturating_add(u64::from(count)) {
            if bytes >= max_bytes {
                break;
            }
            let mut item = Vec::new();
            match snapshot.certified_block_bytes(number, &mut item) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    warn!(target: "btcr::sync", number, error = %e, "reading a block for a peer");
                    break;
                }
            }
            bytes += item.len();
            items.push(Bytes::from(item));
        }
        items
    }
}

/// A block and its certificate as [`BlockSource::blocks`] sends them (the RLP header, body
/// and certificate one after the other); anything else, trailing bytes included, is refused.
pub fn decode_certified(item: &[u8]) -> Result<(Block, CommitCertificate), alloy_rlp::Error> {
    let mut buf = item;
    let header = Header::decode(&mut buf)?;
    let body = BlockBody::decode(&mut buf)?;
    let certificate = CommitCertificate::decode(&mut buf)?;
    if !buf.is_empty() {
        return Err(alloy_rlp::Error::Custom("trailing bytes after a certified block"));
    }
    Ok((Block { header, body }, certificate))
}

/// What one round of fetching works from and keeps across rounds.
struct Round<'a> {
    /// The peers that answered, `(peer, earliest, head)`.
    statuses: &'a [(PeerId, u64, u64)],
    /// The best head among them.
    best: u64,
    /// Peers not asked again.
    refused: &'a mut HashSet<PeerId>,
    /// Empty answers by peer.
    empty: &'a mut HashMap<PeerId, u32>,
    /// Whose turn it is to serve a round.
    turn: &'a mut usize,
}

/// A range requested and not yet applied.
struct Fetch {
    peer: PeerId,
    from: u64,
    count: u32,
    reply: JoinHandle<Result<Vec<Bytes>, BlockRequestError>>,
}

/// Catches the chain up by ranges from `client`'s peers while it is at least the threshold
/// behind the best of them (see the module's documentation); returns when it is not, when
/// no peer came within [`PEER_WAIT`], when the peers stop helping, or at shutdown. Fails
/// only when the node cannot go on (its store failed).
pub async fn catch_up(
    chain: Arc<Chain>,
    client: BlockClient,
    threshold: Option<u64>,
    shutdown: CancellationToken,
) -> Result<(), PipelineError> {
    let Some(threshold) = threshold else { return Ok(()) };
    let started = Instant::now();
    let first = chain.head_header().number;
    let mut refused: HashSet<PeerId> = HashSet::new();
    let mut empty: HashMap<PeerId, u32> = HashMap::new();
    let mut fruitless = 0;
    // Whose turn it is to serve a round: kept across rounds, so that a peer that failed a
    // round does not serve the next one again.
    let mut turn = 0;
    loop {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        let statuses: Vec<(PeerId, u64, u64)> = client
            .statuses(STATUS_TIMEOUT)
            .await
            .into_iter()
            .filter(|(peer, _, _)| !refused.contains(peer))
            .collect();
        if statuses.is_empty() {
            if started.elapsed() < PEER_WAIT && refused.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
            debug!(target: "btcr::sync", "no peer to catch up from");
            break;
        }
        let head = chain.head_header().number;
        let best = statuses.iter().map(|(_, _, h)| *h).max().unwrap_or(0);
        // Far enough behind to start; once started, on to the peers' head.
        let behind = if head > first { FINISH_WITHIN } else { threshold };
        if best < head.saturating_add(behind) {
            break;
        }
        info!(target: "btcr::sync", head, best, peers = statuses.len(), "catching up by ranges");
        let refused_before = refused.len();
        let round = Round {
            statuses: &statuses,
            best,
            refused: &mut refused,
            empty: &mut empty,
            turn: &mut turn,
        };
        let applied = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            applied = fetch_and_apply(&chain, &client, round) => applied?,
        };
        // A round that applied nothing but found out a peer is not fruitless.
        let progress = applied > 0 || refused.len() > refused_before;
        fruitless = if progress { 0 } else { fruitless + 1 };
        if fruitless >= MAX_FRUITLESS_ROUNDS {
            warn!(target: "btcr::sync", head, best, "peers do not help catching up: the engine's sync goes on");
            break;
        }
    }
    let head = chain.head_header().number;
    if head > first {
        let took = started.elapsed();
        let rate = (head - first) as f64 / took.as_secs_f64().max(1e-3);
        info!(target: "btcr::sync", from = first, to = head, took = ?took, blocks_per_s = rate as u64, "caught up by ranges");
    }
    Ok(())
}

/// Fetches blocks from the head on from the next peer in turn among those in `statuses`
/// that hold the next block, up to its head, [`RANGES_AHEAD`] ranges ahead, applying each
/// in order; returns how many were applied. Stops at the first range that fails (the caller
/// asks the peers again).
async fn fetch_and_apply(
    chain: &Arc<Chain>,
    client: &BlockClient,
    round: Round<'_>,
) -> Result<u64, PipelineError> {
    let Round { statuses, best, refused, empty, turn } = round;
    let mut next = chain.head_header().number + 1;
    let mut sources: Vec<(PeerId, u64)> = statuses
        .iter()
        .filter(|(_, earliest, head)| *earliest <= next && *head >= next)
        .map(|(peer, _, head)| (*peer, *head))
        .collect();
    if sources.is_empty() {
        return Ok(0);
    }
    // One peer a round, in turn: a peer that lies costs a round, not every round's ranges.
    sources.sort();
    let (peer, peer_head) = sources[*turn % sources.len()];
    *turn += 1;
    let last = best.min(peer_head);
    let mut asked = next;
    let mut fetches: VecDeque<Fetch> = VecDeque::new();
    let mut applied = 0u64;
    let mut last_report = Instant::now();
    let result = loop {
        while fetches.len() < RANGES_AHEAD && asked <= last {
            let count = RANGE_BLOCKS.min(u32::try_from(last - asked + 1).unwrap_or(u32::MAX));
            let (client, from) = (client.clone(), asked);
            let reply = tokio::spawn(async move { client.range(peer, from, count).await });
            fetches.push_back(Fetch { peer, from, count, reply });
            asked += u64::from(count);
        }
        let Some(fetch) = fetches.pop_front() else { break Ok(applied) };
        debug_assert_eq!(fetch.from, next);
        let items = match fetch.reply.await {
            Ok(Ok(items)) if !items.is_empty() => items,
            Ok(Ok(_)) => {
                debug!(target: "btcr::sync", peer = %fetch.peer, from = fetch.from, "an empty range");
                let count = empty.entry(fetch.peer).or_default();
                *count += 1;
                if *count >= MAX_EMPTY_RANGES {
                    warn!(target: "btcr::sync", peer = %fetch.peer, "a peer keeps sending no blocks it says it holds: not asked again");
                    refused.insert(fetch.peer);
                }
                break Ok(applied);
            }
            Ok(Err(e)) => {
                debug!(target: "btcr::sync", peer = %fetch.peer, error = %e, "a range request failed");
                break Ok(applied);
            }
            Err(e) => break Err(PipelineError::fatal(format!("fetching a range: {e}"))),
        };
        let short = items.len() < fetch.count as usize;
        let apply = {
            let chain = chain.clone();
            tokio::task::spawn_blocking(
                move || -> Result<(usize, Result<(), PipelineError>), String> {
                    let blocks = items
                        .iter()
                        .map(|item| decode_certified(item))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| e.to_string())?;
                    Ok(chain.apply_certified(&blocks))
                },
            )
        };
        let (n, outcome) = match apply.await {
            Ok(Ok(done)) => done,
            Ok(Err(undecodable)) => {
                warn!(target: "btcr::sync", peer = %fetch.peer, error = %undecodable, "a peer sent blocks that do not decode: not asked again");
                refused.insert(fetch.peer);
                break Ok(applied);
            }
            Err(e) => break Err(PipelineError::fatal(format!("applying a range: {e}"))),
        };
        applied += n as u64;
        next += n as u64;
        match outcome {
            Ok(()) => {}
            Err(e @ PipelineError::Fatal(_)) => break Err(e),
            Err(e) => {
                warn!(target: "btcr::sync", peer = %fetch.peer, error = %e, "a peer sent a block that does not check: not asked again");
                refused.insert(fetch.peer);
                break Ok(applied);
            }
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            info!(target: "btcr::sync", head = next - 1, best, "catching up by ranges");
            last_report = Instant::now();
        }
        if short {
            // The ranges asked after this one start past what arrived: ask again from here.
            break Ok(applied);
        }
    };
    for fetch in fetches {
        fetch.reply.abort();
    }
    result
}
