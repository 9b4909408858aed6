//! `btcr accounts` as an operator runs it, on the embedded database of a data directory.

use std::{path::Path, process::Command};

use crate::btcr_bin;

/// Runs `btcr accounts ARGS --datadir DIR`: success, stdout, stderr.
fn accounts(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(btcr_bin())
        .arg("accounts")
        .args(args)
        .arg("--datadir")
        .arg(dir)
        .env_remove("BTCR_ACCOUNTS_DATABASE_URL")
        .output()
        .expect("btcr runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_operator_creates_an_administrator_and_checks_the_audit_log() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let password = dir.path().join("password");
    std::fs::write(&password, "correct horse battery staple\n")?;
    let file = password.to_str().unwrap();

    let (ok, out, err) = accounts(
        dir.path(),
        &["create-admin", "--email", "Root@Example.org", "--password-file", file],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("created administrator root@example.org (id "), "{out}");
    let (ok, out, err) = accounts(dir.path(), &["audit-verify"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("the audit log holds: 1 records, head "), "{out}");

    // The same address again, a malformed one, a weak password: refused, and said why.
    let (ok, _, err) = accounts(
        dir.path(),
        &["create-admin", "--email", "root@example.org", "--password-file", file],
    );
    assert!(!ok && err.contains("an account with this e-mail address exists"), "{err}");
    let (ok, _, err) =
        accounts(dir.path(), &["create-admin", "--email", "root", "--password-file", file]);
    assert!(!ok && err.contains("invalid e-mail address"), "{err}");
    std::fs::write(&password, "short\n")?;
    let (ok, _, err) = accounts(
        dir.path(),
        &["create-admin", "--email", "two@example.org", "--password-file", file],
    );
    assert!(!ok && err.contains("at least 12 characters"), "{err}");
    // No terminal and no file: it says so rather than hang.
    let (ok, _, err) = accounts(dir.path(), &["create-admin", "--email", "two@example.org"]);
    assert!(!ok && err.contains("no terminal"), "{err}");
    // No such data directory.
    let (ok, _, err) = accounts(&dir.path().join("absent"), &["audit-verify"]);
    assert!(!ok && err.contains("no data directory"), "{err}");

    // A record changed behind the service's back (its guards dropped first) is found.
    let db = dir.path().join("accounts.db");
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await?;
        sqlx::query("DROP TRIGGER audit_log_no_update").execute(&pool).await?;
        sqlx::query("UPDATE audit_log SET actor = 99 WHERE seq = 1").execute(&pool).await?;
        pool.close().await;
        eyre::Ok(())
    })?;
    let (ok, out, err) = accounts(dir.path(), &["audit-verify"]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("the audit log is broken at record 1: its contents do not match its hash"),
        "{err}"
    );
    Ok(())
}

/// `METHOD PATH` with a JSON body to the node: status, headers, body.
fn api(
    url: &str,
    method: &str,
    path: &str,
    extra: &str,
    body: &str,
) -> eyre::Result<crate::RawAnswer> {
    let head = format!("{method} {path} HTTP/1.1\r\nContent-Type: application/json{extra}");
    crate::raw_request(url, &head, body)
}

#[test]
fn btcr_dev_serves_the_accounts_routes_beside_the_explorer() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = btcr_testkit::DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let url = node.rpc.url().to_owned();
    let body = r#"{"email":"ann@example.org","password":"correct horse battery staple"}"#;
    let (status, _, user) = api(&url, "POST", "/api/v1/auth/register", "", body)?;
    assert_eq!(status, 201, "{user}");
    let (status, headers, signed) = api(&url, "POST", "/api/v1/auth/login", "", body)?;
    assert_eq!(status, 200, "{signed}");
    let cookie =
        headers.iter().find(|(k, _)| k == "set-cookie").map(|(_, v)| v.clone()).unwrap_or_default();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let signed: serde_json::Value = serde_json::from_str(&signed)?;
    let token = signed["accessToken"].as_str().unwrap_or_default();
    let (status, _, me) =
        api(&url, "GET", "/api/v1/me", &format!("\r\nAuthorization: Bearer {token}"), "")?;
    assert!(status == 200 && me.contains("ann@example.org"), "{status} {me}");
    // Every router sees who calls: a token that holds passes anywhere, one that does not
    // is refused before any handler (even the explorer's), and a scheme that is not ours
    // (`Basic`, which some tools send) leaves the request anonymous.
    let (status, _, _) =
        api(&url, "GET", "/api/v1/blocks", &format!("\r\nAuthorization: Bearer {token}"), "")?;
    assert_eq!(status, 200);
    for forged in ["Bearer abc.def.ghi", "Bearer btcr_ak_0000"] {
        let (status, _, error) =
            api(&url, "GET", "/api/v1/blocks", &format!("\r\nAuthorization: {forged}"), "")?;
        assert!(status == 401 && error.contains("unauthorized"), "{forged}: {status} {error}");
    }
    let (status, _, _) =
        api(&url, "GET", "/api/v1/blocks", "\r\nAuthorization: Basic dXNlcjpwYXNz", "")?;
    assert_eq!(status, 200);
    // An API key, checked once by the server's hook, reads within its scope and no further.
    let (status, _, made) = api(
        &url,
        "POST",
        "/api/v1/me/api-keys",
        &format!("\r\nAuthorization: Bearer {token}"),
        r#"{"name":"reader","scopes":["read"]}"#,
    )?;
    assert_eq!(status, 201, "{made}");
    let made: serde_json::Value = serde_json::from_str(&made)?;
    let key = format!("\r\nAuthorization: Bearer {}", made["secret"].as_str().unwrap_or_default());
    let (status, _, list) = api(&url, "GET", "/api/v1/me/watchlist", &key, "")?;
    assert_eq!((status, list.as_str()), (200, "[]"));
    let watch = r#"{"address":"0x00000000000000000000000000000000000000aa"}"#;
    let (status, _, error) = api(&url, "POST", "/api/v1/me/watchlist", &key, watch)?;
    assert!(status == 403 && error.contains("write"), "{status} {error}");
    // The explorer's routes and its answer for unknown paths are as they were.
    let (status, _, _) = api(&url, "GET", "/api/v1/blocks", "", "")?;
    assert_eq!(status, 200);
    let (status, _, missing) = api(&url, "GET", "/api/v1/nothing", "", "")?;
    assert!(status == 404 && missing.contains("not_found"), "{status} {missing}");
    // A cross-site form post and an oversized body are refused; the node keeps serving.
    let (status, _, _) = crate::raw_request(
        &url,
        "POST /api/v1/auth/login HTTP/1.1\r\nContent-Type: text/plain",
        body,
    )?;
    assert_eq!(status, 415);
    let huge = format!(r#"{{"email":"ann@example.org","password":"{}"}}"#, "p".repeat(6 << 20));
    let (status, _, _) = api(&url, "POST", "/api/v1/auth/login", "", &huge)?;
    assert_eq!(status, 413);
    assert!(node.rpc.block_number().is_ok());

    // An administrator made by the command line while the node runs reads the statistics,
    // the chain's figures read from the node itself.
    let password = dir.path().join("admin-password");
    std::fs::write(&password, "correct horse battery staple\n")?;
    let file = password.to_str().unwrap();
    let (ok, _, err) = accounts(
        dir.path(),
        &["create-admin", "--email", "root@example.org", "--password-file", file],
    );
    assert!(ok, "{err}");
    let admin = r#"{"email":"root@example.org","password":"correct horse battery staple"}"#;
    let (status, _, signed) = api(&url, "POST", "/api/v1/auth/login", "", admin)?;
    assert_eq!(status, 200, "{signed}");
    let signed: serde_json::Value = serde_json::from_str(&signed)?;
    let bearer = format!("\r\nAuthorization: Bearer {}", signed["accessToken"].as_str().unwrap());
    let (status, _, stats) = api(&url, "GET", "/api/v1/admin/stats", &bearer, "")?;
    assert_eq!(status, 200, "{stats}");
    let stats: serde_json::Value = serde_json::from_str(&stats)?;
    assert_eq!(stats["accounts"]["users"], 2, "{stats}");
    assert_eq!(stats["chain"]["validators"], 1, "{stats}");
    assert!(stats["chain"]["height"].as_u64().is_some(), "{stats}");
    assert_eq!(stats["chain"]["pendingTransactions"], 0, "{stats}");
    let (status, _, _) =
        api(&url, "GET", "/api/v1/admin/stats", &format!("\r\nAuthorization: Bearer {token}"), "")?;
    assert_eq!(status, 403);

    // Its data stays in the data directory, where `btcr accounts` finds it.
    drop(node);
    let (ok, out, err) = accounts(dir.path(), &["audit-verify"]);
    assert!(ok && out.contains("holds: 5 records"), "{out}{err}");
    Ok(())
}

/// The access token of a login answer.
fn access_token(answer: &str) -> String {
    let signed: serde_json::Value = serde_json::from_str(answer).unwrap_or_default();
    signed["accessToken"].as_str().unwrap_or_default().to_owned()
}

/// The refresh cookie an answer sets, as `btcr_refresh=…`.
fn refresh_cookie(headers: &[(String, String)]) -> String {
    let set = headers.iter().find(|(k, _)| k == "set-cookie").map(|(_, v)| v.as_str());
    set.unwrap_or_default().split(';').next().unwrap_or_default().to_owned()
}

#[test]
fn two_api_replicas_share_one_postgres_and_one_redis() -> eyre::Result<()> {
    let postgres = btcr_testkit::TempPostgres::start()?;
    let database = postgres.create_database("accounts")?;
    let redis = btcr_testkit::TempRedis::start()?;
    let dir = tempfile::tempdir()?;
    let node = btcr_testkit::DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let args = [
        "--node",
        node.rpc.url(),
        "--accounts.database-url",
        &database,
        "--redis-url",
        &redis.url(),
    ];
    // Without a database of its own to name, it says what it needs.
    let out = Command::new(btcr_bin())
        .args(["api", "--node", node.rpc.url(), "--api.addr", "127.0.0.1:0"])
        .env_remove("BTCR_ACCOUNTS_DATABASE_URL")
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--accounts.database-url"), "{err}");
    let out = Command::new(btcr_bin())
        .args(["api", "--node", node.rpc.url(), "--api.addr", "127.0.0.1:0"])
        .args(["--accounts.database-url", &database, "--redis-url", "redis://127.0.0.1:1/"])
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("rate-limit store"), "{err}");
    let one = btcr_testkit::ApiProcess::start(btcr_bin(), &args)?;
    let two = btcr_testkit::ApiProcess::start(btcr_bin(), &args)?;

    // An administrator made by the command line on the shared database.
    let password = dir.path().join("admin-password");
    std::fs::write(&password, "correct horse battery staple\n")?;
    let out = Command::new(btcr_bin())
        .args(["accounts", "create-admin", "--email", "root@example.org", "--password-file"])
        .arg(&password)
        .args(["--accounts.database-url", &database])
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Register and sign in on one, refresh on the other, read the account on the first.
    let ann = r#"{"email":"ann@example.org","password":"correct horse battery staple"}"#;
    let (status, _, user) = api(&one.url, "POST", "/api/v1/auth/register", "", ann)?;
    assert_eq!(status, 201, "{user}");
    let (status, headers, _) = api(&one.url, "POST", "/api/v1/auth/login", "", ann)?;
    assert_eq!(status, 200);
    let cookie = format!("\r\nCookie: {}", refresh_cookie(&headers));
    let (status, headers, refreshed) =
        api(&two.url, "POST", "/api/v1/auth/refresh", &cookie, "{}")?;
    assert_eq!(status, 200, "{refreshed}");
    let bearer = format!("\r\nAuthorization: Bearer {}", access_token(&refreshed));
    let (status, _, me) = api(&one.url, "GET", "/api/v1/me", &bearer, "")?;
    assert!(status == 200 && me.contains("ann@example.org"), "{status} {me}");
    // The token the first rotated is spent on both: sent again, it ends the session.
    let (status, _, _) = api(&one.url, "POST", "/api/v1/auth/refresh", &cookie, "{}")?;
    assert_eq!(status, 401);
    let rotated = format!("\r\nCookie: {}", refresh_cookie(&headers));
    let (status, _, _) = api(&two.url, "POST", "/api/v1/auth/refresh", &rotated, "{}")?;
    assert_eq!(status, 401, "the whole session ended");

    // Five wrong passwords, alternating between the replicas, lock the account on both.
    let wrong = r#"{"email":"ann@example.org","password":"not the password"}"#;
    for i in 0..5 {
        let replica = if i % 2 == 0 { &one } else { &two };
        let (status, _, _) = api(&replica.url, "POST", "/api/v1/auth/login", "", wrong)?;
        assert_eq!(status, 401, "attempt {i}");
    }
    for replica in [&one, &two] {
        let (status, headers, body) = api(&replica.url, "POST", "/api/v1/auth/login", "", ann)?;
        assert_eq!(status, 429, "{body}");
        assert!(headers.iter().any(|(k, v)| k == "retry-after" && v.parse::<u64>().is_ok()));
    }

    // A setting changed on one replica is in force on the other within its refresh time,
    // and the statistics on either show the node's chain.
    let admin = r#"{"email":"root@example.org","password":"correct horse battery staple"}"#;
    let (status, _, signed) = api(&two.url, "POST", "/api/v1/auth/login", "", admin)?;
    assert_eq!(status, 200, "{signed}");
    let admin = format!("\r\nAuthorization: Bearer {}", access_token(&signed));
    let (_, _, settings) = api(&two.url, "GET", "/api/v1/admin/settings", &admin, "")?;
    let mut settings: serde_json::Value = serde_json::from_str(&settings)?;
    settings["registrationOpen"] = false.into();
    let (status, _, _) =
        api(&two.url, "PUT", "/api/v1/admin/settings", &admin, &settings.to_string())?;
    assert_eq!(status, 200);
    let bob = r#"{"email":"bob@example.org","password":"correct horse battery staple"}"#;
    assert!(btcr_testkit::eventually(|| {
        api(&one.url, "POST", "/api/v1/auth/register", "", bob).is_ok_and(|(s, _, _)| s == 403)
    }));
    let (status, _, stats) = api(&one.url, "GET", "/api/v1/admin/stats", &admin, "")?;
    assert_eq!(status, 200, "{stats}");
    let stats: serde_json::Value = serde_json::from_str(&stats)?;
    // Ann and root, and Bob if his registration reached the first replica before it read
    // the new settings.
    let users = stats["accounts"]["users"].as_u64();
    assert!(matches!(users, Some(2 | 3)), "{stats}");
    assert_eq!(stats["chain"]["validators"], 1, "{stats}");
    assert!(stats["chain"]["height"].as_u64().is_some(), "{stats}");
    Ok(())
}
