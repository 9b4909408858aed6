//! `btcr indexer` against `btcr dev` and a PostgreSQL of the test's own: killed (SIGKILL)
//! at random moments while the chain moves and restarted each time, it ends with every
//! block, transaction, receipt, log and token transfer exactly once, and the balances the
//! node reports.

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall as _;
use btcr_testkit::{
    DevProcess, RpcClient, TempPostgres, TxBuilder,
    contracts::{BtcrToken, btcr_token_init_code},
    dev_key, eventually_within,
    rpc::quantity,
};
use serde_json::json;

use crate::{CHAIN_ID, btcr_bin};

fn indexer(node: &str, database: &str, to: Option<u64>) -> eyre::Result<Child> {
    let mut command = Command::new(btcr_bin());
    command.args(["indexer", "--node", node, "--postgres", database]);
    if let Some(to) = to {
        command.args(["--to", &to.to_string()]);
    }
    Ok(command.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?)
}

/// A small generator of waits, seeded from the clock (the seed is printed, to replay).
struct Waits(u64);

impl Waits {
    fn next_ms(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

/// Runs `sql` (a single number) on `database`.
fn number(database: &str, sql: &str) -> eyre::Result<i64> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let pool = sqlx::PgPool::connect(database).await?;
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&pool).await?;
        pool.close().await;
        Ok(n)
    })
}

#[test]
fn the_indexer_killed_at_random_moments_ends_with_every_block_once() -> eyre::Result<()> {
    let postgres = TempPostgres::start()?;
    let database = postgres.create_database("index")?;
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let url = node.rpc.url().to_owned();

    // A token, then a stream of BTCR and token transfers while the indexer is killed again
    // and again.
    let owner = dev_key(2);
    let init = btcr_token_init_code("Index Token", "IDX", U256::from(1_000_000u64))?;
    let deploy =
        node.rpc.send_raw(&TxBuilder::create(CHAIN_ID, 0, init, 2_000_000).eip1559(&owner))?;
    node.rpc.wait_for_receipt(deploy, Duration::from_secs(20))?;
    let token = owner.address().create(0);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = std::thread::spawn({
        let (stop, rpc) = (stop.clone(), RpcClient::new(url.clone()));
        move || -> eyre::Result<(Vec<B256>, u64)> {
            let payer = dev_key(1);
            let mut hashes = Vec::new();
            let mut token_transfers = 0;
            let (mut btcr_nonce, mut token_nonce) = (rpc.nonce(payer.address())?, 1);
            while !stop.load(Ordering::SeqCst) {
                let to = Address::repeat_byte(0x50 + (hashes.len() % 8) as u8);
                let pay = TxBuilder::transfer(CHAIN_ID, btcr_nonce, to, U256::from(1_000))
                    .eip1559(&payer);
                hashes.push(rpc.send_raw(&pay)?);
                btcr_nonce += 1;
                let call = BtcrToken::transferCall { to, amount: U256::from(3) }.abi_encode();
                let move_tokens =
                    TxBuilder::call(CHAIN_ID, token_nonce, token, call.into(), 100_000)
                        .eip1559(&owner);
                hashes.push(rpc.send_raw(&move_tokens)?);
                token_nonce += 1;
                token_transfers += 1;
                std::thread::sleep(Duration::from_millis(40));
            }
            for hash in &hashes {
                rpc.wait_for_receipt(*hash, Duration::from_secs(20))?;
            }
            Ok((hashes, token_transfers))
        }
    });

    let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?.as_nanos() as u64 | 1;
    println!("kill schedule seed {seed}");
    let mut waits = Waits(seed);
    let started = Instant::now();
    let mut kills = 0;
    let mut heights = Vec::new();
    while kills < 6 {
        let mut child = indexer(&url, &database, None)?;
        std::thread::sleep(Duration::from_millis(waits.next_ms(300, 1_500)));
        child.kill()?;
        child.wait()?;
        kills += 1;
        // Where each run was stopped: the index moves on between kills.
        heights
            .push(number(&database, "SELECT COALESCE(MAX(height), -1) FROM indexer_checkpoint")?);
    }
    println!("checkpoints after each kill: {heights:?}");
    assert!(heights.windows(2).all(|w| w[0] <= w[1]), "{heights:?}");
    let moved = heights.windows(2).filter(|w| w[0] < w[1]).count();
    assert!(moved >= 2, "runs were killed while indexing: {heights:?}");
    stop.store(true, Ordering::SeqCst);
    let (hashes, token_transfers) = sent.join().expect("the sender thread")?;
    let head = quantity(&node.rpc.call("eth_blockNumber", json!([]))?)?;
    println!("{kills} kills in {:?}; head {head}", started.elapsed());

    // A last run backfills to the head and stops by itself.
    let mut last = indexer(&url, &database, Some(head))?;
    let finished =
        eventually_within(Duration::from_secs(120), || last.try_wait().ok().flatten().is_some());
    assert!(finished, "the backfill to {head} ended");
    assert!(last.wait()?.success());

    let blocks = number(&database, "SELECT COUNT(*) FROM blocks")?;
    let top = number(&database, "SELECT MAX(number) FROM blocks")?;
    let bottom = number(&database, "SELECT MIN(number) FROM blocks")?;
    assert_eq!((bottom, top, blocks), (0, head as i64, head as i64 + 1), "every block once");
    assert_eq!(number(&database, "SELECT height FROM indexer_checkpoint")?, head as i64);
    // The first run backfilled in bulk; the indexes are made once caught up.
    let indexes = number(
        &database,
        "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE '%\\_by\\_%'",
    )?;
    assert_eq!(indexes, btcr_indexer::SECONDARY_INDEXES.len() as i64);
    for (_, key, _) in btcr_indexer::BULK_KEYS {
        let sql = format!("SELECT COUNT(*) FROM pg_indexes WHERE indexname = '{key}'");
        assert_eq!(number(&database, &sql)?, 1, "{key}");
    }
    let mut on_chain = 0;
    for n in 0..=head {
        let count =
            node.rpc.call("eth_getBlockTransactionCountByNumber", json!([format!("{n:#x}")]))?;
        on_chain += quantity(&count)?;
    }
    let transactions = number(&database, "SELECT COUNT(*) FROM transactions")?;
    assert_eq!(transactions, on_chain as i64, "every transaction once");
    assert_eq!(number(&database, "SELECT COUNT(*) FROM receipts")?, transactions);
    assert!(transactions as usize > hashes.len(), "ours and the deploy");
    for hash in &hashes {
        let sql = format!("SELECT COUNT(*) FROM transactions WHERE hash = '\\x{}'", hex(hash));
        assert_eq!(number(&database, &sql)?, 1, "{hash}");
    }
    // The mint and every transfer, once each.
    let transfers = number(
        &database,
        &format!("SELECT COUNT(*) FROM token_transfers WHERE token = '\\x{}'", hex(&token)),
    )?;
    assert_eq!(transfers, token_transfers as i64 + 1);
    let logs = number(&database, "SELECT COUNT(*) FROM logs")?;
    assert!(logs >= transfers, "{logs} logs");
    // The payer's latest balance is the node's.
    let payer = dev_key(1).address();
    let (latest,): (String,) =
        tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
            let pool = sqlx::PgPool::connect(&database).await?;
            let row = sqlx::query_as(
                "SELECT balance::TEXT FROM balances WHERE address = $1 \
                 ORDER BY block_number DESC LIMIT 1",
            )
            .bind(payer.as_slice())
            .fetch_one(&pool)
            .await?;
            pool.close().await;
            Ok::<_, eyre::Report>(row)
        })?;
    assert_eq!(latest, node.rpc.balance(payer)?.to_string());
    Ok(())
}

fn hex(bytes: &impl AsRef<[u8]>) -> String {
    bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_block_stream_sends_what_was_asked_and_refuses_bad_queries() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let url = node.rpc.url().to_owned();
    let payer = dev_key(1);
    let pay =
        TxBuilder::transfer(CHAIN_ID, 0, Address::repeat_byte(0x61), U256::from(5)).eip1559(&payer);
    let receipt = node.rpc.wait_for_receipt(node.rpc.send_raw(&pay)?, Duration::from_secs(20))?;
    let included = quantity(&receipt["blockNumber"])?;

    // Blocks 0 to `included`, then the end: each with its senders and balances.
    let frames =
        tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
            let mut stream = btcr_indexer::BlockStream::open(&url, 0, Some(included)).await?;
            let mut frames = Vec::new();
            while let Some(frame) = stream.next().await? {
                frames.push(frame);
            }
            Ok::<_, eyre::Report>(frames)
        })?;
    let blocks: Vec<_> = frames
        .into_iter()
        .filter_map(|f| match f {
            btcr_primitives::StreamFrame::Block(b) => Some(b),
            _ => None,
        })
        .collect();
    let numbers: Vec<u64> = blocks.iter().map(|b| b.block.header.number).collect();
    assert_eq!(numbers, (0..=included).collect::<Vec<_>>());
    let last = blocks.last().unwrap();
    assert_eq!(last.senders, vec![payer.address()]);
    assert!(last.balances_known);
    let balance = last.balances.iter().find(|b| b.address == payer.address()).unwrap();
    assert_eq!(balance.balance, node.rpc.balance(payer.address())?);
    assert!(!last.signers.is_empty(), "the certificate's signers");

    // Refused, clearly, in the API's shape.
    for (query, says) in [
        ("", "from"),
        ("?from=x", "from"),
        ("?from=5&to=2", "before"),
        ("?from=1&from=2", "from"),
        ("?from=1&limit=3", "limit"),
    ] {
        let (status, _, body) =
            crate::raw_request(&url, &format!("GET /api/v1/blocks/stream{query} HTTP/1.1"), "")?;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(says), "{query}: {body}");
    }
    // The node still serves.
    assert!(quantity(&node.rpc.call("eth_blockNumber", json!([]))?)? >= included);
    Ok(())
}
