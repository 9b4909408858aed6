//! A minimal HTTP/1.1 keep-alive connection for load generation: one TCP connection, one
//! request at a time, no thread or allocation per request beyond the bodies. The general
//! client ([`crate::RpcClient`]) resolves names and applies timeouts per request, which costs
//! more than the node's own work when a benchmark sends tens of thousands of requests.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    time::Duration,
};

use eyre::{WrapErr, bail, eyre};
use serde_json::Value;

/// One keep-alive connection to a JSON-RPC endpoint (`http://host:port`, plain HTTP).
pub struct HttpConnection {
    host: String,
    reader: BufReader<TcpStream>,
    request: Vec<u8>,
    line: String,
}

impl HttpConnection {
    /// Connects to `url`.
    pub fn connect(url: &str) -> eyre::Result<Self> {
        let host = url
            .strip_prefix("http://")
            .ok_or_else(|| eyre!("{url}: only http:// URLs are supported"))?
            .trim_end_matches('/')
            .to_owned();
        let stream = TcpStream::connect(&host).wrap_err_with(|| format!("connecting to {host}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Self {
            host,
            reader: BufReader::with_capacity(64 * 1024, stream),
            request: Vec::new(),
            line: String::new(),
        })
    }

    /// POSTs a JSON body and returns the JSON answer.
    pub fn post(&mut self, body: &Value) -> eyre::Result<Value> {
        let body = serde_json::to_vec(body)?;
        self.post_bytes(&body)
    }

    /// POSTs raw JSON bytes and returns the JSON answer.
    pub fn post_bytes(&mut self, body: &[u8]) -> eyre::Result<Value> {
        self.request.clear();
        write!(
            self.request,
            "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.host,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.reader.get_mut().write_all(&self.request).wrap_err("sending request")?;
        let body = self.read_response()?;
        serde_json::from_slice(&body).wrap_err("response is not JSON")
    }

    fn read_response(&mut self) -> eyre::Result<Vec<u8>> {
        let status = self.next_line()?;
        let code = status
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| eyre!("bad status line {status:?}"))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            let line = self.next_line()?;
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.parse::<usize>().wrap_err("content-length")?);
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let size = usize::from_str_radix(
                    self.next_line()?.split(';').next().unwrap_or_default().trim(),
                    16,
                )
                .wrap_err("chunk size")?;
                let start = body.len();
                body.resize(start + size, 0);
                self.reader.read_exact(&mut body[start..])?;
                self.next_line()?;
                if size == 0 {
                    break;
                }
            }
        } else {
            let length = length.ok_or_else(|| eyre!("response without a length"))?;
            body.resize(length, 0);
            self.reader.read_exact(&mut body)?;
        }
        if code != 200 {
            bail!("HTTP {code}: {}", String::from_utf8_lossy(&body));
        }
        Ok(body)
    }

    /// The next header line without its line ending.
    fn next_line(&mut self) -> eyre::Result<String> {
        self.line.clear();
        if self.reader.read_line(&mut self.line)? == 0 {
            bail!("connection closed by the server");
        }
        Ok(self.line.trim_end_matches(['\r', '\n']).to_owned())
    }
}
