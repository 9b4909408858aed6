//! BTCR's own peer-to-peer network, beside the consensus engine's: it carries transactions,
//! so that a transaction sent to any node reaches every proposer.
//!
//! ```text
//!  RPC ─▶ TxPublisher ─▶ batch (≤ 5 ms, ≤ 512 txs) ─▶ gossipsub "btcr/<chain>/tx/1"
//!  gossipsub message ─▶ decode (limits) ─▶ TxSink::receive on a blocking thread
//!                     ─▶ Accept (forwarded) │ Ignore (dropped) │ Reject (dropped, peer penalized)
//! ```
//!
//! Transactions this node has already (pooled, committed, or their nonce used) are stale:
//! cheap to check, but a peer that sends more than [`MAX_STALE_TXS`] of them with nothing
//! new in between has its next such message reported invalid, so that replaying old
//! transactions costs the replayer its standing.
//!
//! Peers are found from a bootstrap list: the node dials each address, learns its peers'
//! listen addresses through identify, and asks Kademlia for more; it dials what it finds up
//! to its connection limits. Every message is bounded ([`MAX_MESSAGE_BYTES`]), every
//! transaction too ([`MAX_TX_BYTES`]), and so are the validations in flight; a peer whose
//! messages are invalid loses score until the node stops taking anything from it.

mod batch;
mod blocks;

/// Entry point for the gossip-batch fuzz target (`fuzz/`).
#[doc(hidden)]
pub mod fuzzing {
    use bytes::Bytes;

    /// Decodes `data` as a received gossip message; what decodes encodes back to it.
    pub fn batch(data: &[u8]) {
        let data = Bytes::copy_from_slice(data);
        let Ok(transactions) = super::decode_batch(&data) else { return };
        assert_eq!(super::encode_batch(&transactions), data, "a batch encodes to its bytes");
    }
}

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

pub use batch::{
    BatchError, MAX_BATCH_TXS, MAX_MESSAGE_BYTES, MAX_TX_BYTES, decode_batch, encode_batch,
};
pub use blocks::{
    BlockRequest, BlockRequestError, BlockResponse, BlockSource, MAX_RANGE_BLOCKS,
    MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, MAX_SERVING, RANGE_BYTES, decode_request,
    decode_response, encode_request, encode_response,
};
use bytes::Bytes;
use futures::StreamExt;
pub use libp2p::PeerId;
use libp2p::{
    Multiaddr, StreamProtocol, Swarm, SwarmBuilder, connection_limits,
    gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity, MessageId},
    identify,
    identity::Keypair,
    kad, request_response,
    swarm::{NetworkBehaviour, SwarmEvent},
};
use tokio::{
    sync::{Semaphore, mpsc, oneshot},
    task::JoinHandle,
    time::{Instant, MissedTickBehavior},
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How long a published transaction may wait for others to share its message.
const BATCH_DELAY: Duration = Duration::from_millis(5);
/// Transactions waiting to be published; beyond this, publishing is skipped (the
/// transaction stays in the local pool and is included when this node proposes).
const OUTBOX_CAPACITY: usize = 16_384;
/// Received messages being checked at once; beyond this, new ones are ignored.
const MAX_VALIDATIONS: usize = 64;
/// How often the node looks for more peers.
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(10);
/// Batches kept while no peer takes the topic (see `Node::unsent`): 64 of at most
/// [`MAX_BATCH_TXS`] transactions each.
const MAX_UNSENT_BATCHES: usize = 64;
/// Stale transactions a peer may send with nothing new among them (four full messages)
/// before its next message of only stale ones is reported invalid.
pub const MAX_STALE_TXS: u32 = 4 * MAX_BATCH_TXS as u32;

/// A failure to start the network.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// An address does not parse.
    #[error("invalid network address {address:?}: {reason}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// The key, the transport or the listener could not be set up.
    #[error("network setup: {0}")]
    Setup(String),
}

/// Settings of the transaction network.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// The chain id, which names the topic and the protocols, so chains never mix.
    pub chain_id: u64,
    /// The node's key on this network (an ed25519 seed).
    pub secret: [u8; 32],
    /// Where to listen, as a multiaddress (`/ip4/127.0.0.1/tcp/26700`).
    pub listen: String,
    /// Peers to start from, as multiaddresses.
    pub bootstrap: Vec<String>,
    /// Established connections allowed in each direction.
    pub max_peers: u32,
}

/// What the node made of transactions a peer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// New and valid: pass it on.
    Accept,
    /// Valid but not wanted now through no fault of the sender (pool full, fee too low for
    /// this node, funds not there yet): drop it quietly.
    Ignore,
    /// Already known here (pooled or committed) or its nonce used: drop it, and count it
    /// against the peer (see [`MAX_STALE_TXS`]).
    Stale,
    /// Invalid (undecodable, bad signature, another chain): drop it and penalize the sender.
    Reject,
}

/// Where transactions from peers go.
pub trait TxSink: Send + Sync + 'static {
    /// Checks and adds raw signed transactions; one verdict per transaction.
    fn receive(&self, transactions: &[Bytes]) -> Vec<Verdict>;
}

/// What a message's transactions came to: any invalid transaction rejects it, else any new
/// one accepts it; and how many were stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tally {
    verdict: Verdict,
    stale: u32,
}

impl Tally {
    fn of(verdicts: &[Verdict]) -> Self {
        let stale = verdicts.iter().filter(|v| **v == Verdict::Stale).count() as u32;
        let verdict = if verdicts.contains(&Verdict::Reject) {
            Verdict::Reject
        } else if verdicts.contains(&Verdict::Accept) {
            Verdict::Accept
        } else if stale > 0 {
            Verdict::Stale
        } else {
            Verdict::Ignore
        };
        Self { verdict, stale }
    }

    fn only(verdict: Verdict) -> Self {
        Self { verdict, stale: 0 }
    }
}

/// Per peer, the stale transactions it sent since its last message that brought something
/// new. Only peers with a count are kept, and a peer is forgotten when it disconnects.
#[derive(Debug, Default)]
struct Staleness {
    peers: HashMap<PeerId, u32>,
}

impl Staleness {
    /// The verdict to report on a message from `peer`.
    fn judge(&mut self, peer: PeerId, tally: Tally) -> MessageAcceptance {
        match tally.verdict {
            Verdict::Accept => {
                self.peers.remove(&peer);
                MessageAcceptance::Accept
            }
            Verdict::Reject => {
                self.peers.remove(&peer);
                MessageAcceptance::Reject
            }
            Verdict::Ignore => MessageAcceptance::Ignore,
            Verdict::Stale => {
                let count = self.peers.entry(peer).or_default();
                *count = count.saturating_add(tally.stale);
                if *count > MAX_STALE_TXS {
                    warn!(target: "btcr::network", %peer, stale = *count, "a peer keeps sending transactions this node already has");
                    self.peers.remove(&peer);
                    MessageAcceptance::Reject
                } else {
                    MessageAcceptance::Ignore
                }
            }
        }
    }

    fn forget(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
    }
}

/// Hands transactions accepted locally to the network.
#[derive(Debug, Clone)]
pub struct TxPublisher {
    outbox: mpsc::Sender<Bytes>,
    peers: Arc<AtomicUsize>,
}

impl TxPublisher {
    /// Queues `raw` for gossip; `false` when the queue is full (it is then not gossiped).
    pub fn publish(&self, raw: Bytes) -> bool {
        self.outbox.try_send(raw).is_ok()
    }

    /// Peers connected now.
    pub fn peers(&self) -> usize {
        self.peers.load(Ordering::Relaxed)
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    gossipsub: gossipsub::Behaviour,
    blocks: request_response::Behaviour<blocks::BlockCodec>,
}

/// How long a block request may take, answer included.
const BLOCK_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A request of the local node to a peer, with where its answer goes.
type Ask = (PeerId, BlockRequest, oneshot::Sender<Result<BlockResponse, BlockRequestError>>);

/// What the node asks of the network task about blocks.
enum BlockCall {
    /// The peers connected now.
    Peers(oneshot::Sender<Vec<PeerId>>),
    /// A request to one peer.
    Ask(Ask),
}

/// Asks peers for decided blocks (see [`BlockRequest`]). Cheap to clone.
#[derive(Debug, Clone)]
pub struct BlockClient {
    calls: mpsc::Sender<BlockCall>,
}

impl BlockClient {
    /// The peers connected now.
    pub async fn peers(&self) -> Vec<PeerId> {
        let (reply, peers) = oneshot::channel();
        if self.calls.send(BlockCall::Peers(reply)).await.is_err() {
            return Vec::new();
        }
        peers.await.unwrap_or_default()
    }

    /// Sends `request` to `peer` and waits for its answer.
    pub async fn ask(
        &self,
        peer: PeerId,
        request: BlockRequest,
    ) -> Result<BlockResponse, BlockRequestError> {
        let (reply, answer) = oneshot::channel();
        self.calls
            .send(BlockCall::Ask((peer, request, reply)))
            .await
            .map_err(|_| BlockRequestError::Stopped)?;
        answer.await.map_err(|_| BlockRequestError::Stopped)?
    }

    /// What each connected peer serves, `(peer, earliest, head)`, from those that answer
    /// within `timeout`.
    pub async fn statuses(&self, timeout: Duration) -> Vec<(PeerId, u64, u64)> {
        let asks = self.peers().await.into_iter().map(|peer| async move {
            match tokio::time::timeout(timeout, self.ask(peer, BlockRequest::Status)).await {
                Ok(Ok(BlockResponse::Status { earliest, head })) => Some((peer, earliest, head)),
                _ => None,
            }
        });
        futures::future::join_all(asks).await.into_iter().flatten().collect()
    }

    /// Up to `count` consecutive items from block `from` that `peer` sends.
    pub async fn range(
        &self,
        peer: PeerId,
        from: u64,
        count: u32,
    ) -> Result<Vec<Bytes>, BlockRequestError> {
        match self.ask(peer, BlockRequest::Range { from, count }).await? {
            BlockResponse::Blocks(items) if items.len() <= count as usize => Ok(items),
            BlockResponse::Blocks(items) => Err(BlockRequestError::Mismatch(format!(
                "{} blocks for a range of {count}",
                items.len()
            ))),
            other => Err(BlockRequestError::Mismatch(format!("{other:?} for a range"))),
        }
    }
}

/// The running transaction network.
#[derive(Debug)]
pub struct Gossip {
    publisher: TxPublisher,
    blocks: BlockClient,
    scores: mpsc::Sender<oneshot::Sender<Vec<(PeerId, f64)>>>,
    peer_id: PeerId,
    listen: Multiaddr,
    task: JoinHandle<()>,
}

impl Gossip {
    /// Starts the network; returns once it listens.
    pub async fn start(
        config: GossipConfig,
        sink: Arc<dyn TxSink>,
        source: Arc<dyn BlockSource>,
        shutdown: CancellationToken,
    ) -> Result<Self, NetworkError> {
        let parse = |a: &str| {
            a.parse::<Multiaddr>()
                .map_err(|e| NetworkError::Address { address: a.to_owned(), reason: e.to_string() })
        };
        let listen = parse(&config.listen)?;
        let bootstrap = config.bootstrap.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>()?;
        let keypair = Keypair::ed25519_from_bytes(config.secret)
            .map_err(|e| NetworkError::Setup(format!("network key: {e}")))?;
        let topic = IdentTopic::new(format!("btcr/{}/tx/1", config.chain_id));
        let mut swarm = build_swarm(&config, keypair, &topic)?;
        swarm.listen_on(listen).map_err(|e| NetworkError::Setup(e.to_string()))?;
        let listen = loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => break address,
                SwarmEvent::ListenerError { error, .. } => {
                    return Err(NetworkError::Setup(format!("listening: {error}")));
                }
                SwarmEvent::ListenerClosed { reason: Err(error), .. } => {
                    return Err(NetworkError::Setup(format!("listening: {error}")));
                }
                _ => {}
            }
        };
        let peer_id = *swarm.local_peer_id();
        info!(target: "btcr::network", %peer_id, %listen, "transaction network listening");
        let (outbox_tx, outbox) = mpsc::channel(OUTBOX_CAPACITY);
        let peers = Arc::new(AtomicUsize::new(0));
        let (scores, score_queries) = mpsc::channel(8);
        let (block_calls, calls) = mpsc::channel(64);
        let (served_tx, served) = mpsc::channel(MAX_SERVING * 2);
        let node = Node {
            swarm,
            source,
            serving: Arc::new(Semaphore::new(MAX_SERVING)),
            served_tx,
            asked: HashMap::new(),
            topic,
            sink,
            bootstrap,
            peers: peers.clone(),
            max_peers: config.max_peers as usize,
            validations: Arc::new(Semaphore::new(MAX_VALIDATIONS)),
            staleness: Staleness::default(),
            unsent: std::collections::VecDeque::new(),
        };
        let task = tokio::spawn(node.run(outbox, score_queries, calls, served, shutdown));
        Ok(Self {
            publisher: TxPublisher { outbox: outbox_tx, peers },
            blocks: BlockClient { calls: block_calls },
            scores,
            peer_id,
            listen,
            task,
        })
    }

    /// A handle that publishes transactions.
    pub fn publisher(&self) -> TxPublisher {
        self.publisher.clone()
    }

    /// Peers connected now.
    pub fn peers(&self) -> usize {
        self.publisher.peers()
    }

    /// A handle that asks peers for decided blocks.
    pub fn block_client(&self) -> BlockClient {
        self.blocks.clone()
    }

    /// The score this node gives each connected peer: below zero for invalid or stale
    /// messages, and below -80 nothing it sends is taken. Empty once the network stopped.
    pub async fn peer_scores(&self) -> Vec<(PeerId, f64)> {
        let (reply, scores) = oneshot::channel();
        if self.scores.send(reply).await.is_err() {
            return Vec::new();
        }
        scores.await.unwrap_or_default()
    }

    /// This node's id on the network.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The address it listens on.
    pub fn listen_addr(&self) -> &Multiaddr {
        &self.listen
    }

    /// Waits for the network task to end (after shutdown).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

fn build_swarm(
    config: &GossipConfig,
    keypair: Keypair,
    topic: &IdentTopic,
) -> Result<Swarm<Behaviour>, NetworkError> {
    let setup = |e: &dyn std::fmt::Display| NetworkError::Setup(e.to_string());
    let max = config.max_peers;
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_pending_incoming(Some(max))
        .with_max_pending_outgoing(Some(max))
        .with_max_established_incoming(Some(max))
        .with_max_established_outgoing(Some(max))
        .with_max_established_per_peer(Some(2));
    let gossip_config = gossipsub::ConfigBuilder::default()
        .max_transmit_size(MAX_MESSAGE_BYTES + 1024)
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .message_id_fn(|m: &gossipsub::Message| {
            MessageId::from(&alloy_primitives::keccak256(&m.data)[..20])
        })
        .heartbeat_interval(Duration::from_millis(700))
        .build()
        .map_err(|e| setup(&e))?;
    let mut gossipsub =
        gossipsub::Behaviour::new(MessageAuthenticity::Signed(keypair.clone()), gossip_config)
            .map_err(|e| setup(&e))?;
    let mut params = gossipsub::PeerScoreParams::default();
    let topic_params = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        invalid_message_deliveries_weight: -100.0,
        invalid_message_deliveries_decay: 0.9,
        ..Default::default()
    };
    params.topics.insert(topic.hash(), topic_params);
    let thresholds = gossipsub::PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -50.0,
        graylist_threshold: -80.0,
        ..Default::default()
    };
    gossipsub.with_peer_score(params, thresholds).map_err(|e| setup(&e))?;
    gossipsub.subscribe(topic).map_err(|e| setup(&e))?;

    let kad_protocol = StreamProtocol::try_from_owned(format!("/btcr/{}/kad/1", config.chain_id))
        .map_err(|e| setup(&e))?;
    let identify_protocol = format!("/btcr/{}/id/1", config.chain_id);
    let peer_id = keypair.public().to_peer_id();
    let identify =
        identify::Behaviour::new(identify::Config::new(identify_protocol, keypair.public()));
    let mut kad_config = kad::Config::new(kad_protocol);
    kad_config.set_query_timeout(Duration::from_secs(30));
    let mut kad =
        kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config);
    kad.set_mode(Some(kad::Mode::Server));
    let blocks_protocol =
        StreamProtocol::try_from_owned(format!("/btcr/{}/blocks/1", config.chain_id))
            .map_err(|e| setup(&e))?;
    let blocks = request_response::Behaviour::with_codec(
        blocks::BlockCodec,
        [(blocks_protocol, request_response::ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(BLOCK_REQUEST_TIMEOUT)
            .with_max_concurrent_streams(4 * MAX_SERVING),
    );
    let behaviour = Behaviour {
        limits: connection_limits::Behaviour::new(limits),
        identify,
        kad,
        gossipsub,
        blocks,
    };
    Ok(SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::new().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .map_err(|e| setup(&e))?
        // Peers named by DNS (`/dns4/host/tcp/port`), as in a Kubernetes StatefulSet.
        .with_dns()
        .map_err(|e| setup(&e))?
        .with_behaviour(|_| behaviour)
        .map_err(|e| setup(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build())
}

/// A range read for a peer, ready to send.
type Served = (request_response::ResponseChannel<BlockResponse>, BlockResponse);

struct Node {
    swarm: Swarm<Behaviour>,
    /// What peers' block requests are answered from.
    source: Arc<dyn BlockSource>,
    /// Store reads for peers in progress (at most [`MAX_SERVING`]).
    serving: Arc<Semaphore>,
    served_tx: mpsc::Sender<Served>,
    /// The local node's block requests waiting for their answers.
    asked: HashMap<
        request_response::OutboundRequestId,
        oneshot::Sender<Result<BlockResponse, BlockRequestError>>,
    >,
    topic: IdentTopic,
    sink: Arc<dyn TxSink>,
    bootstrap: Vec<Multiaddr>,
    peers: Arc<AtomicUsize>,
    max_peers: usize,
    validations: Arc<Semaphore>,
    staleness: Staleness,
    /// Batches published while no peer took the topic (a node alone, or whose links just
    /// came back), published again when a peer subscribes and at each discovery round: a
    /// transaction this node admitted reaches the proposers however its links come and go.
    /// At most [`MAX_UNSENT_BATCHES`]; past that the oldest are dropped (their transactions
    /// stay in the local pool, as before).
    unsent: std::collections::VecDeque<Vec<u8>>,
}

type Checked = (MessageId, PeerId, Tally);

impl Node {
    async fn run(
        mut self,
        mut outbox: mpsc::Receiver<Bytes>,
        mut score_queries: mpsc::Receiver<oneshot::Sender<Vec<(PeerId, f64)>>>,
        mut calls: mpsc::Receiver<BlockCall>,
        mut served: mpsc::Receiver<Served>,
        shutdown: CancellationToken,
    ) {
        for address in &self.bootstrap {
            if let Err(e) = self.swarm.dial(address.clone()) {
                debug!(target: "btcr::network", %address, error = %e, "cannot dial bootstrap peer");
            }
        }
        let (checked_tx, mut checked) = mpsc::channel::<Checked>(MAX_VALIDATIONS * 2);
        let mut pending: Vec<Bytes> = Vec::new();
        let mut pending_bytes = 0usize;
        let mut flush_at: Option<Instant> = None;
        let mut discovery = tokio::time::interval(DISCOVERY_INTERVAL);
        discovery.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let flush = async {
                match flush_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(raw) = outbox.recv() => {
                    if raw.len() > MAX_TX_BYTES {
                        continue;
                    }
                    if pending_bytes + raw.len() + 4 > MAX_MESSAGE_BYTES - 4 {
                        self.publish(&mut pending);
                        pending_bytes = 0;
                        flush_at = None;
                    }
                    pending_bytes += raw.len() + 4;
                    pending.push(raw);
                    if pending.len() >= MAX_BATCH_TXS {
                        self.publish(&mut pending);
                        pending_bytes = 0;
                        flush_at = None;
                    } else if flush_at.is_none() {
                        flush_at = Some(Instant::now() + BATCH_DELAY);
                    }
                }
                _ = flush => {
                    self.publish(&mut pending);
                    pending_bytes = 0;
                    flush_at = None;
                }
                Some((id, source, tally)) = checked.recv() => {
                    let acceptance = self.staleness.judge(source, tally);
                    // `false` only when the message already left the cache: nothing to do.
                    let _ = self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                        &id, &source, acceptance,
                    );
                }
                Some(reply) = score_queries.recv() => {
                    let gossipsub = &self.swarm.behaviour().gossipsub;
                    let scores = self
                        .swarm
                        .connected_peers()
                        .filter_map(|p| gossipsub.peer_score(p).map(|s| (*p, s)))
                        .collect();
                    let _ = reply.send(scores);
                }
                _ = discovery.tick() => {
                    self.discover();
                    self.retry_unsent();
                }
                Some(call) = calls.recv() => match call {
                    BlockCall::Peers(reply) => {
                        let _ = reply.send(self.swarm.connected_peers().copied().collect());
                    }
                    BlockCall::Ask((peer, request, reply)) => {
                        let id = self.swarm.behaviour_mut().blocks.send_request(&peer, request);
                        self.asked.insert(id, reply);
                    }
                },
                Some((channel, response)) = served.recv() => {
                    // `Err` when the peer is gone or timed out: nothing to do.
                    let _ = self.swarm.behaviour_mut().blocks.send_response(channel, response);
                }
                event = self.swarm.select_next_some() => self.on_event(event, &checked_tx),
            }
        }
        info!(target: "btcr::network", "transaction network stopped");
    }

    fn publish(&mut self, pending: &mut Vec<Bytes>) {
        if pending.is_empty() {
            return;
        }
        let message = encode_batch(pending);
        let n = pending.len();
        pending.clear();
        self.send_batch(message, n);
    }

    /// Publishes one encoded batch; keeps it for later when no peer takes the topic.
    fn send_batch(&mut self, message: Vec<u8>, n: usize) {
        match self.swarm.behaviour_mut().gossipsub.publish(self.topic.clone(), message.clone()) {
            Ok(_) => {}
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                debug!(target: "btcr::network", n, "no peer to gossip to yet: kept for later");
                if self.unsent.len() == MAX_UNSENT_BATCHES {
                    self.unsent.pop_front();
                }
                self.unsent.push_back(message);
            }
            // The same batch twice (already in the cache), or too large: nothing to retry.
            Err(e) => debug!(target: "btcr::network", n, error = %e, "transactions not gossiped"),
        }
    }

    /// Publishes again the batches no peer took before.
    fn retry_unsent(&mut self) {
        for message in std::mem::take(&mut self.unsent) {
            self.send_batch(message, 0);
        }
    }

    /// Asks Kademlia for more peers, and the bootstrap list again when alone.
    fn discover(&mut self) {
        if self.swarm.connected_peers().next().is_none() {
            for address in self.bootstrap.clone() {
                let _ = self.swarm.dial(address);
            }
        }
        if self.swarm.behaviour_mut().kad.bootstrap().is_err() {
            debug!(target: "btcr::network", "no known peers to look up others through");
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>, checked: &mpsc::Sender<Checked>) {
        match event {
            SwarmEvent::ConnectionEstablished { .. } => {
                let n = self.swarm.connected_peers().count();
                self.peers.store(n, Ordering::Relaxed);
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established, .. } => {
                if num_established == 0 {
                    self.staleness.forget(&peer_id);
                }
                let n = self.swarm.connected_peers().count();
                self.peers.store(n, Ordering::Relaxed);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                for address in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, address);
                }
                // A new peer knows others: look them up now rather than at the next round.
                let _ = self.swarm.behaviour_mut().kad.bootstrap();
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated {
                peer, ..
            })) => {
                let connected: HashSet<PeerId> = self.swarm.connected_peers().copied().collect();
                if !connected.contains(&peer) && connected.len() < self.max_peers {
                    let _ = self.swarm.dial(peer);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.check(propagation_source, message_id, message.data, checked),
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed {
                ..
            })) => self.retry_unsent(),
            SwarmEvent::Behaviour(BehaviourEvent::Blocks(event)) => self.on_blocks(event),
            _ => {}
        }
    }

    fn on_blocks(&mut self, event: request_response::Event<BlockRequest, BlockResponse>) {
        use request_response::{Event, Message};
        match event {
            Event::Message { peer, message: Message::Request { request, channel, .. }, .. } => {
                self.serve(peer, request, channel);
            }
            Event::Message { message: Message::Response { request_id, response }, .. } => {
                if let Some(reply) = self.asked.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            Event::OutboundFailure { request_id, error, .. } => {
                if let Some(reply) = self.asked.remove(&request_id) {
                    let _ = reply.send(Err(BlockRequestError::NoAnswer(error.to_string())));
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                debug!(target: "btcr::network", %peer, %error, "a block request failed");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    /// Answers a peer's block request: a status at once, a range from the store on a
    /// blocking thread (an empty one while [`MAX_SERVING`] reads are in progress).
    fn serve(
        &mut self,
        peer: PeerId,
        request: BlockRequest,
        channel: request_response::ResponseChannel<BlockResponse>,
    ) {
        let blocks = &mut self.swarm.behaviour_mut().blocks;
        let (from, count) = match request {
            BlockRequest::Status => {
                let (earliest, head) = self.source.status();
                let _ = blocks.send_response(channel, BlockResponse::Status { earliest, head });
                return;
            }
            BlockRequest::Range { from, count } => (from, count.min(MAX_RANGE_BLOCKS)),
        };
        let Ok(permit) = self.serving.clone().try_acquire_owned() else {
            debug!(target: "btcr::network", %peer, "busy serving blocks: an empty range");
            let _ = blocks.send_response(channel, BlockResponse::Blocks(Vec::new()));
            return;
        };
        let (source, served) = (self.source.clone(), self.served_tx.clone());
        tokio::task::spawn_blocking(move || {
            let items = source.blocks(from, count, RANGE_BYTES);
            drop(permit);
            let _ = served.blocking_send((channel, BlockResponse::Blocks(items)));
        });
    }

    /// Checks a received message off the event loop; the verdict comes back on `checked`.
    fn check(
        &mut self,
        source: PeerId,
        id: MessageId,
        data: Vec<u8>,
        checked: &mpsc::Sender<Checked>,
    ) {
        let transactions = match decode_batch(&Bytes::from(data)) {
            Ok(txs) => txs,
            Err(e) => {
                warn!(target: "btcr::network", peer = %source, error = %e, "undecodable transaction message");
                let _ = checked.try_send((id, source, Tally::only(Verdict::Reject)));
                return;
            }
        };
        let Ok(permit) = self.validations.clone().try_acquire_owned() else {
            // Too much to check at once: drop it without blaming the peer.
            let _ = checked.try_send((id, source, Tally::only(Verdict::Ignore)));
            return;
        };
        let sink = self.sink.clone();
        let checked = checked.clone();
        tokio::task::spawn_blocking(move || {
            let tally = Tally::of(&sink.receive(&transactions));
            if tally.verdict == Verdict::Reject {
                warn!(target: "btcr::network", peer = %source, "invalid transaction from a peer");
            }
            drop(permit);
            let _ = checked.blocking_send((id, source, tally));
        });
    }
}

/// Waits until `gossip` has at least `n` peers, up to `timeout`; for tests and startup
/// checks.
pub async fn wait_for_peers(gossip: &Gossip, n: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while gossip.peers() < n {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Rejects transactions starting with `bad`, finds those starting with `old` stale, and
    /// accepts the rest once each (again, they are stale). Keeps every transaction it is
    /// given with its verdict.
    #[derive(Default)]
    struct Recorder {
        received: Mutex<Vec<(Bytes, Verdict)>>,
    }

    impl Recorder {
        fn got(&self, tx: &[u8], verdict: Verdict) -> bool {
            self.received.lock().unwrap().iter().any(|(t, v)| t == tx && *v == verdict)
        }

        fn count(&self, verdict: Verdict) -> usize {
            self.received.lock().unwrap().iter().filter(|(_, v)| *v == verdict).count()
        }
    }

    impl TxSink for Recorder {
        fn receive(&self, transactions: &[Bytes]) -> Vec<Verdict> {
            let mut received = self.received.lock().unwrap();
            transactions
                .iter()
                .map(|tx| {
                    let verdict = if tx.starts_with(b"bad") {
                        Verdict::Reject
                    } else if tx.starts_with(b"old") || received.iter().any(|(t, _)| t == tx) {
                        Verdict::Stale
                    } else {
                        Verdict::Accept
                    };
                    received.push((tx.clone(), verdict));
                    verdict
                })
                .collect()
        }
    }

    /// Serves blocks `1..=head`, block `n` as `item` bytes of `n % 251`.
    struct Numbered {
        head: u64,
        item: usize,
    }

    impl BlockSource for Numbered {
        fn status(&self) -> (u64, u64) {
            (1, self.head)
        }

        fn blocks(&self, from: u64, count: u32, max_bytes: usize) -> Vec<Bytes> {
            let mut out = Vec::new();
            let mut bytes = 0;
            for n in (from.max(1)..=self.head).take(count as usize) {
                if bytes >= max_bytes {
                    break;
                }
                bytes += self.item;
                out.push(Bytes::from(vec![(n % 251) as u8; self.item]));
            }
            out
        }
    }

    async fn node(seed: u8, bootstrap: Vec<String>, sink: Arc<Recorder>) -> Gossip {
        serving(seed, bootstrap, sink, Numbered { head: 0, item: 1 }).await
    }

    async fn serving(
        seed: u8,
        bootstrap: Vec<String>,
        sink: Arc<Recorder>,
        source: Numbered,
    ) -> Gossip {
        let config = GossipConfig {
            chain_id: 7,
            secret: [seed; 32],
            listen: "/ip4/127.0.0.1/tcp/0".into(),
            bootstrap,
            max_peers: 8,
        };
        Gossip::start(config, sink, Arc::new(source), CancellationToken::new())
            .await
            .expect("starts")
    }

    /// A peer's status and ranges arrive as served, a range is cut at the item and byte
    /// limits whatever was asked, and one past the head is empty.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_peer_serves_its_status_and_ranges_of_blocks_within_the_limits() {
        let item = 256 * 1024;
        let server = serving(20, vec![], Arc::default(), Numbered { head: 1_000, item }).await;
        let small = serving(21, vec![], Arc::default(), Numbered { head: 5_000, item: 10 }).await;
        let bootstrap = vec![server.listen_addr().to_string(), small.listen_addr().to_string()];
        let client = node(22, bootstrap, Arc::default()).await;
        assert!(wait_for_peers(&client, 2, Duration::from_secs(10)).await);
        let blocks = client.block_client();
        let mut statuses = blocks.statuses(Duration::from_secs(5)).await;
        statuses.sort_by_key(|(_, _, head)| *head);
        let expected = vec![(server.peer_id(), 1, 1_000), (small.peer_id(), 1, 5_000)];
        assert_eq!(statuses, expected);

        // 8 MiB of 256 KiB items: 32, not the 200 asked.
        let range = blocks.range(server.peer_id(), 10, 200).await.unwrap();
        assert_eq!(range.len(), RANGE_BYTES / item);
        for (i, bytes) in range.iter().enumerate() {
            assert_eq!(bytes.len(), item);
            assert!(bytes.iter().all(|b| u64::from(*b) == (10 + i as u64) % 251));
        }
        // At most MAX_RANGE_BLOCKS items, whatever the count asked.
        let range = blocks.range(small.peer_id(), 1, u32::MAX).await.unwrap();
        assert_eq!(range.len(), MAX_RANGE_BLOCKS as usize);
        assert!(blocks.range(small.peer_id(), 5_001, 10).await.unwrap().is_empty());
        // A range asked of a node that is not connected fails, and the client goes on.
        let gone = PeerId::random();
        assert!(matches!(blocks.range(gone, 1, 1).await, Err(BlockRequestError::NoAnswer(_))));
        assert_eq!(blocks.range(small.peer_id(), 4_999, 5).await.unwrap().len(), 2);
    }

    /// The score `of` has at `at`, once it has one.
    async fn score(at: &Gossip, of: &Gossip) -> Option<f64> {
        at.peer_scores().await.into_iter().find(|(p, _)| *p == of.peer_id()).map(|(_, s)| s)
    }

    #[test]
    fn verdicts_combine_into_a_message_verdict() {
        use Verdict::*;
        let tally = |v: &[Verdict]| Tally::of(v).verdict;
        assert_eq!(tally(&[Accept, Ignore, Stale]), Accept);
        assert_eq!(tally(&[Ignore, Ignore]), Ignore);
        assert_eq!(tally(&[Ignore, Stale, Stale]), Stale);
        assert_eq!(Tally::of(&[Ignore, Stale, Stale]).stale, 2);
        assert_eq!(tally(&[Accept, Reject, Stale]), Reject);
    }

    #[test]
    fn a_peer_sending_only_stale_transactions_is_reported_once_past_the_bound() {
        let mut staleness = Staleness::default();
        let (peer, other) = (PeerId::random(), PeerId::random());
        let full = Tally { verdict: Verdict::Stale, stale: MAX_BATCH_TXS as u32 };
        for _ in 0..4 {
            assert!(matches!(staleness.judge(peer, full), MessageAcceptance::Ignore));
        }
        // Messages refused through no fault of the peer do not count.
        assert!(matches!(
            staleness.judge(peer, Tally::only(Verdict::Ignore)),
            MessageAcceptance::Ignore
        ));
        assert!(matches!(staleness.judge(peer, full), MessageAcceptance::Reject), "past 2,048");
        // The count starts again after a report, after anything new, and per peer.
        for _ in 0..4 {
            assert!(matches!(staleness.judge(peer, full), MessageAcceptance::Ignore));
        }
        assert!(matches!(
            staleness.judge(peer, Tally::only(Verdict::Accept)),
            MessageAcceptance::Accept
        ));
        assert!(staleness.peers.is_empty());
        for _ in 0..4 {
            assert!(matches!(staleness.judge(peer, full), MessageAcceptance::Ignore));
            assert!(matches!(staleness.judge(other, full), MessageAcceptance::Ignore));
        }
        staleness.forget(&peer);
        assert_eq!(staleness.peers.len(), 1, "a disconnected peer is forgotten");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_reaches_a_peer_found_through_discovery_and_invalid_ones_stop() {
        let [a_sink, b_sink, c_sink] = [(); 3].map(|_| Arc::new(Recorder::default()));
        let a = node(1, vec![], a_sink.clone()).await;
        let b = node(2, vec![a.listen_addr().to_string()], b_sink.clone()).await;
        // C knows only B, and finds A through it.
        let c = node(3, vec![b.listen_addr().to_string()], c_sink.clone()).await;
        assert!(wait_for_peers(&c, 2, Duration::from_secs(20)).await, "C found A through B");

        // Give the mesh a heartbeat to form, then publish from C until A has it.
        let tx = Bytes::from_static(b"ok-1");
        assert!(
            btcr_testkit::eventually_async(|| {
                c.publisher().publish(tx.clone());
                std::future::ready(a_sink.got(&tx, Verdict::Accept))
            })
            .await,
            "a transaction published on C reached A"
        );
        let at_b = || std::future::ready(b_sink.got(&tx, Verdict::Accept));
        assert!(btcr_testkit::eventually_async(at_b).await);
        assert_eq!(score(&a, &c).await.map(|s| s >= 0.0), Some(true), "C is in good standing");

        // An invalid transaction reaches both, is refused, and costs C its standing there:
        // below the graylist threshold, nothing more from C is taken.
        let bad = Bytes::from_static(b"bad-1");
        c.publisher().publish(bad.clone());
        let refused = || {
            std::future::ready(
                a_sink.got(&bad, Verdict::Reject) && b_sink.got(&bad, Verdict::Reject),
            )
        };
        assert!(btcr_testkit::eventually_async(refused).await);
        for at in [&a, &b] {
            let penalised = || async { score(at, &c).await.is_some_and(|s| s < -80.0) };
            assert!(btcr_testkit::eventually_async(penalised).await, "C is graylisted");
        }
        assert_eq!(a_sink.count(Verdict::Accept) + b_sink.count(Verdict::Accept), 2);
        assert!(c_sink.received.lock().unwrap().is_empty(), "a node does not receive its own");
    }

    /// A transaction published while a node has no peer (alone, or its links just cut) is
    /// kept and gossiped once a peer subscribes: before, it stayed in the node's pool for
    /// good, and the sender's later transactions waited behind it (the fault harness found it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_published_with_no_peer_reaches_the_first_that_comes() {
        let [f_sink, g_sink] = [(); 2].map(|_| Arc::new(Recorder::default()));
        let f = node(6, vec![], f_sink.clone()).await;
        let lonely = Bytes::from_static(b"ok-lonely");
        f.publisher().publish(lonely.clone());
        // Published (and found no peer) before G exists.
        tokio::time::sleep(BATCH_DELAY * 4).await;
        let _g = node(7, vec![f.listen_addr().to_string()], g_sink.clone()).await;
        let arrived = || std::future::ready(g_sink.got(&lonely, Verdict::Accept));
        assert!(btcr_testkit::eventually_async(arrived).await, "kept and sent once G subscribed");
        assert_eq!(g_sink.count(Verdict::Accept), 1);
    }

    /// Replaying transactions a node already has cost it a lookup each and the peer nothing,
    /// for ever. Now, past the bound, the peer is penalised like one sending invalid ones.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_peer_replaying_transactions_this_node_has_loses_its_standing() {
        let [d_sink, e_sink] = [(); 2].map(|_| Arc::new(Recorder::default()));
        let d = node(4, vec![], d_sink.clone()).await;
        let e = node(5, vec![d.listen_addr().to_string()], e_sink.clone()).await;
        assert!(wait_for_peers(&e, 1, Duration::from_secs(20)).await);
        let first = Bytes::from_static(b"ok-first");
        assert!(
            btcr_testkit::eventually_async(|| {
                e.publisher().publish(first.clone());
                std::future::ready(d_sink.got(&first, Verdict::Accept))
            })
            .await
        );
        for i in 0..MAX_STALE_TXS + 2 * MAX_BATCH_TXS as u32 {
            e.publisher().publish(Bytes::from(format!("old-{i}")));
        }
        let penalised = || async { score(&d, &e).await.is_some_and(|s| s < 0.0) };
        assert!(btcr_testkit::eventually_async(penalised).await, "E lost its standing at D");
        assert!(d_sink.count(Verdict::Stale) > MAX_STALE_TXS as usize);
    }
}
