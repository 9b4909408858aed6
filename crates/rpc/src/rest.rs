//! The REST API under `/api/v1`, for the explorer and the portal: the network's summary,
//! blocks, transactions, addresses, validators and search, with cursor or page pagination
//! (50 items by default, at most 500). Every handler is annotated for the OpenAPI document
//! served at `/api/v1/openapi.json` (rendered at `/api/v1/docs`), so the document is made
//! from the code it describes.
//!
//! Errors are JSON, `{"error": {"code": "...", "message": "..."}}`: 400 for a bad
//! parameter (named in the message), 404 for something that does not exist, 500 when the
//! node cannot read its store.

use std::collections::HashMap;

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use btcr_primitives::{Header, ReceiptEnvelope, RecoveredTx, TokenTransferLog};
use serde::Serialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{RpcBackend, ValidatorStatus, format, server::AppState};

/// Items per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// The most items one page may hold.
pub const MAX_LIMIT: usize = 500;
/// The highest page number accepted.
const MAX_PAGE: usize = 1_000_000;
/// Milliseconds of blocks the summary's throughput is measured over.
const THROUGHPUT_WINDOW_MS: u64 = 60_000;

/// The routes, relative to `/api/v1`, that the OpenAPI document describes (the document
/// itself and its page are served too, undescribed).
pub const ROUTES: [&str; 10] = [
    "/summary",
    "/blocks",
    "/blocks/{id}",
    "/blocks/{id}/transactions",
    "/transactions/{hash}",
    "/addresses/{address}",
    "/addresses/{address}/transactions",
    "/validators",
    "/search",
    "/tokens/{address}",
];

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(ROUTES[0], get(summary))
        .route(ROUTES[1], get(blocks))
        .route(ROUTES[2], get(block))
        .route(ROUTES[3], get(block_transactions))
        .route(ROUTES[4], get(transaction))
        .route(ROUTES[5], get(address))
        .route(ROUTES[6], get(address_transactions))
        .route(ROUTES[7], get(validators))
        .route(ROUTES[8], get(search))
        .route(ROUTES[9], get(token))
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
}

/// The OpenAPI 3.1 document of the REST API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "BTCR REST API",
        version = "1",
        description = "Blocks, transactions, addresses, validators and search for explorers and wallets. Amounts are decimal strings in wei."
    ),
    paths(
        summary,
        blocks,
        block,
        block_transactions,
        transaction,
        address,
        address_transactions,
        validators,
        search,
        token
    ),
    components(schemas(
        ApiErrorBody,
        ApiErrorDetail,
        Summary,
        BlockSummary,
        BlockPage,
        BlockDetail,
        PohView,
        CertificateView,
        SignatureView,
        TransactionView,
        TokenTransfer,
        TokenBalance,
        TokenInfo,
        TransactionPage,
        AddressView,
        ValidatorRow,
        SearchResult
    ))
)]
pub struct ApiDoc;

/// The document as JSON.
pub fn openapi_document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

// ------------------------------------------------------------------------------ errors

/// An error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// The body of an error answer.
#[derive(Serialize, ToSchema)]
pub struct ApiErrorBody {
    error: ApiErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ApiErrorDetail {
    /// `bad_request`, `not_found` or `internal`.
    code: String,
    /// A sentence for a person.
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: "bad_request", message: message.into() }
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, code: "not_found", message: message.into() }
    }
    fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody {
            error: ApiErrorDetail { code: self.code.into(), message: self.message },
        };
        (self.status, Json(body)).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Runs `f` on the RPC workers (reads can be heavy), never on the reactor.
async fn on_workers<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn RpcBackend) -> Result<T, ApiError> + Send + 'static,
) -> ApiResult<T> {
    let backend = state.backend.clone();
    match state.workers.run(move || f(backend.as_ref())).await {
        Some(result) => result.map(Json),
        None => Err(ApiError::internal("the request failed on the node")),
    }
}

fn store_error(e: String) -> ApiError {
    ApiError::internal(format!("reading the store: {e}"))
}

// ------------------------------------------------------------------------------ parameters

/// The query string's parameters; a name outside `allowed`, or given twice, is refused.
fn query<'a>(
    raw: &'a Option<String>,
    allowed: &[&str],
) -> Result<HashMap<&'a str, &'a str>, ApiError> {
    let mut out = HashMap::new();
    for pair in raw.as_deref().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !allowed.contains(&name) {
            return Err(ApiError::bad_request(format!(
                "unknown parameter {name:?}; this endpoint takes {}",
                if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") }
            )));
        }
        if out.insert(name, value).is_some() {
            return Err(ApiError::bad_request(format!("parameter {name:?} is given twice")));
        }
    }
    Ok(out)
}

fn limit(params: &HashMap<&str, &str>) -> Result<usize, ApiError> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "limit must be a whole number from 1 to {MAX_LIMIT}, not {v:?}"
            ))),
        },
    }
}

fn page(params: &HashMap<&str, &str>) -> Result<usize, ApiError> {
    match params.get("page") {
        None => Ok(1),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "page must be a whole number from 1 to {MAX_PAGE}, not {v:?}"
            ))),
        },
    }
}

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
fn resolve_block(backend: &dyn RpcBackend, id: &str) -> Result<u64, ApiError> {
    if id.starts_with("0x") {
        let hash = parse_hash(id)?;
        return backend
            .block_number(&hash)
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found(format!("no block has hash {hash}")));
    }
    let number: u64 = id.parse().map_err(|_| {
        ApiError::bad_request(format!("{id:?} is neither a block height nor a block hash"))
    })?;
    let head = backend.head().map_err(store_error)?.number;
    if number > head {
        return Err(ApiError::not_found(format!("block {number} is above the head ({head})")));
    }
    Ok(number)
}

// ------------------------------------------------------------------------------ views

/// The network at a glance.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    chain_id: u64,
    /// The head's height.
    height: u64,
    /// The highest finalized block (every committed block is final).
    finalized_height: u64,
    /// Mean interval between the last blocks (ms); `null` until two were seen.
    block_time_ms: Option<f64>,
    /// Transactions per second over the last minute of blocks seen by this node.
    tx_per_second: f64,
    /// Validators in the set deciding the next block.
    validators: usize,
    /// Peers on the transaction network.
    peers: u64,
    /// Every coin in existence after the head block, staked ones included (wei).
    supply: String,
}

/// A block in a list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockSummary {
    number: u64,
    hash: String,
    timestamp_ms: u64,
    proposer: String,
    transaction_count: usize,
    gas_used: u64,
}

/// A page of blocks, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockPage {
    items: Vec<BlockSummary>,
    /// Pass as `before` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// A block's Proof-of-History chain.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PohView {
    start_hash: String,
    end_hash: String,
    ticks: u64,
    entries: usize,
}

/// One validator's precommit signature.
#[derive(Serialize, ToSchema)]
pub struct SignatureView {
    validator: String,
    signature: String,
}

/// Proof that the block is final.
#[derive(Serialize, ToSchema)]
pub struct CertificateView {
    round: u32,
    signatures: Vec<SignatureView>,
}

/// A block in full.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockDetail {
    number: u64,
    hash: String,
    parent_hash: String,
    timestamp_ms: u64,
    proposer: String,
    state_root: String,
    transactions_root: String,
    receipts_root: String,
    gas_used: u64,
    gas_limit: u64,
    base_fee_per_gas: u64,
    poh: PohView,
    /// `null` for genesis.
    certificate: Option<CertificateView>,
    transaction_count: usize,
    /// Hashes of its transactions, in order.
    transactions: Vec<String>,
}

/// An ERC-20 `Transfer` event a transaction emitted.
#[derive(Serialize, ToSchema)]
pub struct TokenTransfer {
    token: String,
    from: String,
    to: String,
    value: String,
}

/// A transaction with its result.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    hash: String,
    block_number: u64,
    block_hash: String,
    index: u32,
    timestamp_ms: u64,
    from: String,
    /// `null` for a contract creation.
    to: Option<String>,
    /// The contract a creation made.
    contract_address: Option<String>,
    value: String,
    nonce: u64,
    /// `legacy`, `eip2930` or `eip1559`.
    r#type: String,
    gas_limit: u64,
    gas_used: u64,
    effective_gas_price: String,
    /// `gasUsed × effectiveGasPrice`, in wei.
    fee: String,
    /// `success` or `failed`.
    status: String,
    input: String,
    log_count: usize,
    token_transfers: Vec<TokenTransfer>,
}

/// A page of transactions.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionPage {
    items: Vec<TransactionView>,
    /// For cursor pages: pass as `before` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// An account.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressView {
    address: String,
    balance: String,
    nonce: u64,
    is_contract: bool,
    code_size: usize,
    /// Its non-zero balances of the ERC-20 tokens it sent or received (at most 100, and
    /// as many as 5,000,000 gas of views can read).
    tokens: Vec<TokenBalance>,
}

/// A balance of one ERC-20 token.
#[derive(Serialize, ToSchema)]
pub struct TokenBalance {
    /// The token contract.
    token: String,
    /// `null` when the contract does not answer `name()`.
    name: Option<String>,
    /// `null` when the contract does not answer `symbol()`.
    symbol: Option<String>,
    /// `null` when the contract does not answer `decimals()`.
    decimals: Option<u8>,
    /// In the token's smallest unit.
    balance: String,
}

/// An ERC-20 token contract.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    token: String,
    name: Option<String>,
    symbol: Option<String>,
    decimals: u8,
    /// In the token's smallest unit.
    total_supply: String,
}

/// A registered validator.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorRow {
    address: String,
    public_key: String,
    commission_bps: u16,
    /// `active`, `candidate` or `jailed`.
    status: String,
    stake: String,
    self_stake: String,
    unbonding: String,
    slashed: String,
    jailed_until_epoch: u64,
    voting_power: u64,
    /// `signedBlocks / windowBlocks`, from 0 to 1; `null` when not in the set.
    uptime: Option<f64>,
    /// Of the window's blocks, those whose commit certificate holds its precommit.
    signed_blocks: u64,
    /// The latest blocks (at most 100) decided by the current set; 0 when not in it.
    window_blocks: u64,
}

/// What a search found.
#[derive(Serialize, ToSchema)]
pub struct SearchResult {
    /// `block`, `transaction` or `address`.
    kind: String,
    /// The block's height, the transaction's hash or the address.
    id: String,
}

fn block_summary(backend: &dyn RpcBackend, header: &Header) -> Result<BlockSummary, ApiError> {
    let count = backend.transaction_count(header.number).map_err(store_error)?;
    Ok(BlockSummary {
        number: header.number,
        hash: header.hash().to_string(),
        timestamp_ms: header.timestamp_ms,
        proposer: header.proposer.to_string(),
        transaction_count: count.unwrap_or(0),
        gas_used: header.gas_used,
    })
}

fn tx_type(tx: &RecoveredTx) -> &'static str {
    match tx.tx.tx_type() {
        alloy_consensus::TxType::Legacy => "legacy",
        alloy_consensus::TxType::Eip2930 => "eip2930",
        alloy_consensus::TxType::Eip1559 => "eip1559",
        alloy_consensus::TxType::Eip4844 => "eip4844",
        alloy_consensus::TxType::Eip7702 => "eip7702",
    }
}

alloy_sol_types::sol! {
    function name() external view returns (string);
    function symbol() external view returns (string);
    function decimals() external view returns (uint8);
    function balanceOf(address owner) external view returns (uint256);
    function totalSupply() external view returns (uint256);
}

/// Gas allowed to each ERC-20 view.
const TOKEN_CALL_GAS: u64 = 100_000;
/// Gas all the ERC-20 views of one answer may use together: a holder of many tokens whose
/// views are costly gets fewer listed, not a request that runs for long.
const TOKEN_GAS_BUDGET: u64 = 5_000_000;
/// The most tokens an address page lists.
pub const MAX_TOKENS: usize = 100;

/// Runs ERC-20 views of token contracts on the latest state, within [`TOKEN_GAS_BUDGET`].
struct TokenViews<'a> {
    backend: &'a dyn RpcBackend,
    gas_left: u64,
}

impl<'a> TokenViews<'a> {
    fn new(backend: &'a dyn RpcBackend) -> Self {
        Self { backend, gas_left: TOKEN_GAS_BUDGET }
    }

    /// `call` on `token`; `None` when it reverts, does not decode (a contract that is not
    /// an ERC-20 after all) or the budget is spent.
    fn view<C: SolCall>(&mut self, token: Address, call: C) -> Option<C::Return> {
        let gas = TOKEN_CALL_GAS.min(self.gas_left);
        if gas < TOKEN_CALL_GAS / 10 {
            return None;
        }
        let request = alloy_rpc_types_eth::TransactionRequest::default()
            .to(token)
            .input(alloy_primitives::Bytes::from(call.abi_encode()).into());
        let outcome = self.backend.call(&request, None, gas).ok()?;
        self.gas_left = self.gas_left.saturating_sub(outcome.gas_used());
        match outcome {
            btcr_execution::CallOutcome::Success { output, .. } => {
                C::abi_decode_returns(&output).ok()
            }
            _ => None,
        }
    }

    fn spent(&self) -> bool {
        self.gas_left < TOKEN_CALL_GAS / 10
    }
}

/// The balances `holder` has of the tokens it sent or received, zero balances left out.
fn token_balances(
    backend: &dyn RpcBackend,
    holder: Address,
) -> Result<Vec<TokenBalance>, ApiError> {
    let tokens = backend.address_tokens(&holder, MAX_TOKENS).map_err(store_error)?;
    let mut views = TokenViews::new(backend);
    let mut out = Vec::new();
    for token in tokens {
        if views.spent() {
            break;
        }
        let Some(balance) = views.view(token, balanceOfCall { owner: holder }) else { continue };
        if balance.is_zero() {
            continue;
        }
        out.push(TokenBalance {
            token: token.to_string(),
            name: views.view(token, nameCall {}),
            symbol: views.view(token, symbolCall {}),
            decimals: views.view(token, decimalsCall {}),
            balance: balance.to_string(),
        });
    }
    Ok(out)
}

/// Transaction `index` of block `number`, with its receipt, read without decoding the rest
/// of the block (a page of history may name 500 transactions in as many blocks).
fn transaction_view(
    backend: &dyn RpcBackend,
    number: u64,
    index: u32,
) -> Result<TransactionView, ApiError> {
    let missing =
        || ApiError::internal(format!("transaction {index} of block {number} is missing"));
    let i = index as usize;
    let header = backend.header(number).map_err(store_error)?.ok_or_else(missing)?;
    let envelope = backend.transaction_at(number, i).map_err(store_error)?.ok_or_else(missing)?;
    let read = backend.receipt_at(number, i).map_err(store_error)?.ok_or_else(missing)?;
    let tx = RecoveredTx::recover(envelope)
        .map_err(|e| ApiError::internal(format!("a stored transaction does not recover: {e}")))?;
    Ok(view_of(&header, &tx, index, Some(&read.receipt), read.gas_used))
}

fn view_of(
    header: &Header,
    tx: &RecoveredTx,
    index: u32,
    receipt: Option<&ReceiptEnvelope>,
    gas_used: u64,
) -> TransactionView {
    let price = format::effective_gas_price(header, tx);
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

// ------------------------------------------------------------------------------ handlers

/// The network's summary.
#[utoipa::path(get, path = "/api/v1/summary", tag = "network",
    responses((status = 200, body = Summary), (status = 400, body = ApiErrorBody)))]
async fn summary(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Summary> {
    query(&raw, &[])?;
    on_workers(&state, |backend| {
        let head = backend.head().map_err(store_error)?;
        let info = backend.node_info().map_err(store_error)?;
        let activity = backend.recent_activity();
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
            chain_id: backend.chain_id(),
            height: head.number,
            finalized_height: info.finalized,
            block_time_ms,
            tx_per_second,
            validators: info.validators.len(),
            peers: info.peers,
            supply: backend.supply().map_err(store_error)?.to_string(),
        })
    })
    .await
}

/// Parameters of cursor-paged lists.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct CursorQuery {
    /// Items strictly before this cursor (a page's `nextCursor`).
    before: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    limit: Option<usize>,
}

/// Parameters of numbered pages.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct PageQuery {
    /// Page number from 1.
    page: Option<usize>,
    /// Items per page, 1 to 500 (default 50).
    limit: Option<usize>,
}

/// Blocks, newest first.
#[utoipa::path(get, path = "/api/v1/blocks", tag = "blocks", params(CursorQuery),
    responses((status = 200, body = BlockPage), (status = 400, body = ApiErrorBody)))]
async fn blocks(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<BlockPage> {
    let params = query(&raw, &["before", "limit"])?;
    let limit = limit(&params)?;
    let before = params
        .get("before")
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("before must be a block height, not {v:?}"))
            })
        })
        .transpose()?;
    on_workers(&state, move |backend| {
        let head = backend.head().map_err(store_error)?.number;
        let top = match before {
            Some(0) => return Ok(BlockPage { items: vec![], next_cursor: None }),
            Some(b) => (b - 1).min(head),
            None => head,
        };
        let mut items = Vec::with_capacity(limit);
        let mut n = top;
        loop {
            let header = backend
                .header(n)
                .map_err(store_error)?
                .ok_or_else(|| ApiError::internal(format!("header {n} is missing")))?;
            items.push(block_summary(backend, &header)?);
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
#[utoipa::path(get, path = "/api/v1/blocks/{id}", tag = "blocks",
    params(("id" = String, Path, description = "height (decimal) or hash (0x…)")),
    responses((status = 200, body = BlockDetail), (status = 400, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody)))]
async fn block(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<BlockDetail> {
    query(&raw, &[])?;
    on_workers(&state, move |backend| {
        let number = resolve_block(backend, &id)?;
        let block = backend
            .block(number)
            .map_err(store_error)?
            .ok_or_else(|| ApiError::internal(format!("block {number} is missing")))?;
        let certificate = backend.certificate(number).map_err(store_error)?;
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
#[utoipa::path(get, path = "/api/v1/blocks/{id}/transactions", tag = "blocks",
    params(("id" = String, Path, description = "height (decimal) or hash (0x…)"), PageQuery),
    responses((status = 200, body = TransactionPage), (status = 400, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody)))]
async fn block_transactions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<TransactionPage> {
    let params = query(&raw, &["page", "limit"])?;
    let (page, limit) = (page(&params)?, limit(&params)?);
    on_workers(&state, move |backend| {
        let number = resolve_block(backend, &id)?;
        let missing = || ApiError::internal(format!("block {number} is missing"));
        let block = backend.block(number).map_err(store_error)?.ok_or_else(missing)?;
        let receipts = backend.receipts(number).map_err(store_error)?.ok_or_else(missing)?;
        let receipts = format::block_receipts(&receipts);
        let start = (page - 1).saturating_mul(limit);
        let mut items = Vec::new();
        for (i, envelope) in block.body.transactions.iter().enumerate().skip(start).take(limit) {
            let tx = RecoveredTx::recover(envelope.clone()).map_err(|e| {
                ApiError::internal(format!("a stored transaction does not recover: {e}"))
            })?;
            let read = receipts.get(i);
            let gas_used = read.map_or(0, |r| r.gas_used);
            items.push(view_of(&block.header, &tx, i as u32, read.map(|r| &r.receipt), gas_used));
        }
        Ok(TransactionPage { items, next_cursor: None })
    })
    .await
}

/// A transaction by hash, with its result.
#[utoipa::path(get, path = "/api/v1/transactions/{hash}", tag = "transactions",
    params(("hash" = String, Path, description = "transaction hash (0x…)")),
    responses((status = 200, body = TransactionView), (status = 400, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody)))]
async fn transaction(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<TransactionView> {
    query(&raw, &[])?;
    let hash = parse_hash(&hash)?;
    on_workers(&state, move |backend| {
        let (number, index) = backend
            .transaction_location(&hash)
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found(format!("no transaction {hash} in any block")))?;
        transaction_view(backend, number, index)
    })
    .await
}

/// An account.
#[utoipa::path(get, path = "/api/v1/addresses/{address}", tag = "addresses",
    params(("address" = String, Path, description = "0x and 40 hex digits")),
    responses((status = 200, body = AddressView), (status = 400, body = ApiErrorBody)))]
async fn address(
    State(state): State<AppState>,
    Path(address): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<AddressView> {
    query(&raw, &[])?;
    let address = parse_address(&address)?;
    on_workers(&state, move |backend| {
        let account = backend.account(&address).map_err(store_error)?.unwrap_or_default();
        let code = backend.code(&address).map_err(store_error)?;
        Ok(AddressView {
            address: address.to_string(),
            balance: account.balance.to_string(),
            nonce: account.nonce,
            is_contract: !code.is_empty(),
            code_size: code.len(),
            tokens: token_balances(backend, address)?,
        })
    })
    .await
}

/// The transactions an address sent, received or created a contract with, newest first.
#[utoipa::path(get, path = "/api/v1/addresses/{address}/transactions", tag = "addresses",
    params(("address" = String, Path, description = "0x and 40 hex digits"), CursorQuery),
    responses((status = 200, body = TransactionPage), (status = 400, body = ApiErrorBody)))]
async fn address_transactions(
    State(state): State<AppState>,
    Path(address): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<TransactionPage> {
    let params = query(&raw, &["before", "limit"])?;
    let limit = limit(&params)?;
    let address = parse_address(&address)?;
    let before = params
        .get("before")
        .map(|v| {
            let parsed = v
                .split_once('-')
                .and_then(|(n, i)| Some((n.parse::<u64>().ok()?, i.parse::<u32>().ok()?)));
            parsed.ok_or_else(|| {
                ApiError::bad_request(format!(
                    "before must be a cursor from nextCursor (block-index), not {v:?}"
                ))
            })
        })
        .transpose()?;
    on_workers(&state, move |backend| {
        // One more than asked says whether another page follows.
        let mut found =
            backend.address_transactions(&address, before, limit + 1).map_err(store_error)?;
        let more = found.len() > limit;
        found.truncate(limit);
        let next_cursor = match found.last() {
            Some((n, i)) if more => Some(format!("{n}-{i}")),
            _ => None,
        };
        let items = found
            .into_iter()
            .map(|(n, i)| transaction_view(backend, n, i))
            .collect::<Result<_, _>>()?;
        Ok(TransactionPage { items, next_cursor })
    })
    .await
}

/// Every registered validator, from the staking contract.
#[utoipa::path(get, path = "/api/v1/validators", tag = "validators",
    responses((status = 200, body = Vec<ValidatorRow>), (status = 400, body = ApiErrorBody)))]
async fn validators(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Vec<ValidatorRow>> {
    query(&raw, &[])?;
    on_workers(&state, |backend| {
        let rows = backend.registered_validators().map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|v| ValidatorRow {
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
                uptime: (v.window_blocks > 0)
                    .then(|| v.signed_blocks as f64 / v.window_blocks as f64),
                signed_blocks: v.signed_blocks,
                window_blocks: v.window_blocks,
            })
            .collect())
    })
    .await
}

/// An ERC-20 token: its name, symbol, decimals and supply, read from the contract.
#[utoipa::path(get, path = "/api/v1/tokens/{address}", tag = "addresses",
    params(("address" = String, Path, description = "the token contract: 0x and 40 hex digits")),
    responses((status = 200, body = TokenInfo), (status = 400, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody)))]
async fn token(
    State(state): State<AppState>,
    Path(address): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<TokenInfo> {
    query(&raw, &[])?;
    let token = parse_address(&address)?;
    on_workers(&state, move |backend| {
        if backend.code(&token).map_err(store_error)?.is_empty() {
            return Err(ApiError::not_found(format!("there is no contract at {token}")));
        }
        // `decimals` and `totalSupply` are what every ERC-20 answers; name and symbol are
        // optional in the standard.
        let mut views = TokenViews::new(backend);
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

/// The search parameter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct SearchQuery {
    /// A block height, a block or transaction hash, or an address.
    q: String,
}

/// Finds a block (by height or hash), a transaction (by hash) or an address.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery),
    responses((status = 200, body = SearchResult), (status = 400, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody)))]
async fn search(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<SearchResult> {
    let params = query(&raw, &["q"])?;
    let q = params.get("q").map(|q| q.trim()).unwrap_or_default().to_owned();
    if q.is_empty() {
        return Err(ApiError::bad_request("q is required: a height, a hash or an address"));
    }
    on_workers(&state, move |backend| {
        let found = |kind: &str, id: String| Ok(SearchResult { kind: kind.into(), id });
        if q.len() == 42 && q.starts_with("0x") {
            return found("address", parse_address(&q)?.to_string());
        }
        if q.len() == 66 && q.starts_with("0x") {
            let hash = parse_hash(&q)?;
            if let Some(n) = backend.block_number(&hash).map_err(store_error)? {
                return found("block", n.to_string());
            }
            if backend.transaction_location(&hash).map_err(store_error)?.is_some() {
                return found("transaction", hash.to_string());
            }
            return Err(ApiError::not_found(format!("no block or transaction has hash {hash}")));
        }
        if q.bytes().all(|b| b.is_ascii_digit()) {
            let number = resolve_block(backend, &q)?;
            return found("block", number.to_string());
        }
        Err(ApiError::bad_request(format!(
            "{q:?} is not a height, a hash (0x and 64 hex digits) or an address (0x and 40)"
        )))
    })
    .await
}

async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_document()).into_response()
}

/// A page that renders the OpenAPI document, with nothing to fetch but the document.
async fn docs() -> Html<&'static str> {
    Html(include_str!("rest_docs.html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_exactly_the_routes() {
        let doc = ApiDoc::openapi();
        let mut described: Vec<String> = doc.paths.paths.keys().cloned().collect();
        described.sort();
        let mut routed: Vec<String> = ROUTES.iter().map(|r| format!("/api/v1{r}")).collect();
        routed.sort();
        assert_eq!(described, routed);
        let json: serde_json::Value = serde_json::from_str(&openapi_document()).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
        // Every operation answers 200 and documents its 400.
        for (path, item) in json["paths"].as_object().unwrap() {
            let get = &item["get"];
            assert!(get["responses"]["200"].is_object(), "{path}");
            assert!(get["responses"]["400"].is_object(), "{path}");
        }
        // Every schema a response names is in the components.
        let schemas = json["components"]["schemas"].as_object().unwrap();
        let text = json.to_string();
        for reference in text.split("#/components/schemas/").skip(1) {
            let name: String = reference.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "{name} is referenced but not defined");
        }
    }

    #[test]
    fn parameters_are_checked() {
        let raw = Some("limit=0".to_owned());
        assert!(limit(&query(&raw, &["limit"]).unwrap()).is_err());
        let raw = Some("limit=501".to_owned());
        assert!(limit(&query(&raw, &["limit"]).unwrap()).is_err());
        let raw = Some("limit=500".to_owned());
        assert_eq!(limit(&query(&raw, &["limit"]).unwrap()).unwrap(), 500);
        assert_eq!(limit(&query(&None, &["limit"]).unwrap()).unwrap(), DEFAULT_LIMIT);
        assert!(query(&Some("x=1".into()), &["limit"]).is_err());
        assert!(query(&Some("limit=1&limit=2".into()), &["limit"]).is_err());
        assert!(parse_address("0x12").is_err());
        assert!(parse_hash(&format!("0x{}", "g".repeat(64))).is_err());
    }
}
