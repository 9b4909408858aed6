//! JSON-RPC errors: the one place where failures become codes and messages.

use serde_json::{Value, json};

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RpcError {
    /// Error code (Ethereum conventions).
    pub code: i64,
    /// Message for people.
    pub message: String,
    /// Extra data (revert data for `eth_call`).
    pub data: Option<Value>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }

    /// `-32700`: the body is not JSON.
    pub fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self::new(-32700, format!("parse error: {detail}"))
    }

    /// `-32600`: JSON that is not a JSON-RPC request.
    pub fn invalid_request(detail: impl std::fmt::Display) -> Self {
        Self::new(-32600, format!("invalid request: {detail}"))
    }

    /// `-32601`: unknown method.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(-32601, format!("the method {method} does not exist/is not available"))
    }

    /// Whether this is [`Self::method_not_found`]'s error (not [`Self::not_supported`]'s).
    pub fn is_unknown_method(&self) -> bool {
        self.code == -32601 && self.message.starts_with("the method ")
    }

    /// `-32601` for a method that exists but not on this kind of connection.
    pub fn not_supported(detail: impl std::fmt::Display) -> Self {
        Self::new(-32601, format!("notifications not supported: {detail}"))
    }

    /// `-32602`: bad parameters.
    pub fn invalid_params(detail: impl std::fmt::Display) -> Self {
        Self::new(-32602, format!("invalid params: {detail}"))
    }

    /// `-32005`: the request asks for more than a limit allows (EIP-1474's "limit exceeded").
    pub fn limit_exceeded(detail: impl std::fmt::Display) -> Self {
        Self::new(-32005, format!("limit exceeded: {detail}"))
    }

    /// `-32603`: the node failed.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(-32603, format!("internal error: {detail}"))
    }

    /// A failed read of the chain: `-32000` for a block this node pruned (the client can
    /// ask a node that keeps it), `-32603` for anything else.
    pub fn read(e: btcr_interfaces::ReadError) -> Self {
        match e {
            e @ btcr_interfaces::ReadError::Pruned { .. } => Self::server(e.to_string()),
            e => Self::internal(e),
        }
    }

    /// `-32000`: the request is valid but cannot be served (rejected transaction, missing
    /// state), as Ethereum clients report it.
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(-32000, message)
    }

    /// `3`: `eth_call` or `eth_estimateGas` ran into `REVERT`; the revert data is the
    /// error's data and the reason, when it decodes, ends the message.
    pub fn reverted(output: alloy_primitives::Bytes) -> Self {
        use alloy_sol_types::SolError;
        // `Error(string)` gives its reason as is; a panic code or another error its
        // description.
        let reason = match alloy_sol_types::Revert::abi_decode(&output) {
            Ok(revert) => Some(revert.reason),
            Err(_) => alloy_sol_types::decode_revert_reason(&output),
        };
        let message = match reason {
            Some(reason) if !reason.is_empty() => format!("execution reverted: {reason}"),
            _ => "execution reverted".to_string(),
        };
        Self { code: 3, message, data: Some(json!(output)) }
    }

    /// The error as a JSON-RPC error object.
    pub fn to_json(&self) -> Value {
        match &self.data {
            Some(data) => json!({ "code": self.code, "message": self.message, "data": data }),
            None => json!({ "code": self.code, "message": self.message }),
        }
    }
}
