//! A streamed block as the rows it adds to the index, written as PostgreSQL's text `COPY`
//! format (tab-separated, `\N` for null, `bytea` as `\\x` and hex, amounts as decimal
//! `numeric`s), table by table.

use std::fmt::Write as _;

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, Log, U256, b256};
use alloy_sol_types::SolValue as _;
use btcr_primitives::{StreamedBlock, TRANSFER_TOPIC, created_contract};

/// ERC-1155 `TransferSingle(address,address,address,uint256,uint256)`.
pub const TRANSFER_SINGLE_TOPIC: B256 =
    b256!("c3d58168c5ae7397731d063d5bbf3d657854427343f4c083240f7aacaa2d0f62");
/// ERC-1155 `TransferBatch(address,address,address,uint256[],uint256[])`.
pub const TRANSFER_BATCH_TOPIC: B256 =
    b256!("4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb");
/// Token ids and amounts read from one `TransferBatch` (more are not indexed).
pub const MAX_BATCH_TRANSFERS: usize = 1024;

/// The tables a block writes, each as `COPY` text, in the order they are copied.
#[derive(Debug, Default)]
pub struct Rows {
    /// `blocks`.
    pub blocks: String,
    /// `transactions`.
    pub transactions: String,
    /// `receipts`.
    pub receipts: String,
    /// `logs`.
    pub logs: String,
    /// `token_transfers`.
    pub token_transfers: String,
    /// `balances`.
    pub balances: String,
    /// `block_signers`.
    pub block_signers: String,
    /// `validator_sets`.
    pub validator_sets: String,
    /// Transactions added (for progress).
    pub n_transactions: u64,
}

/// The columns of each table, as `COPY` names them.
pub const COLUMNS: [(&str, &str); 8] = [
    (
        "blocks",
        "number, hash, parent_hash, timestamp_ms, proposer, state_root, gas_used, gas_limit, \
         base_fee_per_gas, transaction_count, poh_ticks, balances_known",
    ),
    (
        "transactions",
        "hash, block_number, tx_index, sender, recipient, contract_address, value, nonce, \
         gas_limit, max_fee_per_gas, max_priority_fee_per_gas, tx_type, input",
    ),
    (
        "receipts",
        "tx_hash, block_number, tx_index, succeeded, gas_used, cumulative_gas_used, \
         effective_gas_price, log_count",
    ),
    (
        "logs",
        "block_number, log_index, tx_index, tx_hash, address, topic0, topic1, topic2, topic3, data",
    ),
    (
        "token_transfers",
        "block_number, log_index, batch_index, tx_hash, token, standard, sender, recipient, \
         token_id, value",
    ),
    ("balances", "address, block_number, balance"),
    ("block_signers", "block_number, validator"),
    ("validator_sets", "first_block, validator, power"),
];

impl Rows {
    /// Bytes of `COPY` text held.
    pub fn len(&self) -> usize {
        COLUMNS.iter().map(|(table, _)| self.table(table).len()).sum()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of table `name`.
    pub fn table(&self, name: &str) -> &str {
        match name {
            "blocks" => &self.blocks,
            "transactions" => &self.transactions,
            "receipts" => &self.receipts,
            "logs" => &self.logs,
            "token_transfers" => &self.token_transfers,
            "balances" => &self.balances,
            "block_signers" => &self.block_signers,
            "validator_sets" => &self.validator_sets,
            _ => "",
        }
    }

    /// Adds `block`'s rows.
    pub fn add(&mut self, streamed: &StreamedBlock) {
        let block = &streamed.block;
        let header = &block.header;
        let number = header.number;
        let base_fee = header.base_fee_per_gas;
        row(
            &mut self.blocks,
            &[
                &number,
                &Hex(block.hash().as_slice()),
                &Hex(header.parent_hash.as_slice()),
                &header.timestamp_ms,
                &Hex(header.proposer.as_slice()),
                &Hex(header.state_root.as_slice()),
                &header.gas_used,
                &header.gas_limit,
                &base_fee,
                &block.body.transactions.len(),
                &header.poh_ticks,
                &Bool(streamed.balances_known),
            ],
        );
        let mut log_index = 0u64;
        let mut previous_cumulative = 0u64;
        for (i, ((tx, sender), receipt)) in block
            .body
            .transactions
            .iter()
            .zip(&streamed.senders)
            .zip(&streamed.receipts)
            .enumerate()
        {
            let hash = *tx.tx_hash();
            let tx_hash = Hex(hash.as_slice());
            let created = created_contract(tx, *sender);
            let recipient = tx.to();
            let tip = tx.max_priority_fee_per_gas();
            row(
                &mut self.transactions,
                &[
                    &tx_hash,
                    &number,
                    &i,
                    &Hex(sender.as_slice()),
                    &OptHex(recipient.as_ref().map(|a| a.as_slice())),
                    &OptHex(created.as_ref().map(|a| a.as_slice())),
                    &tx.value(),
                    &tx.nonce(),
                    &tx.gas_limit(),
                    &tx.max_fee_per_gas(),
                    &Opt(tip),
                    &u8::from(tx.tx_type()),
                    &Hex(tx.input()),
                ],
            );
            let cumulative = receipt.cumulative_gas_used();
            let gas_used = cumulative.saturating_sub(previous_cumulative);
            previous_cumulative = cumulative;
            let logs = receipt.logs();
            row(
                &mut self.receipts,
                &[
                    &tx_hash,
                    &number,
                    &i,
                    &Bool(receipt.status()),
                    &gas_used,
                    &cumulative,
                    &tx.effective_gas_price(Some(base_fee)),
                    &logs.len(),
                ],
            );
            for log in logs {
                self.add_log(number, log_index, i, &tx_hash, log);
                log_index += 1;
            }
            self.n_transactions += 1;
        }
        for balance in &streamed.balances {
            row(&mut self.balances, &[&Hex(balance.address.as_slice()), &number, &balance.balance]);
        }
        for signer in &streamed.signers {
            row(&mut self.block_signers, &[&number, &Hex(signer.as_slice())]);
        }
        for validator in &streamed.next_validators {
            row(
                &mut self.validator_sets,
                &[&(number + 1), &Hex(validator.address.as_slice()), &validator.power],
            );
        }
    }

    fn add_log(
        &mut self,
        number: u64,
        log_index: u64,
        tx_index: usize,
        tx_hash: &Hex<'_>,
        log: &Log,
    ) {
        let topics = log.topics();
        let topic = |i: usize| OptHex(topics.get(i).map(|t| t.as_slice()));
        row(
            &mut self.logs,
            &[
                &number,
                &log_index,
                &tx_index,
                tx_hash,
                &Hex(log.address.as_slice()),
                &topic(0),
                &topic(1),
                &topic(2),
                &topic(3),
                &Hex(&log.data.data),
            ],
        );
        for (batch_index, transfer) in token_transfers(log).into_iter().enumerate() {
            row(
                &mut self.token_transfers,
                &[
                    &number,
                    &log_index,
                    &batch_index,
                    tx_hash,
                    &Hex(log.address.as_slice()),
                    &transfer.standard,
                    &Hex(transfer.from.as_slice()),
                    &Hex(transfer.to.as_slice()),
                    &Opt(transfer.token_id),
                    &transfer.value,
                ],
            );
        }
    }
}

/// A token transfer read from a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTransfer {
    /// `erc20`, `erc721` or `erc1155`.
    pub standard: &'static str,
    /// Who sent (zero: minted).
    pub from: Address,
    /// Who received (zero: burned).
    pub to: Address,
    /// The token id (ERC-721 and ERC-1155).
    pub token_id: Option<U256>,
    /// The amount (1 for an ERC-721 token).
    pub value: U256,
}

/// The transfers `log` records: an ERC-20 or ERC-721 `Transfer`, or an ERC-1155
/// `TransferSingle` or `TransferBatch` (at most [`MAX_BATCH_TRANSFERS`] of a batch); none
/// for anything else or anything malformed.
pub fn token_transfers(log: &Log) -> Vec<TokenTransfer> {
    let topics = log.topics();
    let data = &log.data.data;
    let address = |topic: &B256| {
        // An indexed address is left-padded with zeros; anything else is not one.
        topic[..12].iter().all(|b| *b == 0).then(|| Address::from_slice(&topic[12..]))
    };
    match topics.first() {
        Some(t) if *t == TRANSFER_TOPIC && topics.len() == 3 && data.len() == 32 => {
            match (address(&topics[1]), address(&topics[2])) {
                (Some(from), Some(to)) => vec![TokenTransfer {
                    standard: "erc20",
                    from,
                    to,
                    token_id: None,
                    value: U256::from_be_slice(data),
                }],
                _ => Vec::new(),
            }
        }
        Some(t) if *t == TRANSFER_TOPIC && topics.len() == 4 && data.is_empty() => {
            match (address(&topics[1]), address(&topics[2])) {
                (Some(from), Some(to)) => vec![TokenTransfer {
                    standard: "erc721",
                    from,
                    to,
                    token_id: Some(U256::from_be_bytes(topics[3].0)),
                    value: U256::from(1),
                }],
                _ => Vec::new(),
            }
        }
        Some(t) if *t == TRANSFER_SINGLE_TOPIC && topics.len() == 4 && data.len() == 64 => {
            match (address(&topics[2]), address(&topics[3])) {
                (Some(from), Some(to)) => vec![TokenTransfer {
                    standard: "erc1155",
                    from,
                    to,
                    token_id: Some(U256::from_be_slice(&data[..32])),
                    value: U256::from_be_slice(&data[32..]),
                }],
                _ => Vec::new(),
            }
        }
        Some(t) if *t == TRANSFER_BATCH_TOPIC && topics.len() == 4 => {
            let (Some(from), Some(to)) = (address(&topics[2]), address(&topics[3])) else {
                return Vec::new();
            };
            let Ok((ids, values)) = <(Vec<U256>, Vec<U256>)>::abi_decode_params(data) else {
                return Vec::new();
            };
            if ids.len() != values.len() {
                return Vec::new();
            }
            ids.into_iter()
                .zip(values)
                .take(MAX_BATCH_TRANSFERS)
                .map(|(id, value)| TokenTransfer {
                    standard: "erc1155",
                    from,
                    to,
                    token_id: Some(id),
                    value,
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// A value as `COPY` text writes it.
trait Field {
    fn write(&self, out: &mut String);
}

fn row(out: &mut String, fields: &[&dyn Field]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        field.write(out);
    }
    out.push('\n');
}

macro_rules! decimal_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn write(&self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
decimal_field!(u8, u64, u128, usize, U256);

impl Field for &'static str {
    fn write(&self, out: &mut String) {
        // Only the crate's own constants: no escaping needed.
        out.push_str(self);
    }
}

/// A `bytea`.
struct Hex<'a>(&'a [u8]);

impl Field for Hex<'_> {
    fn write(&self, out: &mut String) {
        // `\x` starts a hex bytea; COPY's text format doubles the backslash.
        out.push_str("\\\\x");
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        out.reserve(self.0.len() * 2);
        for byte in self.0 {
            out.push(DIGITS[usize::from(byte >> 4)] as char);
            out.push(DIGITS[usize::from(byte & 15)] as char);
        }
    }
}

/// A nullable `bytea`.
struct OptHex<'a>(Option<&'a [u8]>);

impl Field for OptHex<'_> {
    fn write(&self, out: &mut String) {
        match self.0 {
            Some(bytes) => Hex(bytes).write(out),
            None => out.push_str("\\N"),
        }
    }
}

/// A nullable number.
struct Opt<T>(Option<T>);

impl<T: Field> Field for Opt<T> {
    fn write(&self, out: &mut String) {
        match &self.0 {
            Some(value) => value.write(out),
            None => out.push_str("\\N"),
        }
    }
}

/// A `boolean`.
struct Bool(bool);

impl Field for Bool {
    fn write(&self, out: &mut String) {
        out.push(if self.0 { 't' } else { 'f' });
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{LogData, keccak256};

    use super::*;

    fn log(topics: Vec<B256>, data: Vec<u8>) -> Log {
        Log { address: Address::repeat_byte(9), data: LogData::new_unchecked(topics, data.into()) }
    }

    #[test]
    fn the_topics_are_the_standards_event_signatures() {
        assert_eq!(
            TRANSFER_SINGLE_TOPIC,
            keccak256("TransferSingle(address,address,address,uint256,uint256)")
        );
        assert_eq!(
            TRANSFER_BATCH_TOPIC,
            keccak256("TransferBatch(address,address,address,uint256[],uint256[])")
        );
    }

    #[test]
    fn each_standards_transfers_are_read_and_malformed_logs_are_not() {
        let (a, b, op) =
            (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let value = U256::from(500);
        let erc20 = log(
            vec![TRANSFER_TOPIC, a.into_word(), b.into_word()],
            value.to_be_bytes::<32>().to_vec(),
        );
        assert_eq!(token_transfers(&erc20)[0].standard, "erc20");
        assert_eq!(token_transfers(&erc20)[0].value, value);
        let erc721 = log(
            vec![TRANSFER_TOPIC, a.into_word(), b.into_word(), B256::with_last_byte(7)],
            vec![],
        );
        let t = &token_transfers(&erc721)[0];
        assert_eq!(
            (t.standard, t.token_id, t.value),
            ("erc721", Some(U256::from(7)), U256::from(1))
        );
        let mut single = U256::from(4).to_be_bytes::<32>().to_vec();
        single.extend_from_slice(&value.to_be_bytes::<32>());
        let erc1155 =
            log(vec![TRANSFER_SINGLE_TOPIC, op.into_word(), a.into_word(), b.into_word()], single);
        let t = &token_transfers(&erc1155)[0];
        assert_eq!((t.from, t.to, t.token_id), (a, b, Some(U256::from(4))));
        let ids = vec![U256::from(1), U256::from(2)];
        let values = vec![U256::from(10), U256::from(20)];
        let batch = log(
            vec![TRANSFER_BATCH_TOPIC, op.into_word(), a.into_word(), b.into_word()],
            (ids, values).abi_encode_params(),
        );
        let got = token_transfers(&batch);
        assert_eq!(got.len(), 2);
        assert_eq!((got[1].token_id, got[1].value), (Some(U256::from(2)), U256::from(20)));
        // Malformed: a non-address topic, short data, a batch whose arrays differ, garbage.
        let mut bad_topic = a.into_word();
        bad_topic.0[0] = 1;
        assert!(
            token_transfers(&log(vec![TRANSFER_TOPIC, bad_topic, b.into_word()], vec![0; 32]))
                .is_empty()
        );
        assert!(
            token_transfers(&log(vec![TRANSFER_TOPIC, a.into_word(), b.into_word()], vec![0; 31]))
                .is_empty()
        );
        let lopsided =
            (vec![U256::from(1)], vec![U256::from(1), U256::from(2)]).abi_encode_params();
        assert!(
            token_transfers(&log(
                vec![TRANSFER_BATCH_TOPIC, op.into_word(), a.into_word(), b.into_word()],
                lopsided
            ))
            .is_empty()
        );
        assert!(
            token_transfers(&log(
                vec![TRANSFER_BATCH_TOPIC, op.into_word(), a.into_word(), b.into_word()],
                vec![1, 2, 3]
            ))
            .is_empty()
        );
        assert!(token_transfers(&log(vec![], vec![])).is_empty());
    }

    #[test]
    fn copy_text_escapes_bytes_and_nulls() {
        let mut out = String::new();
        row(
            &mut out,
            &[
                &1u64,
                &Hex(&[0xab, 0x01]),
                &OptHex(None),
                &Bool(true),
                &U256::from(10).pow(U256::from(30)),
            ],
        );
        assert_eq!(out, "1\t\\\\xab01\t\\N\tt\t1000000000000000000000000000000\n");
    }
}
