//! The index on a PostgreSQL of the test's own: blocks made by hand written once and only
//! once, refused when they do not follow, and taken back cleanly.

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom};
use alloy_primitives::{Address, B256, Bytes, Log, LogData, U256};
use btcr_indexer::{IndexerError, PgIndex};
use btcr_primitives::{
    AccountBalance, Block, BlockBody, StreamValidator, StreamedBlock, TRANSFER_TOPIC,
    decode_transaction,
};
use btcr_testkit::{TempPostgres, TxBuilder, dev_key, empty_header};

const TOKEN: Address = Address::repeat_byte(0xaa);

/// Block `number` on `parent`: `n` transfers from dev key 1, each with an ERC-20 transfer
/// log; `salt` makes a different block at the same height.
fn block(number: u64, parent: B256, n: u64, salt: u64) -> StreamedBlock {
    let sender = dev_key(1);
    let mut transactions = Vec::new();
    let mut receipts = Vec::new();
    for i in 0..n {
        let to = Address::repeat_byte(0x42);
        let raw: Bytes =
            TxBuilder::transfer(1, number * 1000 + i + salt * 100, to, U256::from(i + 1))
                .eip1559(&sender);
        transactions.push(decode_transaction(&raw).unwrap());
        let data = U256::from(7).to_be_bytes::<32>().to_vec();
        let log = Log {
            address: TOKEN,
            data: LogData::new_unchecked(
                vec![TRANSFER_TOPIC, sender.address().into_word(), to.into_word()],
                data.into(),
            ),
        };
        let receipt = Receipt {
            status: Eip658Value::Eip658(true),
            cumulative_gas_used: 21_000 * (i + 1),
            logs: vec![log],
        };
        receipts.push(ReceiptEnvelope::Eip1559(ReceiptWithBloom::new(receipt, Default::default())));
    }
    let mut header = empty_header(number, parent);
    header.extra_data = Bytes::from(salt.to_be_bytes().to_vec());
    StreamedBlock {
        block: Block { header, body: BlockBody { transactions, poh_entries: Vec::new() } },
        receipts,
        senders: vec![sender.address(); n as usize],
        balances_known: true,
        balances: vec![AccountBalance { address: sender.address(), balance: U256::from(number) }],
        signers: vec![Address::repeat_byte(0x11)],
        next_validators: if number == 0 {
            vec![StreamValidator { address: Address::repeat_byte(0x11), power: 1 }]
        } else {
            Vec::new()
        },
    }
}

/// Blocks `from..from + count` on `parent`.
fn chain(from: u64, count: u64, mut parent: B256, salt: u64) -> Vec<StreamedBlock> {
    (from..from + count)
        .map(|number| {
            let b = block(number, parent, 3, salt);
            parent = b.block.hash();
            b
        })
        .collect()
}

async fn count(index: &PgIndex, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(index.pool()).await.unwrap();
    n
}

async fn counts(index: &PgIndex) -> [i64; 6] {
    [
        count(index, "SELECT COUNT(*) FROM blocks").await,
        count(index, "SELECT COUNT(*) FROM transactions").await,
        count(index, "SELECT COUNT(*) FROM receipts").await,
        count(index, "SELECT COUNT(*) FROM logs").await,
        count(index, "SELECT COUNT(*) FROM token_transfers").await,
        count(index, "SELECT COUNT(*) FROM balances").await,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_are_written_once_refused_when_they_do_not_follow_and_taken_back_cleanly()
-> eyre::Result<()> {
    let postgres = tokio::task::spawn_blocking(TempPostgres::start).await??;
    let url = postgres.create_database("index")?;
    let index = PgIndex::open(&url).await?;
    assert_eq!(index.checkpoint().await?, None);
    // The secondary indexes are the indexer's to make; it drops them, and the big tables'
    // keys, for a bulk backfill.
    let all = btcr_indexer::SECONDARY_INDEXES.len() + btcr_indexer::BULK_KEYS.len();
    assert_eq!(index.missing_indexes().await?.len(), btcr_indexer::SECONDARY_INDEXES.len());
    assert_eq!(index.ensure_indexes().await?, btcr_indexer::SECONDARY_INDEXES.len());
    assert!(index.missing_indexes().await?.is_empty());
    assert_eq!(index.ensure_indexes().await?, 0);
    index.drop_indexes().await?;
    assert_eq!(index.missing_indexes().await?.len(), all);
    index.ensure_indexes().await?;
    assert!(index.missing_indexes().await?.is_empty());

    let blocks = chain(0, 5, B256::ZERO, 0);
    let written = index.write(&blocks[..3]).await?;
    assert_eq!((written.blocks, written.transactions), (3, 9));
    // The same batch again, and one overlapping it: only what is new is written.
    assert_eq!(index.write(&blocks[..3]).await?.blocks, 0);
    assert_eq!(index.write(&blocks[1..]).await?.blocks, 2);
    assert_eq!(counts(&index).await, [5, 15, 15, 15, 15, 5]);
    let checkpoint = index.checkpoint().await?.unwrap();
    assert_eq!((checkpoint.height, checkpoint.hash), (4, blocks[4].block.hash()));
    // Amounts and addresses as written.
    let (value, standard): (String, String) = sqlx::query_as(
        "SELECT value::TEXT, standard FROM token_transfers ORDER BY block_number, log_index LIMIT 1",
    )
    .fetch_one(index.pool())
    .await?;
    assert_eq!((value.as_str(), standard.as_str()), ("7", "erc20"));
    let (uptime_signed, decided): (i64, i64) =
        sqlx::query_as("SELECT signed, decided FROM validator_uptime")
            .fetch_one(index.pool())
            .await?;
    assert_eq!((uptime_signed, decided), (4, 4), "blocks 1 to 4, each signed");

    // What does not follow is refused: a gap, and a block on another parent.
    let gap = chain(6, 1, blocks[4].block.hash(), 0);
    assert!(matches!(index.write(&gap).await, Err(IndexerError::Gap { expected: 5, got: 6 })));
    let stray = chain(5, 1, B256::repeat_byte(9), 0);
    assert!(matches!(index.write(&stray).await, Err(IndexerError::Fork { number: 5 })));
    assert_eq!(counts(&index).await, [5, 15, 15, 15, 15, 5], "nothing of a refused batch");

    // Blocks above 2 taken back, and another branch written in their place.
    index.revert_to(Some(2)).await?;
    assert_eq!(counts(&index).await, [3, 9, 9, 9, 9, 3]);
    assert_eq!(index.checkpoint().await?.unwrap().hash, blocks[2].block.hash());
    let branch = chain(3, 3, blocks[2].block.hash(), 1);
    assert_eq!(index.write(&branch).await?.blocks, 3);
    assert_eq!(counts(&index).await, [6, 18, 18, 18, 18, 6]);
    // Everything taken back: no checkpoint, no rows.
    index.revert_to(None).await?;
    assert_eq!(counts(&index).await, [0; 6]);
    assert_eq!(index.checkpoint().await?, None);
    assert_eq!(count(&index, "SELECT COUNT(*) FROM validator_sets").await, 0);
    Ok(())
}
