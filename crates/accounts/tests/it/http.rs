//! The REST routes, called as the HTTP server calls them, on each backend.

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::Backend;

const PASSWORD: &str = "correct horse battery staple";

/// The routes over `b`, with the statistics asking a node that is not there.
fn app(b: &Backend) -> Router {
    let nowhere = btcr_accounts::NodeClient::new("http://127.0.0.1:9");
    btcr_accounts::http::router(b.accounts.clone(), std::sync::Arc::new(nowhere))
}

/// `Authorization: Bearer <token>`, as a header list.
fn auth(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", bearer(token))]
}

fn refs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// One request: its status, headers and JSON body (`null` when empty).
async fn call(
    app: &Router,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> eyre::Result<(StatusCode, HeaderMap, Value)> {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))?,
        None => request.body(Body::empty())?,
    };
    let response = app.clone().oneshot(request).await?;
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await?;
    let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes)? };
    Ok((parts.status, parts.headers, value))
}

/// The refresh cookie a response sets, as `name=value`.
fn cookie(headers: &HeaderMap) -> String {
    let set = headers.get(header::SET_COOKIE).expect("a cookie").to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn login(app: &Router, email: &str) -> eyre::Result<(String, String)> {
    let (status, headers, body) = call(
        app,
        Method::POST,
        "/api/v1/auth/login",
        &[],
        Some(json!({ "email": email, "password": PASSWORD })),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok((body["accessToken"].as_str().unwrap().to_owned(), cookie(&headers)))
}

pub async fn the_auth_routes_sign_in_refresh_and_out_with_a_strict_cookie(
    b: Backend,
) -> eyre::Result<()> {
    let app = app(&b);
    let new = json!({ "email": "ann@example.org", "password": PASSWORD });
    let (status, _, user) =
        call(&app, Method::POST, "/api/v1/auth/register", &[], Some(new.clone())).await?;
    assert_eq!((status, user["email"].as_str()), (StatusCode::CREATED, Some("ann@example.org")));
    assert!(user.get("password_hash").is_none() && !user.to_string().contains("argon2"), "{user}");
    let (status, _, error) =
        call(&app, Method::POST, "/api/v1/auth/register", &[], Some(new)).await?;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["error"]["code"], "conflict");

    let (status, headers, body) = call(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        &[],
        Some(json!({ "email": "ann@example.org", "password": PASSWORD })),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let set = headers[header::SET_COOKIE].to_str()?;
    for part in
        ["btcr_refresh=btcr_rt_", "Path=/api/v1/auth", "HttpOnly", "Secure", "SameSite=Strict"]
    {
        assert!(set.contains(part), "{set}");
    }
    assert!(body.get("refreshToken").is_none(), "a browser never sees it: {body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let access = body["accessToken"].as_str().unwrap().to_owned();
    let first = cookie(&headers);

    let (status, _, me) =
        call(&app, Method::GET, "/api/v1/me", &[("authorization", &bearer(&access))], None).await?;
    assert_eq!(
        (status, me["email"].as_str(), me["totp"].as_bool()),
        (StatusCode::OK, Some("ann@example.org"), Some(false))
    );
    for auth in [
        None,
        Some("Bearer nonsense"),
        Some("Basic YW5uOnB3"),
        Some(&bearer(&format!("{access}x"))[..]),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let (status, _, error) = call(&app, Method::GET, "/api/v1/me", &headers, None).await?;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{auth:?}"
        );
    }

    // Refresh by cookie rotates the cookie; the old one again ends the session.
    let (status, headers, _) =
        call(&app, Method::POST, "/api/v1/auth/refresh", &[("cookie", &first)], Some(json!({})))
            .await?;
    assert_eq!(status, StatusCode::OK);
    let second = cookie(&headers);
    assert_ne!(first, second);
    let (status, _, error) =
        call(&app, Method::POST, "/api/v1/auth/refresh", &[("cookie", &first)], Some(json!({})))
            .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(error["error"]["message"].as_str().unwrap().contains("already used"), "{error}");
    let (status, _, _) =
        call(&app, Method::POST, "/api/v1/auth/refresh", &[("cookie", &second)], Some(json!({})))
            .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A client that is not a browser asks for the token in the body and sends it so.
    let (_, headers, body) = call(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        &[],
        Some(
            json!({ "email": "ann@example.org", "password": PASSWORD, "refreshTokenInBody": true }),
        ),
    )
    .await?;
    assert!(headers.get(header::SET_COOKIE).is_none());
    let token = body["refreshToken"].as_str().unwrap().to_owned();
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        &[],
        Some(json!({ "refreshToken": token })),
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    let token = body["refreshToken"].as_str().unwrap().to_owned();
    let (status, headers, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        &[],
        Some(json!({ "refreshToken": token })),
    )
    .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(headers[header::SET_COOKIE].to_str()?.contains("Max-Age=0"));
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        &[],
        Some(json!({ "refreshToken": token })),
    )
    .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // What a cross-site form or a careless client sends.
    let form = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(
            r#"{"email":"ann@example.org","password":"correct horse battery staple"}"#,
        ))?;
    assert_eq!(app.clone().oneshot(form).await?.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    for bad in [
        json!({ "email": "ann@example.org" }),
        json!({ "email": "ann@example.org", "password": PASSWORD, "role": "admin" }),
        json!([1, 2]),
    ] {
        let (status, _, error) =
            call(&app, Method::POST, "/api/v1/auth/register", &[], Some(bad.clone())).await?;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{bad}"
        );
    }
    let (status, _, _) =
        call(&app, Method::POST, "/api/v1/auth/refresh", &[], Some(json!({}))).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        &[],
        Some(json!({ "email": "ann@example.org", "password": "wrong password here" })),
    )
    .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Four more wrong passwords lock the account: 429 with the seconds to wait.
    let wrong = json!({ "email": "ann@example.org", "password": "wrong password here" });
    for _ in 0..4 {
        call(&app, Method::POST, "/api/v1/auth/login", &[], Some(wrong.clone())).await?;
    }
    let (status, headers, error) =
        call(&app, Method::POST, "/api/v1/auth/login", &[], Some(wrong)).await?;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_requests"))
    );
    assert_eq!(headers[header::RETRY_AFTER], "900");
    Ok(())
}

pub async fn admin_routes_refuse_users_and_serve_admins(b: Backend) -> eyre::Result<()> {
    let app = app(&b);
    let meta = btcr_accounts::RequestMeta::default();
    b.accounts.create_admin("root@example.org", PASSWORD, &meta).await?;
    let ann = b.accounts.register("ann@example.org", PASSWORD, &meta).await?;
    let (user_token, user_cookie) = login(&app, "ann@example.org").await?;
    let (admin_token, _) = login(&app, "root@example.org").await?;
    let path = format!("/api/v1/admin/users/{}", ann.id);

    let (status, _, error) = call(
        &app,
        Method::PATCH,
        &path,
        &[("authorization", &bearer(&user_token))],
        Some(json!({ "role": "admin" })),
    )
    .await?;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, _, _) = call(
        &app,
        Method::GET,
        "/api/v1/admin/audit",
        &[("authorization", &bearer(&user_token))],
        None,
    )
    .await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = call(&app, Method::GET, "/api/v1/admin/audit", &[], None).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let admin = [("authorization", bearer(&admin_token))];
    let admin: Vec<(&str, &str)> = admin.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, error) =
        call(&app, Method::PATCH, &path, &admin, Some(json!({ "role": "root" }))).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, _, _) = call(
        &app,
        Method::PATCH,
        "/api/v1/admin/users/9999",
        &admin,
        Some(json!({ "disabled": true })),
    )
    .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, user) =
        call(&app, Method::PATCH, &path, &admin, Some(json!({ "disabled": true }))).await?;
    assert_eq!((status, user["disabled"].as_bool()), (StatusCode::OK, Some(true)));
    // The disabled user's session is over and a new one is refused.
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        &[("cookie", &user_cookie)],
        Some(json!({})),
    )
    .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, error) = call(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        &[],
        Some(json!({ "email": "ann@example.org", "password": PASSWORD })),
    )
    .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");

    let (status, _, records) =
        call(&app, Method::GET, "/api/v1/admin/audit?limit=500", &admin, None).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(
        records.as_array().unwrap().iter().any(|r| r["action"] == "admin.user-updated"),
        "{records}"
    );
    for bad in ["?limit=0", "?limit=1001", "?limit=x", "?secret=1", "?limit=1&limit=2"] {
        let (status, _, error) =
            call(&app, Method::GET, &format!("/api/v1/admin/audit{bad}"), &admin, None).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {error}");
    }
    Ok(())
}

pub async fn totp_and_api_keys_over_http(b: Backend) -> eyre::Result<()> {
    let app = app(&b);
    b.accounts
        .register("ann@example.org", PASSWORD, &btcr_accounts::RequestMeta::default())
        .await?;
    let (token, _) = login(&app, "ann@example.org").await?;
    let auth = bearer(&token);
    let me = [("authorization", auth.as_str())];

    let (status, _, setup) =
        call(&app, Method::POST, "/api/v1/me/totp", &me, Some(json!({}))).await?;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = setup["secret"].as_str().unwrap();
    let (status, _, _) =
        call(&app, Method::POST, "/api/v1/me/totp/confirm", &me, Some(json!({ "code": "12345" })))
            .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let code = crate::scenarios::app_code(secret, b.clock.now_ms());
    let (status, _, codes) =
        call(&app, Method::POST, "/api/v1/me/totp/confirm", &me, Some(json!({ "code": code })))
            .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(codes["recoveryCodes"].as_array().unwrap().len(), 10);

    let (_, headers, body) = call(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        &[],
        Some(json!({ "email": "ann@example.org", "password": PASSWORD })),
    )
    .await?;
    assert!(
        headers.get(header::SET_COOKIE).is_none() && body.get("accessToken").is_none(),
        "{body}"
    );
    assert_eq!(body["totpRequired"], true);
    let challenge = body["challenge"].as_str().unwrap();
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/login/totp",
        &[],
        Some(json!({ "challenge": challenge, "code": code })),
    )
    .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the confirming code is spent");
    b.clock.advance(std::time::Duration::from_secs(30));
    let code = crate::scenarios::app_code(secret, b.clock.now_ms());
    let (status, headers, body) = call(
        &app,
        Method::POST,
        "/api/v1/auth/login/totp",
        &[],
        Some(json!({ "challenge": challenge, "code": code })),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(headers[header::SET_COOKIE].to_str()?.starts_with("btcr_refresh="));

    let (status, _, made) = call(
        &app,
        Method::POST,
        "/api/v1/me/api-keys",
        &me,
        Some(json!({ "name": "bot", "scopes": ["read"] })),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["secret"].as_str().unwrap();
    assert!(secret.starts_with("btcr_ak_"));
    let (_, _, listed) = call(&app, Method::GET, "/api/v1/me/api-keys", &me, None).await?;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret[20..]));
    for bad in [
        json!({ "name": "x", "scopes": ["root"] }),
        json!({ "name": "x", "scopes": [] }),
        json!({ "name": "x", "scopes": vec!["read"; 9] }),
    ] {
        let (status, _, _) =
            call(&app, Method::POST, "/api/v1/me/api-keys", &me, Some(bad.clone())).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let path = format!("/api/v1/me/api-keys/{}", made["key"]["id"]);
    let (status, _, _) = call(&app, Method::DELETE, &path, &me, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&app, Method::DELETE, &path, &me, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, sessions) = call(&app, Method::GET, "/api/v1/me/sessions", &me, None).await?;
    assert_eq!((status, sessions.as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
    let (status, _, _) = call(&app, Method::DELETE, "/api/v1/me/sessions/nope", &me, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

pub async fn settings_users_stats_password_keystore_and_watchlist_over_http(
    b: Backend,
) -> eyre::Result<()> {
    let app = app(&b);
    let anyone = btcr_accounts::RequestMeta::default();
    b.accounts.create_admin("root@example.org", PASSWORD, &anyone).await?;
    let ann = b.accounts.register("ann@example.org", PASSWORD, &anyone).await?;
    let (user_token, _) = login(&app, "ann@example.org").await?;
    let (admin_token, _) = login(&app, "root@example.org").await?;
    let (user, admin) = (auth(&user_token), auth(&admin_token));
    let (user, admin) = (refs(&user), refs(&admin));

    // Settings: public part for anyone, the whole for administrators only.
    let (status, _, shown) = call(&app, Method::GET, "/api/v1/settings", &[], None).await?;
    assert_eq!((status, &shown["registrationOpen"]), (StatusCode::OK, &json!(true)));
    for (method, body) in [(Method::GET, None), (Method::PUT, Some(json!({})))] {
        let (status, _, _) =
            call(&app, method.clone(), "/api/v1/admin/settings", &user, body.clone()).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}");
        let (status, _, _) =
            call(&app, method.clone(), "/api/v1/admin/settings", &[], body).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method}");
    }
    let (status, _, mut settings) =
        call(&app, Method::GET, "/api/v1/admin/settings", &admin, None).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["limits"]["loginFailuresPerAccount"]["max"], 5, "{settings}");
    let mut bad = Vec::new();
    for (path, value) in [
        ("/limits/refreshPerIp/max", json!(0)),
        ("/limits/registerPerIp/windowS", json!(86_401)),
        ("/limits/maxTracked", json!(10)),
        ("/registrationOpen", json!("no")),
        ("/banner", json!("x".repeat(501))),
        ("/root", json!(true)),
    ] {
        let mut document = settings.clone();
        let (parent, name) = path.rsplit_once('/').unwrap();
        let target =
            if parent.is_empty() { &mut document } else { document.pointer_mut(parent).unwrap() };
        target[name] = value;
        bad.push(document);
    }
    for document in bad {
        let (status, _, error) =
            call(&app, Method::PUT, "/api/v1/admin/settings", &admin, Some(document.clone()))
                .await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{document}: {error}");
    }
    settings["registrationOpen"] = json!(false);
    settings["banner"] = json!("Read-only until noon");
    let (status, _, applied) =
        call(&app, Method::PUT, "/api/v1/admin/settings", &admin, Some(settings.clone())).await?;
    assert_eq!((status, &applied), (StatusCode::OK, &settings));
    let (_, _, shown) = call(&app, Method::GET, "/api/v1/settings", &[], None).await?;
    assert_eq!(shown["banner"], "Read-only until noon");
    let (status, _, error) = call(
        &app,
        Method::POST,
        "/api/v1/auth/register",
        &[],
        Some(json!({ "email": "bob@example.org", "password": PASSWORD })),
    )
    .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert_eq!(error["error"]["message"], "registration is closed");

    // Users and statistics, for administrators only; the chain's figures are missing,
    // with the reason, when the node does not answer.
    let (status, _, page) =
        call(&app, Method::GET, "/api/v1/admin/users?search=ann&limit=10", &admin, None).await?;
    assert_eq!((status, &page["total"]), (StatusCode::OK, &json!(1)));
    assert_eq!(page["users"][0]["email"], "ann@example.org");
    for bad in ["?limit=0", "?limit=101", "?offset=-1", "?page=2", "?search=a&search=b"] {
        let (status, _, error) =
            call(&app, Method::GET, &format!("/api/v1/admin/users{bad}"), &admin, None).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {error}");
    }
    for path in ["/api/v1/admin/users", "/api/v1/admin/stats"] {
        let (status, _, _) = call(&app, Method::GET, path, &user, None).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _, stats) = call(&app, Method::GET, "/api/v1/admin/stats", &admin, None).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&stats["accounts"]["users"], &stats["accounts"]["activeSessions"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(stats["chain"], Value::Null);
    assert!(stats["chainError"].as_str().unwrap().contains("127.0.0.1:9"), "{stats}");

    // The keystore backup and the watch list, with a session or an API key's scopes.
    let (keystore, address) = crate::account::a_keystore()?;
    let (status, _, _) = call(&app, Method::GET, "/api/v1/me/keystore", &user, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, stored) = call(
        &app,
        Method::PUT,
        "/api/v1/me/keystore",
        &user,
        Some(json!({ "keystore": keystore })),
    )
    .await?;
    assert_eq!((status, &stored["address"]), (StatusCode::OK, &json!(address)));
    let (status, _, error) = call(
        &app,
        Method::PUT,
        "/api/v1/me/keystore",
        &user,
        Some(json!({ "keystore": { "privateKey": "0x01" } })),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let huge = json!({ "keystore": { "id": "x".repeat(4 << 20) } });
    let (status, _, _) = call(&app, Method::PUT, "/api/v1/me/keystore", &user, Some(huge)).await?;
    assert!(matches!(status, StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE), "{status}");
    let (_, read_key) =
        b.accounts.create_api_key(ann.id, "reader", &[btcr_accounts::Scope::Read], &anyone).await?;
    let key = auth(&read_key);
    let key = refs(&key);
    let (status, _, backup) = call(&app, Method::GET, "/api/v1/me/keystore", &key, None).await?;
    assert_eq!((status, &backup["keystore"]), (StatusCode::OK, &keystore));
    let (status, _, error) = call(&app, Method::DELETE, "/api/v1/me/keystore", &key, None).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    let (status, _, _) =
        call(&app, Method::POST, "/api/v1/me/watchlist", &key, Some(json!({ "address": address })))
            .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "a read key does not write");
    // Nor does a key reach what only a session may do.
    let (status, _, _) = call(
        &app,
        Method::PUT,
        "/api/v1/me/password",
        &key,
        Some(json!({ "currentPassword": PASSWORD, "newPassword": "new password here" })),
    )
    .await?;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _, watched) = call(
        &app,
        Method::POST,
        "/api/v1/me/watchlist",
        &user,
        Some(json!({ "address": address, "label": "savings" })),
    )
    .await?;
    assert_eq!((status, &watched["label"]), (StatusCode::OK, &json!("savings")));
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/v1/me/watchlist",
        &user,
        Some(json!({ "address": "0x1234" })),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, list) = call(&app, Method::GET, "/api/v1/me/watchlist", &key, None).await?;
    assert_eq!((status, list.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let path = format!("/api/v1/me/watchlist/{address}");
    let (status, _, _) = call(&app, Method::DELETE, &path, &user, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&app, Method::DELETE, &path, &user, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = call(&app, Method::DELETE, "/api/v1/me/keystore", &user, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // The password, with the current one.
    let change =
        |current: &str| json!({ "currentPassword": current, "newPassword": "new password here" });
    let (status, _, error) =
        call(&app, Method::PUT, "/api/v1/me/password", &user, Some(change("wrong password")))
            .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, _, _) =
        call(&app, Method::PUT, "/api/v1/me/password", &user, Some(change(PASSWORD))).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        &[],
        Some(json!({ "email": "ann@example.org", "password": "new password here" })),
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}
