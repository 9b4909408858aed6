//! The BFT engine: Malachite decides, and this loop answers its requests with the block
//! pipeline. It builds blocks when this validator proposes, streams them as signed parts,
//! reassembles and verifies other proposers' blocks before consensus may vote for them,
//! commits decided blocks with their precommit signatures, and serves and checks the blocks
//! that lagging peers sync.
//!
//! It runs on its own thread with its own async runtime, so that the RPC server's load
//! cannot delay a vote.

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes as AlloyBytes};
use alloy_rlp::{Decodable, Encodable};
use btcr_primitives::{Block, CommitCertificate, ValidatorSignature};
use bytes::Bytes;
use malachitebft_app_channel::{
    AppMsg, Channels, ConsensusContext, NetworkContext, NetworkIdentity, NetworkMsg,
    RequestContext, Signer, SyncContext, WalContext,
    app::{
        config::{
            ConsensusConfig, DiscoveryConfig, NodeConfig, P2pConfig, PubSubProtocol,
            ValueSyncConfig,
        },
        consensus::MisbehaviorEvidence,
        engine::host::{HeightParams, Next, SyncedValueOutcome},
        net::Multiaddr,
        types::{
            Keypair, LocallyProposedValue, PeerId, ProposedValue,
            codec::Codec,
            core::{
                self as bft, CommitCertificate as BftCertificate, ExtendedCommitCertificate,
                ExtendedCommitSignature, LinearTimeouts, Round, Validity,
            },
        },
    },
};
use malachitebft_sync::RawDecidedValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use btcr_crypto::SecretKey;

use super::{
    certificate::{
        consensus_key, double_proposal, double_proposal_parts, double_vote, validator_set,
    },
    codec::{BtcrCodec, MAX_SYNC_VALUES},
    context::{BftSignature, BtcrContext, Height, ValidatorAddress, ValidatorSet},
    parts::{self, Assembled, Inserted, ProposalInit, Streams},
    proposals::ProposalStore,
    signing::{BtcrSigner, BtcrVerifier},
    wal::{WalCheck, check_wal},
};
use crate::{BlockPipeline, EngineHandle, PipelineError};

/// How many future heights' proposals are kept until the node gets there.
const MAX_FUTURE_HEIGHTS: u64 = 4;
/// Decided values a catching-up node asks one peer for at a time (the library asks for 5;
/// the codec allows [`MAX_SYNC_VALUES`]).
const SYNC_BATCH: usize = 64;
/// The largest sync response a node takes: 64 blocks of up to half a MiB each.
const SYNC_RESPONSE_BYTES: bytesize::ByteSize = bytesize::ByteSize::mib(32);
/// How many rounds past the current one a proposal may be for (a node a little behind its
/// peers in rounds still takes the proposal it is about to need).
const ROUNDS_AHEAD: i64 = 3;
/// How many proposals of one future height are kept (one per round).
const MAX_FUTURE_PROPOSALS: usize = ROUNDS_AHEAD as usize + 1;
/// How many proposals for the next height, from validators the current set does not name
/// as that round's proposer, are kept unchecked (one per publishing peer) until the node
/// enters that height and knows its set; and how many bytes of blocks they may hold in all.
const MAX_UNCHECKED_PROPOSALS: usize = 4;
const MAX_UNCHECKED_BYTES: usize = parts::MAX_BLOCK_BYTES;

/// Settings of the BFT engine.
#[derive(Clone, Debug)]
pub struct BftConfig {
    /// Chain id (bound into every signature).
    pub chain_id: u64,
    /// This node's name in logs and in the network's view.
    pub moniker: String,
    /// Where the consensus WAL lives.
    pub home: PathBuf,
    /// The validator's key; `None` for a full node, which follows without voting.
    pub validator_key: Option<SecretKey>,
    /// The node's network key (an ed25519 seed), which names it to peers.
    pub p2p_secret: [u8; 32],
    /// Where to listen for peers, as a multiaddress (`/ip4/127.0.0.1/tcp/26600`).
    pub listen: String,
    /// Peers to keep connected to, as multiaddresses.
    pub peers: Vec<String>,
    /// Whether to find more peers than `peers` through the network's discovery; off, the
    /// node talks only to `peers` at the addresses given (a network behind proxies).
    pub discovery: bool,
    /// How long a proposer fills its block.
    pub block_time: Duration,
}

impl BftConfig {
    /// Round timeouts: the engine's defaults, except that a proposer is given time to fill
    /// its block and validators time to receive and re-execute it.
    fn timeouts(&self) -> LinearTimeouts {
        let defaults = LinearTimeouts::default();
        let propose = defaults.propose.max(self.block_time * 2 + Duration::from_secs(1));
        // A round that has not decided sends its votes again after this long (the votes
        // of a validator cut off, then healed, were lost with the link). The engine's
        // default waits out all three steps' timeouts (5 s) first; a healed partition then
        // takes twice that to decide again. Resending sooner costs a few small messages.
        let rebroadcast = (self.block_time * 2).max(Duration::from_secs(1));
        LinearTimeouts { propose, rebroadcast, ..defaults }
    }
}

/// Malachite's node settings, built from [`BftConfig`].
#[derive(Clone, Debug)]
struct EngineSettings {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineSettings {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// Runs Malachite over a [`BlockPipeline`].
#[derive(Debug)]
pub struct BftEngine<P> {
    pipeline: Arc<P>,
    config: BftConfig,
    shutdown: CancellationToken,
}

impl<P: BlockPipeline> BftEngine<P> {
    /// An engine over `pipeline`; cancelling `shutdown` stops it, and it cancels `shutdown`
    /// when it stops on its own.
    pub fn new(pipeline: Arc<P>, config: BftConfig, shutdown: CancellationToken) -> Self {
        Self { pipeline, config, shutdown }
    }

    /// Starts the engine on its own thread.
    pub fn spawn(self) -> EngineHandle {
        self.spawn_after(async { Ok(()) })
    }

    /// Starts the engine on its own thread once `before` has run there (on the engine's
    /// runtime) and succeeded: a node catching up applies the blocks it is far behind on
    /// before the engine takes the height it reached. A failure of `before` stops the node
    /// as the engine's would.
    pub fn spawn_after(
        self,
        before: impl Future<Output = Result<(), PipelineError>> + Send + 'static,
    ) -> EngineHandle {
        EngineHandle::spawn(self.shutdown.clone(), move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("consensus-rt")
                .enable_all()
                .build()
                .map_err(|e| PipelineError::fatal(format!("consensus runtime: {e}")))
                .and_then(|rt| {
                    rt.block_on(async {
                        before.await?;
                        if self.shutdown.is_cancelled() {
                            return Ok(());
                        }
                        self.run().await
                    })
                })
        })
    }

    async fn run(&self) -> Result<(), PipelineError> {
        let (mut channels, engine) = self.start().await?;
        let proposals = ProposalStore::open(&self.config.home.join("proposals"))
            .map_err(|e| PipelineError::fatal(format!("opening the proposal store: {e}")))?;
        let mut app = App::new(self.pipeline.clone(), &self.config, proposals)?;
        let result = loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => break Ok(()),
                msg = channels.consensus.recv() => match msg {
                    Some(msg) => {
                        if let Err(e) = app.handle(msg, &channels.network).await {
                            break Err(e);
                        }
                    }
                    None => break Err(PipelineError::fatal("the consensus engine stopped")),
                },
            }
        };
        if let Err(e) = engine.actor.stop_and_wait(None, Some(Duration::from_secs(5))).await {
            warn!(target: "btcr::consensus", error = %e, "consensus actors did not stop cleanly");
        }
        engine.handle.abort();
        info!(target: "btcr::consensus", "consensus engine stopped");
        result
    }

    async fn start(
        &self,
    ) -> Result<(Channels<BtcrContext>, malachitebft_app_channel::EngineHandle), PipelineError>
    {
        let config = &self.config;
        let ctx = BtcrContext { chain_id: config.chain_id };
        let keypair = Keypair::ed25519_from_bytes(config.p2p_secret)
            .map_err(|e| PipelineError::fatal_because("invalid network key", e))?;
        let parse = |a: &str| {
            a.parse::<Multiaddr>().map_err(|e| {
                PipelineError::fatal_because(format!("invalid network address {a:?}"), e)
            })
        };
        let listen = parse(&config.listen)?;
        let peers = config.peers.iter().map(|p| parse(p)).collect::<Result<Vec<_>, _>>()?;
        let wal_dir = config.home.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(|e| {
            PipelineError::fatal_because(format!("creating {}", wal_dir.display()), e)
        })?;
        let settings = EngineSettings {
            moniker: config.moniker.clone(),
            consensus: ConsensusConfig {
                p2p: P2pConfig {
                    listen_addr: listen,
                    persistent_peers: peers,
                    discovery: DiscoveryConfig { enabled: config.discovery, ..Default::default() },
                    protocol: PubSubProtocol::default(),
                    ..Default::default()
                },
                ..Default::default()
            },
            // Larger batches than the library's five: a node catching up asks for fewer,
            // bigger responses (each value is still bounded by the codec's limits).
            value_sync: ValueSyncConfig {
                batch_size: SYNC_BATCH,
                max_response_size: SYNC_RESPONSE_BYTES,
                ..ValueSyncConfig::default()
            },
        };
        let verifier = BtcrVerifier::new(config.chain_id);
        let (identity, consensus) = match &config.validator_key {
            Some(key) => {
                let signer = BtcrSigner::new(consensus_key(key), config.chain_id);
                let public = signer.public_key();
                let address = ValidatorAddress::of(&public);
                let peer_id = keypair.public().to_peer_id().to_bytes();
                let proof =
                    signer.sign_validator_proof(public.to_vec(), peer_id).await.map_err(|e| {
                        PipelineError::fatal(format!("signing the validator proof: {e}"))
                    })?;
                let proof = BtcrCodec.encode(&proof).map_err(|e| {
                    PipelineError::fatal(format!("encoding the validator proof: {e}"))
                })?;
                let identity = NetworkIdentity::new_validator(
                    config.moniker.clone(),
                    keypair,
                    address.to_string(),
                    proof,
                );
                (
                    identity,
                    ConsensusContext::new_validator(address, Box::new(verifier), Box::new(signer)),
                )
            }
            None => (
                NetworkIdentity::new(config.moniker.clone(), keypair, None),
                ConsensusContext::new_full_node(
                    ValidatorAddress(Address::ZERO),
                    Box::new(verifier),
                ),
            ),
        };
        let wal_path = wal_dir.join("consensus.wal");
        match check_wal(&wal_path).map_err(PipelineError::fatal)? {
            WalCheck::DroppedTornTail { entries } => warn!(
                target: "btcr::consensus",
                path = %wal_path.display(),
                entries,
                "dropped a torn last entry from the consensus write-ahead log"
            ),
            WalCheck::Absent | WalCheck::Intact { .. } => {}
        }
        malachitebft_app_channel::start_engine(
            ctx,
            settings,
            WalContext::new(wal_path, BtcrCodec),
            NetworkContext::new(identity, BtcrCodec),
            consensus,
            SyncContext::new(BtcrCodec),
            RequestContext::new(100),
        )
        .await
        .map_err(|e| PipelineError::fatal(format!("starting the consensus engine: {e:#}")))
    }
}

/// The state of the application side of consensus.
struct App<P> {
    pipeline: Arc<P>,
    chain_id: u64,
    signer: Option<BtcrSigner>,
    validators: ValidatorSet,
    timeouts: LinearTimeouts,
    block_time: Duration,
    height: Height,
    /// The round consensus is in at `height`.
    round: Round,
    streams: Streams,
    /// Complete proposals for heights this node has not reached yet.
    future: BTreeMap<Height, Vec<Assembled>>,
    /// Complete streams for the next height whose proposer the current set does not name
    /// (a new epoch's set can differ), with their publishers: checked on entering it.
    unchecked: Vec<(Height, PeerId, Vec<super::ProposalPart>)>,
    /// Verified values of the current height, by round, handed again to consensus when it
    /// (re)starts that round.
    undecided: HashMap<Round, Vec<ProposedValue<BtcrContext>>>,
    /// The parts of every value seen at the current height, to stream again on request.
    seen_parts: HashMap<B256, Vec<(ProposalInit, Vec<super::ProposalPart>)>>,
    /// The one proposal taken for each round of the current height: a second, different
    /// one from the same proposer is evidence, not another block to execute.
    taken: HashMap<Round, Taken>,
    /// Verdicts on blocks already verified at the current height.
    verdicts: HashMap<B256, Validity>,
    /// What this validator proposed at the current height, by round: a round asked again
    /// (after a restart of the height) gets the same value.
    own: HashMap<Round, B256>,
    /// Whether the decided block of the current height was committed.
    committed: bool,
    /// The block of the current height that came through sync, found valid.
    synced: Option<B256>,
    /// This validator's proposals, on disk until decided.
    proposals: ProposalStore,
}

/// What the proposer of a round signed for it, as first taken.
struct Taken {
    init: ProposalInit,
    data_hash: B256,
    signature: BftSignature,
    /// Refused for this node's clock alone: the same proposal is verified again if it
    /// comes again.
    recheck: bool,
    /// Whether a second, different proposal for the round was recorded as evidence.
    reported: bool,
}

/// Whether a proposal stream's header is one this node may need: for the current height, a
/// round consensus can be in soon and that round's proposer; for a later height, one near
/// enough. Checked as the header arrives, before any of the stream's data is kept.
fn expected(init: &ProposalInit, height: Height, round: Round, validators: &ValidatorSet) -> bool {
    if init.height < height || init.height.0 > height.0 + MAX_FUTURE_HEIGHTS {
        return false;
    }
    let current = init.height == height;
    let latest = if current { round.as_i64().max(0) } else { 0 } + ROUNDS_AHEAD;
    if init.round.as_i64() < 0 || init.round.as_i64() > latest {
        return false;
    }
    !current
        || *bft::Validator::address(validators.proposer(init.height, init.round)) == init.proposer
}

fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = Result<T, PipelineError>> {
    let task = tokio::task::spawn_blocking(f);
    async move { task.await.map_err(|e| PipelineError::fatal(format!("pipeline task: {e}"))) }
}

impl<P: BlockPipeline> App<P> {
    fn new(
        pipeline: Arc<P>,
        config: &BftConfig,
        proposals: ProposalStore,
    ) -> Result<Self, PipelineError> {
        let next = pipeline.head()?.number + 1;
        let validators =
            validator_set(&pipeline.validators(next)?).map_err(PipelineError::fatal)?;
        Ok(Self {
            proposals,
            pipeline,
            chain_id: config.chain_id,
            signer: config
                .validator_key
                .as_ref()
                .map(|k| BtcrSigner::new(consensus_key(k), config.chain_id)),
            validators,
            timeouts: config.timeouts(),
            block_time: config.block_time,
            height: Height(0),
            round: Round::ZERO,
            streams: Streams::default(),
            future: BTreeMap::new(),
            unchecked: Vec::new(),
            undecided: HashMap::new(),
            seen_parts: HashMap::new(),
            taken: HashMap::new(),
            verdicts: HashMap::new(),
            own: HashMap::new(),
            committed: false,
            synced: None,
        })
    }

    fn params(&self) -> HeightParams<BtcrContext> {
        HeightParams::new(self.validators.clone(), self.timeouts, None)
    }

    /// Moves to `height`: everything kept for the previous one is dropped, and the set is
    /// the one the committed state names for `height`.
    fn enter_height(&mut self, height: Height) -> Result<(), PipelineError> {
        debug!(target: "btcr::consensus", %height, held = self.held_bytes(), "entering height; proposal bytes held for the last one");
        self.height = height;
        self.round = Round::ZERO;
        self.proposals.prune(height);
        self.undecided.clear();
        self.seen_parts.clear();
        self.taken.clear();
        self.verdicts.clear();
        self.own.clear();
        self.committed = false;
        self.synced = None;
        self.future.retain(|h, _| *h >= height);
        self.unchecked.retain(|(h, ..)| *h >= height);
        match self.pipeline.validators(height.0) {
            Ok(list) => {
                let set = validator_set(&list).map_err(PipelineError::fatal)?;
                if set != self.validators {
                    info!(target: "btcr::consensus", %height, validators = list.len(), "the validator set changes");
                    self.validators = set;
                }
            }
            // Not the height after the head (a synced value ahead of it): the set stays.
            Err(PipelineError::InvalidBlock(reason)) => {
                debug!(target: "btcr::consensus", %height, %reason, "keeping the validator set");
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    async fn handle(
        &mut self,
        msg: AppMsg<BtcrContext>,
        network: &mpsc::Sender<NetworkMsg<BtcrContext>>,
    ) -> Result<(), PipelineError> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let head = self.pipeline.head()?;
                let start = Height(head.number + 1);
                info!(target: "btcr::consensus", height = %start, "consensus ready");
                self.enter_height(start)?;
                let _ = reply.send((start, self.params()));
            }
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                debug!(target: "btcr::consensus", %height, %round, %proposer, ?role, "started round");
                if height != self.height {
                    self.enter_height(height)?;
                }
                self.round = round;
                if let Some(r) = round.as_u32() {
                    self.pipeline.entered_round(height.0, r);
                }
                self.resume_waiting(height).await?;
                let values = self.undecided.get(&round).cloned().unwrap_or_default();
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue { height, round, timeout, reply } => {
                self.get_value(height, round, timeout, reply, network).await?;
            }
            AppMsg::ReceivedProposalPart { from, published_by, part, reply } => {
                let value = self.received_part(published_by.unwrap_or(from), part).await?;
                let _ = reply.send(value);
            }
            AppMsg::RestreamProposal { height, value_id, .. } => {
                if height == self.height
                    && let Some((init, seen)) =
                        self.seen_parts.get(&value_id).and_then(|v| v.first())
                {
                    let id = parts::stream_id(init.height, init.round);
                    for message in parts::stream_messages(id, seen) {
                        publish(network, message).await?;
                    }
                }
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                // BTCR never extends votes; an extension is refused.
                let verdicts = extensions
                    .into_iter()
                    .map(|(address, _)| {
                        (address, Err(malachitebft_app_channel::app::consensus::VoteExtensionError::InvalidVoteExtension))
                    })
                    .collect();
                let _ = reply.send(verdicts);
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                // Peers do not ask a pruned node for blocks it no longer keeps.
                let _ = reply.send(Height(self.pipeline.history_start()?.max(1)));
            }
            AppMsg::Decided { certificate, reply, .. } => {
                self.decided(certificate).await?;
                let _ = reply.send(());
            }
            AppMsg::Finalized { certificate, evidence, reply, .. } => {
                let height = certificate.height;
                self.record_evidence(&evidence).await?;
                let next = if self.committed && height == self.height {
                    let next = Height(height.0 + 1);
                    self.enter_height(next)?;
                    Next::Start(next, self.params())
                } else {
                    warn!(target: "btcr::consensus", %height, "decided block was not committed; restarting the height");
                    Next::Restart(self.height, self.params())
                };
                let _ = reply.send(next);
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let values = self.decided_values(*range.start(), *range.end()).await?;
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                let outcome = self.synced_value(height, round, proposer, value_bytes).await?;
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    async fn get_value(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
        reply: malachitebft_app_channel::Reply<LocallyProposedValue<BtcrContext>>,
        network: &mpsc::Sender<NetworkMsg<BtcrContext>>,
    ) -> Result<(), PipelineError> {
        let Some(signer) = self.signer.clone() else {
            return Err(PipelineError::fatal("asked to propose without a validator key"));
        };
        if let Some(hash) = self.own.get(&round) {
            let _ = reply.send(LocallyProposedValue::new(height, round, super::BlockId(*hash)));
            return Ok(());
        }
        let block = match self.proposals.load(height, round) {
            // Proposed before a restart: the same block again, executed again so that the
            // pipeline can commit it.
            Some(block) => {
                info!(target: "btcr::consensus", %height, %round, "proposing again the block built before a restart");
                if self.verify(block.clone()).await? != Validity::Valid {
                    error!(target: "btcr::consensus", %height, %round, "the stored proposal no longer verifies; not proposing");
                    return Ok(());
                }
                block
            }
            None => {
                // Leave a fifth of the propose timeout for sealing and streaming.
                let fill = self.block_time.min(timeout.mul_f32(0.8));
                let deadline = Instant::now() + fill;
                let pipeline = self.pipeline.clone();
                let block = match blocking(move || pipeline.propose(height.0, deadline)).await? {
                    Ok(block) => block,
                    Err(PipelineError::Fatal(e)) => return Err(PipelineError::Fatal(e)),
                    Err(e) => {
                        // Not proposing lets the round time out and move on to the next one.
                        error!(target: "btcr::consensus", %height, %round, error = %e, "could not build a proposal");
                        return Ok(());
                    }
                };
                // On disk before it is signed: a restart proposes this block, not another.
                self.proposals.save(height, round, &block).map_err(|e| {
                    PipelineError::fatal(format!("saving the proposal of height {height}: {e}"))
                })?;
                block
            }
        };
        let hash = block.hash();
        let n_tx = block.body.transactions.len();
        info!(target: "btcr::consensus", %height, %round, %hash, n_tx, "proposing block");
        self.own.insert(round, hash);
        self.verdicts.insert(hash, Validity::Valid);
        let _ = reply.send(LocallyProposedValue::new(height, round, super::BlockId(hash)));

        let mut encoded = Vec::with_capacity(block.length());
        block.encode(&mut encoded);
        let init = ProposalInit {
            height,
            round,
            proposer: ValidatorAddress::of(&signer.public_key()),
            pol_round: Round::Nil,
        };
        let data_hash = alloy_primitives::keccak256(&encoded);
        let proposal_parts = parts::split(self.chain_id, &signer, init, &Bytes::from(encoded));
        let id = parts::stream_id(height, round);
        for message in parts::stream_messages(id, &proposal_parts) {
            publish(network, message).await?;
        }
        if let Some(super::ProposalPart::Fin(signature)) = proposal_parts.last() {
            let signature = signature.clone();
            let taken = Taken { init, data_hash, signature, recheck: false, reported: false };
            self.taken.insert(round, taken);
        }
        self.seen_parts.entry(hash).or_default().push((init, proposal_parts));
        Ok(())
    }

    /// One message of a proposal stream from `publisher`: kept until its stream is complete,
    /// or refused as it arrives when its header is not one this node expects.
    async fn received_part(
        &mut self,
        publisher: PeerId,
        message: malachitebft_app_channel::app::streaming::StreamMessage<super::ProposalPart>,
    ) -> Result<Option<ProposedValue<BtcrContext>>, PipelineError> {
        let (height, round, validators) = (self.height, self.round, &self.validators);
        match self
            .streams
            .insert(publisher, message, |init| expected(init, height, round, validators))
        {
            Inserted::Complete(parts) => self.received_proposal(publisher, parts).await,
            Inserted::Pending => Ok(None),
            Inserted::Refused(why) => {
                debug!(target: "btcr::consensus", %publisher, ?why, "dropped a proposal part");
                Ok(None)
            }
        }
    }

    /// Bytes of proposals this node holds for the current and later heights: incomplete
    /// streams, the parts of the values seen, and proposals waiting for their height.
    fn held_bytes(&self) -> usize {
        let seen: usize =
            self.seen_parts.values().flatten().map(|(_, p)| parts::data_bytes(p)).sum();
        let future: usize = self.future.values().flatten().map(|a| a.block.len()).sum();
        let unchecked: usize = self.unchecked.iter().map(|(_, _, p)| parts::data_bytes(p)).sum();
        self.streams.bytes() + seen + future + unchecked
    }

    /// The proposals that arrived before this node reached `height`, now that it has: the
    /// checked ones are verified, the unchecked ones checked against the height's set first.
    async fn resume_waiting(&mut self, height: Height) -> Result<(), PipelineError> {
        if let Some(waiting) = self.future.remove(&height) {
            for assembled in waiting {
                self.accept(assembled).await?;
            }
        }
        let (now, later) = std::mem::take(&mut self.unchecked)
            .into_iter()
            .partition::<Vec<_>, _>(|(h, ..)| *h == height);
        self.unchecked = later;
        for (_, publisher, parts) in now {
            self.received_proposal(publisher, parts).await?;
        }
        Ok(())
    }

    /// A complete stream: check its signature, then verify the block if it is for this
    /// height, keep it if it is for a later one.
    async fn received_proposal(
        &mut self,
        publisher: PeerId,
        proposal_parts: Vec<super::ProposalPart>,
    ) -> Result<Option<ProposedValue<BtcrContext>>, PipelineError> {
        // The next height's set is known only once this height commits, and an epoch may
        // end here: a proposal for it that the current set does not name is kept, unchecked
        // and bounded, until the node gets there.
        if let Some(super::ProposalPart::Init { height, round, proposer, .. }) =
            proposal_parts.first()
            && height.0 == self.height.0 + 1
            && round.as_i64() <= ROUNDS_AHEAD
            && (self.validators.key_of(proposer).is_none()
                || *bft::Validator::address(self.validators.proposer(*height, *round)) != *proposer)
        {
            let held: usize = self.unchecked.iter().map(|(_, _, p)| parts::data_bytes(p)).sum();
            if self.unchecked.len() < MAX_UNCHECKED_PROPOSALS
                && held + parts::data_bytes(&proposal_parts) <= MAX_UNCHECKED_BYTES
                && self.unchecked.iter().all(|(_, p, _)| *p != publisher)
            {
                debug!(target: "btcr::consensus", %height, %round, %proposer, "kept a proposal for the next height until its set is known");
                self.unchecked.push((*height, publisher, proposal_parts));
            }
            return Ok(None);
        }
        let validators = &self.validators;
        let assembled = match parts::assemble(self.chain_id, proposal_parts, |_, address| {
            validators.key_of(address)
        }) {
            Ok(a) => a,
            Err(e) => {
                warn!(target: "btcr::consensus", error = %e, "dropped a proposal");
                return Ok(None);
            }
        };
        let ProposalInit { height, round, proposer, .. } = assembled.init;
        if height < self.height {
            return Ok(None);
        }
        // Only the proposer of that round, and only for a round consensus can be in soon:
        // otherwise one validator could make every other re-execute blocks without end.
        if *bft::Validator::address(self.validators.proposer(height, round)) != proposer {
            warn!(target: "btcr::consensus", %height, %round, %proposer, "dropped a proposal from a validator that is not the round's proposer");
            return Ok(None);
        }
        let latest_round =
            if height == self.height { self.round.as_i64() } else { 0 } + ROUNDS_AHEAD;
        if round.as_i64() > latest_round {
            debug!(target: "btcr::consensus", %height, %round, "dropped a proposal for a round too far ahead");
            return Ok(None);
        }
        if height > self.height {
            let waiting = self.future.entry(height).or_default();
            // One per round: a proposer's variants of its round cannot crowd out the others.
            if height.0 - self.height.0 <= MAX_FUTURE_HEIGHTS
                && waiting.len() < MAX_FUTURE_PROPOSALS
                && waiting.iter().all(|a| a.init.round != round)
            {
                waiting.push(assembled);
            }
            return Ok(None);
        }
        self.accept(assembled).await
    }

    /// Verifies a proposal of the current height and records the verdict: the first one of
    /// its round only. The same one again is not executed again; a different one signed
    /// by the same proposer is kept as evidence and goes no further.
    async fn accept(
        &mut self,
        assembled: Assembled,
    ) -> Result<Option<ProposedValue<BtcrContext>>, PipelineError> {
        let init = assembled.init;
        if let Some(taken) = self.taken.get_mut(&init.round) {
            if taken.init == init && taken.data_hash == assembled.data_hash {
                if !taken.recheck {
                    return Ok(None);
                }
            } else {
                if !taken.reported {
                    taken.reported = true;
                    let evidence = double_proposal_parts(
                        (&taken.init, taken.data_hash, &taken.signature),
                        (&init, assembled.data_hash, &assembled.signature),
                    );
                    warn!(target: "btcr::consensus", proposer = %init.proposer, height = %init.height, round = %init.round, "a proposer streamed two different proposals for one round");
                    let pipeline = self.pipeline.clone();
                    blocking(move || pipeline.record_misbehavior(&evidence)).await??;
                }
                return Ok(None);
            }
        }
        let taken = Taken {
            init,
            data_hash: assembled.data_hash,
            signature: assembled.signature.clone(),
            recheck: false,
            reported: false,
        };
        let reported = self.taken.insert(init.round, taken).is_some_and(|t| t.reported);
        let block = match Block::decode(&mut assembled.block.as_ref()) {
            Ok(block) => block,
            Err(e) => {
                warn!(target: "btcr::consensus", proposer = %init.proposer, error = %e, "undecodable proposal");
                return Ok(None);
            }
        };
        if block.number() != init.height.0 || block.header.proposer != init.proposer.0 {
            warn!(target: "btcr::consensus", proposer = %init.proposer, "proposal names another height or proposer than its stream");
            return Ok(None);
        }
        let hash = block.hash();
        let validity = self.verify(block).await?;
        if let Some(taken) = self.taken.get_mut(&init.round) {
            taken.recheck = !self.verdicts.contains_key(&hash);
            taken.reported = reported;
        }
        let value = ProposedValue {
            height: init.height,
            round: init.round,
            valid_round: init.pol_round,
            proposer: init.proposer,
            value: super::BlockId(hash),
            validity,
        };
        let seen = self.seen_parts.entry(hash).or_default();
        if seen.iter().all(|(i, _)| *i != init) {
            seen.push((init, assembled.parts));
        }
        let round_values = self.undecided.entry(init.round).or_default();
        if !round_values.contains(&value) {
            round_values.push(value.clone());
        }
        Ok(Some(value))
    }

    /// Re-executes a block once per height and hash (a refusal by this node's clock alone is
    /// not remembered).
    async fn verify(&mut self, block: Block) -> Result<Validity, PipelineError> {
        self.verify_as(block, false).await
    }

    /// [`Self::verify`] for a synced block, whose certificate the engine checked before
    /// handing it over (`BlockPipeline::verify_certified`).
    async fn verify_certified(&mut self, block: Block) -> Result<Validity, PipelineError> {
        self.verify_as(block, true).await
    }

    /// A verdict already reached for the block is reused; a new one is kept for the height,
    /// unless it was reached as `certified`: it may rest on what only the certificate vouches
    /// for, so the same block proposed live is verified in full.
    async fn verify_as(
        &mut self,
        block: Block,
        certified: bool,
    ) -> Result<Validity, PipelineError> {
        let hash = block.hash();
        if let Some(v) = self.verdicts.get(&hash) {
            return Ok(*v);
        }
        let pipeline = self.pipeline.clone();
        let verified = blocking(move || match certified {
            true => pipeline.verify_certified(&block),
            false => pipeline.verify(&block),
        });
        let validity = match verified.await? {
            Ok(()) => Validity::Valid,
            Err(PipelineError::Fatal(e)) => return Err(PipelineError::Fatal(e)),
            // Our clock may be behind: the same block is checked again when it comes again.
            Err(PipelineError::InvalidBlock(e)) if e.clock_dependent => {
                warn!(target: "btcr::consensus", %hash, error = %e, "proposal ahead of this node's clock");
                return Ok(Validity::Invalid);
            }
            Err(e) => {
                warn!(target: "btcr::consensus", %hash, certified, error = %e, "invalid proposal");
                Validity::Invalid
            }
        };
        if !certified {
            self.verdicts.insert(hash, validity);
        }
        Ok(validity)
    }

    async fn decided(
        &mut self,
        certificate: BftCertificate<BtcrContext>,
    ) -> Result<(), PipelineError> {
        let height = certificate.height;
        let hash = certificate.value_id;
        let round = certificate.round.as_u32().ok_or_else(|| {
            PipelineError::fatal(format!("decision at height {height} without a round"))
        })?;
        let mut signatures: Vec<ValidatorSignature> = certificate
            .commit_signatures
            .iter()
            .map(|s| ValidatorSignature {
                validator: s.address.0,
                signature: AlloyBytes::from(s.signature.to_vec()),
            })
            .collect();
        signatures.sort_by_key(|s| s.validator);
        let stored = CommitCertificate { height: height.0, round, block_hash: hash, signatures };
        let pipeline = self.pipeline.clone();
        // A node that signs nothing may lose the blocks it synced last to a crash (it syncs
        // them again); a validator keeps every decision on disk before it votes at the next
        // height.
        let synced = self.synced == Some(hash) && self.signer.is_none();
        let commit = move || match synced {
            true => pipeline.commit_synced(hash, stored),
            false => pipeline.commit(hash, stored),
        };
        match blocking(commit).await? {
            Ok(()) => {
                self.committed = true;
                info!(target: "btcr::consensus", %height, round, %hash, "finalized block");
                Ok(())
            }
            Err(PipelineError::Fatal(e)) => Err(PipelineError::Fatal(e)),
            Err(e) => {
                error!(target: "btcr::consensus", %height, %hash, error = %e, "cannot commit the decided block");
                Ok(())
            }
        }
    }

    /// Keeps what Malachite saw of validators signing conflicting messages.
    async fn record_evidence(
        &self,
        evidence: &MisbehaviorEvidence<BtcrContext>,
    ) -> Result<(), PipelineError> {
        let mut found = Vec::new();
        for validator in self.validators.validators() {
            let address = bft::Validator::address(validator);
            for (a, b) in evidence.proposals.get(address).into_iter().flatten() {
                found.push(double_proposal(a, b));
            }
            for (a, b) in evidence.votes.get(address).into_iter().flatten() {
                found.push(double_vote(a, b));
            }
        }
        for m in found {
            warn!(
                target: "btcr::consensus",
                validator = %m.validator,
                height = m.height,
                round = m.round,
                kind = ?m.kind,
                "validator signed conflicting messages"
            );
            let pipeline = self.pipeline.clone();
            blocking(move || pipeline.record_misbehavior(&m)).await??;
        }
        Ok(())
    }

    async fn decided_values(
        &self,
        start: Height,
        end: Height,
    ) -> Result<Vec<RawDecidedValue<BtcrContext>>, PipelineError> {
        let mut values = Vec::new();
        let last = end.0.min(start.0.saturating_add(MAX_SYNC_VALUES as u64 - 1));
        for h in start.0.max(1)..=last {
            let pipeline = self.pipeline.clone();
            let Some((block, certificate)) = blocking(move || pipeline.decided(h)).await?? else {
                break;
            };
            let Some(certificate) = to_engine_certificate(&certificate) else {
                error!(target: "btcr::consensus", height = h, "stored certificate is unreadable");
                break;
            };
            let mut encoded = Vec::with_capacity(block.length());
            block.encode(&mut encoded);
            values.push(RawDecidedValue::new(Bytes::from(encoded), certificate));
        }
        Ok(values)
    }

    async fn synced_value(
        &mut self,
        height: Height,
        round: Round,
        proposer: ValidatorAddress,
        value_bytes: Bytes,
    ) -> Result<SyncedValueOutcome<BtcrContext>, PipelineError> {
        let Ok(block) = Block::decode(&mut value_bytes.as_ref()) else {
            return Ok(SyncedValueOutcome::PeerFault);
        };
        if block.number() != height.0 {
            return Ok(SyncedValueOutcome::PeerFault);
        }
        if height != self.height {
            self.enter_height(height)?;
        }
        let hash = block.hash();
        let validity = match self.verify_certified(block).await {
            Ok(v) => v,
            Err(e) => {
                error!(target: "btcr::consensus", %height, error = %e, "verifying a synced block");
                return Ok(SyncedValueOutcome::LocalTransientError);
            }
        };
        if validity == Validity::Valid {
            self.synced = Some(hash);
        }
        Ok(SyncedValueOutcome::Verdict(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer,
            value: super::BlockId(hash),
            validity,
        }))
    }
}

async fn publish(
    network: &mpsc::Sender<NetworkMsg<BtcrContext>>,
    message: malachitebft_app_channel::app::streaming::StreamMessage<super::ProposalPart>,
) -> Result<(), PipelineError> {
    network
        .send(NetworkMsg::PublishProposalPart(message))
        .await
        .map_err(|_| PipelineError::fatal("the consensus network stopped"))
}

/// A stored certificate in the engine's form, for peers that sync.
fn to_engine_certificate(c: &CommitCertificate) -> Option<ExtendedCommitCertificate<BtcrContext>> {
    let commit_signatures = c
        .signatures
        .iter()
        .map(|s| {
            Some(ExtendedCommitSignature {
                address: ValidatorAddress(s.validator),
                signature: BftSignature::from_slice(&s.signature).ok()?,
                extension: None,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(ExtendedCommitCertificate {
        height: Height(c.height),
        round: Round::new(c.round),
        value_id: c.block_hash,
        commit_signatures,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use alloy_primitives::B256;
    use btcr_primitives::{BlockBody, GenesisValidator, Misbehavior};

    use super::*;
    use crate::bft::{Validator, context::ValidatorKey, test_header};

    /// A pipeline that counts verifications, and keeps the blocks committed and the
    /// evidence recorded.
    struct Counting {
        verified: AtomicUsize,
        /// Verifications of synced blocks (`verify_certified`).
        certified: AtomicUsize,
        /// The set per height; a height not listed is not known.
        validators: parking_lot::Mutex<std::collections::BTreeMap<u64, Vec<GenesisValidator>>>,
        committed: parking_lot::Mutex<Vec<B256>>,
        evidence: parking_lot::Mutex<Vec<Misbehavior>>,
    }

    impl Counting {
        fn new(validators: std::collections::BTreeMap<u64, Vec<GenesisValidator>>) -> Self {
            Self {
                verified: AtomicUsize::new(0),
                certified: AtomicUsize::new(0),
                validators: parking_lot::Mutex::new(validators),
                committed: Default::default(),
                evidence: Default::default(),
            }
        }
    }

    use crate::bft::test_validators as listed;

    /// An engine configuration for a full node with its files in `dir`.
    fn test_config(dir: &std::path::Path) -> BftConfig {
        BftConfig {
            chain_id: 7,
            moniker: "test".into(),
            home: dir.to_path_buf(),
            validator_key: None,
            p2p_secret: [1; 32],
            listen: "/ip4/127.0.0.1/tcp/0".into(),
            peers: vec![],
            discovery: true,
            block_time: Duration::from_millis(100),
        }
    }

    impl BlockPipeline for Counting {
        fn head(&self) -> Result<btcr_primitives::Header, PipelineError> {
            Ok(test_header(0, Address::ZERO))
        }
        fn propose(&self, _: u64, _: std::time::Instant) -> Result<Block, PipelineError> {
            Err(PipelineError::invalid("not in this test"))
        }
        fn verify(&self, _: &Block) -> Result<(), PipelineError> {
            self.verified.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn verify_certified(&self, _: &Block) -> Result<(), PipelineError> {
            self.certified.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn commit(&self, hash: B256, _: CommitCertificate) -> Result<(), PipelineError> {
            self.committed.lock().push(hash);
            Ok(())
        }
        fn record_misbehavior(&self, m: &Misbehavior) -> Result<bool, PipelineError> {
            self.evidence.lock().push(m.clone());
            Ok(true)
        }
        fn validators(&self, height: u64) -> Result<Vec<GenesisValidator>, PipelineError> {
            self.validators
                .lock()
                .get(&height)
                .cloned()
                .ok_or_else(|| PipelineError::invalid(format!("no set for {height}")))
        }
        fn decided(&self, _: u64) -> Result<Option<(Block, CommitCertificate)>, PipelineError> {
            Ok(None)
        }
        fn entered_round(&self, _: u64, _: u32) {}
    }

    /// Four validators of power 1, and a full node's configuration in a fresh directory.
    fn four_validators() -> (Vec<SecretKey>, ValidatorSet, tempfile::TempDir, BftConfig) {
        let keys: Vec<SecretKey> = (0..4).map(|_| SecretKey::random()).collect();
        let public: Vec<ValidatorKey> =
            keys.iter().map(|k| consensus_key(k).public_key()).collect();
        let set = ValidatorSet::new(public.iter().map(|k| Validator::new(k.clone(), 1))).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        (keys, set, dir, config)
    }

    #[tokio::test]
    async fn only_the_rounds_proposer_gets_its_block_verified() {
        let (keys, set, dir, config) = four_validators();
        let pipeline = Arc::new(Counting::new([(1, listed(&keys))].into()));
        let proposals = ProposalStore::open(&dir.path().join("proposals")).unwrap();
        let mut app = App::new(pipeline.clone(), &config, proposals).unwrap();
        app.enter_height(Height(1)).unwrap();
        assert_eq!(app.validators, set);

        let parts_from = |key: &SecretKey, round: Round| {
            let signer = BtcrSigner::new(consensus_key(key), 7);
            let proposer = ValidatorAddress::of(&signer.public_key());
            let block = Block { header: test_header(1, proposer.0), body: BlockBody::default() };
            let mut encoded = Vec::new();
            block.encode(&mut encoded);
            let init = ProposalInit { height: Height(1), round, proposer, pol_round: Round::Nil };
            parts::split(7, &signer, init, &Bytes::from(encoded))
        };
        let proposer_of = |round: Round| {
            let address = *bft::Validator::address(set.proposer(Height(1), round));
            keys.iter().find(|k| k.address() == address.0).unwrap()
        };
        let someone_else = |round: Round| {
            let address = *bft::Validator::address(set.proposer(Height(1), round));
            keys.iter().find(|k| k.address() != address.0).unwrap()
        };

        let r0 = Round::new(0);
        let peer = test_peer(1);
        assert!(
            app.received_proposal(peer, parts_from(someone_else(r0), r0)).await.unwrap().is_none()
        );
        assert_eq!(pipeline.verified.load(Ordering::SeqCst), 0, "not the proposer: not verified");
        let far = Round::new(ROUNDS_AHEAD as u32 + 1);
        assert!(
            app.received_proposal(peer, parts_from(proposer_of(far), far)).await.unwrap().is_none()
        );
        assert_eq!(pipeline.verified.load(Ordering::SeqCst), 0, "too far ahead: not verified");
        let value = app.received_proposal(peer, parts_from(proposer_of(r0), r0)).await.unwrap();
        assert_eq!(value.map(|v| v.validity), Some(Validity::Valid));
        assert_eq!(pipeline.verified.load(Ordering::SeqCst), 1);
        // The same block again is not re-executed.
        app.received_proposal(peer, parts_from(proposer_of(r0), r0)).await.unwrap();
        assert_eq!(pipeline.verified.load(Ordering::SeqCst), 1);
    }

    /// Refuses every block as ahead of its clock until `clock_ok` is set.
    struct Skewed {
        inner: Counting,
        clock_ok: std::sync::atomic::AtomicBool,
    }

    impl BlockPipeline for Skewed {
        fn head(&self) -> Result<btcr_primitives::Header, PipelineError> {
            self.inner.head()
        }
        fn propose(&self, h: u64, d: std::time::Instant) -> Result<Block, PipelineError> {
            self.inner.propose(h, d)
        }
        fn verify(&self, block: &Block) -> Result<(), PipelineError> {
            self.inner.verify(block)?;
            if self.clock_ok.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(PipelineError::too_early("timestamp ahead of this node's clock"))
            }
        }
        fn commit(&self, hash: B256, c: CommitCertificate) -> Result<(), PipelineError> {
            self.inner.commit(hash, c)
        }
        fn record_misbehavior(&self, m: &Misbehavior) -> Result<bool, PipelineError> {
            self.inner.record_misbehavior(m)
        }
        fn validators(&self, height: u64) -> Result<Vec<GenesisValidator>, PipelineError> {
            self.inner.validators(height)
        }
        fn decided(&self, h: u64) -> Result<Option<(Block, CommitCertificate)>, PipelineError> {
            self.inner.decided(h)
        }
        fn entered_round(&self, height: u64, round: u32) {
            self.inner.entered_round(height, round)
        }
    }

    /// A node's app over `pipeline`, entered at height 1.
    fn app_at_height_one<P: BlockPipeline>(
        pipeline: &Arc<P>,
        dir: &tempfile::TempDir,
        config: &BftConfig,
    ) -> App<P> {
        let proposals = ProposalStore::open(&dir.path().join("proposals")).unwrap();
        let mut app = App::new(pipeline.clone(), config, proposals).unwrap();
        app.enter_height(Height(1)).unwrap();
        app
    }

    /// The signer of height 1 round 0's proposer among `keys`, and the Init of its stream.
    fn first_proposer(keys: &[SecretKey], set: &ValidatorSet) -> (BtcrSigner, ProposalInit) {
        let r0 = Round::new(0);
        let address = *bft::Validator::address(set.proposer(Height(1), r0));
        let key = keys.iter().find(|k| k.address() == address.0).unwrap();
        let signer = BtcrSigner::new(consensus_key(key), 7);
        let proposer = ValidatorAddress::of(&signer.public_key());
        (signer, ProposalInit { height: Height(1), round: r0, proposer, pol_round: Round::Nil })
    }

    /// A synced block is checked as certified (its PoH chains vouched for by the certificate
    /// the engine verified), and that verdict is never reused for the same block proposed
    /// live, which is verified in full; a verdict reached in full is reused for a synced copy.
    #[tokio::test]
    async fn a_synced_blocks_verdict_is_not_taken_for_a_live_proposal() {
        let (keys, set, dir, config) = four_validators();
        let pipeline = Arc::new(Counting::new([(1, listed(&keys))].into()));
        let mut app = app_at_height_one(&pipeline, &dir, &config);
        let (signer, init) = first_proposer(&keys, &set);
        let block = Block { header: test_header(1, init.proposer.0), body: BlockBody::default() };
        let mut encoded = Vec::new();
        block.encode(&mut encoded);
        let bytes = Bytes::from(encoded);

        let synced = app.synced_value(Height(1), init.round, init.proposer, bytes.clone());
        let Ok(SyncedValueOutcome::Verdict(value)) = synced.await else { panic!("no verdict") };
        assert_eq!((value.validity, value.value.0), (Validity::Valid, block.hash()));
        assert_eq!(pipeline.certified.load(Ordering::SeqCst), 1);
        assert_eq!(pipeline.verified.load(Ordering::SeqCst), 0);

        let parts = parts::split(7, &signer, init, &bytes);
        let live = app.received_proposal(test_peer(1), parts).await.unwrap();
        assert_eq!(live.map(|v| v.validity), Some(Validity::Valid));
        assert_eq!(pipeline.verified.load(Ordering::SeqCst), 1, "verified in full");

        let again = app.synced_value(Height(1), init.round, init.proposer, bytes).await;
        assert!(matches!(again, Ok(SyncedValueOutcome::Verdict(_))));
        assert_eq!(pipeline.certified.load(Ordering::SeqCst), 1, "the full verdict reused");
    }

    /// A verdict refused for local clock skew was kept for the whole height, so that a node
    /// whose clock lagged voted against the block in every round. Now it is checked again.
    #[tokio::test]
    async fn a_proposal_refused_by_this_nodes_clock_is_checked_again_when_it_comes_again() {
        let (keys, set, dir, config) = four_validators();
        let pipeline = Arc::new(Skewed {
            inner: Counting::new([(1, listed(&keys))].into()),
            clock_ok: std::sync::atomic::AtomicBool::new(false),
        });
        let mut app = app_at_height_one(&pipeline, &dir, &config);
        let (signer, init) = first_proposer(&keys, &set);
        let block = Block { header: test_header(1, init.proposer.0), body: BlockBody::default() };
        let mut encoded = Vec::new();
        block.encode(&mut encoded);
        let parts = parts::split(7, &signer, init, &Bytes::from(encoded));
        let peer = test_peer(1);

        let first = app.received_proposal(peer, parts.clone()).await.unwrap();
        assert_eq!(first.map(|v| v.validity), Some(Validity::Invalid));
        pipeline.clock_ok.store(true, Ordering::SeqCst);
        let again = app.received_proposal(peer, parts).await.unwrap();
        assert_eq!(again.map(|v| v.validity), Some(Validity::Valid), "checked again");
        assert_eq!(pipeline.inner.verified.load(Ordering::SeqCst), 2);
    }

    /// The audit's byzantine proposer: a thousand different blocks for its one round (empty
    /// blocks a millisecond apart), each a correctly signed stream, published by it and
    /// relayed by others. Each was executed and kept until the height ended. Now the first
    /// is executed, the second is kept as evidence that verifies, the rest cost a signature
    /// check each and nothing more, what is held stays within one block in flight and one
    /// seen, and the height is decided on the block taken.
    #[tokio::test]
    async fn a_proposer_streaming_a_thousand_variants_of_its_round_is_executed_once_and_caught() {
        const VARIANTS: u64 = 1_000;
        let (keys, set, dir, config) = four_validators();
        let pipeline = Arc::new(Counting::new([(1, listed(&keys)), (2, listed(&keys))].into()));
        let mut app = app_at_height_one(&pipeline, &dir, &config);
        let (signer, init) = first_proposer(&keys, &set);
        let (r0, proposer) = (init.round, init.proposer);
        let variant = |i: u64| {
            let mut header = test_header(1, proposer.0);
            header.timestamp_ms = 1_000_000 + i; // every variant encodes to the same size
            let block = Block { header, body: BlockBody::default() };
            let mut encoded = Vec::new();
            block.encode(&mut encoded);
            (block.hash(), parts::split(7, &signer, init, &Bytes::from(encoded)))
        };

        let (first_hash, first_parts) = variant(0);
        let block_bytes = parts::data_bytes(&first_parts);
        let mut values = Vec::new();
        let mut peak = 0;
        for i in 0..VARIANTS {
            let (_, proposal) = variant(i);
            let publisher = test_peer(1 + (i % 8) as u8);
            for message in parts::stream_messages(parts::stream_id(Height(1), r0), &proposal) {
                values.extend(app.received_part(publisher, message).await.unwrap());
                peak = peak.max(app.held_bytes());
            }
        }
        // One stream in flight and the one block taken.
        let bound = 2 * block_bytes;
        println!(
            "{VARIANTS} variants of one round: peak held {peak} bytes (bound {bound}: one block of {block_bytes} bytes seen, one in flight); verified {}",
            pipeline.verified.load(Ordering::SeqCst)
        );
        assert!(peak <= bound, "held {peak} bytes, more than {bound}");
        assert_eq!(pipeline.verified.load(Ordering::SeqCst), 1, "executed once");
        assert_eq!(values.len(), 1, "one value offered to consensus");
        assert_eq!((values[0].value.0, values[0].validity), (first_hash, Validity::Valid));
        assert_eq!(app.undecided.get(&r0).map(Vec::len), Some(1));
        assert_eq!(app.seen_parts.len(), 1);

        let evidence = pipeline.evidence.lock().clone();
        assert_eq!(evidence.len(), 1, "the equivocation is recorded once");
        let m = &evidence[0];
        assert_eq!((m.validator, m.height, m.round), (proposer.0, 1, 0));
        assert_eq!(m.kind, btcr_primitives::MisbehaviorKind::DoubleProposalParts);
        crate::bft::certificate::verify_misbehavior(7, m, &signer.public_key())
            .expect("the evidence verifies against the proposer's key");

        // The height decides the block taken; the next one starts with nothing held.
        let signatures = keys
            .iter()
            .take(3)
            .map(|k| {
                let s = crate::bft::certificate::sign_commit(k, 7, 1, 0, first_hash);
                bft::CommitSignature::new(
                    ValidatorAddress(s.validator),
                    BftSignature::from_slice(&s.signature).unwrap(),
                )
            })
            .collect();
        let certificate = BftCertificate {
            height: Height(1),
            round: r0,
            value_id: first_hash,
            commit_signatures: signatures,
        };
        app.decided(certificate).await.unwrap();
        assert!(app.committed);
        assert_eq!(*pipeline.committed.lock(), vec![first_hash]);
        app.enter_height(Height(2)).unwrap();
        assert_eq!(app.held_bytes(), 0);
    }

    fn test_peer(seed: u8) -> PeerId {
        let keypair = malachitebft_app_channel::app::types::Keypair::ed25519_from_bytes([seed; 32])
            .expect("valid key");
        PeerId::from_bytes(&keypair.public().to_peer_id().to_bytes()).expect("valid peer id")
    }

    #[tokio::test]
    async fn a_proposal_from_a_validator_new_at_the_next_height_waits_for_its_set() {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        // Four validators decide height 1; an epoch ends there and a fifth joins for height
        // 2, as the proposer of its round 0 (keys are drawn until the new one is).
        let (keys, five) = loop {
            let keys: Vec<SecretKey> = (0..5).map(|_| SecretKey::random()).collect();
            let five = validator_set(&listed(&keys)).unwrap();
            if bft::Validator::address(five.proposer(Height(2), Round::new(0))).0
                == keys[4].address()
            {
                break (keys, five);
            }
        };
        let pipeline =
            Arc::new(Counting::new([(1, listed(&keys[..4])), (2, listed(&keys))].into()));
        let proposals = ProposalStore::open(&dir.path().join("proposals")).unwrap();
        let mut app = App::new(pipeline.clone(), &config, proposals).unwrap();
        app.enter_height(Height(1)).unwrap();

        let stream = |key: &SecretKey, claimed: Option<ValidatorAddress>| {
            let signer = BtcrSigner::new(consensus_key(key), 7);
            let proposer = claimed.unwrap_or(ValidatorAddress::of(&signer.public_key()));
            let block = Block { header: test_header(2, proposer.0), body: BlockBody::default() };
            let mut encoded = Vec::new();
            block.encode(&mut encoded);
            let init = ProposalInit {
                height: Height(2),
                round: Round::new(0),
                proposer,
                pol_round: Round::Nil,
            };
            parts::split(7, &signer, init, &Bytes::from(encoded))
        };
        let newcomer = *bft::Validator::address(five.proposer(Height(2), Round::new(0)));
        // At height 1 the newcomer is unknown: nothing is verified yet, and a forgery in its
        // name (signed by someone else) waits too, from another peer.
        let outsider = SecretKey::random();
        assert!(
            app.received_proposal(test_peer(1), stream(&keys[4], None)).await.unwrap().is_none()
        );
        assert!(
            app.received_proposal(test_peer(2), stream(&outsider, Some(newcomer)))
                .await
                .unwrap()
                .is_none()
        );
        // One stream per peer, and a bounded number in all.
        app.received_proposal(test_peer(1), stream(&keys[4], None)).await.unwrap();
        for seed in 3..10 {
            app.received_proposal(test_peer(seed), stream(&outsider, Some(newcomer)))
                .await
                .unwrap();
        }
        assert_eq!(app.unchecked.len(), MAX_UNCHECKED_PROPOSALS);
        assert_eq!(pipeline.verified.load(Ordering::SeqCst), 0);

        // Height 1 commits; at height 2 the new set checks them: the newcomer's block is
        // verified once and offered for round 0, the forgeries are dropped.
        app.enter_height(Height(2)).unwrap();
        app.resume_waiting(Height(2)).await.unwrap();
        assert_eq!(pipeline.verified.load(Ordering::SeqCst), 1);
        let offered = app.undecided.get(&Round::new(0)).cloned().unwrap_or_default();
        assert_eq!(offered.len(), 1);
        assert_eq!((offered[0].proposer, offered[0].validity), (newcomer, Validity::Valid));
        assert!(app.unchecked.is_empty());
    }

    #[tokio::test]
    async fn each_height_takes_the_set_the_pipeline_names_for_it() {
        let keys: Vec<SecretKey> = (0..5).map(|_| SecretKey::random()).collect();
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        let four = listed(&keys[..4]);
        let five = listed(&keys);
        let pipeline = Arc::new(Counting::new([(1, four.clone()), (2, five.clone())].into()));
        let proposals = ProposalStore::open(&dir.path().join("proposals")).unwrap();
        let mut app = App::new(pipeline.clone(), &config, proposals).unwrap();
        assert_eq!(app.validators, validator_set(&four).unwrap());
        // An epoch's end elected a fifth validator: the next height has it.
        app.enter_height(Height(2)).unwrap();
        assert_eq!(app.validators, validator_set(&five).unwrap());
        assert_eq!(app.params().validator_set.validators().len(), 5);
        // A height whose set is not known yet (ahead of the head) keeps the last one.
        app.enter_height(Height(3)).unwrap();
        assert_eq!(app.validators, validator_set(&five).unwrap());
        // A set the pipeline cannot name correctly is fatal, not skipped.
        pipeline.validators.lock().insert(4, vec![]);
        assert!(matches!(app.enter_height(Height(4)), Err(PipelineError::Fatal(_))));
    }
}
