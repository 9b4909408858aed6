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
    let app = btcr_accounts::http::router(b.accounts.clone());
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
    let app = btcr_accounts::http::router(b.accounts.clone());
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
    let app = btcr_accounts::http::router(b.accounts.clone());
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
