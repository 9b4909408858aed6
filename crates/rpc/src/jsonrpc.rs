//! JSON-RPC 2.0 framing: single requests, batches, notifications and their limits.

use serde_json::{Value, json};

use crate::{
    RpcError,
    eth::{self, Ctx, Params},
};

/// Methods that read a bounded amount of state with no EVM and no scan: a single request for
/// one of them is cheaper to answer where it arrived than to hand to a worker thread.
const QUICK_METHODS: &[&str] = &[
    "eth_blockNumber",
    "eth_chainId",
    "eth_getBalance",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_getTransactionCount",
    "eth_syncing",
    "net_listening",
    "net_peerCount",
    "net_version",
    "web3_clientVersion",
];

/// Bodies up to this size are parsed where they arrive: one small request.
const SMALL_BODY: usize = 1024;

/// `body` parsed, if it is small and valid JSON: parsed once, it can both decide where the
/// request is handled ([`is_quick`]) and be handled ([`handle`]).
pub(crate) fn parse_small(body: &[u8]) -> Option<Value> {
    (body.len() <= SMALL_BODY).then(|| serde_json::from_slice(body).ok()).flatten()
}

/// Whether `request` is one request (not a batch) for a [`QUICK_METHODS`] method.
pub(crate) fn is_quick(request: &Value) -> bool {
    request.get("method").and_then(Value::as_str).is_some_and(|m| QUICK_METHODS.contains(&m))
}

/// Handles one body, or its parsed form when [`parse_small`] gave one; `None` when nothing
/// is to be sent back (only notifications).
pub(crate) fn handle(parsed: Option<Value>, body: &[u8], ctx: &Ctx<'_>) -> Option<Value> {
    match parsed {
        Some(value) => handle_value(value, ctx),
        None => handle_body(body, ctx),
    }
}

/// Handles one HTTP body; `None` when nothing is to be sent back (only notifications).
fn handle_body(body: &[u8], ctx: &Ctx<'_>) -> Option<Value> {
    match serde_json::from_slice(body) {
        Ok(value) => handle_value(value, ctx),
        Err(e) => Some(error_response(Value::Null, &RpcError::parse_error(e))),
    }
}

/// Handles one parsed body: a request or a batch.
fn handle_value(value: Value, ctx: &Ctx<'_>) -> Option<Value> {
    let max_batch = ctx.config.max_batch;
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Some(error_response(
                    Value::Null,
                    &RpcError::invalid_request("empty batch"),
                ));
            }
            if items.len() > max_batch {
                return Some(error_response(
                    Value::Null,
                    &RpcError::invalid_request(format!(
                        "batch of {} requests exceeds the limit of {max_batch}",
                        items.len()
                    )),
                ));
            }
            let responses: Vec<Value> =
                items.into_iter().filter_map(|item| handle_one(item, ctx)).collect();
            (!responses.is_empty()).then_some(Value::Array(responses))
        }
        single => handle_one(single, ctx),
    }
}

fn handle_one(request: Value, ctx: &Ctx<'_>) -> Option<Value> {
    let Value::Object(mut obj) = request else {
        return Some(error_response(
            Value::Null,
            &RpcError::invalid_request("a request must be an object"),
        ));
    };
    let id = obj.remove("id");
    // Requests without an id are notifications: run them, answer nothing.
    let is_notification = id.is_none();
    let id = match id {
        None | Some(Value::Null) => Value::Null,
        Some(v @ (Value::Number(_) | Value::String(_))) => v,
        Some(_) => {
            return Some(error_response(
                Value::Null,
                &RpcError::invalid_request("id must be a number, a string or null"),
            ));
        }
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(error_response(id, &RpcError::invalid_request("jsonrpc must be \"2.0\"")));
    }
    let Some(method) = obj.get("method").and_then(Value::as_str).map(str::to_owned) else {
        return Some(error_response(id, &RpcError::invalid_request("method must be a string")));
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Params(Vec::new()),
        Some(Value::Array(items)) => Params(items),
        Some(_) => {
            return Some(error_response(id, &RpcError::invalid_params("params must be an array")));
        }
    };
    let result = eth::call(ctx, &method, &params);
    if is_notification {
        return None;
    }
    Some(match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(e) => error_response(id, &e),
    })
}

pub(crate) fn error_response(id: Value, error: &RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": error.to_json() })
}
