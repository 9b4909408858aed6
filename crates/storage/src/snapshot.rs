//! A consistent read view of the store.

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::Decodable;
use btcr_primitives::{
    Account, Block, BlockAccounts, BlockBody, BlockReceipt, CommitCertificate, GenesisValidator,
    Header, Misbehavior, ReceiptEnvelope, StateError, StateReader, TxEnvelope,
};
use std::sync::Arc;

use btcr_trie::{NodeCache, NodeKey, NodeReader, Page, TrieError};
use redb::{ReadOnlyTable, ReadTransaction, ReadableTable};

use crate::{
    StoreError,
    store::{read_u64, read_u256},
    tables::*,
};

/// Everything committed up to one block, unaffected by later commits.
pub struct Snapshot {
    head: Option<u64>,
    /// The lowest block kept beside genesis; 0 when none was pruned.
    earliest: u64,
    /// The head's header, decoded once for every reader of this view.
    head_header: Option<Header>,
    supply: U256,
    headers: ReadOnlyTable<u64, &'static [u8]>,
    block_numbers: ReadOnlyTable<&'static [u8; 32], u64>,
    bodies: ReadOnlyTable<u64, &'static [u8]>,
    receipts: ReadOnlyTable<u64, &'static [u8]>,
    certificates: ReadOnlyTable<u64, &'static [u8]>,
    tx_index: ReadOnlyTable<&'static [u8; 32], (u64, u32)>,
    accounts: ReadOnlyTable<&'static [u8; 20], &'static [u8]>,
    storage: ReadOnlyTable<&'static [u8; 52], &'static [u8; 32]>,
    code: ReadOnlyTable<&'static [u8; 32], &'static [u8]>,
    trie_pages: ReadOnlyTable<&'static [u8; 55], &'static [u8]>,
    address_txs: ReadOnlyTable<&'static [u8; 32], ()>,
    address_tokens: ReadOnlyTable<&'static [u8; 40], ()>,
    misbehavior: ReadOnlyTable<&'static [u8; 29], &'static [u8]>,
    consumers: ReadOnlyTable<&'static str, u64>,
    validator_sets: ReadOnlyTable<u64, &'static [u8]>,
    block_accounts: ReadOnlyTable<u64, &'static [u8]>,
    node_cache: Arc<NodeCache>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("head", &self.head).finish_non_exhaustive()
    }
}

fn decode<T: Decodable>(what: impl Fn() -> String, bytes: &[u8]) -> Result<T, StoreError> {
    let mut buf = bytes;
    let value = T::decode(&mut buf)
        .map_err(|e| StoreError::Corrupt { what: what(), reason: e.to_string() })?;
    if !buf.is_empty() {
        return Err(StoreError::Corrupt { what: what(), reason: "trailing bytes".into() });
    }
    Ok(value)
}

fn corrupt(what: impl Fn() -> String) -> impl Fn(alloy_rlp::Error) -> StoreError {
    move |e| StoreError::Corrupt { what: what(), reason: e.to_string() }
}

/// The items of the RLP list that `bytes` holds, each with its own header, found by reading
/// headers only.
fn list_items(mut bytes: &[u8]) -> Result<ListItems<'_>, alloy_rlp::Error> {
    let list = alloy_rlp::Header::decode(&mut bytes)?;
    if !list.list {
        return Err(alloy_rlp::Error::UnexpectedString);
    }
    bytes.get(..list.payload_length).map(ListItems).ok_or(alloy_rlp::Error::InputTooShort)
}

/// Item `index` of a list, for chaining after [`list_items`].
fn nth<'a>(index: usize) -> impl FnOnce(ListItems<'a>) -> Result<&'a [u8], alloy_rlp::Error> {
    move |mut items| items.nth(index).unwrap_or(Err(alloy_rlp::Error::InputTooShort))
}

/// The cumulative gas and the number of logs of an encoded receipt (a list, or for a typed
/// receipt a string holding the type and the list), read from headers.
fn receipt_outline(item: &[u8]) -> Result<(u64, u64), alloy_rlp::Error> {
    let mut buf = item;
    let header = alloy_rlp::Header::decode(&mut buf)?;
    let payload = buf.get(..header.payload_length).ok_or(alloy_rlp::Error::InputTooShort)?;
    let fields =
        if header.list { item } else { payload.get(1..).ok_or(alloy_rlp::Error::InputTooShort)? };
    let mut fields = list_items(fields)?;
    let mut field = || fields.next().unwrap_or(Err(alloy_rlp::Error::InputTooShort));
    let _status = field()?;
    let cumulative = u64::decode(&mut field()?)?;
    let _bloom = field()?;
    let logs = list_items(field()?)?.try_fold(0, |n, log| log.map(|_| n + 1))?;
    Ok((cumulative, logs))
}

struct ListItems<'a>(&'a [u8]);

impl<'a> Iterator for ListItems<'a> {
    type Item = Result<&'a [u8], alloy_rlp::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let mut rest = self.0;
        let item = alloy_rlp::Header::decode(&mut rest).and_then(|header| {
            let len = self.0.len() - rest.len() + header.payload_length;
            self.0.get(..len).ok_or(alloy_rlp::Error::InputTooShort)
        });
        match item {
            Ok(item) => {
                self.0 = &self.0[item.len()..];
                Some(Ok(item))
            }
            Err(e) => {
                self.0 = &[];
                Some(Err(e))
            }
        }
    }
}

impl Snapshot {
    pub(crate) fn new(
        txn: ReadTransaction,
        node_cache: Arc<NodeCache>,
    ) -> Result<Self, StoreError> {
        let meta = txn.open_table(META)?;
        let head = meta.get("head")?.and_then(|v| read_u64(v.value()));
        let supply = meta.get("supply")?.and_then(|v| read_u256(v.value())).unwrap_or_default();
        let earliest = meta.get("earliest")?.and_then(|v| read_u64(v.value())).unwrap_or(0);
        let headers = txn.open_table(HEADERS)?;
        let head_header = match head {
            Some(n) => match headers.get(n)? {
                Some(bytes) => Some(decode(|| format!("header {n}"), bytes.value())?),
                None => None,
            },
            None => None,
        };
        Ok(Self {
            head,
            earliest,
            head_header,
            supply,
            headers,
            block_numbers: txn.open_table(BLOCK_NUMBERS)?,
            bodies: txn.open_table(BODIES)?,
            receipts: txn.open_table(RECEIPTS)?,
            certificates: txn.open_table(CERTIFICATES)?,
            tx_index: txn.open_table(TX_INDEX)?,
            accounts: txn.open_table(ACCOUNTS)?,
            storage: txn.open_table(STORAGE)?,
            code: txn.open_table(CODE)?,
            trie_pages: txn.open_table(TRIE_PAGES)?,
            address_txs: txn.open_table(ADDRESS_TXS)?,
            address_tokens: txn.open_table(ADDRESS_TOKENS)?,
            misbehavior: txn.open_table(MISBEHAVIOR)?,
            consumers: txn.open_table(CONSUMERS)?,
            validator_sets: txn.open_table(VALIDATOR_SETS)?,
            block_accounts: txn.open_table(BLOCK_ACCOUNTS)?,
            node_cache,
        })
    }

    /// Number of the head block; `None` before genesis is written.
    pub fn head_number(&self) -> Option<u64> {
        self.head
    }

    /// The lowest block whose header, body, receipts and certificate are kept, beside
    /// genesis (always kept): 0 when nothing was pruned. Reads of blocks below it fail with
    /// [`StoreError::Pruned`].
    pub fn earliest(&self) -> u64 {
        self.earliest
    }

    /// Fails with [`StoreError::Pruned`] when block `number` was pruned.
    pub fn kept(&self, number: u64) -> Result<(), StoreError> {
        if number != 0 && number < self.earliest {
            return Err(StoreError::Pruned { number, earliest: self.earliest });
        }
        Ok(())
    }

    /// The sum of every account's balance after the head block: all the coins in existence,
    /// staked ones (held by the staking contract) included.
    pub fn supply(&self) -> U256 {
        self.supply
    }

    /// The head block's header.
    pub fn head_header(&self) -> Result<Option<Header>, StoreError> {
        Ok(self.head_header.clone())
    }

    /// The head block's header, borrowed from this view (decoded once, when it was made).
    pub fn head(&self) -> Option<&Header> {
        self.head_header.as_ref()
    }

    /// Header of block `number`.
    pub fn header(&self, number: u64) -> Result<Option<Header>, StoreError> {
        self.kept(number)?;
        match self.headers.get(number)? {
            Some(v) => decode(|| format!("header {number}"), v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Number of the block with `hash`.
    pub fn block_number(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        Ok(self.block_numbers.get(&hash.0)?.map(|v| v.value()))
    }

    /// Body of block `number`.
    pub fn body(&self, number: u64) -> Result<Option<BlockBody>, StoreError> {
        self.kept(number)?;
        match self.bodies.get(number)? {
            Some(v) => decode(|| format!("body {number}"), v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// How many transactions block `number` holds, counted from the body's list headers
    /// without decoding the transactions.
    pub fn transaction_count(&self, number: u64) -> Result<Option<usize>, StoreError> {
        self.kept(number)?;
        let Some(value) = self.bodies.get(number)? else { return Ok(None) };
        let count = list_items(value.value())
            .and_then(nth(0))
            .and_then(list_items)
            .and_then(|mut items| items.try_fold(0, |n, item| item.map(|_| n + 1)))
            .map_err(corrupt(|| format!("body {number}")))?;
        Ok(Some(count))
    }

    /// Transaction `index` of block `number`, decoded alone (the others are skipped over).
    pub fn transaction(&self, number: u64, index: usize) -> Result<Option<TxEnvelope>, StoreError> {
        self.kept(number)?;
        let Some(value) = self.bodies.get(number)? else { return Ok(None) };
        let what = || format!("transaction {index} of block {number}");
        let item = list_items(value.value())
            .and_then(nth(0))
            .and_then(list_items)
            .and_then(|mut items| items.nth(index).transpose());
        match item {
            Ok(Some(item)) => decode(what, item).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(corrupt(what)(e)),
        }
    }

    /// Receipt `index` of block `number`, decoded alone, with the gas its transaction used
    /// and the block-wide index of its first log, read from the earlier receipts' headers.
    pub fn receipt(&self, number: u64, index: usize) -> Result<Option<BlockReceipt>, StoreError> {
        self.kept(number)?;
        let Some(value) = self.receipts.get(number)? else { return Ok(None) };
        let what = || format!("receipt {index} of block {number}");
        let (mut cumulative_before, mut logs_before) = (0, 0);
        for (i, item) in list_items(value.value()).map_err(corrupt(what))?.enumerate() {
            let item = item.map_err(corrupt(what))?;
            if i == index {
                let receipt: ReceiptEnvelope = decode(what, item)?;
                let gas_used = receipt.cumulative_gas_used().saturating_sub(cumulative_before);
                return Ok(Some(BlockReceipt { receipt, gas_used, first_log_index: logs_before }));
            }
            let (cumulative, logs) = receipt_outline(item).map_err(corrupt(what))?;
            cumulative_before = cumulative;
            logs_before += logs;
        }
        Ok(None)
    }

    /// Block `number` with its body.
    pub fn block(&self, number: u64) -> Result<Option<Block>, StoreError> {
        let Some(header) = self.header(number)? else { return Ok(None) };
        let body = self.body(number)?.ok_or_else(|| StoreError::Corrupt {
            what: format!("block {number}"),
            reason: "header without body".into(),
        })?;
        Ok(Some(Block { header, body }))
    }

    /// Block `number` and its commit certificate as the store holds them: the RLP header,
    /// body and certificate one after the other (what a peer catching up is sent), appended
    /// to `out`; `false`, with nothing appended, when the block or its certificate is not
    /// kept.
    pub fn certified_block_bytes(
        &self,
        number: u64,
        out: &mut Vec<u8>,
    ) -> Result<bool, StoreError> {
        if number == 0 || self.kept(number).is_err() {
            return Ok(false);
        }
        let (Some(header), Some(body), Some(certificate)) =
            (self.headers.get(number)?, self.bodies.get(number)?, self.certificates.get(number)?)
        else {
            return Ok(false);
        };
        out.extend_from_slice(header.value());
        out.extend_from_slice(body.value());
        out.extend_from_slice(certificate.value());
        Ok(true)
    }

    /// Receipts of block `number`.
    pub fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, StoreError> {
        self.kept(number)?;
        match self.receipts.get(number)? {
            Some(v) => decode(|| format!("receipts {number}"), v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Commit certificate of block `number`.
    pub fn certificate(&self, number: u64) -> Result<Option<CommitCertificate>, StoreError> {
        self.kept(number)?;
        match self.certificates.get(number)? {
            Some(v) => decode(|| format!("certificate {number}"), v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// The senders of block `number`'s transactions and the balances it left; `None` for a
    /// block stored before the store kept them (or not stored).
    pub fn block_accounts(&self, number: u64) -> Result<Option<BlockAccounts>, StoreError> {
        self.kept(number)?;
        match self.block_accounts.get(number)? {
            Some(v) => decode(|| format!("accounts of block {number}"), v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Where the transaction with `hash` was included: (block number, index).
    pub fn transaction_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, StoreError> {
        Ok(self.tx_index.get(&hash.0)?.map(|v| v.value()))
    }

    /// The transactions concerning `address` (as sender, recipient or creator), latest first,
    /// strictly before `before` (block number, index) when given; at most `limit`.
    pub fn address_transactions(
        &self,
        address: &Address,
        before: Option<(u64, u32)>,
        limit: usize,
    ) -> Result<Vec<(u64, u32)>, StoreError> {
        let addr = &address.0.0;
        let start = address_tx_key(addr, 0, 0);
        let mut out = Vec::with_capacity(limit.min(1024));
        let range = match before {
            Some((number, index)) => {
                let end = address_tx_key(addr, number, index);
                self.address_txs.range::<&[u8; 32]>(&start..&end)?
            }
            None => {
                let end = address_tx_key(addr, u64::MAX, u32::MAX);
                self.address_txs.range::<&[u8; 32]>(&start..=&end)?
            }
        };
        for entry in range.rev() {
            if out.len() >= limit {
                break;
            }
            let (key, _) = entry?;
            let key = key.value();
            let number = u64::from_be_bytes(key[20..28].try_into().expect("8 bytes"));
            let index = u32::from_be_bytes(key[28..].try_into().expect("4 bytes"));
            // Entries of pruned blocks stay in the index (removing them would mean reading
            // it whole); they are older than every kept one, so the walk ends at them.
            if number != 0 && number < self.earliest {
                break;
            }
            out.push((number, index));
        }
        Ok(out)
    }

    /// The ERC-20 tokens whose transfers named `holder` as sender or recipient, in address
    /// order; at most `limit`.
    pub fn address_tokens(
        &self,
        holder: &Address,
        limit: usize,
    ) -> Result<Vec<Address>, StoreError> {
        let start = address_token_key(&holder.0.0, &[0; 20]);
        let end = address_token_key(&holder.0.0, &[0xff; 20]);
        let mut out = Vec::new();
        for entry in self.address_tokens.range::<&[u8; 40]>(&start..=&end)?.take(limit) {
            let (key, _) = entry?;
            out.push(Address::from_slice(&key.value()[20..]));
        }
        Ok(out)
    }

    /// The evidence of misbehavior recorded, by height, at most `limit` items from the
    /// latest down.
    pub fn misbehavior(&self, limit: usize) -> Result<Vec<Misbehavior>, StoreError> {
        let mut out = Vec::new();
        for entry in self.misbehavior.iter()?.rev().take(limit) {
            let (_, value) = entry?;
            out.push(decode(|| "misbehavior record".into(), value.value())?);
        }
        Ok(out)
    }

    /// The last block that the consumer `name` wrote its output for into this store.
    pub fn consumer_checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.consumers.get(name)?.map(|v| v.value()))
    }

    /// The validator sets that decided blocks `first..=last`, each with the first block it
    /// decides, latest first (a set decides from its block until the next set's); sets from
    /// before the store kept them are unknown.
    pub fn validator_sets(
        &self,
        first: u64,
        last: u64,
    ) -> Result<Vec<(u64, Vec<GenesisValidator>)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.validator_sets.range(..=last)?.rev() {
            let (from, value) = entry?;
            let from = from.value();
            let set = crate::store::decode_validator_set(value.value())
                .map_err(corrupt(|| format!("validator set from block {from}")))?;
            out.push((from, set));
            if from <= first {
                break;
            }
        }
        Ok(out)
    }

    /// Every account with its address, in address order (for tools and tests; reads the
    /// whole table).
    pub fn all_accounts(&self) -> Result<Vec<(Address, Account)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.accounts.iter()? {
            let (k, v) = entry?;
            let address = Address::from(*k.value());
            out.push((address, decode(|| format!("account {address}"), v.value())?));
        }
        Ok(out)
    }

    /// Every non-zero storage slot of `address`, in slot order.
    pub fn all_storage(&self, address: &Address) -> Result<Vec<(U256, U256)>, StoreError> {
        let addr = &address.0.0;
        let start = storage_key(addr, &[0u8; 32]);
        let end = storage_key(addr, &[0xffu8; 32]);
        let mut out = Vec::new();
        for entry in self.storage.range::<&[u8; 52]>(&start..=&end)? {
            let (k, v) = entry?;
            let slot: [u8; 32] = k.value()[20..].try_into().expect("key is 52 bytes");
            out.push((U256::from_be_bytes(slot), U256::from_be_bytes(*v.value())));
        }
        Ok(out)
    }
}

impl StateReader for Snapshot {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        read_account(&self.accounts, address)
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        read_storage(&self.storage, address, slot)
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        read_code(&self.code, code_hash)
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        // Only the last 256 blocks are visible to BLOCKHASH; the caller enforces the window.
        read_block_hash(&self.headers, number)
    }
}

/// An account from the accounts table (of a snapshot, or of a batch's transaction).
pub(crate) fn read_account(
    table: &impl ReadableTable<&'static [u8; 20], &'static [u8]>,
    address: &Address,
) -> Result<Option<Account>, StateError> {
    match table.get(&address.0.0).map_err(StoreError::from)? {
        Some(v) => Ok(Some(decode(|| format!("account {address}"), v.value())?)),
        None => Ok(None),
    }
}

/// A storage slot's value (zero when absent).
pub(crate) fn read_storage(
    table: &impl ReadableTable<&'static [u8; 52], &'static [u8; 32]>,
    address: &Address,
    slot: &U256,
) -> Result<U256, StateError> {
    let key = storage_key(&address.0.0, &slot.to_be_bytes::<32>());
    Ok(table
        .get(&key)
        .map_err(StoreError::from)?
        .map_or(U256::ZERO, |v| U256::from_be_bytes(*v.value())))
}

/// The code with hash `code_hash`.
pub(crate) fn read_code(
    table: &impl ReadableTable<&'static [u8; 32], &'static [u8]>,
    code_hash: &B256,
) -> Result<Option<Bytes>, StateError> {
    Ok(table
        .get(&code_hash.0)
        .map_err(StoreError::from)?
        .map(|v| Bytes::copy_from_slice(v.value())))
}

/// The hash of block `number`'s stored header.
pub(crate) fn read_block_hash(
    table: &impl ReadableTable<u64, &'static [u8]>,
    number: u64,
) -> Result<Option<B256>, StateError> {
    match table.get(number).map_err(StoreError::from)? {
        Some(v) => Ok(Some(alloy_primitives::keccak256(v.value()))),
        None => Ok(None),
    }
}

impl NodeReader for Snapshot {
    fn page(&self, key: &NodeKey) -> Result<Option<Page>, TrieError> {
        let cached = self.head.filter(|_| key.tree == self.node_cache.tree());
        if let Some(height) = cached
            && let Some(page) = self.node_cache.get(key, height)
        {
            return Ok(Some(page));
        }
        let Some(page) = read_page(&self.trie_pages, key)? else { return Ok(None) };
        if let Some(height) = cached {
            self.node_cache.fill(*key, page.clone(), height);
        }
        Ok(Some(page))
    }

    fn pages(&self, keys: &[NodeKey], out: &mut Vec<Option<Page>>) -> Result<(), TrieError> {
        let start = out.len();
        let cached = self.head.filter(|_| keys.iter().all(|k| k.tree == self.node_cache.tree()));
        if !cached.is_some_and(|height| self.node_cache.get_many(keys, height, out)) {
            out.extend(keys.iter().map(|_| None));
        }
        // What the cache does not hold comes from the store (and fills the cache).
        for (key, slot) in keys.iter().zip(&mut out[start..]) {
            if slot.is_none() {
                *slot = self.page(key)?;
            }
        }
        Ok(())
    }
}

/// The page at `key` in a page table.
pub(crate) fn read_page(
    table: &impl ReadableTable<&'static [u8; 55], &'static [u8]>,
    key: &NodeKey,
) -> Result<Option<Page>, TrieError> {
    match table.get(&key.to_bytes()).map_err(StoreError::from)? {
        Some(v) => Ok(Some(Page::decode(key, v.value())?)),
        None => Ok(None),
    }
}
