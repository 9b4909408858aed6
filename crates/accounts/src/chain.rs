//! The chain's figures in the administrators' statistics, from wherever the service runs:
//! inside a node (which reads its own chain) or as its own process ([`NodeClient`], which
//! asks a node over HTTP).

use std::{future::Future, pin::Pin, time::Duration};

use serde::{Deserialize, Serialize};

/// What the statistics show of the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainFigures {
    /// The head's height.
    pub height: u64,
    /// The highest finalized block.
    pub finalized_height: u64,
    /// Mean interval between the last blocks (ms).
    pub block_time_ms: Option<f64>,
    /// Transactions per second over the last minute of blocks.
    pub tx_per_second: f64,
    /// Validators in the set.
    pub validators: u64,
    /// The node's peers on the transaction network.
    pub peers: u64,
    /// Executable transactions in the node's pool.
    pub pending_transactions: u64,
    /// Transactions waiting for an earlier nonce.
    pub queued_transactions: u64,
}

/// A future of the chain's figures, or why they could not be had.
pub type FiguresFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ChainFigures, String>> + Send + 'a>>;

/// Where the statistics find the chain.
pub trait ChainSource: Send + Sync + 'static {
    /// The figures now.
    fn figures(&self) -> FiguresFuture<'_>;
}

/// How long a node has to answer.
const NODE_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read from a node.
const MAX_NODE_ANSWER_BYTES: u64 = 64 * 1024;

/// A node reached over HTTP: its REST summary and its pool's counts (JSON-RPC).
#[derive(Debug, Clone)]
pub struct NodeClient {
    base_url: String,
    agent: ureq::Agent,
}

impl NodeClient {
    /// A client of the node at `base_url` (`http://host:port`).
    pub fn new(base_url: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(NODE_TIMEOUT))
            .http_status_as_error(true)
            .build()
            .new_agent();
        Self { base_url: base_url.trim_end_matches('/').to_owned(), agent }
    }

    /// The node's URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn fetch(&self) -> Result<ChainFigures, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Summary {
            height: u64,
            finalized_height: u64,
            block_time_ms: Option<f64>,
            tx_per_second: f64,
            validators: u64,
            peers: u64,
        }
        #[derive(Deserialize)]
        struct Pool {
            pending: String,
            queued: String,
        }
        #[derive(Deserialize)]
        struct RpcAnswer {
            result: Pool,
        }
        let read = |response: Result<ureq::http::Response<ureq::Body>, ureq::Error>| {
            response
                .map_err(|e| format!("the node at {} did not answer: {e}", self.base_url))?
                .into_body()
                .into_with_config()
                .limit(MAX_NODE_ANSWER_BYTES)
                .read_to_vec()
                .map_err(|e| format!("reading the node's answer: {e}"))
        };
        let summary = read(self.agent.get(format!("{}/api/v1/summary", self.base_url)).call())?;
        let summary: Summary = serde_json::from_slice(&summary)
            .map_err(|e| format!("the node's summary does not read: {e}"))?;
        let request = serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": "txpool_status" });
        let pool = read(self.agent.post(format!("{}/", self.base_url)).send_json(&request))?;
        let pool: RpcAnswer = serde_json::from_slice(&pool)
            .map_err(|e| format!("the node's pool status does not read: {e}"))?;
        let quantity = |text: &str| {
            u64::from_str_radix(text.trim_start_matches("0x"), 16)
                .map_err(|e| format!("the node's pool count {text:?} does not read: {e}"))
        };
        Ok(ChainFigures {
            height: summary.height,
            finalized_height: summary.finalized_height,
            block_time_ms: summary.block_time_ms,
            tx_per_second: summary.tx_per_second,
            validators: summary.validators,
            peers: summary.peers,
            pending_transactions: quantity(&pool.result.pending)?,
            queued_transactions: quantity(&pool.result.queued)?,
        })
    }
}

impl ChainSource for NodeClient {
    fn figures(&self) -> FiguresFuture<'_> {
        let client = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || client.fetch())
                .await
                .map_err(|e| format!("asking the node failed: {e}"))?
        })
    }
}
