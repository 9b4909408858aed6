//! A simulation of BFT consensus among many validators on one machine, in simulated time:
//! one real consensus driver per validator (the BFT library's round state machine and vote
//! keeper, with BTCR's context, proposer selection, timeouts and secp256k1 signatures),
//! over a simulated network.
//!
//! ```text
//!  validator ──broadcast──▶ gossip: ⌈log_fanout(n)⌉ hops, each a one-way latency
//!      ▲                     (base ± jitter) plus the message's bytes over the link's
//!      │                     bandwidth; lost only if each of 3 mesh paths loses it on a hop
//!      └── its driver ◀── deliveries, in the order of their simulated times, each costing
//!                          the receiver its verification time (one message at a time)
//! ```
//!
//! The proposer of a round builds its block for the block time, then proposes it (the block
//! travels with the proposal); validators vote; a round that does not decide times out and
//! the next begins; every round resends its votes after the rebroadcast timeout, as the
//! engine does, so that lost votes are not lost for good. A height's finality latency is,
//! for each validator, the time from the proposer having its block to that validator's
//! decision.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    time::Duration,
};

use alloy_primitives::{B256, keccak256};
use malachitebft_app_channel::app::types::core::{
    LinearTimeouts, Round, SignedMessage, SignedProposal, SignedVote, ThresholdParams, Timeout,
    Validator as _, Validity,
};
use malachitebft_core_driver::{Driver, Input, Output};
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::{
    context::{
        BlockId, BtcrContext, Height, Validator, ValidatorAddress, ValidatorPrivateKey,
        ValidatorSet,
    },
    signing::BtcrSigner,
};

/// What is simulated.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Validators, each with the same voting power.
    pub validators: usize,
    /// Heights to decide.
    pub heights: u64,
    /// One-way latency of a network hop.
    pub latency: Duration,
    /// Each hop's latency is `latency` plus up to this much, uniformly.
    pub jitter: Duration,
    /// Probability that a hop loses a message.
    pub loss: f64,
    /// How long a proposer builds its block.
    pub block_time: Duration,
    /// The size of a proposed block (it travels with the proposal).
    pub block_bytes: u64,
    /// Bytes per second a link carries.
    pub bandwidth: u64,
    /// Peers each node forwards gossip to.
    pub fanout: usize,
    /// What verifying one received message costs its receiver.
    pub verify_cost: Duration,
    /// Seed of the latencies and losses.
    pub seed: u64,
}

impl SimConfig {
    /// `validators` validators on a wide-area network: 40 ms ± 20 ms a hop, 1% loss,
    /// 500 ms blocks of 256 KiB, 100 MB/s links, gossip to 8 peers, 60 µs a verification.
    pub fn wide_area(validators: usize, seed: u64) -> Self {
        Self {
            validators,
            heights: 20,
            latency: Duration::from_millis(40),
            jitter: Duration::from_millis(20),
            loss: 0.01,
            block_time: Duration::from_millis(500),
            block_bytes: 256 * 1024,
            bandwidth: 100_000_000,
            fanout: 8,
            verify_cost: Duration::from_micros(60),
            seed,
        }
    }
}

/// What the simulation measured.
#[derive(Debug, Clone)]
pub struct SimReport {
    /// Validators.
    pub validators: usize,
    /// Heights every validator decided.
    pub heights: u64,
    /// Finality latency (the proposer having its block → a validator deciding), over every
    /// validator and height: median, 99th percentile and maximum.
    pub finality_p50: Duration,
    /// See `finality_p50`.
    pub finality_p99: Duration,
    /// See `finality_p50`.
    pub finality_max: Duration,
    /// Mean time between consecutive heights' decisions (at the median validator).
    pub block_interval: Duration,
    /// Heights decided in a round after the first.
    pub later_rounds: u64,
    /// Messages delivered, and lost on the way.
    pub delivered: u64,
    /// See `delivered`.
    pub lost: u64,
    /// Heights a validator took from a peer's decision (it fell behind) instead of
    /// deciding itself.
    pub synced: u64,
    /// Whether every validator decided the same block at every height.
    pub agreed: bool,
}

/// A simulation that could not go on.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The driver refused an input.
    #[error("validator {validator}: the consensus driver failed: {detail}")]
    Driver {
        /// The validator.
        validator: usize,
        /// What it said.
        detail: String,
    },
    /// Not every height was decided within the simulated time allowed.
    #[error("after {0:?} of simulated time not every validator had decided every height")]
    Stalled(Duration),
    /// A setting out of range.
    #[error("invalid simulation: {0}")]
    Invalid(String),
}

/// Independent mesh paths along which gossip reaches a node.
const GOSSIP_PATHS: usize = 3;

/// Heights run past the last one measured.
const EXTRA_HEIGHTS: u64 = 3;

/// Microseconds of simulated time.
type Time = u64;

fn micros(d: Duration) -> Time {
    d.as_micros() as Time
}

#[derive(Debug, Clone)]
enum Message {
    Proposal(SignedProposal<BtcrContext>),
    Vote(SignedVote<BtcrContext>),
}

impl Message {
    fn height(&self) -> Height {
        match self {
            Message::Proposal(p) => p.message.height,
            Message::Vote(v) => v.message.height,
        }
    }
}

#[derive(Debug)]
enum Event {
    Deliver {
        to: usize,
        message: Message,
    },
    Timeout {
        node: usize,
        height: Height,
        timeout: Timeout,
    },
    ValueReady {
        node: usize,
        height: Height,
        round: Round,
    },
    Rebroadcast {
        node: usize,
        height: Height,
        round: Round,
    },
    NextHeight {
        node: usize,
        height: Height,
    },
    /// A node that heard of a later height fetches the decision of its own from a peer.
    Sync {
        node: usize,
        height: Height,
    },
}

struct Node {
    driver: Driver<BtcrContext>,
    signer: BtcrSigner,
    busy_until: Time,
    /// Messages for heights this node has not reached.
    later: Vec<Message>,
    /// The height a sync request is out for.
    syncing: Option<Height>,
    last_votes: Vec<SignedVote<BtcrContext>>,
}

struct Sim {
    config: SimConfig,
    chain_id: u64,
    set: ValidatorSet,
    timeouts: LinearTimeouts,
    nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<(Time, u64)>>,
    events: HashMap<u64, Event>,
    next_event: u64,
    rng: StdRng,
    hops: u32,
    now: Time,
    /// Per height: when the deciding round's proposer had its block, by round.
    value_ready: HashMap<(u64, u32), Time>,
    /// Per height and validator: when it decided, in which round, and what.
    decisions: HashMap<(u64, usize), (Time, u32, B256)>,
    delivered: u64,
    lost: u64,
    synced: u64,
}

/// Runs the simulation.
pub fn simulate(config: &SimConfig) -> Result<SimReport, SimError> {
    if config.validators == 0 || config.fanout < 2 || !(0.0..1.0).contains(&config.loss) {
        return Err(SimError::Invalid(
            "at least one validator, a fanout of 2 or more, a loss below 1".into(),
        ));
    }
    let mut sim = Sim::new(config)?;
    sim.run()?;
    Ok(sim.report())
}

impl Sim {
    fn new(config: &SimConfig) -> Result<Self, SimError> {
        let chain_id = 4242;
        let rng = StdRng::seed_from_u64(config.seed);
        // Keys from the seed, so that a run (its proposers among them) repeats.
        let keys = (0..config.validators)
            .map(|i| {
                let secret =
                    keccak256([config.seed.to_be_bytes(), (i as u64).to_be_bytes()].concat());
                ValidatorPrivateKey::from_slice(secret.as_slice())
                    .map_err(|e| SimError::Invalid(format!("key {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let set = ValidatorSet::new(keys.iter().map(|k| Validator::new(k.public_key(), 1)))
            .map_err(|e| SimError::Invalid(e.to_string()))?;
        let ctx = BtcrContext { chain_id };
        let nodes = keys
            .into_iter()
            .map(|key| {
                let address = ValidatorAddress::of(&key.public_key());
                let driver =
                    Driver::new(ctx, Height(1), set.clone(), address, ThresholdParams::default());
                Node {
                    driver,
                    signer: BtcrSigner::new(key, chain_id),
                    busy_until: 0,
                    later: Vec::new(),
                    syncing: None,
                    last_votes: Vec::new(),
                }
            })
            .collect();
        let defaults = LinearTimeouts::default();
        let timeouts = LinearTimeouts {
            propose: defaults.propose.max(config.block_time * 2 + Duration::from_secs(1)),
            rebroadcast: (config.block_time * 2).max(Duration::from_secs(1)),
            ..defaults
        };
        // Gossip reaches n nodes in about log_fanout(n) hops.
        let mut hops = 1;
        let mut reach = config.fanout;
        while reach < config.validators {
            reach = reach.saturating_mul(config.fanout);
            hops += 1;
        }
        Ok(Self {
            config: config.clone(),
            chain_id,
            set,
            timeouts,
            nodes,
            queue: BinaryHeap::new(),
            events: HashMap::new(),
            next_event: 0,
            rng,
            hops,
            now: 0,
            value_ready: HashMap::new(),
            decisions: HashMap::new(),
            delivered: 0,
            lost: 0,
            synced: 0,
        })
    }

    fn schedule(&mut self, at: Time, event: Event) {
        let id = self.next_event;
        self.next_event += 1;
        self.events.insert(id, event);
        self.queue.push(Reverse((at, id)));
    }

    fn run(&mut self) -> Result<(), SimError> {
        for node in 0..self.nodes.len() {
            self.enter(node, Height(1))?;
        }
        // A generous bound: every height in ten times its slowest possible first round.
        let limit = micros(self.timeouts.propose * 10 + self.config.block_time)
            .saturating_mul(self.config.heights + 1)
            .saturating_mul(4);
        while let Some(Reverse((at, id))) = self.queue.pop() {
            let Some(event) = self.events.remove(&id) else { continue };
            if at > limit {
                self.trace_state();
                return Err(SimError::Stalled(Duration::from_micros(at)));
            }
            self.now = at;
            self.handle(event)?;
            if self.all_decided() {
                return Ok(());
            }
        }
        self.trace_state();
        Err(SimError::Stalled(Duration::from_micros(self.now)))
    }

    /// Where each validator is, on standard error when `BTCR_SIM_TRACE` is set.
    fn trace_state(&self) {
        if std::env::var("BTCR_SIM_TRACE").is_err() {
            return;
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let d = &node.driver;
            let decided =
                (1..=self.config.heights).filter(|h| self.decisions.contains_key(&(*h, i))).count();
            eprintln!(
                "node {i}: height {} round {:?} step {:?}, {decided} decided",
                d.height(),
                d.round(),
                d.step()
            );
        }
    }

    fn all_decided(&self) -> bool {
        let measured = self.decisions.keys().filter(|(h, _)| *h <= self.config.heights).count();
        measured as u64 == self.config.heights * self.nodes.len() as u64
    }

    fn handle(&mut self, event: Event) -> Result<(), SimError> {
        match event {
            Event::Deliver { to, message } => {
                // One message at a time: a busy receiver takes it when it is free.
                if self.nodes[to].busy_until > self.now {
                    let at = self.nodes[to].busy_until;
                    self.schedule(at, Event::Deliver { to, message });
                    return Ok(());
                }
                self.nodes[to].busy_until = self.now + micros(self.config.verify_cost);
                self.delivered += 1;
                let height = self.nodes[to].driver.height();
                match message.height().cmp(&height) {
                    std::cmp::Ordering::Less => Ok(()),
                    std::cmp::Ordering::Greater => {
                        self.nodes[to].later.push(message);
                        // Others are past this height: ask one for its decision (a request
                        // and an answer carrying the block and its certificate).
                        if self.nodes[to].syncing != Some(height) {
                            self.nodes[to].syncing = Some(height);
                            let transfer = self.config.block_bytes.saturating_mul(1_000_000)
                                / self.config.bandwidth.max(1);
                            let at = self.now + 2 * micros(self.config.latency) + transfer;
                            self.schedule(at, Event::Sync { node: to, height });
                        }
                        Ok(())
                    }
                    std::cmp::Ordering::Equal => self.receive(to, message),
                }
            }
            Event::Timeout { node, height, timeout } => {
                if self.nodes[node].driver.height() != height {
                    return Ok(());
                }
                self.input(node, Input::TimeoutElapsed(timeout))
            }
            Event::ValueReady { node, height, round } => {
                if self.nodes[node].driver.height() != height {
                    return Ok(());
                }
                let value = BlockId(keccak256(
                    [height.0.to_be_bytes(), u64::from(round.as_u32().unwrap_or(0)).to_be_bytes()]
                        .concat(),
                ));
                self.value_ready.entry((height.0, round.as_u32().unwrap_or(0))).or_insert(self.now);
                self.input(node, Input::ProposeValue(round, value))
            }
            Event::Rebroadcast { node, height, round } => {
                let driver = &self.nodes[node].driver;
                if driver.height() != height || driver.round() != round {
                    return Ok(());
                }
                for vote in self.nodes[node].last_votes.clone() {
                    self.broadcast(node, Message::Vote(vote));
                }
                let at = self.now + micros(self.timeouts.rebroadcast);
                self.schedule(at, Event::Rebroadcast { node, height, round });
                Ok(())
            }
            Event::NextHeight { node, height } => self.enter(node, height),
            Event::Sync { node, height } => {
                self.nodes[node].syncing = None;
                if self.nodes[node].driver.height() != height
                    || self.decisions.contains_key(&(height.0, node))
                {
                    return Ok(());
                }
                let decided = (0..self.nodes.len())
                    .find_map(|peer| self.decisions.get(&(height.0, peer)).copied());
                if let Some((_, round, value)) = decided {
                    self.decisions.insert((height.0, node), (self.now, round, value));
                    self.synced += 1;
                    self.enter(node, Height(height.0 + 1))?;
                }
                Ok(())
            }
        }
    }

    fn receive(&mut self, node: usize, message: Message) -> Result<(), SimError> {
        match message {
            Message::Proposal(proposal) => {
                self.input(node, Input::Proposal(proposal, Validity::Valid))
            }
            Message::Vote(vote) => self.input(node, Input::Vote(vote)),
        }
    }

    fn enter(&mut self, node: usize, height: Height) -> Result<(), SimError> {
        // The chain goes on past the heights measured, so that a validator behind on the
        // last of them hears of a later height and syncs, as on a live network.
        if height.0 > self.config.heights + EXTRA_HEIGHTS {
            return Ok(());
        }
        if height.0 > 1 {
            self.nodes[node].driver.move_to_height(height, self.set.clone());
        }
        self.nodes[node].last_votes.clear();
        let at = self.now + micros(self.timeouts.rebroadcast);
        self.schedule(at, Event::Rebroadcast { node, height, round: Round::new(0) });
        let proposer = *self.set.proposer(height, Round::new(0)).address();
        self.input(node, Input::NewRound(height, Round::new(0), proposer))?;
        // Messages that came early for this height.
        let later = std::mem::take(&mut self.nodes[node].later);
        let (now, rest): (Vec<_>, Vec<_>) = later.into_iter().partition(|m| m.height() == height);
        self.nodes[node].later = rest.into_iter().filter(|m| m.height() > height).collect();
        for message in now {
            self.receive(node, message)?;
        }
        Ok(())
    }

    /// Feeds `input` to `node`'s driver, and everything that follows from it.
    fn input(&mut self, node: usize, input: Input<BtcrContext>) -> Result<(), SimError> {
        let mut pending = vec![input];
        while let Some(input) = pending.pop() {
            let outputs = self.nodes[node]
                .driver
                .process(input)
                .map_err(|e| SimError::Driver { validator: node, detail: format!("{e:?}") })?;
            for output in outputs {
                if std::env::var("BTCR_SIM_TRACE").is_ok() {
                    eprintln!("{} µs node {node}: {output:?}", self.now);
                }
                self.output(node, output, &mut pending);
            }
        }
        Ok(())
    }

    fn output(
        &mut self,
        node: usize,
        output: Output<BtcrContext>,
        pending: &mut Vec<Input<BtcrContext>>,
    ) {
        let height = self.nodes[node].driver.height();
        match output {
            Output::NewRound(height, round) => {
                let proposer = *self.set.proposer(height, round).address();
                pending.push(Input::NewRound(height, round, proposer));
                self.nodes[node].last_votes.clear();
                let at = self.now + micros(self.timeouts.rebroadcast);
                self.schedule(at, Event::Rebroadcast { node, height, round });
            }
            Output::Propose(proposal) => {
                let signature =
                    self.nodes[node].signer.sign_bytes(&proposal.sign_bytes(self.chain_id));
                let signed = SignedMessage::new(proposal, signature);
                self.broadcast(node, Message::Proposal(signed.clone()));
                pending.push(Input::Proposal(signed, Validity::Valid));
            }
            Output::Vote(vote) => {
                let signature = self.nodes[node].signer.sign_bytes(&vote.sign_bytes(self.chain_id));
                let signed: SignedVote<BtcrContext> = SignedMessage::new(vote, signature);
                self.nodes[node].last_votes.push(signed.clone());
                self.broadcast(node, Message::Vote(signed.clone()));
                pending.push(Input::Vote(signed));
            }
            Output::Decide(round, proposal) => {
                let round = round.as_u32().unwrap_or(0);
                self.decisions.entry((height.0, node)).or_insert((
                    self.now,
                    round,
                    proposal.value.0,
                ));
                let next = Height(height.0 + 1);
                // The commit: the block is written while the next height begins.
                self.schedule(self.now, Event::NextHeight { node, height: next });
            }
            Output::ScheduleTimeout(timeout) => {
                let at = self.now + micros(self.timeouts.duration_for(timeout));
                self.schedule(at, Event::Timeout { node, height, timeout });
            }
            Output::GetValue(height, round, _) => {
                let at = self.now + micros(self.config.block_time);
                self.schedule(at, Event::ValueReady { node, height, round });
            }
        }
    }

    /// Sends `message` from `from` to every other validator through the gossip hops.
    fn broadcast(&mut self, from: usize, message: Message) {
        let bytes = match &message {
            Message::Proposal(_) => self.config.block_bytes,
            Message::Vote(_) => 200,
        };
        let transfer = bytes.saturating_mul(1_000_000) / self.config.bandwidth.max(1);
        for to in (0..self.nodes.len()).filter(|to| *to != from) {
            let mut at = self.now;
            for _ in 0..self.hops {
                let jitter = self.rng.random_range(0..=micros(self.config.jitter));
                at += micros(self.config.latency) + jitter + transfer;
            }
            // Gossip reaches a node along several paths of its mesh: the message is lost
            // only if every one of them loses it on some hop.
            let lost = (0..GOSSIP_PATHS)
                .all(|_| (0..self.hops).any(|_| self.rng.random_bool(self.config.loss)));
            if lost {
                self.lost += 1;
            } else {
                self.schedule(at, Event::Deliver { to, message: message.clone() });
            }
        }
    }

    fn report(&self) -> SimReport {
        let n = self.nodes.len();
        let mut latencies = Vec::new();
        let mut agreed = true;
        let mut later_rounds = 0;
        let mut decided_at = Vec::new();
        for height in 1..=self.config.heights {
            let first = self.decisions.get(&(height, 0)).map(|d| d.2);
            let mut times = Vec::new();
            for node in 0..n {
                let Some((time, round, value)) = self.decisions.get(&(height, node)) else {
                    continue;
                };
                agreed &= Some(*value) == first;
                let ready = self.value_ready.get(&(height, *round)).copied().unwrap_or(*time);
                latencies.push(time.saturating_sub(ready));
                times.push(*time);
            }
            if self.decisions.get(&(height, 0)).is_some_and(|d| d.1 > 0) {
                later_rounds += 1;
            }
            times.sort_unstable();
            decided_at.push(times.get(times.len() / 2).copied().unwrap_or(0));
        }
        latencies.sort_unstable();
        let pick = |q: f64| {
            let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
            Duration::from_micros(latencies.get(i).copied().unwrap_or(0))
        };
        let interval = match (decided_at.first(), decided_at.last()) {
            (Some(first), Some(last)) if decided_at.len() > 1 => {
                Duration::from_micros((last - first) / (decided_at.len() as u64 - 1))
            }
            _ => Duration::ZERO,
        };
        SimReport {
            validators: n,
            heights: self.config.heights,
            finality_p50: pick(0.5),
            finality_p99: pick(0.99),
            finality_max: pick(1.0),
            block_interval: interval,
            later_rounds,
            delivered: self.delivered,
            lost: self.lost,
            synced: self.synced,
            agreed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_validators_decide_every_height_alike() {
        let report = simulate(&SimConfig { heights: 5, ..SimConfig::wide_area(4, 1) }).unwrap();
        assert!(report.agreed);
        assert_eq!(report.heights, 5);
        assert!(report.finality_p50 > Duration::ZERO);
        // Voting takes at least two message hops after the proposal arrives.
        assert!(report.finality_p50 >= Duration::from_millis(80), "{report:?}");
    }

    #[test]
    fn a_lossy_network_of_sixteen_still_decides_through_later_rounds_and_resent_votes() {
        let config = SimConfig { heights: 5, loss: 0.3, ..SimConfig::wide_area(16, 2) };
        let report = simulate(&config).unwrap();
        assert!(report.agreed);
        assert!(report.lost > 0);
    }
}
