//! A blocking JSON-RPC client for the wallet, tools and tests.

use std::time::{Duration, Instant};

use crate::error::{Context as _, WalletResult, bail, invalid};
use alloy_primitives::{Address, B256, Bytes, U256};
use serde_json::{Value, json};

/// A JSON-RPC error returned by the node.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcErrorObject {
    /// The error code.
    pub code: i64,
    /// The message.
    pub message: String,
}

impl std::fmt::Display for RpcErrorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JSON-RPC error {}: {}", self.code, self.message)
    }
}

impl std::error::Error for RpcErrorObject {}

/// Talks to one node over HTTP.
#[derive(Debug, Clone)]
pub struct RpcClient {
    url: String,
    agent: ureq::Agent,
}

impl RpcClient {
    /// A client for `url` (`http://host:port`).
    pub fn new(url: impl Into<String>) -> Self {
        Self::with_timeout(url, Duration::from_secs(30))
    }

    /// A client for `url` whose every request gives up after `timeout`.
    pub fn with_timeout(url: impl Into<String>, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Self { url: url.into(), agent }
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends a raw JSON body and returns the raw JSON answer.
    pub fn post(&self, body: &Value) -> WalletResult<Value> {
        let mut response =
            self.agent.post(&self.url).send_json(body).wrap_err("sending request")?;
        response.body_mut().read_json::<Value>().wrap_err("reading response")
    }

    /// GETs `path` (for example `/api/v1/summary`) from the node's REST API: the status and
    /// the JSON body.
    pub fn get(&self, path: &str) -> WalletResult<(u16, Value)> {
        let (status, _, body) = self.get_text(path)?;
        let body = serde_json::from_str(&body).wrap_err_with(|| format!("GET {path}: not JSON"))?;
        Ok((status, body))
    }

    /// GETs `path` from the node: the status, the content type and the body as text.
    pub fn get_text(&self, path: &str) -> WalletResult<(u16, String, String)> {
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let mut response = self.agent.get(&url).call().wrap_err_with(|| format!("GET {url}"))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.body_mut().read_to_string().wrap_err("reading response")?;
        Ok((status, content_type, body))
    }

    /// Calls `method`; the error of a JSON-RPC error response is an [`RpcErrorObject`].
    pub fn call(&self, method: &str, params: Value) -> WalletResult<Value> {
        let response =
            self.post(&json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }))?;
        if let Some(error) = response.get("error") {
            return Err(RpcErrorObject {
                code: error["code"].as_i64().unwrap_or_default(),
                message: error["message"].as_str().unwrap_or_default().to_owned(),
            }
            .into());
        }
        response
            .get("result")
            .cloned()
            .ok_or_else(|| invalid!("response without result: {response}"))
    }

    /// `eth_blockNumber`.
    pub fn block_number(&self) -> WalletResult<u64> {
        quantity(&self.call("eth_blockNumber", json!([]))?)
    }

    /// `eth_getBalance` at the head.
    pub fn balance(&self, address: Address) -> WalletResult<U256> {
        let v = self.call("eth_getBalance", json!([address, "latest"]))?;
        serde_json::from_value(v).wrap_err("balance")
    }

    /// `eth_getTransactionCount` at the head.
    pub fn nonce(&self, address: Address) -> WalletResult<u64> {
        quantity(&self.call("eth_getTransactionCount", json!([address, "latest"]))?)
    }

    /// `eth_sendRawTransaction`.
    pub fn send_raw(&self, raw: &Bytes) -> WalletResult<B256> {
        let v = self.call("eth_sendRawTransaction", json!([raw]))?;
        serde_json::from_value(v).wrap_err("transaction hash")
    }

    /// `eth_getTransactionReceipt`; `None` while pending.
    pub fn receipt(&self, hash: B256) -> WalletResult<Option<Value>> {
        let v = self.call("eth_getTransactionReceipt", json!([hash]))?;
        Ok((!v.is_null()).then_some(v))
    }

    /// Polls until the receipt of `hash` exists.
    pub fn wait_for_receipt(&self, hash: B256, timeout: Duration) -> WalletResult<Value> {
        let start = Instant::now();
        loop {
            if let Some(r) = self.receipt(hash)? {
                return Ok(r);
            }
            if start.elapsed() > timeout {
                bail!("no receipt for {hash} after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `eth_getBlockByNumber`.
    pub fn block(&self, tag: &str, full: bool) -> WalletResult<Value> {
        self.call("eth_getBlockByNumber", json!([tag, full]))
    }

    /// Polls until the head reaches `number`.
    pub fn wait_for_block(&self, number: u64, timeout: Duration) -> WalletResult<()> {
        let start = Instant::now();
        while self.block_number()? < number {
            if start.elapsed() > timeout {
                bail!("head did not reach {number} within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

/// Parses a `0x…` quantity.
pub fn quantity(v: &Value) -> WalletResult<u64> {
    let s = v.as_str().ok_or_else(|| invalid!("quantity is not a string: {v}"))?;
    u64::from_str_radix(s.trim_start_matches("0x"), 16)
        .wrap_err_with(|| format!("bad quantity {s}"))
}
