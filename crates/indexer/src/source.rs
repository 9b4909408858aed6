//! The node's block stream, read over HTTP/1.1: `GET /api/v1/blocks/stream?from=N` on the
//! node's address, its body cut into frames (`btcr_primitives::StreamFrame`).

use std::time::Duration;

use btcr_primitives::StreamFrame;
use bytes::{Buf as _, BytesMut};
use http_body_util::{BodyExt as _, Empty};
use hyper::{Request, Uri, body::Incoming, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::IndexerError;

/// How long a frame may take to arrive (the node says where its head is every 5 s while it
/// has no block to send); past it the stream is taken for dead.
pub const FRAME_WITHIN: Duration = Duration::from_secs(20);
/// How long connecting and the answer's head may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);
/// Bytes of an error answer kept.
const ERROR_KEPT: usize = 4096;

/// An open stream.
#[derive(Debug)]
pub struct BlockStream {
    body: Incoming,
    buffer: BytesMut,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for BlockStream {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// `http://host:port` (an optional path prefix is kept) as what a request needs.
fn parse_node_url(url: &str) -> Result<(String, String), IndexerError> {
    let invalid = |why: &str| IndexerError::Invalid(format!("the node URL {url:?}: {why}"));
    let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid("only http:// is supported (a node on the indexer's network)"));
    }
    let authority = uri.authority().ok_or_else(|| invalid("no host"))?.to_string();
    if authority.contains('@') {
        return Err(invalid("no user name or password"));
    }
    let authority = if uri.port_u16().is_some() { authority } else { format!("{authority}:80") };
    Ok((authority, uri.path().trim_end_matches('/').to_owned()))
}

impl BlockStream {
    /// Opens the stream of `node_url` from block `from` (to block `to`, if given).
    pub async fn open(node_url: &str, from: u64, to: Option<u64>) -> Result<Self, IndexerError> {
        let (authority, prefix) = parse_node_url(node_url)?;
        let mut path = format!("{prefix}/api/v1/blocks/stream?from={from}");
        if let Some(to) = to {
            path.push_str(&format!("&to={to}"));
        }
        let opened = tokio::time::timeout(CONNECT_WITHIN, async {
            let stream = TcpStream::connect(&authority)
                .await
                .map_err(|e| IndexerError::Stream(format!("connecting to {authority}: {e}")))?;
            let _ = stream.set_nodelay(true);
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| IndexerError::Stream(format!("HTTP with {authority}: {e}")))?;
            let connection = tokio::spawn(async move {
                let _ = connection.await;
            });
            let request = Request::get(path.as_str())
                .header(header::HOST, authority.as_str())
                .header(header::USER_AGENT, concat!("btcr-indexer/", env!("CARGO_PKG_VERSION")))
                .body(Empty::<bytes::Bytes>::new())
                .map_err(|e| IndexerError::Invalid(format!("the request: {e}")))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| IndexerError::Stream(format!("asking {authority}: {e}")))?;
            Ok::<_, IndexerError>((response, connection))
        })
        .await
        .map_err(|_| IndexerError::Stream(format!("{authority} did not answer within 10 s")))??;
        let (response, connection) = opened;
        let status = response.status();
        let mut body = response.into_body();
        if !status.is_success() {
            let mut kept = Vec::new();
            while kept.len() < ERROR_KEPT {
                match tokio::time::timeout(FRAME_WITHIN, body.frame()).await {
                    Ok(Some(Ok(frame))) => {
                        if let Some(data) = frame.data_ref() {
                            kept.extend_from_slice(
                                &data[..data.len().min(ERROR_KEPT - kept.len())],
                            );
                        }
                    }
                    _ => break,
                }
            }
            connection.abort();
            return Err(IndexerError::Stream(format!(
                "the node answered {status}: {}",
                String::from_utf8_lossy(&kept)
            )));
        }
        Ok(Self { body, buffer: BytesMut::new(), connection })
    }

    /// The next frame; `None` when the node ended the stream (after `to`, or going away).
    pub async fn next(&mut self) -> Result<Option<StreamFrame>, IndexerError> {
        if !self.fill(4).await? {
            return Ok(None);
        }
        let prefix: [u8; 4] = self.buffer[..4].try_into().expect("four bytes are buffered");
        let length =
            StreamFrame::length(prefix).map_err(|e| IndexerError::Stream(e.to_string()))?;
        if !self.fill(4 + length).await? {
            return Err(IndexerError::Stream("the stream ended inside a frame".into()));
        }
        self.buffer.advance(4);
        let body = self.buffer.split_to(length);
        StreamFrame::decode(&body).map(Some).map_err(|e| IndexerError::Stream(e.to_string()))
    }

    /// Reads until `n` bytes are buffered; `false` at the end of the stream with fewer.
    async fn fill(&mut self, n: usize) -> Result<bool, IndexerError> {
        while self.buffer.len() < n {
            match tokio::time::timeout(FRAME_WITHIN, self.body.frame()).await {
                Err(_) => {
                    return Err(IndexerError::Stream(format!(
                        "nothing from the node for {} s",
                        FRAME_WITHIN.as_secs()
                    )));
                }
                Ok(None) => return Ok(false),
                Ok(Some(Err(e))) => return Err(IndexerError::Stream(format!("reading: {e}"))),
                Ok(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        self.buffer.extend_from_slice(data);
                    }
                }
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_urls_are_checked() {
        assert_eq!(
            parse_node_url("http://127.0.0.1:8545").unwrap(),
            ("127.0.0.1:8545".into(), String::new())
        );
        assert_eq!(
            parse_node_url("http://node.internal/btcr/").unwrap(),
            ("node.internal:80".into(), "/btcr".into())
        );
        for bad in ["https://node:8545", "node:8545", "http://user:pw@node:1", ""] {
            assert!(parse_node_url(bad).is_err(), "{bad}");
        }
    }
}
