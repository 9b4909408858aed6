//! The handlers: each decodes its parameters, reads one view of the chain on the workers,
//! and answers a view of `views`.

use std::time::{Duration, Instant};

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, U256};
use axum::extract::{Path, State};
use btcr_http::{ApiError, ApiErrorBody, ApiQuery, ApiResult};
use btcr_interfaces::{ChainReader, ChainView, NodeStatus, ReadError, ValidatorStatus};

use btcr_primitives::{BlockReceipt, Header, ReceiptEnvelope, RecoveredTx, TokenTransferLog};

use crate::{
    ExplorerState,
    params::{BlocksQuery, HistoryQuery, NoQuery, PageQuery, SearchQuery},
    read_error,
    tokens::{TokenViews, decimalsCall, nameCall, symbolCall, token_balances, totalSupplyCall},
    views::*,
};

/// Milliseconds of blocks the summary's throughput is measured over.
const THROUGHPUT_WINDOW_MS: u64 = 60_000;
/// How far behind the head the address index may be for an answer to wait for it: it
/// follows each commit within moments, so a client that saw its transaction's receipt finds
/// it in the history; further behind (catching up after an upgrade), answers do not wait.
const INDEX_WAIT_BLOCKS: u64 = 2;
/// The longest an answer waits for the address index.
const INDEX_WAIT: Duration = Duration::from_millis(500);

fn parse_address(s: &str) -> Result<Address, ApiError> {
    if s.len() != 42 || !s.starts_with("0x") {
        return Err(ApiError::bad_request(format!(
            "{s:?} is not an address (0x and 40 hex digits)"
        )));
    }
    s.parse().map_err(|_| ApiError::bad_request(format!("{s:?} is not an address")))
}

fn parse_hash(s: &str) -> Result<B256, ApiError> {
    if s.len() != 66 || !s.starts_with("0x") {
        return Err(ApiError::bad_request(format!("{s:?} is not a hash (0x and 64 hex digits)")));
    }
    s.parse().map_err(|_| ApiError::bad_request(format!("{s:?} is not a hash")))
}

/// A block named by height (decimal) or hash.
fn resolve_block(view: &dyn ChainView, id: &str) -> Result<u64, ApiError> {
    if id.starts_with("0x") {
        let hash = parse_hash(id)?;
        return view
            .block_number(&hash)
            .map_err(read_error)?
            .ok_or_else(|| ApiError::not_found(format!("no block has hash {hash}")));
    }
    let number: u64 = id.parse().map_err(|_| {
        ApiError::bad_request(format!("{id:?} is neither a block height nor a block hash"))
    })?;
    let head = view.head().number;
    if number > head {
        return Err(ApiError::not_found(format!("block {number} is above the head ({head})")));
    }
    Ok(number)
}

/// A view in which the address index has caught up with the head, waiting a moment for it
/// when it is just behind (see [`INDEX_WAIT_BLOCKS`]).
pub(crate) fn indexed_view(
    chain: &dyn ChainReader,
    first: std::sync::Arc<dyn ChainView>,
) -> Result<std::sync::Arc<dyn ChainView>, ApiError> {
    let started = Instant::now();
    let mut view = first;
    loop {
        let head = view.head().number;
        let indexed = view.indexed_height().map_err(read_error)?;
        let behind = indexed.map_or(head + 1, |i| head.saturating_sub(i));
        if behind == 0 || behind > INDEX_WAIT_BLOCKS || started.elapsed() > INDEX_WAIT {
            return Ok(view);
        }
        std::thread::sleep(Duration::from_millis(2));
        view = chain.view().map_err(read_error)?;
    }
}

fn block_summary(view: &dyn ChainView, header: &Header) -> Result<BlockSummary, ApiError> {
    let count = view.transaction_count(header.number).map_err(read_error)?;
    Ok(BlockSummary {
        number: header.number,
        hash: header.hash().to_string(),
        timestamp_ms: header.timestamp_ms,
        proposer: header.proposer.to_string(),
        transaction_count: count.unwrap_or(0),
        gas_used: header.gas_used,
    })
}

/// Transaction `index` of block `number`, with its receipt, read without decoding the rest
/// of the block (a page of history may name 500 transactions in as many blocks).
fn transaction_view(
    view: &dyn ChainView,
    number: u64,
    index: u32,
) -> Result<TransactionView, ApiError> {
    let missing =
        || ApiError::internal(format!("transaction {index} of block {number} is missing"));
    let i = index as usize;
    let header = view.header(number).map_err(read_error)?.ok_or_else(missing)?;
    let envelope = view.transaction_at(number, i).map_err(read_error)?.ok_or_else(missing)?;
    let read = view.receipt_at(number, i).map_err(read_error)?.ok_or_else(missing)?;
    let tx = RecoveredTx::recover(envelope)
        .map_err(|e| ApiError::internal(format!("a stored transaction does not recover: {e}")))?;
    Ok(view_of(&header, &tx, index, Some(&read.receipt), read.gas_used))
}

/// The type as the API names it.
fn tx_type(tx: &RecoveredTx) -> &'static str {
    match tx.tx.tx_type() {
        alloy_consensus::TxType::Legacy => "legacy",
        alloy_consensus::TxType::Eip2930 => "eip2930",
        alloy_consensus::TxType::Eip1559 => "eip1559",
        alloy_consensus::TxType::Eip4844 => "eip4844",
        alloy_consensus::TxType::Eip7702 => "eip7702",
    }
}

fn view_of(
    header: &Header,
    tx: &RecoveredTx,
    index: u32,
    receipt: Option<&ReceiptEnvelope>,
    gas_used: u64,
) -> TransactionView {
    let price = header.effective_gas_price(&tx.tx);
    let logs = receipt.map(|r| r.logs()).unwrap_or_default();
    let token_transfers = logs
        .iter()
        .filter_map(TokenTransferLog::decode)
        .map(|t| TokenTransfer {
            token: t.token.to_string(),
            from: t.from.to_string(),
            to: t.to.to_string(),
            value: t.value.to_string(),
        })
        .collect();
    TransactionView {
        hash: tx.hash.to_string(),
        block_number: header.number,
        block_hash: header.hash().to_string(),
        index,
        timestamp_ms: header.timestamp_ms,
        from: tx.sender.to_string(),
        to: tx.tx.to().map(|a| a.to_string()),
        contract_address: tx.created_contract().map(|a| a.to_string()),
        value: tx.tx.value().to_string(),
        nonce: tx.tx.nonce(),
        r#type: tx_type(tx).into(),
        gas_limit: tx.tx.gas_limit(),
        gas_used,
        effective_gas_price: price.to_string(),
        fee: (U256::from(gas_used) * U256::from(price)).to_string(),
        status: if receipt.is_some_and(|r| r.status()) { "success" } else { "failed" }.into(),
        input: tx.tx.input().to_string(),
        log_count: logs.len(),
        token_transfers,
    }
}

/// The network's summary.
#[utoipa::path(get, path = "/api/v1/summary", params(NoQuery),
    responses((status = 200, body = Summary), (status = 400, body = ApiErrorBody)))]
pub(crate) async fn summary(
    State(state): State<ExplorerState>,
    ApiQuery(_): ApiQuery<NoQuery>,
) -> ApiResult<Summary> {
    let chain_id = state.chain.chain_id();
    state
        .read(move |view, status| network_summary(view, status, chain_id).map_err(read_error))
        .await
}

/// The network at a glance, as `view` and `status` see it.
pub fn network_summary(
    view: &dyn ChainView,
    status: &dyn NodeStatus,
    chain_id: u64,
) -> Result<Summary, ReadError> {
    let head = view.head();
    let activity = status.recent_activity();
    let block_time_ms = match (activity.first(), activity.last()) {
        (Some(a), Some(b)) if b.number > a.number => {
            Some((b.timestamp_ms - a.timestamp_ms) as f64 / (b.number - a.number) as f64)
        }
        _ => None,
    };
    let recent: Vec<_> = activity
        .iter()
        .filter(|a| a.timestamp_ms + THROUGHPUT_WINDOW_MS >= head.timestamp_ms)
        .collect();
    let tx_per_second = match (recent.first(), recent.last()) {
        (Some(a), Some(b)) if b.timestamp_ms > a.timestamp_ms => {
            let txs: u64 = recent[1..].iter().map(|a| u64::from(a.transactions)).sum();
            txs as f64 * 1000.0 / (b.timestamp_ms - a.timestamp_ms) as f64
        }
        _ => 0.0,
    };
    Ok(Summary {
        chain_id,
        height: head.number,
        // Every committed block carries its commit certificate: it is final.
        finalized_height: head.number,
        block_time_ms,
        tx_per_second,
        validators: view.validators()?.len(),
        peers: status.peers(),
        supply: view.supply()?.to_string(),
    })
}

/// Blocks, newest first.
#[utoipa::path(get, path = "/api/v1/blocks", params(BlocksQuery),
    responses((status = 200, body = BlockPage), (status = 400, body = ApiErrorBody)))]
pub(crate) async fn blocks(
    State(state): State<ExplorerState>,
    ApiQuery(query): ApiQuery<BlocksQuery>,
) -> ApiResult<BlockPage> {
    let limit = query.limit.0;
    state
        .read(move |view, _| {
            let head = view.head().number;
            let top = match query.before {
                Some(b) if b.0 == 0 => return Ok(BlockPage { items: vec![], next_cursor: None }),
                Some(b) => (b.0 - 1).min(head),
                None => head,
            };
            let mut items = Vec::with_capacity(limit);
            let mut n = top;
            loop {
                let header = view
                    .header(n)
                    .map_err(read_error)?
                    .ok_or_else(|| ApiError::internal(format!("header {n} is missing")))?;
                items.push(block_summary(view, &header)?);
                if n == 0 || items.len() == limit {
                    break;
                }
                n -= 1;
            }
            let next_cursor = (n > 0).then(|| n.to_string());
            Ok(BlockPage { items, next_cursor })
        })
        .await
}

/// A block by height or hash.
#[utoipa::path(get, path = "/api/v1/blocks/{id}",
    params(("id" = String, Path, description = "height (decimal) or hash (0x…)"), NoQuery),
    responses((status = 200, body = BlockDetail), (status = 400, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody)))]
pub(crate) async fn block(
    State(state): State<ExplorerState>,
    Path(id): Path<String>,
    ApiQuery(_): ApiQuery<NoQuery>,
) -> ApiResult<BlockDetail> {
    state
        .read(move |view, _| {
            let number = resolve_block(view, &id)?;
            let block = view
                .block(number)
                .map_err(read_error)?
                .ok_or_else(|| ApiError::internal(format!("block {number} is missing")))?;
            let certificate = view.certificate(number).map_err(read_error)?;
            let h = &block.header;
            let transactions: Vec<String> =
                block.body.transactions.iter().map(|t| t.tx_hash().to_string()).collect();
            Ok(BlockDetail {
                number,
                hash: h.hash().to_string(),
                parent_hash: h.parent_hash.to_string(),
                timestamp_ms: h.timestamp_ms,
                proposer: h.proposer.to_string(),
                state_root: h.state_root.to_string(),
                transactions_root: h.transactions_root.to_string(),
                receipts_root: h.receipts_root.to_string(),
                gas_used: h.gas_used,
                gas_limit: h.gas_limit,
                base_fee_per_gas: h.base_fee_per_gas,
                poh: PohView {
                    start_hash: h.poh_start_hash.to_string(),
                    end_hash: h.poh_end_hash.to_string(),
                    ticks: h.poh_ticks,
                    entries: block.body.poh_entries.len(),
                },
                certificate: certificate.filter(|_| number > 0).map(|c| CertificateView {
                    round: c.round,
                    signatures: c
                        .signatures
                        .iter()
                        .map(|s| SignatureView {
                            validator: s.validator.to_string(),
                            signature: s.signature.to_string(),
                        })
                        .collect(),
                }),
                transaction_count: transactions.len(),
                transactions,
            })
        })
        .await
}

/// A block's transactions, in order, a page at a time.
#[utoipa::path(get, path = "/api/v1/blocks/{id}/transactions",
    params(("id" = String, Path, description = "height (decimal) or hash (0x…)"), PageQuery),
    responses((status = 200, body = TransactionPage), (status = 400, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody)))]
pub(crate) async fn block_transactions(
    State(state): State<ExplorerState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<TransactionPage> {
    let (page, limit) = (query.page.0, query.limit.0);
    state
        .read(move |view, _| {
            let number = resolve_block(view, &id)?;
            let missing = || ApiError::internal(format!("block {number} is missing"));
            let block = view.block(number).map_err(read_error)?.ok_or_else(missing)?;
            let receipts = view.receipts(number).map_err(read_error)?.ok_or_else(missing)?;
            let receipts = BlockReceipt::all(&receipts);
            let start = (page - 1).saturating_mul(limit);
            let mut items = Vec::new();
            for (i, envelope) in block.body.transactions.iter().enumerate().skip(start).take(limit)
            {
                let tx = RecoveredTx::recover(envelope.clone()).map_err(|e| {
                    ApiError::internal(format!("a stored transaction does not recover: {e}"))
                })?;
                let read = receipts.get(i);
                let gas_used = read.map_or(0, |r| r.gas_used);
                items.push(view_of(
                    &block.header,
                    &tx,
                    i as u32,
                    read.map(|r| &r.receipt),
                    gas_used,
                ));
            }
            Ok(TransactionPage { items, next_cursor: None })
        })
        .await
}

/// A transaction by hash, with its result.
#[utoipa::path(get, path = "/api/v1/transactions/{hash}",
    params(("hash" = String, Path, description = "transaction hash (0x…)"), NoQuery),
    responses((status = 200, body = TransactionView), (status = 400, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody)))]
pub(crate) async fn transaction(
    State(state): State<ExplorerState>,
    Path(hash): Path<String>,
    ApiQuery(_): ApiQuery<NoQuery>,
) -> ApiResult<TransactionView> {
    let hash = parse_hash(&hash)?;
    state
        .read(move |view, _| {
            let (number, index) =
                view.transaction_location(&hash).map_err(read_error)?.ok_or_else(|| {
                    ApiError::not_found(format!("no transaction {hash} in any block"))
                })?;
            transaction_view(view, number, index)
        })
        .await
}

/// An account.
#[utoipa::path(get, path = "/api/v1/addresses/{address}",
    params(("address" = String, Path, description = "0x and 40 hex digits"), NoQuery),
    responses((status = 200, body = AddressView), (status = 400, body = ApiErrorBody)))]
pub(crate) async fn address(
    State(state): State<ExplorerState>,
    Path(address): Path<String>,
    ApiQuery(_): ApiQuery<NoQuery>,
) -> ApiResult<AddressView> {
    let address = parse_address(&address)?;
    state
        .read_indexed(move |view, _| {
            let account = view.account(&address).map_err(read_error)?.unwrap_or_default();
            let code = view.code(&address).map_err(read_error)?;
            Ok(AddressView {
                address: address.to_string(),
                balance: account.balance.to_string(),
                nonce: account.nonce,
                is_contract: !code.is_empty(),
                code_size: code.len(),
                tokens: token_balances(view, address)?,
            })
        })
        .await
}

/// The transactions an address sent, received or created a contract with, newest first.
#[utoipa::path(get, path = "/api/v1/addresses/{address}/transactions",
    params(("address" = String, Path, description = "0x and 40 hex digits"), HistoryQuery),
    responses((status = 200, body = TransactionPage), (status = 400, body = ApiErrorBody)))]
pub(crate) async fn address_transactions(
    State(state): State<ExplorerState>,
    Path(address): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<TransactionPage> {
    let address = parse_address(&address)?;
    let limit = query.limit.0;
    let before = query.before.map(|c| (c.0, c.1));
    state
        .read_indexed(move |view, _| {
            // One more than asked says whether another page follows.
            let mut found =
                view.address_transactions(&address, before, limit + 1).map_err(read_error)?;
            let more = found.len() > limit;
            found.truncate(limit);
            let next_cursor = match found.last() {
                Some((n, i)) if more => Some(format!("{n}-{i}")),
                _ => None,
            };
            let items = found
                .into_iter()
                .map(|(n, i)| transaction_view(view, n, i))
                .collect::<Result<_, _>>()?;
            Ok(TransactionPage { items, next_cursor })
        })
        .await
}

/// Every registered validator, from the staking contract.
#[utoipa::path(get, path = "/api/v1/validators", params(NoQuery),
    responses((status = 200, body = Vec<ValidatorRow>), (status = 400, body = ApiErrorBody)))]
pub(crate) async fn validators(
    State(state): State<ExplorerState>,
    ApiQuery(_): ApiQuery<NoQuery>,
) -> ApiResult<Vec<ValidatorRow>> {
    state
        .read(|view, _| {
            let rows = view.registered_validators().map_err(read_error)?;
            let uptime = view.uptime().map_err(read_error)?;
            Ok(rows
                .into_iter()
                .map(|v| {
                    let up = uptime.get(&v.address).copied().unwrap_or_default();
                    ValidatorRow {
                        address: v.address.to_string(),
                        public_key: v.public_key.to_string(),
                        commission_bps: v.commission_bps,
                        status: match v.status {
                            ValidatorStatus::Active => "active",
                            ValidatorStatus::Candidate => "candidate",
                            ValidatorStatus::Jailed => "jailed",
                        }
                        .into(),
                        stake: v.stake.to_string(),
                        self_stake: v.self_stake.to_string(),
                        unbonding: v.unbonding.to_string(),
                        slashed: v.slashed.to_string(),
                        jailed_until_epoch: v.jailed_until_epoch,
                        voting_power: v.voting_power,
                        uptime: (up.window > 0).then(|| up.signed as f64 / up.window as f64),
                        signed_blocks: up.signed,
                        window_blocks: up.window,
                    }
                })
                .collect())
        })
        .await
}

/// An ERC-20 token: its name, symbol, decimals and supply, read from the contract.
#[utoipa::path(get, path = "/api/v1/tokens/{address}",
    params(("address" = String, Path, description = "the token contract: 0x and 40 hex digits"), NoQuery),
    responses((status = 200, body = TokenInfo), (status = 400, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody)))]
pub(crate) async fn token(
    State(state): State<ExplorerState>,
    Path(address): Path<String>,
    ApiQuery(_): ApiQuery<NoQuery>,
) -> ApiResult<TokenInfo> {
    let token = parse_address(&address)?;
    state
        .read(move |view, _| {
            if view.code(&token).map_err(read_error)?.is_empty() {
                return Err(ApiError::not_found(format!("there is no contract at {token}")));
            }
            // `decimals` and `totalSupply` are what every ERC-20 answers; name and symbol
            // are optional in the standard.
            let mut views = TokenViews::new(view);
            let (Some(decimals), Some(supply)) =
                (views.view(token, decimalsCall {}), views.view(token, totalSupplyCall {}))
            else {
                return Err(ApiError::not_found(format!(
                    "the contract at {token} does not answer as an ERC-20 token"
                )));
            };
            Ok(TokenInfo {
                token: token.to_string(),
                name: views.view(token, nameCall {}),
                symbol: views.view(token, symbolCall {}),
                decimals,
                total_supply: supply.to_string(),
            })
        })
        .await
}

/// Finds a block (by height or hash), a transaction (by hash) or an address.
#[utoipa::path(get, path = "/api/v1/search", params(SearchQuery),
    responses((status = 200, body = SearchResult), (status = 400, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody)))]
pub(crate) async fn search(
    State(state): State<ExplorerState>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> ApiResult<SearchResult> {
    let q = query.q.trim().to_owned();
    if q.is_empty() {
        return Err(ApiError::bad_request("q is required: a height, a hash or an address"));
    }
    state
        .read(move |view, _| {
            let found = |kind: &str, id: String| Ok(SearchResult { kind: kind.into(), id });
            if q.len() == 42 && q.starts_with("0x") {
                return found("address", parse_address(&q)?.to_string());
            }
            if q.len() == 66 && q.starts_with("0x") {
                let hash = parse_hash(&q)?;
                if let Some(n) = view.block_number(&hash).map_err(read_error)? {
                    return found("block", n.to_string());
                }
                if view.transaction_location(&hash).map_err(read_error)?.is_some() {
                    return found("transaction", hash.to_string());
                }
                return Err(ApiError::not_found(format!(
                    "no block or transaction has hash {hash}"
                )));
            }
            if q.bytes().all(|b| b.is_ascii_digit()) {
                let number = resolve_block(view, &q)?;
                return found("block", number.to_string());
            }
            Err(ApiError::bad_request(format!(
                "{q:?} is not a height, a hash (0x and 64 hex digits) or an address (0x and 40)"
            )))
        })
        .await
}
