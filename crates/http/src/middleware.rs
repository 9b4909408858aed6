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

/// A request's id, in its extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

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

fn usable_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= MAX_REQUEST_ID
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    ok.then(|| text.to_owned())
}

fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Gives the request an id, in its extensions, in a tracing span around its handling, and
/// on the answer.
pub(crate) async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request.headers().get(&REQUEST_ID).and_then(usable_id).unwrap_or_else(new_id);
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::debug_span!(target: "btcr::http", "request", id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

/// Headers that keep a browser from misreading an answer or framing a page: no MIME
/// sniffing, no referrer sent from the portal, no framing by other sites; the portal's page
/// loads only what this node serves.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
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
    response
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

/// CORS: answers preflight requests and marks answers to allowed origins; a browser page
/// from any other origin cannot read the answers.
pub(crate) async fn cors(State(layers): State<Layers>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let Some(origin) = origin else { return next.run(request).await };
    let allowed = origin.to_str().is_ok_and(|o| origin_allowed(&layers.cors_origins, o));
    let mut headers = HeaderMap::new();
    if allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("origin"));
    }
    if request.method() == Method::OPTIONS {
        if !allowed {
            return StatusCode::FORBIDDEN.into_response();
        }
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
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        response.headers_mut().extend(headers);
        return response;
    }
    let mut response = next.run(request).await;
    response.headers_mut().extend(headers);
    response
}

/// Takes a place among the server's connections, or answers 503 when none is left. Every
/// request holds one until it is answered (a WebSocket session, for as long as it lasts).
pub(crate) async fn permit(
    State(layers): State<Layers>,
    mut request: Request,
    next: Next,
) -> Response {
    let Ok(permit) = layers.connections.clone().try_acquire_owned() else {
        return too_many_connections(&request, layers.max_connections);
    };
    request.extensions_mut().insert(ConnectionPermit(Arc::new(permit)));
    next.run(request).await
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
pub(crate) async fn authenticate(
    State(layers): State<Layers>,
    request: Request,
    next: Next,
) -> Response {
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
        assert_eq!(usable_id(&HeaderValue::from_static("abc-123_x.y")), Some("abc-123_x.y".into()));
        assert_eq!(usable_id(&HeaderValue::from_static("")), None);
        assert_eq!(usable_id(&HeaderValue::from_static("a b")), None);
        let long = "a".repeat(65);
        assert_eq!(usable_id(&HeaderValue::from_str(&long).unwrap()), None);
        assert_eq!(new_id().len(), 16);
    }
}
