//! The explorer's REST API under `/api/v1`, for the explorer and the portal: the network's
//! summary, blocks, transactions, addresses, tokens, validators and search, with cursor or
//! page pagination (50 items by default, at most 500).
//!
//! ```text
//!  GET /api/v1/… ──▶ ApiQuery<…Query> (decoded, checked) ──▶ handler on the workers
//!                       ──▶ one ChainView (a snapshot) ──▶ JSON view, or ApiError
//! ```
//!
//! Every handler carries the `utoipa` annotation that both routes it ([`router`] binds each
//! handler at the path its annotation names) and describes it in the OpenAPI document
//! ([`openapi`], which the node merges with the other routers' parts, serves at
//! `/api/v1/openapi.json` and renders at `/api/v1/docs`);
//! the query parameters in the document are the types the handlers decode. Errors have the
//! server's one shape, `{"error": {"code": "...", "message": "..."}}`: 400 for a bad
//! parameter (named in the message), 404 for something that does not exist, 500 when the
//! node cannot read its store.

use std::sync::Arc;

use axum::Router;
use btcr_http::{ApiError, ApiErrorBody, ApiErrorDetail, Workers};
use btcr_interfaces::{ChainReader, ChainView, NodeStatus};
use utoipa::OpenApi;

mod handlers;
mod params;
pub mod stream;

/// Entry point for the REST query fuzz target (`fuzz/`).
#[doc(hidden)]
pub mod fuzzing {
    use crate::params::{BlocksQuery, HistoryQuery, NoQuery, PageQuery, SearchQuery};

    /// Parses `data` as the query string of each REST endpoint: accepted or refused with a
    /// message, never a panic.
    pub fn query(data: &[u8]) {
        let Ok(raw) = std::str::from_utf8(data) else { return };
        let _ = btcr_http::parse_query::<NoQuery>(raw);
        let _ = btcr_http::parse_query::<BlocksQuery>(raw);
        let _ = btcr_http::parse_query::<PageQuery>(raw);
        let _ = btcr_http::parse_query::<HistoryQuery>(raw);
        let _ = btcr_http::parse_query::<SearchQuery>(raw);
    }
}
mod tokens;
mod views;

pub use handlers::network_summary;
use handlers::*;
pub use params::{DEFAULT_LIMIT, MAX_LIMIT};
pub use tokens::MAX_TOKENS;
pub use views::Summary;
use views::*;

/// What the handlers read, shared: a handler's state is one reference count.
pub(crate) type ExplorerState = Arc<ExplorerShared>;

/// See [`ExplorerState`].
pub(crate) struct ExplorerShared {
    chain: Arc<dyn ChainReader>,
    status: Arc<dyn NodeStatus>,
    workers: Workers,
}

impl ExplorerShared {
    /// Runs `f` on the workers (reads can be heavy), never on the reactor, with one view of
    /// the chain for the whole answer.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn ChainView, &dyn NodeStatus) -> Result<T, ApiError> + Send + 'static,
    ) -> btcr_http::ApiResult<T> {
        self.run(false, f).await
    }

    /// Like [`ExplorerShared::read`], with a view whose address index has caught up with its
    /// head (waiting a moment for it when it is just behind).
    async fn read_indexed<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn ChainView, &dyn NodeStatus) -> Result<T, ApiError> + Send + 'static,
    ) -> btcr_http::ApiResult<T> {
        self.run(true, f).await
    }

    async fn run<T: Send + 'static>(
        &self,
        indexed: bool,
        f: impl FnOnce(&dyn ChainView, &dyn NodeStatus) -> Result<T, ApiError> + Send + 'static,
    ) -> btcr_http::ApiResult<T> {
        let (chain, status) = (self.chain.clone(), self.status.clone());
        let result = self
            .workers
            .run(move || {
                let mut view = chain.view().map_err(read_error)?;
                if indexed {
                    view = handlers::indexed_view(chain.as_ref(), view)?;
                }
                f(view.as_ref(), status.as_ref())
            })
            .await;
        match result {
            Ok(result) => result.map(axum::Json),
            Err(busy @ btcr_http::WorkerError::Busy) => {
                Err(ApiError::unavailable(busy.to_string(), 1))
            }
            Err(btcr_http::WorkerError::Failed) => {
                Err(ApiError::internal("the request failed on the node"))
            }
        }
    }
}

/// A failed read of the chain, as the client sees it.
pub(crate) fn read_error(e: btcr_interfaces::ReadError) -> ApiError {
    match e {
        e @ btcr_interfaces::ReadError::Pruned { .. } => ApiError::gone(e.to_string()),
        e => ApiError::internal(e.to_string()),
    }
}

btcr_http::documented_routes!(ExplorerState;
    "network" => summary,
    "blocks" => blocks,
    "blocks" => block,
    "blocks" => block_transactions,
    "transactions" => transaction,
    "addresses" => address,
    "addresses" => address_transactions,
    "validators" => validators,
    "search" => search,
    "addresses" => token,
);

/// The explorer's routes, `/api/v1/…` in full, reading `chain` and `status` on `workers`.
pub fn router(
    chain: Arc<dyn ChainReader>,
    status: Arc<dyn NodeStatus>,
    workers: Workers,
) -> Router {
    let state = Arc::new(ExplorerShared { chain, status, workers });
    routes(stream::routes()).with_state(state)
}

/// The OpenAPI 3.1 document of the REST API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "BTCR REST API",
        version = "1",
        description = "Blocks, transactions, addresses, validators and search for explorers and wallets. Amounts are decimal strings in wei."
    ),
    modifiers(&Handlers),
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

/// The explorer's part of the OpenAPI document (the node merges it with the other routers'
/// parts and serves the whole at `/api/v1/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_exactly_the_routes() {
        let doc = ApiDoc::openapi();
        let mut described: Vec<String> = doc.paths.paths.keys().cloned().collect();
        described.sort();
        let surface = [
            "/api/v1/addresses/{address}",
            "/api/v1/addresses/{address}/transactions",
            "/api/v1/blocks",
            "/api/v1/blocks/{id}",
            "/api/v1/blocks/{id}/transactions",
            "/api/v1/search",
            "/api/v1/summary",
            "/api/v1/tokens/{address}",
            "/api/v1/transactions/{hash}",
            "/api/v1/validators",
        ];
        assert_eq!(described, surface, "the API's surface changed: say so here, on purpose");
        let json: serde_json::Value = serde_json::to_value(ApiDoc::openapi()).unwrap();
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
        // The page sizes are documented as the handlers check them.
        let limit = &json["paths"]["/api/v1/blocks"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap()["schema"];
        assert_eq!((limit["minimum"].as_u64(), limit["maximum"].as_u64()), (Some(1), Some(500)));
    }
}
