//! The fault-injection harness: four validators and a full node, each a `btcr node`
//! process, every consensus and gossip link between them through a proxy of the harness,
//! under a steady load of transfers; perturbations drawn from a seed, one at a time, each
//! healed and then checked.
//!
//! ```text
//!  load (transfers, acknowledged hashes kept) ──▶ any node that answers
//!  node i ──▶ proxy (i→j) ──▶ node j        (discovery off: no link around the proxies)
//!  perturbation ─▶ heal ─▶ liveness back? ─▶ same hash at every height on every node?
//!                                         ─▶ each node still holds what it held?
//!  end ─▶ every acknowledged transaction in exactly one block?
//! ```
//!
//! The perturbations: SIGKILL and restart, SIGSTOP then SIGCONT, a partition (the links
//! across a cut go down: connections closed, new ones refused), delayed links, and a slow
//! disk (the node restarted with `BTCR_FAULT_SLOW_DISK_MS`, then restarted without it).
//! Equal state roots follow from equal hashes (a header's hash commits to its state root,
//! and every node re-executes what it commits).

mod proxy;

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, U256};
use eyre::{WrapErr, bail, eyre};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

pub use proxy::{Link, LinkMode};

use crate::{DevProcess, RpcClient, TxBuilder, dev_key, free_ports};

/// Validators of the harness's network.
pub const VALIDATORS: usize = 4;
/// Nodes: the validators and one full node.
pub const NODES: usize = VALIDATORS + 1;
/// Chain id of `btcr testnet`.
const CHAIN_ID: u64 = 4242;
/// How long the chain may take to move again on every node after a heal.
pub const LIVENESS_LIMIT: Duration = Duration::from_secs(15);
/// Senders of the load (dev accounts 0 to 19), each at its share of the rate: enough
/// that none meets the pool's limit per sender (64) between two blocks.
const SENDERS: u32 = 20;

/// What the harness runs.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// The `btcr` binary.
    pub btcr: PathBuf,
    /// Perturbations to run, one after another.
    pub perturbations: usize,
    /// Seed of the perturbations drawn.
    pub seed: u64,
    /// Transfers per second of the load.
    pub tx_per_sec: u64,
    /// The chain's block time (`btcr testnet --block-time`).
    pub block_time: String,
}

/// One perturbation and what followed it.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its number, from 1.
    pub index: usize,
    /// What was done.
    pub fault: String,
    /// To whom.
    pub target: String,
    /// How long it lasted.
    pub held: Duration,
    /// From the heal until every node had a new block (`None`: not within the limit).
    pub recovery: Option<Duration>,
    /// The highest height seen when it was healed, and at the end of its checks.
    pub heights: (u64, u64),
    /// Heights at which two nodes hold different blocks.
    pub forks: usize,
    /// Blocks a node held before and no longer holds (or holds differently).
    pub lost: usize,
}

/// The whole run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Each perturbation.
    pub rows: Vec<Row>,
    /// Transfers acknowledged by a node (a hash answered).
    pub acknowledged: usize,
    /// Acknowledged transfers found in a block.
    pub included: usize,
    /// Acknowledged transfers in no block at the end.
    pub missing: usize,
    /// Transfers found in more than one block.
    pub duplicated: usize,
    /// Acknowledged transfers sent again at the end because a killed node lost them from
    /// its pool (a pool is memory; what a node acknowledged is not a promise).
    pub resent: usize,
    /// The highest height checked on every node.
    pub height: u64,
    /// The seed.
    pub seed: u64,
}

impl Outcome {
    /// Forks over all perturbations.
    pub fn forks(&self) -> usize {
        self.rows.iter().map(|r| r.forks).sum()
    }

    /// Lost blocks over all perturbations.
    pub fn lost(&self) -> usize {
        self.rows.iter().map(|r| r.lost).sum()
    }

    /// Perturbations after which the chain did not move on every node within
    /// [`LIVENESS_LIMIT`].
    pub fn slow_recoveries(&self) -> usize {
        self.rows.iter().filter(|r| r.recovery.is_none()).count()
    }

    /// The results as a Markdown table, with a summary.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "| # | fault | target | held | back in | heights | forks | lost |");
        let _ = writeln!(t, "|---:|---|---|---:|---:|---|---:|---:|");
        for r in &self.rows {
            let back = r.recovery.map_or_else(
                || format!("> {} s", LIVENESS_LIMIT.as_secs()),
                |d| format!("{:.1} s", d.as_secs_f64()),
            );
            let _ = writeln!(
                t,
                "| {} | {} | {} | {:.1} s | {} | {} → {} | {} | {} |",
                r.index,
                r.fault,
                r.target,
                r.held.as_secs_f64(),
                back,
                r.heights.0,
                r.heights.1,
                r.forks,
                r.lost
            );
        }
        let mut recoveries: Vec<f64> =
            self.rows.iter().filter_map(|r| r.recovery).map(|d| d.as_secs_f64()).collect();
        recoveries.sort_by(f64::total_cmp);
        let median = recoveries.get(recoveries.len() / 2).copied().unwrap_or(0.0);
        let max = recoveries.last().copied().unwrap_or(0.0);
        let _ = writeln!(
            t,
            "\nseed {}: {} perturbations, {} forks, {} lost blocks, {} slow recoveries \
             (median {:.1} s, max {:.1} s); {} blocks on every node; {} transfers \
             acknowledged, {} included once, {} missing, {} in two blocks, {} sent again",
            self.seed,
            self.rows.len(),
            self.forks(),
            self.lost(),
            self.slow_recoveries(),
            median,
            max,
            self.height,
            self.acknowledged,
            self.included,
            self.missing,
            self.duplicated,
            self.resent
        );
        t
    }
}

/// A perturbation drawn from the seed.
#[derive(Debug, Clone)]
enum Fault {
    Kill { node: usize, down: Duration },
    Stop { node: usize, held: Duration },
    Partition { side: Vec<usize>, held: Duration },
    Delay { node: usize, delay: Duration, held: Duration },
    SlowDisk { node: usize, delay_ms: u64, held: Duration },
}

fn draw(rng: &mut StdRng) -> Fault {
    let node = rng.random_range(0..NODES);
    let seconds = |rng: &mut StdRng, lo: u64, hi: u64| {
        Duration::from_millis(rng.random_range(lo * 1000..=hi * 1000))
    };
    match rng.random_range(0..5) {
        0 => Fault::Kill { node, down: seconds(rng, 1, 4) },
        1 => Fault::Stop { node, held: seconds(rng, 1, 4) },
        2 => {
            // One node alone, or two validators apart from the other two and the full
            // node (no side then holds a quorum: the chain halts until the heal).
            let side = if rng.random_bool(0.5) {
                vec![node]
            } else {
                let first = rng.random_range(0..VALIDATORS);
                let second = (first + rng.random_range(1..VALIDATORS)) % VALIDATORS;
                vec![first, second]
            };
            // A halted chain's rounds grow longer while it waits: keep those short.
            let held = if side.len() > 1 { seconds(rng, 2, 4) } else { seconds(rng, 2, 6) };
            Fault::Partition { side, held }
        }
        3 => Fault::Delay {
            node,
            delay: Duration::from_millis(rng.random_range(100..=500)),
            held: seconds(rng, 3, 6),
        },
        _ => Fault::SlowDisk {
            node,
            delay_ms: rng.random_range(100..=300),
            held: seconds(rng, 3, 6),
        },
    }
}

fn name(node: usize) -> String {
    if node < VALIDATORS { format!("validator {node}") } else { "full node".to_owned() }
}

/// The running network: nodes, links, and which nodes answer.
struct Network {
    btcr: PathBuf,
    homes: Vec<PathBuf>,
    nodes: Vec<Option<DevProcess>>,
    urls: Arc<Mutex<Vec<Option<String>>>>,
    /// Every link, by the nodes it joins (from, to).
    links: Vec<((usize, usize), Link)>,
    _dir: tempfile::TempDir,
}

impl Network {
    fn create(config: &FaultConfig) -> eyre::Result<Self> {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("net");
        let p2p = free_ports(NODES as u16)?;
        let gossip = free_ports(NODES as u16)?;
        let status = Command::new(&config.btcr)
            .args(["testnet", "--validators", &VALIDATORS.to_string(), "--full-nodes", "1"])
            .args(["--block-time", &config.block_time, "--accounts", &SENDERS.to_string()])
            .args(["--p2p-port", &p2p.to_string(), "--gossip-port", &gossip.to_string()])
            .arg("--out")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            bail!("btcr testnet failed");
        }
        let homes: Vec<PathBuf> = (0..NODES).map(|i| out.join(format!("node{i}"))).collect();
        // Every link through a proxy: node i reaches node j at the proxy (i→j).
        let mut links = Vec::new();
        let mut via = HashMap::new();
        for from in 0..NODES {
            for to in (0..NODES).filter(|to| *to != from) {
                for base in [p2p, gossip] {
                    let target = SocketAddr::from(([127, 0, 0, 1], base + to as u16));
                    let link = Link::start(target)?;
                    via.insert((from, to, base), link.addr.port());
                    links.push(((from, to), link));
                }
            }
        }
        for (i, home) in homes.iter().enumerate() {
            let path = home.join("node.json");
            let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
            let multiaddr = |port: u16| format!("/ip4/127.0.0.1/tcp/{port}");
            let peers: Vec<String> =
                (0..NODES).filter(|j| *j != i).map(|j| multiaddr(via[&(i, j, p2p)])).collect();
            let gossip_peers: Vec<String> =
                (0..NODES).filter(|j| *j != i).map(|j| multiaddr(via[&(i, j, gossip)])).collect();
            file["peers"] = json!(peers);
            file["gossipPeers"] = json!(gossip_peers);
            file["discovery"] = json!(false);
            std::fs::write(&path, serde_json::to_string_pretty(&file)?)?;
        }
        let mut network = Self {
            btcr: config.btcr.clone(),
            homes,
            nodes: (0..NODES).map(|_| None).collect(),
            urls: Arc::new(Mutex::new(vec![None; NODES])),
            links,
            _dir: dir,
        };
        for i in 0..NODES {
            network.start(i, &[])?;
        }
        Ok(network)
    }

    fn start(&mut self, i: usize, env: &[(&str, &str)]) -> eyre::Result<()> {
        let node = DevProcess::start_node_with_env(&self.btcr, &self.homes[i], &[], env)
            .wrap_err_with(|| {
                let log =
                    std::fs::read_to_string(self.homes[i].join("node.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                format!(
                    "starting {}; its log ends:\n{}",
                    name(i),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })?;
        self.set_url(i, Some(node.rpc.url().to_owned()));
        self.nodes[i] = Some(node);
        Ok(())
    }

    fn kill(&mut self, i: usize) -> eyre::Result<()> {
        self.set_url(i, None);
        if let Some(node) = self.nodes[i].take() {
            node.kill()?;
        }
        Ok(())
    }

    fn set_url(&self, i: usize, url: Option<String>) {
        self.urls.lock().expect("the URLs' lock")[i] = url;
    }

    fn url(&self, i: usize) -> eyre::Result<String> {
        self.nodes[i]
            .as_ref()
            .map(|n| n.rpc.url().to_owned())
            .ok_or_else(|| eyre!("{} is down", name(i)))
    }

    fn client(&self, i: usize) -> eyre::Result<RpcClient> {
        Ok(RpcClient::with_timeout(self.url(i)?, Duration::from_secs(10)))
    }

    fn height(&self, i: usize) -> eyre::Result<u64> {
        Ok(self.client(i)?.block_number()?)
    }

    fn set_links(&self, which: impl Fn(usize, usize) -> bool, mode: LinkMode) {
        for ((from, to), link) in &self.links {
            if which(*from, *to) {
                link.set(mode);
            }
        }
    }

    /// The hashes of blocks `from..=to` on node `i`, by height (in batches of 100 calls).
    fn hashes(&self, i: usize, from: u64, to: u64) -> eyre::Result<BTreeMap<u64, B256>> {
        let client = self.client(i)?;
        let mut out = BTreeMap::new();
        let mut start = from;
        while start <= to {
            let end = to.min(start + 99);
            let batch: Vec<Value> = (start..=end)
                .map(|h| json!({"jsonrpc": "2.0", "id": h, "method": "eth_getBlockByNumber", "params": [format!("{h:#x}"), false]}))
                .collect();
            let answers = client.post(&Value::Array(batch))?;
            for answer in answers.as_array().ok_or_else(|| eyre!("a batch answer is an array"))? {
                let height = answer["id"].as_u64().ok_or_else(|| eyre!("an answer has its id"))?;
                if let Some(hash) = answer["result"]["hash"].as_str() {
                    out.insert(height, hash.parse()?);
                }
            }
            start = end + 1;
        }
        Ok(out)
    }
}

/// One acknowledged transfer.
#[derive(Debug, Clone)]
struct Sent {
    hash: B256,
    raw: Bytes,
}

/// Sends transfers from one dev account at `per_sec`, to its own node (`account` mod
/// [`NODES`]) while that one answers, else to the next that does. A transfer is sent until
/// a node acknowledges it, and only then is the next made. A node's pool holds only what it
/// was sent or heard, and a killed node's pool is gone: whenever the sender turns to a node,
/// or a node says a nonce is ahead of it, the sender sends that node again every transfer
/// of its own from the node's next nonce on, so that no pool waits on a gap.
fn sender(
    account: u32,
    per_sec: u64,
    urls: Arc<Mutex<Vec<Option<String>>>>,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<Sent>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let key = dev_key(account);
        let to = Address::repeat_byte(0x77);
        let interval = Duration::from_micros(1_000_000 / per_sec.max(1));
        let home = account as usize % NODES;
        let mut own: Vec<Bytes> = Vec::new();
        let mut on: Option<String> = None;
        let mut due = Instant::now();
        let mut clients: HashMap<String, RpcClient> = HashMap::new();
        while !stop.load(Ordering::Relaxed) {
            let urls_now = urls.lock().expect("the URLs' lock").clone();
            let Some(url) =
                (0..NODES).map(|k| (home + k) % NODES).find_map(|k| urls_now[k].clone())
            else {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
            let client = clients
                .entry(url.clone())
                .or_insert_with(|| RpcClient::with_timeout(url.clone(), Duration::from_secs(2)));
            if on.as_deref() != Some(url.as_str()) {
                if resync(client, &key, &own).is_err() {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                on = Some(url.clone());
            }
            let nonce = own.len() as u64;
            let raw = TxBuilder::transfer(CHAIN_ID, nonce, to, U256::from(1)).eip1559(&key);
            match client.send_raw(&raw) {
                Ok(hash) => {
                    acked
                        .lock()
                        .expect("the acknowledgements' lock")
                        .push(Sent { hash, raw: raw.clone() });
                    own.push(raw);
                }
                Err(e) => {
                    if std::env::var("BTCR_FAULTS_DEBUG").is_ok() {
                        eprintln!("sender {account} nonce {nonce}: {e}");
                    }
                    // Ahead of what the node has: fill its gap; anything else (a node
                    // going away, a full pool): wait, and try again.
                    if e.to_string().contains("nonce too high") || e.to_string().contains("queued")
                    {
                        on = None;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            due += interval;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            } else {
                due = now;
            }
        }
    })
}

/// Sends `client`'s node the sender's transfers from the node's next nonce on.
fn resync(client: &RpcClient, key: &btcr_crypto::SecretKey, own: &[Bytes]) -> eyre::Result<()> {
    let next = client.call("eth_getTransactionCount", json!([key.address(), "pending"]))?;
    let next = u64::from_str_radix(next.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16)?;
    for raw in own.iter().skip(next as usize) {
        let _ = client.send_raw(raw);
    }
    Ok(())
}

/// Runs the harness; prints each row to standard error as it is done.
pub fn run(config: &FaultConfig) -> eyre::Result<Outcome> {
    let mut network = Network::create(config)?;
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut outcome = Outcome { seed: config.seed, ..Outcome::default() };
    // Wait for the chain to move everywhere before any load.
    wait_all_above(&network, 2, Duration::from_secs(60)).wrap_err("the network did not start")?;
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let senders: Vec<_> = (0..SENDERS)
        .map(|a| {
            sender(
                a,
                config.tx_per_sec / u64::from(SENDERS),
                network.urls.clone(),
                stop.clone(),
                acked.clone(),
            )
        })
        .collect();
    // Canonical hashes checked so far, and each node's head before its perturbation.
    let mut canonical: BTreeMap<u64, B256> = BTreeMap::new();
    for index in 1..=config.perturbations {
        let fault = draw(&mut rng);
        let row = perturb(&mut network, index, &fault, &mut canonical)?;
        eprintln!(
            "fault {index}/{}: {} {} for {:.1} s, back in {}, heights {} → {}, forks {}, lost {}",
            config.perturbations,
            row.fault,
            row.target,
            row.held.as_secs_f64(),
            row.recovery.map_or("—".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
            row.heights.0,
            row.heights.1,
            row.forks,
            row.lost
        );
        outcome.rows.push(row);
    }
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        let _ = s.join();
    }
    let acked = std::mem::take(&mut *acked.lock().expect("the acknowledgements' lock"));
    settle(&network, &acked, &mut outcome)?;
    Ok(outcome)
}

/// Waits until every node is past `height`.
fn wait_all_above(network: &Network, height: u64, limit: Duration) -> eyre::Result<Duration> {
    let started = Instant::now();
    loop {
        let all = (0..NODES).all(|i| network.height(i).is_ok_and(|h| h > height));
        if all {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            bail!("not every node passed height {height} within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn highest(network: &Network) -> u64 {
    (0..NODES).filter_map(|i| network.height(i).ok()).max().unwrap_or(0)
}

fn perturb(
    network: &mut Network,
    index: usize,
    fault: &Fault,
    canonical: &mut BTreeMap<u64, B256>,
) -> eyre::Result<Row> {
    // What each node holds before: its head (it must still hold up to there after).
    let heads: Vec<u64> = (0..NODES).map(|i| network.height(i).unwrap_or(0)).collect();
    let started = Instant::now();
    let (what, target) = match fault {
        Fault::Kill { node, down } => {
            network.kill(*node)?;
            std::thread::sleep(*down);
            network.start(*node, &[])?;
            ("SIGKILL, restart", name(*node))
        }
        Fault::Stop { node, held } => {
            let process =
                network.nodes[*node].as_ref().ok_or_else(|| eyre!("{} is down", name(*node)))?;
            network.set_url(*node, None);
            process.signal("STOP")?;
            std::thread::sleep(*held);
            process.signal("CONT")?;
            let url = network.url(*node)?;
            network.set_url(*node, Some(url));
            ("SIGSTOP, SIGCONT", name(*node))
        }
        Fault::Partition { side, held } => {
            let cut = |a: usize, b: usize| side.contains(&a) != side.contains(&b);
            network.set_links(cut, LinkMode::Down);
            std::thread::sleep(*held);
            network.set_links(cut, LinkMode::Up);
            let names: Vec<String> = side.iter().map(|n| name(*n)).collect();
            ("partition", format!("{} vs the rest", names.join(", ")))
        }
        Fault::Delay { node, delay, held } => {
            let touches = |a: usize, b: usize| a == *node || b == *node;
            network.set_links(touches, LinkMode::Delayed(*delay));
            std::thread::sleep(*held);
            network.set_links(touches, LinkMode::Up);
            ("links delayed", format!("{} ({} ms)", name(*node), delay.as_millis()))
        }
        Fault::SlowDisk { node, delay_ms, held } => {
            network.kill(*node)?;
            let delay = delay_ms.to_string();
            network.start(*node, &[("BTCR_FAULT_SLOW_DISK_MS", delay.as_str())])?;
            std::thread::sleep(*held);
            network.kill(*node)?;
            network.start(*node, &[])?;
            ("slow disk", format!("{} ({delay_ms} ms a commit)", name(*node)))
        }
    };
    let held = started.elapsed();
    let at_heal = highest(network);
    let recovery = wait_all_above(network, at_heal + 1, LIVENESS_LIMIT).ok();
    // Let a node still catching up get there before its blocks are compared.
    let _ = wait_all_above(network, at_heal + 1, Duration::from_secs(60));
    let (forks, lost, top) = check(network, &heads, canonical)?;
    Ok(Row {
        index,
        fault: what.to_owned(),
        target,
        held,
        recovery,
        heights: (at_heal, top),
        forks,
        lost,
    })
}

/// Compares every node's blocks above what was checked before, and what each node held
/// before the perturbation: forks (two hashes at one height), lost blocks (a node no longer
/// holding, or holding differently, a block it held).
fn check(
    network: &Network,
    heads: &[u64],
    canonical: &mut BTreeMap<u64, B256>,
) -> eyre::Result<(usize, usize, u64)> {
    let top = (0..NODES).map(|i| network.height(i)).collect::<Result<Vec<_>, _>>()?;
    let common = top.iter().copied().min().unwrap_or(0);
    let checked = canonical.keys().next_back().copied().unwrap_or(0);
    let mut forks = 0;
    let mut per_node = Vec::new();
    for i in 0..NODES {
        per_node.push(network.hashes(i, checked + 1, common)?);
    }
    for height in checked + 1..=common {
        let seen: Vec<Option<&B256>> = per_node.iter().map(|m| m.get(&height)).collect();
        let first = seen[0];
        if first.is_none() || seen.iter().any(|h| *h != first) {
            forks += 1;
        } else if let Some(hash) = first {
            canonical.insert(height, *hash);
        }
    }
    // What each node held before: the last 50 blocks below its old head, still the same.
    let mut lost = 0;
    for (i, head) in heads.iter().enumerate() {
        let from = head.saturating_sub(50).max(1);
        if *head < from {
            continue;
        }
        let held = network.hashes(i, from, *head)?;
        for height in from..=*head {
            if let Some(expected) = canonical.get(&height)
                && held.get(&height) != Some(expected)
            {
                lost += 1;
            }
        }
    }
    Ok((forks, lost, common))
}

/// At the end: every acknowledged transfer in exactly one block. Transfers a node lost
/// with its pool (killed before passing them on), or could not pass on (see `resent` in
/// the outcome), are sent again to every node, in nonce order, and the chain is given a
/// minute to include them all.
fn settle(network: &Network, acked: &[Sent], outcome: &mut Outcome) -> eyre::Result<()> {
    let client = network.client(NODES - 1)?;
    outcome.acknowledged = acked.len();
    // Every transfer of every block, counted on the full node (all nodes agree: checked).
    let mut count: HashMap<B256, usize> = HashMap::new();
    let mut scanned = 0;
    let mut scan = |count: &mut HashMap<B256, usize>| -> eyre::Result<u64> {
        let head = client.block_number()?;
        for height in scanned + 1..=head {
            let block = client.block(&format!("{height:#x}"), false)?;
            for hash in block["transactions"].as_array().into_iter().flatten() {
                if let Some(hash) = hash.as_str() {
                    *count.entry(hash.parse()?).or_default() += 1;
                }
            }
        }
        scanned = head;
        Ok(head)
    };
    let mut head = scan(&mut count)?;
    let first_head = head;
    let mut resent = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let missing: Vec<&Sent> = acked.iter().filter(|s| !count.contains_key(&s.hash)).collect();
        outcome.missing = missing.len();
        if missing.is_empty() || Instant::now() > deadline {
            break;
        }
        // The newest may simply be waiting for the next block: give them two before
        // sending anything again.
        if head < first_head + 2 {
            std::thread::sleep(Duration::from_millis(500));
            head = scan(&mut count)?;
            continue;
        }
        // To every node: a proposer includes what its own pool holds, whatever became of
        // the gossip of the node that first took it.
        let clients: Vec<RpcClient> = (0..NODES).filter_map(|i| network.client(i).ok()).collect();
        for sent in missing {
            for client in &clients {
                let result = client.send_raw(&sent.raw);
                if let Err(e) = result
                    && std::env::var("BTCR_FAULTS_DEBUG").is_ok()
                {
                    eprintln!("settle {}: {e}", sent.hash);
                }
            }
            resent.insert(sent.hash);
        }
        std::thread::sleep(Duration::from_secs(1));
        head = scan(&mut count)?;
    }
    outcome.resent = resent.len();
    outcome.duplicated = count.values().filter(|n| **n > 1).count();
    outcome.included = acked.iter().filter(|s| count.get(&s.hash) == Some(&1)).count();
    outcome.height = head;
    Ok(())
}

/// The harness for a test: [`run`] with the number of perturbations and the seed taken
/// from `BTCR_FAULTS` and `BTCR_FAULT_SEED` when set (a nightly run asks for 80 or more).
pub fn config_from_env(btcr: &Path, default_perturbations: usize) -> FaultConfig {
    let perturbations = std::env::var("BTCR_FAULTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_perturbations);
    let seed = std::env::var("BTCR_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    FaultConfig {
        btcr: btcr.to_path_buf(),
        perturbations,
        seed,
        tx_per_sec: 500,
        block_time: "300ms".to_owned(),
    }
}
