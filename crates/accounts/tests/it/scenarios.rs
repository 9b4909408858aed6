//! The scenarios `main.rs` runs on each backend.

use std::time::Duration;

use btcr_accounts::{
    ACCESS_TOKEN_TTL, AccountsError, PasswordPolicy, REFRESH_TOKEN_TTL, RequestMeta, Role,
};
use eyre::ensure;

use crate::Backend;

const PASSWORD: &str = "correct horse battery staple";

fn meta() -> RequestMeta {
    RequestMeta { ip: Some("192.0.2.7".into()), user_agent: Some("scenario/1".into()) }
}

/// The actions of the audit log, oldest first.
async fn actions(b: &Backend) -> eyre::Result<Vec<String>> {
    Ok(b.accounts.audit(0, 1000).await?.into_iter().map(|r| r.action).collect())
}

pub async fn a_user_registers_logs_in_and_refreshes(b: Backend) -> eyre::Result<()> {
    let user = b.accounts.register("Ann@Example.org", PASSWORD, &meta()).await?;
    assert_eq!(
        (user.email.as_str(), user.role, user.disabled),
        ("ann@example.org", Role::User, false)
    );
    let (logged, pair) = b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
    assert_eq!(logged, user);
    let claims = b.accounts.check_access(&pair.access_token)?;
    assert_eq!(
        (claims.sub, claims.role.as_str(), claims.sid.as_str()),
        (user.id.to_string(), "user", pair.session.as_str())
    );
    assert_eq!(pair.expires_in, ACCESS_TOKEN_TTL.as_secs());

    b.clock.advance(Duration::from_secs(60));
    let next = b.accounts.refresh(&pair.refresh_token, &meta()).await?;
    assert_ne!(next.refresh_token, pair.refresh_token);
    assert_eq!(next.session, pair.session);
    assert!(b.accounts.check_access(&next.access_token).is_ok());
    let sessions = b.accounts.sessions(user.id).await?;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, pair.session);
    assert_eq!(sessions[0].ip.as_deref(), Some("192.0.2.7"));
    assert!(sessions[0].last_used_ms > sessions[0].created_ms);
    assert_eq!(actions(&b).await?, ["user.registered", "login"]);
    assert_eq!(b.accounts.verify_audit().await?.records, 2);
    Ok(())
}

pub async fn a_taken_or_malformed_address_and_a_weak_password_are_refused(
    b: Backend,
) -> eyre::Result<()> {
    b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let refused = |r: Result<_, AccountsError>| r.map(|_| ()).unwrap_err().to_string();
    assert_eq!(
        refused(b.accounts.register("ANN@example.org", PASSWORD, &meta()).await),
        "an account with this e-mail address exists"
    );
    assert_eq!(
        refused(b.accounts.register("ann", PASSWORD, &meta()).await),
        "invalid e-mail address: no @"
    );
    let huge = format!("{}@example.org", "a".repeat(10_000));
    assert_eq!(
        refused(b.accounts.register(&huge, PASSWORD, &meta()).await),
        "invalid e-mail address: longer than 254 bytes"
    );
    assert_eq!(
        refused(b.accounts.register("bob@example.org", "short", &meta()).await),
        "the password must be at least 12 characters long"
    );
    let long = "p".repeat(1 << 20);
    assert_eq!(
        refused(b.accounts.register("bob@example.org", &long, &meta()).await),
        "the password must be at most 256 bytes long"
    );
    // Nothing of the refused ones was stored or audited.
    assert_eq!(actions(&b).await?, ["user.registered"]);
    Ok(())
}

pub async fn a_wrong_password_and_an_unknown_address_get_one_answer_and_are_audited(
    b: Backend,
) -> eyre::Result<()> {
    let user = b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let wrong = b.accounts.login("ann@example.org", "correct horse battery stapler", &meta()).await;
    let unknown = b.accounts.login("nobody@example.org", PASSWORD, &meta()).await;
    let malformed = b.accounts.login("nobody", PASSWORD, &meta()).await;
    let too_long = b.accounts.login("ann@example.org", &"p".repeat(1 << 20), &meta()).await;
    for outcome in [wrong, unknown, malformed, too_long] {
        assert!(matches!(outcome, Err(AccountsError::InvalidCredentials)), "{outcome:?}");
    }
    let records = b.accounts.audit(0, 100).await?;
    let failed: Vec<_> = records.iter().filter(|r| r.action == "login.failed").collect();
    assert_eq!(failed.len(), 3, "{records:?}");
    assert_eq!(failed[0].actor, Some(user.id));
    assert_eq!(failed[1].actor, None);
    assert!(failed[1].detail.contains("nobody@example.org"), "{:?}", failed[1]);
    assert_eq!(failed[0].ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(failed[0].user_agent.as_deref(), Some("scenario/1"));
    Ok(())
}

pub async fn an_access_token_expires_and_a_session_ends_unrefreshed(
    b: Backend,
) -> eyre::Result<()> {
    b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let (_, pair) = b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
    b.clock.advance(ACCESS_TOKEN_TTL - Duration::from_secs(1));
    assert!(b.accounts.check_access(&pair.access_token).is_ok());
    b.clock.advance(Duration::from_secs(1));
    assert!(matches!(
        b.accounts.check_access(&pair.access_token),
        Err(AccountsError::TokenExpired)
    ));
    // The refresh token still works, and the session lives on from the refresh.
    let next = b.accounts.refresh(&pair.refresh_token, &meta()).await?;
    b.clock.advance(REFRESH_TOKEN_TTL);
    assert!(matches!(
        b.accounts.refresh(&next.refresh_token, &meta()).await,
        Err(AccountsError::TokenExpired)
    ));
    Ok(())
}

pub async fn a_reused_refresh_token_revokes_its_whole_session_only(b: Backend) -> eyre::Result<()> {
    let user = b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let (_, first) = b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
    let (_, other) = b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
    let second = b.accounts.refresh(&first.refresh_token, &meta()).await?;
    // The first token again, as a thief who copied it would send it.
    assert!(matches!(
        b.accounts.refresh(&first.refresh_token, &meta()).await,
        Err(AccountsError::RefreshReused)
    ));
    // The token the rightful client holds is dead too: the whole family is revoked.
    assert!(matches!(
        b.accounts.refresh(&second.refresh_token, &meta()).await,
        Err(AccountsError::SessionEnded)
    ));
    assert!(matches!(
        b.accounts.refresh(&first.refresh_token, &meta()).await,
        Err(AccountsError::SessionEnded)
    ));
    // The user's other session is untouched.
    let sessions = b.accounts.sessions(user.id).await?;
    assert_eq!(
        sessions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [other.session.as_str()]
    );
    b.accounts.refresh(&other.refresh_token, &meta()).await?;
    let reused =
        b.accounts.audit(0, 100).await?.into_iter().find(|r| r.action == "session.refresh-reused");
    ensure!(
        reused.is_some_and(|r| r.subject.as_deref() == Some(first.session.as_str())),
        "the reuse is audited"
    );
    // Tokens that were never issued, or are not shaped like ours.
    for forged in [
        "",
        "btcr_rt_",
        "btcr_rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &"x".repeat(1 << 16),
    ] {
        assert!(
            matches!(
                b.accounts.refresh(forged, &meta()).await,
                Err(AccountsError::InvalidToken(_))
            ),
            "{forged:.20}"
        );
    }
    Ok(())
}

pub async fn two_refreshes_racing_with_one_token_cannot_both_win(b: Backend) -> eyre::Result<()> {
    b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    for _ in 0..5 {
        let (_, pair) = b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
        let (a, c) = (b.accounts.clone(), b.accounts.clone());
        let (t1, t2) = (pair.refresh_token.clone(), pair.refresh_token.clone());
        let one = tokio::spawn(async move { a.refresh(&t1, &RequestMeta::default()).await });
        let two = tokio::spawn(async move { c.refresh(&t2, &RequestMeta::default()).await });
        let outcomes = [one.await?, two.await?];
        let won = outcomes.iter().filter(|o| o.is_ok()).count();
        assert!(won <= 1, "{outcomes:?}");
        assert!(
            outcomes.iter().any(|o| matches!(o, Err(AccountsError::RefreshReused))),
            "{outcomes:?}"
        );
        // Whichever won holds a token of a revoked session.
        for pair in outcomes.into_iter().flatten() {
            assert!(matches!(
                b.accounts.refresh(&pair.refresh_token, &meta()).await,
                Err(AccountsError::SessionEnded)
            ));
        }
    }
    b.accounts.verify_audit().await?;
    Ok(())
}

pub async fn logout_and_revoke_end_a_session_and_only_their_own(b: Backend) -> eyre::Result<()> {
    let ann = b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let bob = b.accounts.register("bob@example.org", PASSWORD, &meta()).await?;
    let (_, one) = b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
    let (_, two) = b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
    b.accounts.logout(&one.refresh_token, &meta()).await?;
    assert!(matches!(
        b.accounts.refresh(&one.refresh_token, &meta()).await,
        Err(AccountsError::SessionEnded)
    ));
    assert!(matches!(
        b.accounts.logout(&one.refresh_token, &meta()).await,
        Err(AccountsError::SessionEnded)
    ));
    // Bob cannot end Ann's session.
    assert!(matches!(
        b.accounts.revoke_session(bob.id, &two.session, &meta()).await,
        Err(AccountsError::SessionEnded)
    ));
    b.accounts.refresh(&two.refresh_token, &meta()).await.map(|_| ())?;
    let now = b.accounts.sessions(ann.id).await?;
    assert_eq!(now.len(), 1);
    b.accounts.revoke_session(ann.id, &two.session, &meta()).await?;
    assert!(b.accounts.sessions(ann.id).await?.is_empty());
    let acts = actions(&b).await?;
    assert_eq!(acts.iter().filter(|a| *a == "logout").count(), 1);
    assert_eq!(acts.iter().filter(|a| *a == "session.revoked").count(), 1);
    Ok(())
}

pub async fn an_admin_disables_a_user_who_then_cannot_log_in_or_refresh(
    b: Backend,
) -> eyre::Result<()> {
    let admin = b.accounts.create_admin("root@example.org", PASSWORD, &meta()).await?;
    let ann = b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let (_, pair) = b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
    // A user is no administrator.
    assert!(matches!(
        b.accounts.update_user(ann.id, admin.id, None, Some(true), &meta()).await,
        Err(AccountsError::Forbidden)
    ));
    assert!(matches!(
        b.accounts.update_user(admin.id, 9999, None, Some(true), &meta()).await,
        Err(AccountsError::NoSuchUser)
    ));
    let disabled = b.accounts.update_user(admin.id, ann.id, None, Some(true), &meta()).await?;
    assert!(disabled.disabled && disabled.role == Role::User);
    assert!(matches!(
        b.accounts.login("ann@example.org", PASSWORD, &meta()).await,
        Err(AccountsError::Disabled)
    ));
    assert!(matches!(
        b.accounts.refresh(&pair.refresh_token, &meta()).await,
        Err(AccountsError::SessionEnded)
    ));
    assert!(b.accounts.sessions(ann.id).await?.is_empty());
    // Enabled and promoted again.
    let back =
        b.accounts.update_user(admin.id, ann.id, Some(Role::Admin), Some(false), &meta()).await?;
    assert!(!back.disabled && back.role == Role::Admin);
    let (_, pair) = b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
    assert_eq!(b.accounts.check_access(&pair.access_token)?.role, "admin");
    let updates: Vec<_> = b
        .accounts
        .audit(0, 100)
        .await?
        .into_iter()
        .filter(|r| r.action == "admin.user-updated")
        .collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(
        (updates[0].actor, updates[0].subject.clone()),
        (Some(admin.id), Some(ann.id.to_string()))
    );
    Ok(())
}

pub async fn a_login_rehashes_a_password_when_the_parameters_rise(b: Backend) -> eyre::Result<()> {
    let ann = b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let stronger = btcr_accounts::AccountsConfig {
        passwords: PasswordPolicy { memory_kib: 2048, iterations: 2, ..b.config.passwords.clone() },
        ..b.config.clone()
    };
    let upgraded = b.reopen(stronger).await?;
    let (_, _) = upgraded.login("ann@example.org", PASSWORD, &meta()).await?;
    let login =
        upgraded.audit(0, 100).await?.into_iter().rfind(|r| r.action == "login").expect("a login");
    assert!(login.detail.contains(r#""rehashed":true"#), "{login:?}");
    // Once rehashed, the next login keeps the hash.
    upgraded.login("ann@example.org", PASSWORD, &meta()).await?;
    let login =
        upgraded.audit(0, 100).await?.into_iter().rfind(|r| r.action == "login").expect("a login");
    assert!(login.detail.contains(r#""rehashed":false"#), "{login:?}");
    // The old, weaker service still verifies the new hash (it reads the parameters from it).
    b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
    assert_eq!(b.accounts.user(ann.id).await?.email, "ann@example.org");
    Ok(())
}

pub async fn replicas_on_one_database_share_the_token_key(b: Backend) -> eyre::Result<()> {
    let replica = b.reopen(b.config.clone()).await?;
    b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let (_, pair) = b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
    assert!(replica.check_access(&pair.access_token).is_ok());
    let next = replica.refresh(&pair.refresh_token, &meta()).await?;
    assert!(b.accounts.check_access(&next.access_token).is_ok());
    // A replayed token is caught on the other replica.
    assert!(matches!(
        b.accounts.refresh(&pair.refresh_token, &meta()).await,
        Err(AccountsError::RefreshReused)
    ));
    Ok(())
}

pub async fn the_audit_log_is_append_only_and_a_changed_record_breaks_its_chain(
    b: Backend,
) -> eyre::Result<()> {
    b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    b.accounts.login("ann@example.org", PASSWORD, &meta()).await?;
    let _ = b.accounts.login("ann@example.org", "not the password at all", &meta()).await;
    let check = b.accounts.verify_audit().await?;
    assert_eq!(check.records, 3);

    let sqlite = b.url.starts_with("sqlite:");
    let raw = Raw::open(&b.url).await?;
    // The database itself refuses to change or remove a record.
    for sql in
        ["UPDATE audit_log SET detail = '{}' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 3"]
    {
        let e = raw.execute(sql).await.unwrap_err().to_string();
        assert!(e.contains("append-only"), "{e}");
    }
    // Someone with the database's keys goes around it: the chain shows where.
    if sqlite {
        raw.execute("DROP TRIGGER audit_log_no_update").await?;
        raw.execute("DROP TRIGGER audit_log_no_delete").await?;
    } else {
        raw.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only").await?;
    }
    raw.execute("UPDATE audit_log SET ip = '198.51.100.1' WHERE seq = 2").await?;
    let broken = b.accounts.verify_audit().await.unwrap_err();
    assert!(matches!(&broken, AccountsError::AuditBroken { seq: 2, .. }), "{broken}");
    raw.execute("UPDATE audit_log SET ip = '192.0.2.7' WHERE seq = 2").await?;
    b.accounts.verify_audit().await?;
    raw.execute("DELETE FROM audit_log WHERE seq = 2").await?;
    let broken = b.accounts.verify_audit().await.unwrap_err();
    assert_eq!(broken.to_string(), "the audit log is broken at record 2: the record is missing");
    Ok(())
}

/// Statements run on the database directly, around the service.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn open(url: &str) -> eyre::Result<Self> {
        Ok(match url.strip_prefix("sqlite:") {
            Some(path) => {
                Raw::Sqlite(sqlx::SqlitePool::connect(&format!("sqlite://{path}")).await?)
            }
            None => Raw::Postgres(sqlx::PgPool::connect(url).await?),
        })
    }

    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        match self {
            Raw::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            Raw::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
    }
}
