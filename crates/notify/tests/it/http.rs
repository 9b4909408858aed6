//! The REST routes as the HTTP server calls them, with what an attacker would send.

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use btcr_accounts::{LoginOutcome, Scope};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use btcr_testkit::WebhookReceiver as Receiver;

use crate::{Backend, PASSWORD, chain::dev, meta};

fn app(b: &Backend) -> Router {
    btcr_notify::http::router(b.notify.clone(), b.accounts.clone())
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> eyre::Result<(StatusCode, Value)> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))?,
        None => request.body(Body::empty())?,
    };
    let response = app.clone().oneshot(request).await?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
    let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes)? };
    Ok((status, value))
}

async fn token(b: &Backend, email: &str) -> eyre::Result<String> {
    match b.accounts.login(email, PASSWORD, &meta()).await? {
        LoginOutcome::Signed(_, pair) => Ok(pair.access_token),
        _ => eyre::bail!("a second factor was asked"),
    }
}

/// The API's error shape, with its code.
fn refused(answer: &(StatusCode, Value), status: StatusCode) -> String {
    assert_eq!(answer.0, status, "{:?}", answer.1);
    answer.1["error"]["message"].as_str().expect("the API's error shape").to_owned()
}

async fn a_user_manages_webhooks_and_reads_the_delivery_log(b: Backend) -> eyre::Result<()> {
    let receiver = Receiver::start()?;
    let app = app(&b);
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let t = token(&b, "alice@example.com").await?;
    let t = Some(t.as_str());
    let (status, created) = call(
        &app,
        Method::POST,
        "/api/v1/me/webhooks",
        t,
        Some(json!({"url": receiver.url(), "description": "ops"})),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let id = created["endpoint"]["id"].as_i64().unwrap();
    let (status, sub) = call(&app, Method::POST, "/api/v1/me/subscriptions", t, Some(json!({"address": format!("{:#x}", dev(1)), "kinds": ["transfer.in", "transfer.in"], "channel": "webhook", "endpointId": id}))).await?;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    assert_eq!(sub["kinds"], json!(["transfer.in"]));
    let (status, list) = call(&app, Method::GET, "/api/v1/me/subscriptions", t, None).await?;
    assert_eq!((status, list.as_array().unwrap().len()), (StatusCode::OK, 1));
    let (status, queued) =
        call(&app, Method::POST, &format!("/api/v1/me/webhooks/{id}/test"), t, None).await?;
    assert_eq!(status, StatusCode::ACCEPTED);
    b.deliver().await?;
    let got = receiver.accepted();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, queued["messageId"].as_str().unwrap());
    assert_eq!(got[0].json()["type"], "webhook.test");
    let (status, messages) =
        call(&app, Method::GET, &format!("/api/v1/me/webhooks/{id}/messages?limit=5"), t, None)
            .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(messages[0]["state"], "delivered");
    assert_eq!(messages[0]["log"][0]["status"], 200);
    let message = messages[0]["messageId"].as_str().unwrap();
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/me/webhooks/{id}/messages/{message}/replay"),
        t,
        None,
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED);
    b.deliver().await?;
    assert_eq!(receiver.accepted().len(), 2);
    assert_eq!(receiver.accepted()[1].id, message);
    let (status, rotated) =
        call(&app, Method::POST, &format!("/api/v1/me/webhooks/{id}/secret"), t, None).await?;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(rotated["secret"], created["secret"]);
    let (status, endpoint) =
        call(&app, Method::POST, &format!("/api/v1/me/webhooks/{id}/enable"), t, None).await?;
    assert_eq!((status, endpoint["disabledMs"].clone()), (StatusCode::OK, Value::Null));
    let (status, page) = call(&app, Method::GET, "/api/v1/me/notifications", t, None).await?;
    assert_eq!((status, page["unread"].as_i64()), (StatusCode::OK, Some(0)));
    let (status, marked) =
        call(&app, Method::POST, "/api/v1/me/notifications/read", t, Some(json!({"upTo": 10})))
            .await?;
    assert_eq!((status, marked["marked"].as_u64()), (StatusCode::OK, Some(0)));
    let (status, _) =
        call(&app, Method::DELETE, &format!("/api/v1/me/subscriptions/{}", sub["id"]), t, None)
            .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) =
        call(&app, Method::DELETE, &format!("/api/v1/me/webhooks/{id}"), t, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) =
        call(&app, Method::GET, &format!("/api/v1/me/webhooks/{id}"), t, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let _ = alice;
    Ok(())
}

async fn hostile_requests_are_refused_clearly(b: Backend) -> eyre::Result<()> {
    let receiver = Receiver::start()?;
    let app = app(&b);
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let bob = b.user("bob@example.com", &[]).await?;
    let access = token(&b, "alice@example.com").await?;
    let t = Some(access.as_str());
    let bobs = b.notify.create_endpoint(bob, &receiver.url(), "").await?.endpoint.id;
    let (_, read_key) = b.accounts.create_api_key(alice, "reader", &[Scope::Read], &meta()).await?;
    let (_, write_key) =
        b.accounts.create_api_key(alice, "writer", &[Scope::Write], &meta()).await?;
    let hook = json!({"url": receiver.url()});

    // Who may call.
    let a = call(&app, Method::GET, "/api/v1/me/webhooks", None, None).await?;
    refused(&a, StatusCode::UNAUTHORIZED);
    let a = call(&app, Method::GET, "/api/v1/me/webhooks", Some("forged.jwt.token"), None).await?;
    refused(&a, StatusCode::UNAUTHORIZED);
    let a = call(&app, Method::POST, "/api/v1/me/webhooks", Some(&read_key), Some(hook.clone()))
        .await?;
    assert!(refused(&a, StatusCode::FORBIDDEN).contains("write"));
    let a = call(&app, Method::GET, "/api/v1/me/webhooks", Some(&read_key), None).await?;
    assert_eq!(a.0, StatusCode::OK);
    let a = call(&app, Method::POST, "/api/v1/me/webhooks", Some(&write_key), Some(hook.clone()))
        .await?;
    assert_eq!(a.0, StatusCode::CREATED);
    // Another user's endpoint, by every route.
    for (method, path) in [
        (Method::GET, format!("/api/v1/me/webhooks/{bobs}")),
        (Method::DELETE, format!("/api/v1/me/webhooks/{bobs}")),
        (Method::POST, format!("/api/v1/me/webhooks/{bobs}/secret")),
        (Method::POST, format!("/api/v1/me/webhooks/{bobs}/enable")),
        (Method::POST, format!("/api/v1/me/webhooks/{bobs}/test")),
        (Method::GET, format!("/api/v1/me/webhooks/{bobs}/messages")),
        (Method::POST, format!("/api/v1/me/webhooks/{bobs}/messages/msg_x/replay")),
        (Method::DELETE, "/api/v1/me/subscriptions/999999".to_owned()),
    ] {
        let a = call(&app, method.clone(), &path, t, None).await?;
        refused(&a, StatusCode::NOT_FOUND);
    }
    // Malformed ids, queries and bodies.
    let a = call(&app, Method::GET, "/api/v1/me/webhooks/abc", t, None).await?;
    assert!(refused(&a, StatusCode::BAD_REQUEST).contains("not an id"));
    for query in ["limit=0", "limit=101", "limit=abc", "before=x", "other=1", "limit=1&limit=2"] {
        let a =
            call(&app, Method::GET, &format!("/api/v1/me/notifications?{query}"), t, None).await?;
        refused(&a, StatusCode::BAD_REQUEST);
    }
    for body in [
        json!({"url": receiver.url(), "secret": "mine"}),
        json!({"url": "ftp://example.com/"}),
        json!({"url": 7}),
        json!({}),
    ] {
        let a = call(&app, Method::POST, "/api/v1/me/webhooks", t, Some(body)).await?;
        refused(&a, StatusCode::BAD_REQUEST);
    }
    for body in [
        json!({"kinds": ["transfer.sideways"], "channel": "portal"}),
        json!({"kinds": ["transfer.in"], "channel": "sms"}),
        json!({"kinds": "transfer.in", "channel": "portal"}),
        json!({"kinds": ["transfer.in"], "channel": "portal", "extra": true}),
    ] {
        let a = call(&app, Method::POST, "/api/v1/me/subscriptions", t, Some(body)).await?;
        refused(&a, StatusCode::BAD_REQUEST);
    }
    let request = Request::post("/api/v1/me/webhooks")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(hook.to_string()))?;
    assert_eq!(app.clone().oneshot(request).await?.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({"url": receiver.url(), "description": "d".repeat(3 << 20)});
    let a = call(&app, Method::POST, "/api/v1/me/webhooks", t, Some(huge)).await?;
    refused(&a, StatusCode::PAYLOAD_TOO_LARGE);
    // Too many endpoints.
    for _ in 1..btcr_notify::MAX_ENDPOINTS {
        call(&app, Method::POST, "/api/v1/me/webhooks", t, Some(hook.clone())).await?;
    }
    let a = call(&app, Method::POST, "/api/v1/me/webhooks", t, Some(hook.clone())).await?;
    assert!(refused(&a, StatusCode::CONFLICT).contains("10 webhook endpoints"));
    // Still serving.
    let a = call(&app, Method::GET, "/api/v1/me/webhooks", t, None).await?;
    assert_eq!((a.0, a.1.as_array().unwrap().len()), (StatusCode::OK, btcr_notify::MAX_ENDPOINTS));
    Ok(())
}

btcr_testkit::on_both_databases!(crate::open; a_user_manages_webhooks_and_reads_the_delivery_log, hostile_requests_are_refused_clearly);
