//! Committed blocks made by hand: signed transactions with the receipts and logs a test
//! wants, as a commit would publish them.

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _};
use alloy_primitives::{Address, B256, Bytes, Log, LogData, U256};
use alloy_sol_types::SolEvent as _;
use btcr_interfaces::CommittedBlock;
use btcr_primitives::{Block, BlockBody, TRANSFER_TOPIC, decode_transaction};
use btcr_staking::{STAKING_ADDRESS, Staking};
use btcr_testkit::{TxBuilder, dev_key, empty_header};

/// A transaction of a block under construction.
pub(crate) struct Tx {
    from: u32,
    to: Address,
    value: u64,
    succeeded: bool,
    logs: Vec<Log>,
}

/// A transfer of `value` wei from dev key `from` to `to`.
pub(crate) fn pay(from: u32, to: Address, value: u64) -> Tx {
    Tx { from, to, value, succeeded: true, logs: Vec::new() }
}

impl Tx {
    /// With a log.
    pub(crate) fn log(mut self, log: Log) -> Self {
        self.logs.push(log);
        self
    }
    /// Reverted.
    pub(crate) fn reverted(mut self) -> Self {
        self.succeeded = false;
        self
    }
}

/// An ERC-20 `Transfer` log of `token`.
pub(crate) fn token_transfer(token: Address, from: Address, to: Address, value: u64) -> Log {
    let topics = vec![TRANSFER_TOPIC, from.into_word(), to.into_word()];
    Log {
        address: token,
        data: LogData::new_unchecked(topics, U256::from(value).to_be_bytes::<32>().to_vec().into()),
    }
}

/// The staking contract's `Slashed` log.
pub(crate) fn slashed(validator: Address) -> Log {
    let event =
        Staking::Slashed { validator, height: 7, amount: U256::from(1_000u64), jailedUntil: 9 };
    Log { address: STAKING_ADDRESS, data: event.encode_log_data() }
}

/// Dev key `index`'s address.
pub(crate) fn dev(index: u32) -> Address {
    dev_key(index).address()
}

/// Block `number` holding `txs` (their nonces are made up: the notices do not read them).
pub(crate) fn block(number: u64, txs: Vec<Tx>) -> CommittedBlock {
    let mut transactions = Vec::new();
    let mut senders = Vec::new();
    let mut hashes = Vec::new();
    let mut receipts = Vec::new();
    for (i, tx) in txs.into_iter().enumerate() {
        let raw: Bytes =
            TxBuilder::transfer(1, number * 100 + i as u64, tx.to, U256::from(tx.value))
                .eip1559(&dev_key(tx.from));
        let envelope = decode_transaction(&raw).expect("a signed transaction decodes");
        assert_eq!(envelope.value(), U256::from(tx.value));
        hashes.push(*envelope.tx_hash());
        senders.push(dev(tx.from));
        transactions.push(envelope);
        let receipt = Receipt {
            status: Eip658Value::Eip658(tx.succeeded),
            cumulative_gas_used: 21_000 * (i as u64 + 1),
            logs: tx.logs,
        };
        receipts.push(ReceiptEnvelope::Eip1559(ReceiptWithBloom::new(receipt, Default::default())));
    }
    let mut header = empty_header(number, B256::ZERO);
    header.timestamp_ms = 1_800_000_000_000 + number * 1000;
    let block = Block { header, body: BlockBody { transactions, poh_entries: Vec::new() } };
    CommittedBlock {
        hash: block.hash(),
        block,
        senders,
        tx_hashes: hashes,
        receipts,
        certificate: None,
        changes: None,
        next_validators: None,
    }
}
