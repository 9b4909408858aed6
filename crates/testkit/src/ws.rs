//! A blocking WebSocket JSON-RPC client for tests, and a raw HTTP exchange for checking
//! status codes and headers.

use std::{
    collections::VecDeque,
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use eyre::{WrapErr, bail, eyre};
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

use crate::rpc::RpcErrorObject;

/// One WebSocket connection to a node.
pub struct WsClient {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Subscription notifications that arrived while waiting for a response.
    notifications: VecDeque<Value>,
}

impl WsClient {
    /// Connects to `url` (`ws://host:port`).
    pub fn connect(url: &str) -> eyre::Result<Self> {
        let (socket, _) =
            tungstenite::connect(url).wrap_err_with(|| format!("connecting to {url}"))?;
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(Duration::from_secs(20)))?;
            stream.set_nodelay(true)?;
        }
        Ok(Self { socket, next_id: 1, notifications: VecDeque::new() })
    }

    /// Sends a raw text message.
    pub fn send_text(&mut self, text: String) -> eyre::Result<()> {
        self.socket.send(Message::text(text)).wrap_err("sending")
    }

    /// Reads the next JSON message, whatever it is.
    pub fn read(&mut self) -> eyre::Result<Value> {
        loop {
            match self.socket.read().wrap_err("reading")? {
                Message::Text(text) => return serde_json::from_str(&text).wrap_err("JSON"),
                Message::Binary(bytes) => return serde_json::from_slice(&bytes).wrap_err("JSON"),
                Message::Close(frame) => bail!("connection closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Calls `method` and waits for its response; the error of a JSON-RPC error response is
    /// an [`RpcErrorObject`].
    pub fn call(&mut self, method: &str, params: Value) -> eyre::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_text(request.to_string())?;
        loop {
            let message = self.read()?;
            if message.get("method").is_some_and(|m| m == "eth_subscription") {
                self.notifications.push_back(message);
                continue;
            }
            if message["id"] != json!(id) {
                bail!("unexpected message {message}");
            }
            if let Some(error) = message.get("error") {
                return Err(RpcErrorObject {
                    code: error["code"].as_i64().unwrap_or_default(),
                    message: error["message"].as_str().unwrap_or_default().to_owned(),
                }
                .into());
            }
            return message.get("result").cloned().ok_or_else(|| eyre!("no result: {message}"));
        }
    }

    /// Subscribes and returns the subscription id.
    pub fn subscribe(&mut self, params: Value) -> eyre::Result<String> {
        let id = self.call("eth_subscribe", params)?;
        id.as_str().map(str::to_owned).ok_or_else(|| eyre!("subscription id {id}"))
    }

    /// The next notification of subscription `id` (others are kept for later), waiting up
    /// to `timeout`.
    pub fn notification(&mut self, id: &str, timeout: Duration) -> eyre::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) =
                self.notifications.iter().position(|n| n["params"]["subscription"] == id)
            {
                let n = self.notifications.remove(at).expect("found");
                return Ok(n["params"]["result"].clone());
            }
            if Instant::now() > deadline {
                bail!("no notification for subscription {id} within {timeout:?}");
            }
            let message = self.read()?;
            if message.get("method").is_some_and(|m| m == "eth_subscription") {
                self.notifications.push_back(message);
            }
        }
    }
}

/// What [`raw_http`] got back.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl HttpResponse {
    /// The value of header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A raw HTTP/1.1 exchange, for checking status codes and headers.
pub fn raw_http(
    addr: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> eyre::Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr).wrap_err_with(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut request = format!("{method} / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| eyre!("no status line in {response:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(HttpResponse { status, headers, body: body.to_owned() })
}
