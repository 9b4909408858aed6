//! The webhook client: one HTTP/1.1 `POST` to an address [`Target::resolve`] checked, over
//! TLS (the Web PKI's roots) for `https`. It never follows a redirect (a 3xx is a failed
//! attempt), gives up after the configured timeout (connecting, the exchange and the answer
//! together), and keeps at most [`MAX_RESPONSE_KEPT`] bytes of the answer, reading no more
//! than that.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, header};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, rustls};

use crate::target::Target;

/// Bytes of an answer's body kept in the delivery log.
pub const MAX_RESPONSE_KEPT: usize = 1024;

/// What an attempt got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The start of the body (lossy UTF-8).
    pub body: String,
}

/// Sends webhook requests.
#[derive(Clone)]
pub struct WebhookClient {
    tls: TlsConnector,
    allow_private: bool,
    timeout: Duration,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookClient")
            .field("allow_private", &self.allow_private)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl WebhookClient {
    /// A client that reaches private addresses only when `allow_private`, and gives each
    /// request `timeout`.
    pub fn new(allow_private: bool, timeout: Duration) -> Self {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        Self { tls: TlsConnector::from(Arc::new(config)), allow_private, timeout }
    }

    /// Whether private targets are allowed.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Posts `body` with `headers` to `target`; an error says why no answer came.
    pub async fn post(
        &self,
        target: &Target,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<Answer, String> {
        match tokio::time::timeout(self.timeout, self.exchange(target, headers, body)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} s", self.timeout.as_secs_f32())),
        }
    }

    async fn exchange(
        &self,
        target: &Target,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<Answer, String> {
        let addresses = target.resolve(self.allow_private).await.map_err(|e| e.to_string())?;
        let mut last_error = String::new();
        let mut stream = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last_error = format!("connecting to {address}: {e}"),
            }
        }
        let stream = stream.ok_or(last_error)?;
        let _ = stream.set_nodelay(true);
        let request = build_request(target, headers, body)?;
        if target.tls {
            let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                .map_err(|_| format!("{} is not a name TLS can check", target.host))?;
            let stream = self
                .tls
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS with {}: {e}", target.host))?;
            send(stream, request).await
        } else {
            send(stream, request).await
        }
    }
}

fn build_request(
    target: &Target,
    headers: &[(&'static str, String)],
    body: Bytes,
) -> Result<Request<Full<Bytes>>, String> {
    let default_port = if target.tls { 443 } else { 80 };
    let host = match (target.host.contains(':'), target.port == default_port) {
        (true, true) => format!("[{}]", target.host),
        (true, false) => format!("[{}]:{}", target.host, target.port),
        (false, true) => target.host.clone(),
        (false, false) => format!("{}:{}", target.host, target.port),
    };
    let mut builder = Request::post(target.path.as_str())
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, concat!("btcr-webhooks/", env!("CARGO_PKG_VERSION")))
        .header(header::CONNECTION, "close");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(Full::new(body)).map_err(|e| format!("building the request: {e}"))
}

async fn send<S>(stream: S, request: Request<Full<Bytes>>) -> Result<Answer, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let connection = tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(|e| format!("sending: {e}"));
    let result = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let mut body = response.into_body();
            let mut kept = Vec::new();
            // Read only what is kept: a receiver that streams forever costs nothing more.
            while kept.len() < MAX_RESPONSE_KEPT {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            let room = MAX_RESPONSE_KEPT - kept.len();
                            kept.extend_from_slice(&data[..data.len().min(room)]);
                        }
                    }
                    // A body cut short still gave its status.
                    Some(Err(_)) | None => break,
                }
            }
            Ok(Answer { status, body: String::from_utf8_lossy(&kept).into_owned() })
        }
        Err(e) => Err(e),
    };
    connection.abort();
    result
}
