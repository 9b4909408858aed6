//! End-to-end tests: `btcr dev` runs as a separate process and is driven over JSON-RPC.

mod accounts;
mod crash;
mod db;
mod deploy;
mod erc20;
mod faults;
mod hostile;
mod indexer;
mod metrics;
mod network;
mod notify;
mod readme;
mod rejections;
mod rest;
mod rpc;
mod transfers;
mod wallet;
mod ws;

use std::path::Path;

/// The `btcr` binary under test.
pub fn btcr_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_btcr"))
}

/// Chain id of `btcr dev`.
pub const CHAIN_ID: u64 = 1337;

/// An answer as the bytes came: the status, the headers (names lowercase) and the body.
pub type RawAnswer = (u16, Vec<(String, String)>, String);

/// Sends `head` (request line and headers, without the blank line; `Host` and
/// `Connection: close` unless it names them) and `body` on a fresh connection. The body of
/// the answer is read as far as its `Content-Length` says (the connection may stay open), or
/// to the end; none when it switches protocols.
pub fn raw_request(url: &str, head: &str, body: &str) -> eyre::Result<RawAnswer> {
    use std::io::{BufRead, Read, Write};
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut more = String::new();
    if !head.contains("\r\nHost: ") {
        more.push_str(&format!("\r\nHost: {host}"));
    }
    if !head.contains("\r\nConnection: ") {
        more.push_str("\r\nConnection: close");
    }
    let written = write!(stream, "{head}{more}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    // A server may answer and close before reading a body it refuses (413): the answer is
    // still there to read.
    match written {
        Err(e) if matches!(e.kind(), std::io::ErrorKind::BrokenPipe) => {}
        other => other?,
    }
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line.split(' ').nth(1).unwrap_or("0").parse()?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let Some((name, value)) = line.trim_end().split_once(':') else { break };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    if status == 101 {
        return Ok((status, headers, String::new()));
    }
    let length = headers.iter().find(|(k, _)| k == "content-length").map(|(_, v)| v.parse());
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length?, 0);
            reader.read_exact(&mut body)?;
        }
        None => {
            reader.read_to_end(&mut body)?;
        }
    }
    Ok((status, headers, String::from_utf8(body)?))
}
