//! What every request passes through: a request id, security headers, CORS, a connection
//! permit, and the authentication hook.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::{ApiError, Authenticator};

/// The request id header, set on every answer (taken from the request when it carries a
/// usable one, so that a client's id follows its request through the logs).
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The longest request id taken from a client.
const MAX_REQUEST_ID: usize = 64;

/// A request's id, in its extensions (ASCII letters, digits, `-`, `_` and `.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub HeaderValue);

/// Where a request says it comes from, in its extensions: whether it names an `Origin` (a
/// browser page's request does), and whether `--rpc.cors` allows that origin. A handler
/// that a page could reach without a preflight (a WebSocket upgrade) refuses a named origin
/// that is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOrigin {
    /// No `Origin` header: not a browser page (a command-line or server client).
    None,
    /// An origin the CORS list allows.
    Allowed,
    /// An origin the CORS list does not allow.
    Refused,
}

impl RequestOrigin {
    /// Whether a page from this origin may use what it asks for.
    pub fn may_proceed(self) -> bool {
        self != Self::Refused
    }
}

/// A place among the server's connections, in a request's extensions. Held until the
/// request is answered; a handler that keeps serving after its answer (a WebSocket
/// session) keeps a clone for as long as it does.
#[derive(Debug, Clone)]
pub struct ConnectionPermit(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

#[derive(Clone)]
pub(crate) struct Layers {
    pub(crate) cors_origins: Arc<Vec<String>>,
    pub(crate) connections: Arc<Semaphore>,
    pub(crate) max_connections: usize,
    pub(crate) authenticator: Option<Arc<dyn Authenticator>>,
}

fn usable_id(value: &HeaderValue) -> Option<HeaderValue> {
    let bytes = value.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| value.clone())
}

/// A fresh id: 16 hex digits.
fn new_id() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = rand::random::<u64>();
    let digits: [u8; 16] = std::array::from_fn(|i| HEX[((n >> (60 - 4 * i)) & 0xf) as usize]);
    HeaderValue::from_bytes(&digits).expect("hex digits are a valid header value")
}

/// What every request passes through, in one layer (one boxed future per request, not one
/// per step): it gets an id (in its extensions, in a tracing span around its handling, and
/// on the answer); a CORS preflight is answered here; it takes a place among the server's
/// connections or is refused with 503; the authenticator, if any, runs; and the answer gets
/// the security headers and, for an allowed origin, the CORS headers.
pub(crate) async fn every_request(
    State(layers): State<Layers>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = request.headers().get(&REQUEST_ID).and_then(usable_id).unwrap_or_else(new_id);
    let origin = request.headers().get(header::ORIGIN).cloned();
    let allowed = origin
        .as_ref()
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| origin_allowed(&layers.cors_origins, o));
    let mut response = if origin.is_some() && request.method() == Method::OPTIONS {
        preflight(allowed)
    } else {
        match layers.connections.clone().try_acquire_owned() {
            Err(_) => too_many_connections(&request, layers.max_connections),
            Ok(permit) => {
                request.extensions_mut().insert(ConnectionPermit(Arc::new(permit)));
                request.extensions_mut().insert(RequestId(id.clone()));
                let kind = match &origin {
                    None => RequestOrigin::None,
                    Some(_) if allowed => RequestOrigin::Allowed,
                    Some(o) if same_origin(o, request.headers().get(header::HOST)) => {
                        RequestOrigin::Allowed
                    }
                    Some(_) => RequestOrigin::Refused,
                };
                request.extensions_mut().insert(kind);
                let span = tracing::debug_span!(target: "btcr::http", "request", id = ?id, method = %request.method(), path = %request.uri().path());
                authenticate(&layers, request, next).instrument(span).await
            }
        }
    };
    let headers = response.headers_mut();
    security_headers(headers);
    if allowed && let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("origin"));
    }
    headers.insert(REQUEST_ID.clone(), id);
    response
}

/// Headers that keep a browser from misreading an answer or framing a page: no MIME
/// sniffing, no referrer sent from the portal, no framing by other sites; the portal's page
/// loads only what this node serves.
fn security_headers(headers: &mut HeaderMap) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; \
                 style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; \
                 frame-ancestors 'none'; form-action 'self'",
            ),
        );
    }
}

/// Whether `origin` is allowed by `allowed`: an exact match, `*`, or an allowed origin
/// without a port matching the same origin with any port.
pub fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    allowed.iter().any(|a| {
        a == "*"
            || a == origin
            || origin.strip_prefix(a.as_str()).is_some_and(|rest| {
                rest.strip_prefix(':').is_some_and(|port| {
                    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                })
            })
    })
}

/// Whether `origin` is this server as the client reached it (the portal's own page, opened
/// at whatever address the node listens on).
fn same_origin(origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), host.map(|h| h.to_str())) else {
        return false;
    };
    ["http://", "https://"].iter().any(|scheme| origin.strip_prefix(scheme) == Some(host))
}

/// The answer to a CORS preflight: the methods and headers allowed, for an allowed origin
/// (its own header is added with every answer's); 403 for any other.
fn preflight(allowed: bool) -> Response {
    if !allowed {
        return StatusCode::FORBIDDEN.into_response();
    }
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, authorization, x-request-id"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(Duration::from_secs(600).as_secs()),
    );
    response
}

/// The refusal when every place is taken: a JSON-RPC error for JSON-RPC (a POST to `/`),
/// the API error shape for anything else.
fn too_many_connections(request: &Request, max: usize) -> Response {
    let message = format!("too many connections (at most {max}); try again later");
    if request.uri().path() == "/" {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": -32005, "message": message },
        });
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json"), (header::RETRY_AFTER, "1")],
            body.to_string(),
        )
            .into_response();
    }
    ApiError::unavailable(message, 1).into_response()
}

/// Runs the authenticator, if one is installed: a principal goes into the request's
/// extensions; credentials that do not hold are answered 401.
async fn authenticate(layers: &Layers, request: Request, next: Next) -> Response {
    let Some(authenticator) = layers.authenticator.clone() else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    match authenticator.authenticate(&parts).await {
        Ok(Some(principal)) => {
            parts.extensions.insert(principal);
        }
        Ok(None) => {}
        Err(e) => return ApiError::from(e).into_response(),
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_or_with_any_port() {
        let allowed = crate::default_cors_origins();
        assert!(origin_allowed(&allowed, "http://localhost"));
        assert!(origin_allowed(&allowed, "http://localhost:5173"));
        assert!(origin_allowed(&allowed, "http://127.0.0.1:8545"));
        assert!(!origin_allowed(&allowed, "http://localhost.evil.example"));
        assert!(!origin_allowed(&allowed, "http://localhost:80x"));
        assert!(!origin_allowed(&allowed, "https://example.com"));
        assert!(origin_allowed(&["*".into()], "https://example.com"));
    }

    #[test]
    fn a_client_request_id_is_kept_only_when_short_and_plain() {
        let plain = HeaderValue::from_static("abc-123_x.y");
        assert_eq!(usable_id(&plain), Some(plain));
        assert_eq!(usable_id(&HeaderValue::from_static("")), None);
        assert_eq!(usable_id(&HeaderValue::from_static("a b")), None);
        let long = "a".repeat(65);
        assert_eq!(usable_id(&HeaderValue::from_str(&long).unwrap()), None);
        assert_eq!(new_id().len(), 16);
    }
}
