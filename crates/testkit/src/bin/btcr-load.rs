//! `btcr-load`: the load benchmark. Pre-signs transfers from many funded dev accounts (so
//! that nonces do not serialize), submits them over JSON-RPC (HTTP single requests, HTTP
//! batches, or WebSocket) with a set concurrency, waits until every one is in a block, and
//! prints a table; then measures reads (`eth_getBalance`, `eth_call` of an ERC-20
//! `balanceOf`, `eth_getLogs`).
//!
//! By default it starts its own `btcr dev` (the release binary next to this one) with enough
//! funded accounts, and reports that process's CPU time and memory. With `--rpc URL` it
//! drives any node that funds the test mnemonic's accounts instead (anvil and Hardhat do).
//!
//! With `--rate N` the transfers go in at a steady N per second (transfer i is due at
//! i / N seconds) instead of as fast as possible: that measures latency at a given load
//! rather than the most the node takes. Latency ends when the transfer is in a block the
//! node reports, which on BTCR is a finalized block. `--reads 0` skips the reads.
//!
//! ```text
//! cargo build --release -p btcr -p btcr-testkit
//! target/release/btcr-load --transfers 30000 --concurrency 32 --gas-limit 1000000000
//! ```

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use btcr_crypto::SecretKey;
use btcr_testkit::{
    HttpConnection, RpcClient, TxBuilder, WsClient,
    contracts::{BtcrToken, btcr_token_init_code},
    rpc::quantity,
};
use eyre::{WrapErr, bail, eyre};
use serde_json::{Value, json};

/// How long to wait for the next inclusion before giving up on the rest.
const STALL: Duration = Duration::from_secs(20);
/// Transactions one sender may have in the node's pool.
const PER_SENDER: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Http,
    Batch,
    Ws,
}

struct Options {
    rpc: Option<String>,
    btcr: Option<PathBuf>,
    transfers: usize,
    accounts: u32,
    concurrency: usize,
    modes: Vec<Mode>,
    batch: usize,
    pipeline: usize,
    reads: usize,
    block_time: String,
    gas_limit: Option<String>,
    rate: Option<f64>,
}

const USAGE: &str = "usage: btcr-load [--rpc URL] [--btcr PATH] [--transfers N] [--accounts N] \
[--concurrency N] [--mode http|batch|ws|all] [--batch N] [--pipeline N] [--reads N] [--block-time 1s] \
[--gas-limit GAS] [--rate TX_PER_S]";

fn parse_options() -> eyre::Result<Options> {
    let mut o = Options {
        rpc: None,
        btcr: None,
        transfers: 20_000,
        accounts: 200,
        concurrency: 32,
        modes: vec![Mode::Http, Mode::Batch, Mode::Ws],
        batch: 100,
        pipeline: 16,
        reads: 20_000,
        block_time: "1s".into(),
        gas_limit: None,
        rate: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| eyre!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--rpc" => o.rpc = Some(value()?),
            "--btcr" => o.btcr = Some(value()?.into()),
            "--transfers" => o.transfers = value()?.parse()?,
            "--accounts" => o.accounts = value()?.parse()?,
            "--concurrency" => o.concurrency = value()?.parse()?,
            "--batch" => o.batch = value()?.parse()?,
            "--pipeline" => o.pipeline = value()?.parse()?,
            "--reads" => o.reads = value()?.parse()?,
            "--block-time" => o.block_time = value()?,
            "--gas-limit" => o.gas_limit = Some(value()?),
            "--rate" => {
                let rate: f64 = value()?.parse()?;
                if !(rate > 0.0 && rate.is_finite()) {
                    bail!("--rate must be a positive number of transfers per second");
                }
                o.rate = Some(rate);
            }
            "--mode" => {
                o.modes = match value()?.as_str() {
                    "http" => vec![Mode::Http],
                    "batch" => vec![Mode::Batch],
                    "ws" => vec![Mode::Ws],
                    "all" => vec![Mode::Http, Mode::Batch, Mode::Ws],
                    other => bail!("unknown mode {other}\n{USAGE}"),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    if o.transfers == 0 || o.accounts == 0 || o.concurrency == 0 || o.batch == 0 || o.pipeline == 0
    {
        bail!("--transfers, --accounts, --concurrency, --batch and --pipeline must be positive");
    }
    // The pool holds at most 64 transactions per sender: spread the load so that none is
    // refused for that.
    let needed = o.transfers.div_ceil(PER_SENDER) as u32;
    if o.accounts < needed {
        eprintln!("using {needed} accounts: the pool holds {PER_SENDER} transactions per sender");
        o.accounts = needed;
    }
    Ok(o)
}

/// A node this tool started.
struct OwnNode {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for OwnNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(o: &Options) -> eyre::Result<(OwnNode, String)> {
    let binary = match &o.btcr {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("btcr"),
    };
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(&binary)
        .args(["dev", "--rpc.addr", "127.0.0.1:0", "--block-time", &o.block_time])
        .args(["--accounts", &o.accounts.to_string(), "--balance", "1000000"])
        .args(["--rpc.max-connections", "10000"])
        .args(o.gas_limit.iter().flat_map(|g| ["--gas-limit", g.as_str()]))
        .arg("--datadir")
        .arg(dir.path())
        .env("BTCR_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .wrap_err_with(|| format!("starting {}", binary.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let url = {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        loop {
            let line = lines.next().ok_or_else(|| eyre!("btcr dev exited"))??;
            if let Some(rest) = line.strip_prefix("JSON-RPC") {
                let url = rest.trim().to_owned();
                // Keep draining its output.
                std::thread::spawn(move || for _ in lines {});
                break url;
            }
        }
    };
    Ok((OwnNode { child, _dir: dir }, url))
}

/// CPU seconds (user + system) and resident memory (current, peak) of a process.
fn process_usage(pid: u32) -> Option<(f64, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
    };
    // Clock ticks are 100 per second on Linux.
    Some((ticks / 100.0, kb("VmRSS:")?, kb("VmHWM:")?))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

struct WriteResult {
    mode: Mode,
    submitted_per_s: f64,
    included_per_s: f64,
    /// Included per second between the first and the last block that had any: the chain's
    /// rate while loaded, without the wait for the first block and the last one.
    sustained_per_s: Option<f64>,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    blocks: usize,
    max_per_block: usize,
    cpu: Option<f64>,
    rejected: usize,
}

/// Signs `n` transfers round-robin over `keys`, from each key's current pending nonce.
fn presign(rpc: &RpcClient, keys: &[SecretKey], n: usize) -> eyre::Result<Vec<(B256, Bytes)>> {
    let chain_id = quantity(&rpc.call("eth_chainId", json!([]))?)?;
    let base = quantity(&rpc.block("latest", false)?["baseFeePerGas"])? as u128;
    let mut nonces = Vec::with_capacity(keys.len());
    for key in keys {
        nonces.push(quantity(
            &rpc.call("eth_getTransactionCount", json!([key.address(), "pending"]))?,
        )?);
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let k = i % keys.len();
        let mut tx = TxBuilder::transfer(
            chain_id,
            nonces[k],
            Address::with_last_byte((i % 250) as u8 + 1),
            U256::from(1),
        );
        tx.max_fee_per_gas = 4 * base.max(1_000_000_000);
        tx.max_priority_fee_per_gas = 1_000_000_000;
        nonces[k] += 1;
        let raw = tx.eip1559(&keys[k]);
        out.push((alloy_primitives::keccak256(&raw), raw));
    }
    Ok(out)
}

/// One worker's connection to the node, in the form `mode` submits over.
enum Submitter {
    Http(HttpConnection),
    Batch(HttpConnection),
    Ws(WsClient),
}

impl Submitter {
    fn connect(mode: Mode, url: &str) -> eyre::Result<Self> {
        Ok(match mode {
            Mode::Http => Self::Http(HttpConnection::connect(url)?),
            Mode::Batch => Self::Batch(HttpConnection::connect(url)?),
            Mode::Ws => Self::Ws(WsClient::connect(&url.replacen("http", "ws", 1))?),
        })
    }

    /// Sends `raws` with `eth_sendRawTransaction`; returns each one's error message, if any.
    /// Over WebSocket all requests go out before the first answer is read (pipelined).
    fn send(&mut self, raws: &[&Bytes]) -> eyre::Result<Vec<Option<String>>> {
        let request = |i: usize, raw: &Bytes| json!({ "jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw] });
        let error_of = |answer: &Value| {
            answer.get("error").map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        };
        match self {
            Self::Http(http) => raws
                .iter()
                .enumerate()
                .map(|(i, raw)| Ok(error_of(&http.post(&request(i, raw))?)))
                .collect(),
            Self::Batch(http) => {
                let body = raws.iter().enumerate().map(|(i, raw)| request(i, raw)).collect();
                let answers = http.post(&Value::Array(body))?;
                let mut errors = vec![Some("no answer".to_owned()); raws.len()];
                for answer in answers.as_array().into_iter().flatten() {
                    if let Some(slot) =
                        answer["id"].as_u64().and_then(|i| errors.get_mut(i as usize))
                    {
                        *slot = error_of(answer);
                    }
                }
                Ok(errors)
            }
            Self::Ws(ws) => {
                for (i, raw) in raws.iter().enumerate() {
                    ws.send_text(request(i, raw).to_string())?;
                }
                let mut errors = vec![Some("no answer".to_owned()); raws.len()];
                for _ in 0..raws.len() {
                    let answer = ws.read()?;
                    if let Some(slot) =
                        answer["id"].as_u64().and_then(|i| errors.get_mut(i as usize))
                    {
                        *slot = error_of(&answer);
                    }
                }
                Ok(errors)
            }
        }
    }
}

fn run_writes(
    url: &str,
    mode: Mode,
    o: &Options,
    keys: &[SecretKey],
    pid: Option<u32>,
) -> eyre::Result<WriteResult> {
    let rpc = RpcClient::new(url);
    eprintln!("signing {} transfers from {} accounts...", o.transfers, keys.len());
    let txs = presign(&rpc, keys, o.transfers)?;
    let start_block = rpc.block_number()?;
    let cpu_start = pid.and_then(process_usage).map(|u| u.0);
    let submitted_at: Arc<Mutex<HashMap<B256, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let rejected = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let txs = Arc::new(txs);
    let start = Instant::now();
    // Blocks are followed while the transactions go in, so that each latency ends when its
    // block appears, not when the last submission is done.
    let done = Arc::new(AtomicBool::new(false));
    let follower = {
        let (url, submitted_at, done, rejected) =
            (url.to_owned(), submitted_at.clone(), done.clone(), rejected.clone());
        let total = o.transfers;
        std::thread::spawn(move || {
            follow(&RpcClient::new(url), start_block, start, &submitted_at, &done, &rejected, total)
        })
    };
    eprintln!("submitting over {mode:?} with {} workers...", o.concurrency);
    let mut workers = Vec::new();
    for _ in 0..o.concurrency {
        let (txs, next, submitted_at, rejected, url) =
            (txs.clone(), next.clone(), submitted_at.clone(), rejected.clone(), url.to_owned());
        let chunk_len = match mode {
            _ if o.rate.is_some() => 1,
            Mode::Http => 1,
            Mode::Batch => o.batch,
            Mode::Ws => o.pipeline,
        };
        let rate = o.rate;
        workers.push(std::thread::spawn(move || -> eyre::Result<()> {
            let mut submitter = Submitter::connect(mode, &url)?;
            // Transactions the pool refused for being full, sent again after a pause: that is
            // the node's back-pressure, and a client that wants them all in does the same.
            let mut retry: Vec<usize> = Vec::new();
            loop {
                let chunk: Vec<usize> = if retry.is_empty() {
                    let from = next.fetch_add(chunk_len, Ordering::Relaxed);
                    if from >= txs.len() {
                        return Ok(());
                    }
                    let chunk: Vec<usize> = (from..(from + chunk_len).min(txs.len())).collect();
                    if let Some(rate) = rate {
                        let due = start + Duration::from_secs_f64(from as f64 / rate);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    }
                    let now = Instant::now();
                    submitted_at
                        .lock()
                        .expect("lock")
                        .extend(chunk.iter().map(|&i| (txs[i].0, now)));
                    chunk
                } else {
                    let keep = retry.len().saturating_sub(chunk_len);
                    retry.split_off(keep)
                };
                let raws: Vec<&Bytes> = chunk.iter().map(|&i| &txs[i].1).collect();
                let errors = submitter.send(&raws)?;
                let mut full = false;
                for (&i, error) in chunk.iter().zip(errors) {
                    match error {
                        None => {}
                        Some(message) if message.contains("pool is full") => {
                            full = true;
                            retry.push(i);
                        }
                        Some(_) => {
                            rejected.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if full {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }));
    }
    for w in workers {
        w.join().map_err(|_| eyre!("a worker panicked"))??;
    }
    let submit_time = start.elapsed();
    let rejected = rejected.load(Ordering::Relaxed);
    eprintln!(
        "submitted in {:.2}s ({rejected} rejected); waiting for blocks...",
        submit_time.as_secs_f64()
    );
    done.store(true, Ordering::Relaxed);
    let Inclusions { mut latencies, per_block, first_inclusion, last_inclusion } =
        follower.join().map_err(|_| eyre!("the block follower panicked"))??;
    let cpu = match (cpu_start, pid.and_then(process_usage)) {
        (Some(a), Some((b, _, _))) => Some(b - a),
        _ => None,
    };
    latencies.sort_unstable();
    let included_time = (last_inclusion - start).as_secs_f64();
    Ok(WriteResult {
        mode,
        submitted_per_s: o.transfers as f64 / submit_time.as_secs_f64(),
        included_per_s: latencies.len() as f64 / included_time,
        sustained_per_s: first_inclusion.filter(|_| per_block.len() > 1).map(|first| {
            (latencies.len() - per_block[0]) as f64 / (last_inclusion - first).as_secs_f64()
        }),
        p50: percentile(&latencies, 0.50),
        p90: percentile(&latencies, 0.90),
        p99: percentile(&latencies, 0.99),
        blocks: per_block.len(),
        max_per_block: per_block.iter().copied().max().unwrap_or(0),
        cpu,
        rejected,
    })
}

/// What [`follow`] saw.
struct Inclusions {
    /// Submission to inclusion, one per included transaction.
    latencies: Vec<Duration>,
    /// Our transactions in each block that had any.
    per_block: Vec<usize>,
    /// When the first and the last of them were seen in a block.
    first_inclusion: Option<Instant>,
    last_inclusion: Instant,
}

/// Follows the chain from `start_block` and takes each transaction that appears in a block
/// out of `submitted`, until submission is `done` and all `total` but the `rejected` ones
/// are in, or nothing new was included for [`STALL`].
fn follow(
    rpc: &RpcClient,
    start_block: u64,
    start: Instant,
    submitted: &Mutex<HashMap<B256, Instant>>,
    done: &AtomicBool,
    rejected: &AtomicUsize,
    total: usize,
) -> eyre::Result<Inclusions> {
    let mut latencies = Vec::with_capacity(total);
    let mut per_block = Vec::new();
    let mut next_block = start_block + 1;
    let mut last_inclusion = start;
    let mut first_inclusion = None;
    let mut progress = Instant::now();
    loop {
        let finished = done.load(Ordering::Relaxed);
        let expected = total - rejected.load(Ordering::Relaxed);
        if finished && latencies.len() >= expected {
            break;
        }
        if finished && progress.elapsed() > STALL {
            // A rejected transaction leaves a nonce gap that strands its sender's later ones.
            eprintln!(
                "warning: {} accepted transactions were not included within {STALL:?} of the last \
                 inclusion; the figures count the included ones",
                expected - latencies.len()
            );
            break;
        }
        let head = rpc.block_number()?;
        if head < next_block {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        for number in next_block..=head {
            let block = rpc.call("eth_getBlockByNumber", json!([format!("{number:#x}"), false]))?;
            let now = Instant::now();
            let hashes: Vec<B256> = serde_json::from_value(block["transactions"].clone())?;
            let mut submitted = submitted.lock().expect("lock");
            let before = latencies.len();
            latencies
                .extend(hashes.iter().filter_map(|h| submitted.remove(h)).map(|sent| now - sent));
            let count = latencies.len() - before;
            if count > 0 {
                per_block.push(count);
                first_inclusion.get_or_insert(now);
                last_inclusion = now;
                progress = now;
            }
        }
        next_block = head + 1;
    }
    Ok(Inclusions { latencies, per_block, first_inclusion, last_inclusion })
}

/// Runs `n` read requests made by `request` over `concurrency` HTTP workers; returns
/// requests per second and the p50 / p99 latency.
fn run_reads(
    url: &str,
    n: usize,
    concurrency: usize,
    request: Arc<dyn Fn(usize) -> Value + Send + Sync>,
) -> eyre::Result<(f64, Duration, Duration)> {
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (next, latencies, request, url) =
            (next.clone(), latencies.clone(), request.clone(), url.to_owned());
        workers.push(std::thread::spawn(move || -> eyre::Result<()> {
            let mut http = HttpConnection::connect(&url)?;
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    latencies.lock().expect("lock").extend(mine);
                    return Ok(());
                }
                let t = Instant::now();
                let answer = http.post(&request(i))?;
                if answer.get("error").is_some() {
                    bail!("read failed: {answer}");
                }
                mine.push(t.elapsed());
            }
        }));
    }
    for w in workers {
        w.join().map_err(|_| eyre!("a worker panicked"))??;
    }
    let elapsed = start.elapsed();
    let mut l = std::mem::take(&mut *latencies.lock().expect("lock"));
    l.sort_unstable();
    Ok((n as f64 / elapsed.as_secs_f64(), percentile(&l, 0.5), percentile(&l, 0.99)))
}

fn main() -> eyre::Result<()> {
    let o = parse_options()?;
    let (own, url) = match &o.rpc {
        Some(url) => (None, url.clone()),
        None => {
            let (node, url) = start_node(&o)?;
            (Some(node), url)
        }
    };
    let pid = own.as_ref().map(|n| n.child.id());
    let rpc = RpcClient::new(url.clone());
    rpc.wait_for_block(1, Duration::from_secs(30))?;
    eprintln!("node at {url}; deriving {} accounts...", o.accounts);
    let keys: Vec<SecretKey> = (0..o.accounts).map(btcr_testkit::dev_key).collect();
    let client_version = rpc.call("web3_clientVersion", json!([]))?;

    let mut writes = Vec::new();
    for mode in &o.modes {
        writes.push(run_writes(&url, *mode, &o, &keys, pid)?);
    }
    if o.reads == 0 {
        print_writes(&o, &client_version, &writes);
        return Ok(());
    }

    // Reads: a token for eth_call and logs for eth_getLogs.
    let owner = &keys[0];
    let nonce =
        quantity(&rpc.call("eth_getTransactionCount", json!([owner.address(), "pending"]))?)?;
    let chain_id = quantity(&rpc.call("eth_chainId", json!([]))?)?;
    let init = btcr_token_init_code("Load", "LOAD", U256::from(10u64).pow(U256::from(24)))?;
    let mut deploy = TxBuilder::create(chain_id, nonce, init, 2_000_000);
    deploy.max_fee_per_gas = 100_000_000_000;
    let receipt =
        rpc.wait_for_receipt(rpc.send_raw(&deploy.eip1559(owner))?, Duration::from_secs(60))?;
    let token: Address = serde_json::from_value(receipt["contractAddress"].clone())?;
    let head = rpc.block_number()?;
    let addresses: Vec<Address> = keys.iter().map(SecretKey::address).collect();
    let a = addresses.clone();
    let balance: Arc<dyn Fn(usize) -> Value + Send + Sync> = Arc::new(
        move |i| json!({ "jsonrpc": "2.0", "id": i, "method": "eth_getBalance", "params": [a[i % a.len()], "latest"] }),
    );
    let a = addresses.clone();
    let call: Arc<dyn Fn(usize) -> Value + Send + Sync> = Arc::new(move |i| {
        let data = Bytes::from(BtcrToken::balanceOfCall { account: a[i % a.len()] }.abi_encode());
        json!({ "jsonrpc": "2.0", "id": i, "method": "eth_call", "params": [{ "to": token, "data": data }, "latest"] })
    });
    let logs: Arc<dyn Fn(usize) -> Value + Send + Sync> = Arc::new(
        move |i| json!({ "jsonrpc": "2.0", "id": i, "method": "eth_getLogs", "params": [{ "fromBlock": format!("{:#x}", head.saturating_sub(100)), "toBlock": format!("{head:#x}"), "address": token }] }),
    );
    let mut reads = Vec::new();
    for (name, request, n) in [
        ("eth_getBalance", balance, o.reads),
        ("eth_call balanceOf", call, o.reads),
        ("eth_getLogs (100 blocks)", logs, o.reads / 10),
    ] {
        eprintln!("reads: {name}...");
        reads.push((name, run_reads(&url, n.max(1), o.concurrency, request)?));
    }
    let usage = pid.and_then(process_usage);

    print_writes(&o, &client_version, &writes);
    println!();
    println!("| read | requests/s | p50 | p99 |");
    println!("|---|---:|---:|---:|");
    for (name, (rate, p50, p99)) in &reads {
        println!("| {name} | {rate:.0} | {} | {} |", ms(*p50), ms(*p99));
    }
    if let Some((_, rss, peak)) = usage {
        println!();
        println!("node memory: RSS {} MiB now, {} MiB peak", rss / 1024, peak / 1024);
    }
    Ok(())
}

fn print_writes(o: &Options, client_version: &Value, writes: &[WriteResult]) {
    println!();
    let pace = o.rate.map_or("as fast as taken".to_owned(), |r| format!("{r:.0} tx/s"));
    println!(
        "node: {client_version}   transfers: {}   accounts: {}   concurrency: {}   rate: {pace}",
        o.transfers, o.accounts, o.concurrency
    );
    println!();
    println!(
        "| submit over | submitted/s | included/s | sustained/s | p50 | p90 | p99 | blocks | max tx/block | rejected | node CPU |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for w in writes {
        let mode = match w.mode {
            Mode::Http => "HTTP single".to_owned(),
            Mode::Batch => format!("HTTP batch of {}", o.batch),
            Mode::Ws => format!("WebSocket, {} in flight", o.pipeline),
        };
        let cpu = w.cpu.map_or("-".to_owned(), |c| {
            format!("{c:.1} s, {:.0} µs/tx", c * 1e6 / o.transfers as f64)
        });
        let sustained = w.sustained_per_s.map_or("-".to_owned(), |r| format!("{r:.0}"));
        println!(
            "| {mode} | {:.0} | {:.0} | {sustained} | {} | {} | {} | {} | {} | {} | {cpu} |",
            w.submitted_per_s,
            w.included_per_s,
            ms(w.p50),
            ms(w.p90),
            ms(w.p99),
            w.blocks,
            w.max_per_block,
            w.rejected
        );
    }
}
