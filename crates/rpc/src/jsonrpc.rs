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

/// Handles one body, or its parsed form when [`parse_small`] gave one; the answer as JSON
/// text, `None` when nothing is to be sent back (only notifications).
///
/// The answer is written as it is made, each request's answer serialized and dropped before
/// the next runs, and it is at most [`RpcConfig::max_response_bytes`] long: a batch whose
/// answers pass the budget has the rest of its requests answered `-32005` without running
/// them, and a single answer past it is replaced by that error.
///
/// [`RpcConfig::max_response_bytes`]: crate::RpcConfig::max_response_bytes
pub(crate) fn handle(parsed: Option<Value>, body: &[u8], ctx: &Ctx<'_>) -> Option<Vec<u8>> {
    let value = match parsed {
        Some(value) => value,
        None => match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(e) => {
                return Some(to_json(&error_response(Value::Null, &RpcError::parse_error(e))));
            }
        },
    };
    let budget = ctx.config.max_response_bytes;
    let max_batch = ctx.config.max_batch;
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Some(to_json(&error_response(
                    Value::Null,
                    &RpcError::invalid_request("empty batch"),
                )));
            }
            if items.len() > max_batch {
                return Some(to_json(&error_response(
                    Value::Null,
                    &RpcError::invalid_request(format!(
                        "batch of {} requests exceeds the limit of {max_batch}",
                        items.len()
                    )),
                )));
            }
            let mut out = vec![b'['];
            let mut over = false;
            for item in items {
                let answer = if over { unrun(item, budget) } else { handle_one(item, ctx) };
                let Some(answer) = answer else { continue };
                let start = out.len();
                if start > 1 {
                    out.push(b',');
                }
                write_json(&mut out, &answer);
                if !over && out.len() > budget {
                    over = true;
                    out.truncate(start);
                    if let Some(refusal) = unrun(answer, budget) {
                        if start > 1 {
                            out.push(b',');
                        }
                        write_json(&mut out, &refusal);
                    }
                }
            }
            (out.len() > 1).then(|| {
                out.push(b']');
                out
            })
        }
        single => {
            let answer = handle_one(single, ctx)?;
            let text = to_json(&answer);
            if text.len() <= budget {
                return Some(text);
            }
            unrun(answer, budget).map(|refusal| to_json(&refusal))
        }
    }
}

/// The refusal for a request (or an answer) past the answer budget, with its id; `None` for
/// a notification, which is answered nothing.
fn unrun(item: Value, budget: usize) -> Option<Value> {
    let id = match item {
        Value::Object(mut obj) => match obj.remove("id") {
            None => return None,
            Some(id @ (Value::Number(_) | Value::String(_) | Value::Null)) => id,
            Some(_) => Value::Null,
        },
        _ => Value::Null,
    };
    Some(error_response(
        id,
        &RpcError::limit_exceeded(format!(
            "the answer would be larger than the {budget}-byte limit (--rpc.max-response-bytes)"
        )),
    ))
}

fn write_json(out: &mut Vec<u8>, value: &Value) {
    serde_json::to_writer(out, value).expect("a JSON value serializes into memory");
}

fn to_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_json(&mut out, value);
    out
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
    let started = std::time::Instant::now();
    let result = eth::call(ctx, &method, &params);
    // A method the node does not serve is not a label: clients choose those names.
    let (served, status) = match &result {
        Ok(_) => (true, None),
        Err(e) => (!e.is_unknown_method(), Some(e.code)),
    };
    btcr_metrics::metrics().rpc_call(
        served.then_some(method.as_str()),
        status,
        started.elapsed().as_secs_f64(),
    );
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
