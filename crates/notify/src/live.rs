//! The portal's live notifications: a WebSocket at [`LIVE_PATH`] that pushes each new
//! notification of the signed-in user as it is written.
//!
//! ```text
//!  client ──upgrade──▶ /api/v1/me/notifications/live
//!  client ──{"accessToken": "…"}──▶ (within 10 s; a browser cannot send a header here)
//!         ◀──{"type": "ready", "unread": N, "latest": id}
//!         ◀──{"type": "notification", "notification": {…}} … {"type": "unread", "unread": N}
//!         ◀──close 4401 when the token expires (the client comes back with a fresh one)
//! ```
//!
//! The consumer that writes a user's notifications wakes their connections in this process
//! (a broadcast of user ids); connections also look every 2 s, for what another process
//! (the node, seen from a `btcr api` replica) wrote. Each look reads the rows after the last
//! one sent, so nothing is pushed twice or skipped. Bounds: [`MAX_LIVE_PER_USER`]
//! connections per user, client messages of 4 KiB, 100 notifications per look, 5 s to take
//! each message out (a client that reads nothing is dropped), and the server's connection
//! limit, which each connection holds a place in for its life.

use std::{collections::HashMap, time::Duration};

use axum::{
    Extension, Router,
    extract::{
        State,
        ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade},
    },
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use btcr_accounts::Accounts;
use btcr_http::{ConnectionPermit, RequestOrigin};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::{Notify, http::NotifyState};

/// Where the portal opens its live connection.
pub const LIVE_PATH: &str = "/api/v1/me/notifications/live";
/// Live connections one user may hold at once (tabs, devices).
pub const MAX_LIVE_PER_USER: usize = 5;
/// How long a new connection has to send its token.
pub const AUTH_WITHIN: Duration = Duration::from_secs(10);
/// The largest message a client may send.
const MAX_CLIENT_MESSAGE: usize = 4096;
/// How often a connection looks for notifications another process wrote.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// Notifications sent per look (the rest follow at the next).
const PER_LOOK: i64 = 100;
/// How long one message may take to go out before the client is given up on.
const SEND_WITHIN: Duration = Duration::from_secs(5);
/// Close codes (the 4000s are the application's).
const UNAUTHORIZED: u16 = 4401;
const TOO_MANY: u16 = 4429;
const FAILED: u16 = 4500;

/// Live connections per user, in this process.
#[derive(Debug, Default)]
pub(crate) struct LiveCounts(Mutex<HashMap<i64, usize>>);

/// A user's place among the live connections, given back when dropped.
struct LivePlace<'a> {
    counts: &'a LiveCounts,
    user: i64,
}

impl LiveCounts {
    fn take(&self, user: i64) -> Option<LivePlace<'_>> {
        let mut counts = self.0.lock();
        let count = counts.entry(user).or_default();
        if *count >= MAX_LIVE_PER_USER {
            return None;
        }
        *count += 1;
        Some(LivePlace { counts: self, user })
    }
}

impl Drop for LivePlace<'_> {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock();
        if let Some(count) = counts.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

/// The first message.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Hello {
    access_token: String,
}

/// The live route (not in the OpenAPI document, which cannot describe a WebSocket).
pub(crate) fn routes() -> Router<NotifyState> {
    Router::new().route(LIVE_PATH, get(live))
}

async fn live(
    State(state): State<NotifyState>,
    Extension(permit): Extension<ConnectionPermit>,
    Extension(origin): Extension<RequestOrigin>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Browsers send no preflight for a WebSocket: a page of another site may not open one.
    if !origin.may_proceed() {
        return (StatusCode::FORBIDDEN, "this origin is not allowed").into_response();
    }
    upgrade.max_message_size(MAX_CLIENT_MESSAGE).max_frame_size(MAX_CLIENT_MESSAGE).on_upgrade(
        move |socket| async move {
            // The connection keeps its place among the server's for its life.
            let _permit = permit;
            serve(socket, state.notify, state.accounts).await;
        },
    )
}

fn close(code: u16, reason: &str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame { code, reason: reason.to_owned().into() }))
}

async fn send(socket: &mut WebSocket, message: WsMessage) -> bool {
    matches!(tokio::time::timeout(SEND_WITHIN, socket.send(message)).await, Ok(Ok(())))
}

/// Who the first message says the client is: their id and when their token expires (Unix
/// seconds), or the close frame that refuses them.
async fn authenticate(
    socket: &mut WebSocket,
    accounts: &Accounts,
) -> Result<(i64, u64), WsMessage> {
    let first = match tokio::time::timeout(AUTH_WITHIN, socket.recv()).await {
        Err(_) => return Err(close(UNAUTHORIZED, "send {\"accessToken\": …} first")),
        Ok(Some(Ok(WsMessage::Text(text)))) => text,
        Ok(_) => return Err(close(UNAUTHORIZED, "the first message must be the access token")),
    };
    let hello: Hello = serde_json::from_str(first.as_str())
        .map_err(|_| close(UNAUTHORIZED, "the first message is {\"accessToken\": \"…\"}"))?;
    let claims = accounts
        .check_access(&hello.access_token)
        .map_err(|e| close(UNAUTHORIZED, &format!("invalid token: {e}")))?;
    let user = claims.sub.parse().map_err(|_| close(UNAUTHORIZED, "invalid token"))?;
    Ok((user, claims.exp))
}

async fn serve(mut socket: WebSocket, notify: Notify, accounts: Accounts) {
    let (user, expires) = match authenticate(&mut socket, &accounts).await {
        Ok(who) => who,
        Err(refusal) => {
            let _ = send(&mut socket, refusal).await;
            return;
        }
    };
    let Some(_place) = notify.inner.live_counts.take(user) else {
        let why = format!("at most {MAX_LIVE_PER_USER} live connections per user");
        let _ = send(&mut socket, close(TOO_MANY, &why)).await;
        return;
    };
    let mut wakes = notify.inner.live.subscribe();
    let ready = match notify.notifications(user, None, 1).await {
        Ok(page) => page,
        Err(e) => {
            tracing::warn!(target: "btcr::notify", error = %e, "a live connection could not start");
            let _ = send(&mut socket, close(FAILED, "the notifications service failed")).await;
            return;
        }
    };
    let mut latest = ready.notifications.first().map_or(0, |n| n.id);
    let hello = json!({"type": "ready", "unread": ready.unread, "latest": latest});
    if !send(&mut socket, WsMessage::Text(hello.to_string().into())).await {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let expiry = tokio::time::sleep(Duration::from_secs(expires.saturating_sub(now)));
    tokio::pin!(expiry);
    let mut looks = tokio::time::interval(LOOK_EVERY);
    loop {
        let look = tokio::select! {
            _ = &mut expiry => {
                let _ = send(&mut socket, close(UNAUTHORIZED, "token expired")).await;
                return;
            }
            incoming = socket.recv() => match incoming {
                // What a client says after its token is not read (pings are answered below
                // the socket); a message over the bound, or a close, ends the connection.
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => false,
            },
            woken = wakes.recv() => match woken {
                Ok(id) => id == user,
                Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return,
            },
            _ = looks.tick() => true,
        };
        if !look {
            continue;
        }
        let fresh = match notify.notifications_after(user, latest, PER_LOOK).await {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::warn!(target: "btcr::notify", error = %e, "a live look failed");
                continue;
            }
        };
        if fresh.is_empty() {
            continue;
        }
        for notification in &fresh {
            latest = latest.max(notification.id);
            let message = json!({"type": "notification", "notification": notification});
            if !send(&mut socket, WsMessage::Text(message.to_string().into())).await {
                return;
            }
        }
        let unread = notify.notifications(user, None, 1).await.map(|p| p.unread);
        if let Ok(unread) = unread {
            let message: Value = json!({"type": "unread", "unread": unread});
            if !send(&mut socket, WsMessage::Text(message.to_string().into())).await {
                return;
            }
        }
    }
}
