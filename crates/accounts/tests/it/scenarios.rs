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

/// Logs in a user without a second factor.
async fn sign_in(
    accounts: &btcr_accounts::Accounts,
    email: &str,
    password: &str,
    meta: &RequestMeta,
) -> eyre::Result<(btcr_accounts::User, btcr_accounts::TokenPair)> {
    let outcome = accounts.login(email, password, meta).await?;
    outcome.signed().ok_or_else(|| eyre::eyre!("a second factor was asked for"))
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
    let (logged, pair) = sign_in(&b.accounts, "ann@example.org", PASSWORD, &meta()).await?;
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
    let (_, pair) = sign_in(&b.accounts, "ann@example.org", PASSWORD, &meta()).await?;
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
    let (_, first) = sign_in(&b.accounts, "ann@example.org", PASSWORD, &meta()).await?;
    let (_, other) = sign_in(&b.accounts, "ann@example.org", PASSWORD, &meta()).await?;
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
        let (_, pair) = sign_in(&b.accounts, "ann@example.org", PASSWORD, &meta()).await?;
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
    let (_, one) = sign_in(&b.accounts, "ann@example.org", PASSWORD, &meta()).await?;
    let (_, two) = sign_in(&b.accounts, "ann@example.org", PASSWORD, &meta()).await?;
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
    let (_, pair) = sign_in(&b.accounts, "ann@example.org", PASSWORD, &meta()).await?;
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
    let (_, pair) = sign_in(&b.accounts, "ann@example.org", PASSWORD, &meta()).await?;
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
    let (_, _) = sign_in(&upgraded, "ann@example.org", PASSWORD, &meta()).await?;
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
    let (_, pair) = sign_in(&b.accounts, "ann@example.org", PASSWORD, &meta()).await?;
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

/// The code an authenticator app shows for `secret` (base32) at `now_ms`: RFC 6238 computed
/// here on its own, not with the service's code.
pub(crate) fn app_code(secret: &str, now_ms: u64) -> String {
    use hmac12::{Hmac, Mac};
    let key = data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).expect("base32");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&(now_ms / 30_000).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 15) as usize;
    let n = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]) % 1_000_000;
    format!("{n:06}")
}

/// Registers Ann and turns TOTP on: her id, the secret and the recovery codes.
async fn ann_with_totp(b: &Backend) -> eyre::Result<(i64, String, Vec<String>)> {
    let ann = b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let setup = b.accounts.totp_begin(ann.id).await?;
    assert!(
        setup.uri.starts_with("otpauth://totp/btcr:ann%40example.org?secret="),
        "{}",
        setup.uri
    );
    assert!(setup.uri.contains(&setup.secret));
    let codes = b
        .accounts
        .totp_confirm(ann.id, &app_code(&setup.secret, b.clock.now_ms()), &meta())
        .await?;
    Ok((ann.id, setup.secret, codes))
}

fn challenge_of(outcome: btcr_accounts::LoginOutcome) -> String {
    match outcome {
        btcr_accounts::LoginOutcome::TotpRequired { challenge } => challenge,
        other => panic!("expected a TOTP challenge, got {other:?}"),
    }
}

pub async fn totp_is_confirmed_by_a_code_and_then_guards_every_login(
    b: Backend,
) -> eyre::Result<()> {
    let bob = b.accounts.register("bob@example.org", PASSWORD, &meta()).await?;
    let setup = b.accounts.totp_begin(bob.id).await?;
    // A wrong code does not turn it on; a login still needs no code.
    assert!(
        matches!(
            b.accounts.totp_confirm(bob.id, "000000", &meta()).await,
            Err(AccountsError::InvalidCode)
        ) || app_code(&setup.secret, b.clock.now_ms()) == "000000"
    );
    assert!(!b.accounts.totp_enabled(bob.id).await?);
    assert!(b.accounts.login("bob@example.org", PASSWORD, &meta()).await?.signed().is_some());

    let (ann, secret, codes) = ann_with_totp(&b).await?;
    assert_eq!(codes.len(), btcr_accounts::RECOVERY_CODES);
    assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'), "{codes:?}");
    assert!(matches!(b.accounts.totp_begin(ann).await, Err(AccountsError::TotpAlreadyEnabled)));

    // The password alone opens only a challenge; the code that confirmed TOTP is spent.
    let challenge = challenge_of(b.accounts.login("ann@example.org", PASSWORD, &meta()).await?);
    let spent = app_code(&secret, b.clock.now_ms());
    assert!(matches!(
        b.accounts.login_totp(&challenge, &spent, &meta()).await,
        Err(AccountsError::InvalidCode)
    ));
    b.clock.advance(Duration::from_secs(30));
    let code = app_code(&secret, b.clock.now_ms());
    let (user, pair) = b.accounts.login_totp(&challenge, &code, &meta()).await?;
    assert_eq!(user.id, ann);
    assert!(b.accounts.check_access(&pair.access_token).is_ok());
    // The challenge is single use, and the code too, on a fresh challenge.
    assert!(matches!(
        b.accounts.login_totp(&challenge, &code, &meta()).await,
        Err(AccountsError::TokenExpired)
    ));
    let again = challenge_of(b.accounts.login("ann@example.org", PASSWORD, &meta()).await?);
    assert!(matches!(
        b.accounts.login_totp(&again, &code, &meta()).await,
        Err(AccountsError::InvalidCode)
    ));
    // A wrong password never reaches the challenge.
    assert!(matches!(
        b.accounts.login("ann@example.org", "wrong password here", &meta()).await,
        Err(AccountsError::InvalidCredentials)
    ));
    // Forged and expired challenges.
    for forged in ["", "btcr_lc_x", &format!("btcr_lc_{}", "A".repeat(43))] {
        assert!(
            matches!(
                b.accounts.login_totp(forged, &code, &meta()).await,
                Err(AccountsError::InvalidToken(_))
            ),
            "{forged}"
        );
    }
    b.clock.advance(btcr_accounts::LOGIN_CHALLENGE_TTL);
    let late = app_code(&secret, b.clock.now_ms());
    assert!(matches!(
        b.accounts.login_totp(&again, &late, &meta()).await,
        Err(AccountsError::TokenExpired)
    ));
    let acts = actions(&b).await?;
    assert!(
        acts.contains(&"totp.enabled".to_owned()) && acts.contains(&"login.totp-failed".to_owned()),
        "{acts:?}"
    );
    Ok(())
}

pub async fn a_recovery_code_works_once_and_wrong_codes_end_the_challenge(
    b: Backend,
) -> eyre::Result<()> {
    let (ann, secret, codes) = ann_with_totp(&b).await?;
    let challenge = challenge_of(b.accounts.login("ann@example.org", PASSWORD, &meta()).await?);
    b.accounts.login_totp(&challenge, &codes[0].to_uppercase(), &meta()).await?;
    assert_eq!(b.accounts.recovery_codes_left(ann).await?, 9);
    let challenge = challenge_of(b.accounts.login("ann@example.org", PASSWORD, &meta()).await?);
    assert!(matches!(
        b.accounts.login_totp(&challenge, &codes[0], &meta()).await,
        Err(AccountsError::InvalidCode)
    ));
    // Five wrong codes in all, then even a right one is refused on this challenge.
    for wrong in ["123456", "abcde-fghij", "", "99999999"] {
        assert!(
            matches!(
                b.accounts.login_totp(&challenge, wrong, &meta()).await,
                Err(AccountsError::InvalidCode)
            ),
            "{wrong}"
        );
    }
    b.clock.advance(Duration::from_secs(30));
    let right = app_code(&secret, b.clock.now_ms());
    assert!(matches!(
        b.accounts.login_totp(&challenge, &right, &meta()).await,
        Err(AccountsError::TooManyAttempts)
    ));
    // New codes replace the old; turning TOTP off needs a code too.
    let fresh = b.accounts.regenerate_recovery_codes(ann, &right, &meta()).await?;
    assert_eq!(b.accounts.recovery_codes_left(ann).await?, 10);
    assert!(matches!(
        b.accounts.totp_disable(ann, &codes[1], &meta()).await,
        Err(AccountsError::InvalidCode)
    ));
    b.accounts.totp_disable(ann, &fresh[3], &meta()).await?;
    assert!(!b.accounts.totp_enabled(ann).await?);
    // The five wrong codes locked the account's logins for a while, and the lockout is audited.
    assert!(matches!(
        b.accounts.login("ann@example.org", PASSWORD, &meta()).await,
        Err(AccountsError::RateLimited { retry_after_s: 1..=900 })
    ));
    assert!(actions(&b).await?.contains(&"login.locked".to_owned()));
    b.clock.advance(Duration::from_secs(15 * 60));
    assert!(b.accounts.login("ann@example.org", PASSWORD, &meta()).await?.signed().is_some());
    assert!(matches!(
        b.accounts.totp_disable(ann, &fresh[4], &meta()).await,
        Err(AccountsError::TotpNotEnabled)
    ));
    b.accounts.verify_audit().await?;
    Ok(())
}

pub async fn api_keys_act_for_their_owner_within_their_scopes(b: Backend) -> eyre::Result<()> {
    use btcr_accounts::Scope;
    let ann = b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let bob = b.accounts.register("bob@example.org", PASSWORD, &meta()).await?;
    let (made, key) =
        b.accounts.create_api_key(ann.id, "  indexer  ", &[Scope::Read], &meta()).await?;
    assert_eq!(made.name, "indexer");
    assert!(key.starts_with(&made.prefix) && key.len() == 8 + 12 + 43, "{key}");
    let principal = b.accounts.check_api_key(&key).await?;
    assert_eq!((principal.user.id, principal.key_id), (ann.id, made.id));
    principal.require(Scope::Read)?;
    assert!(matches!(principal.require(Scope::Write), Err(AccountsError::MissingScope("write"))));
    let listed = b.accounts.api_keys(ann.id).await?;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_ms.is_some());
    assert!(!format!("{listed:?}").contains(&key[20..]), "the secret is never shown again");
    assert!(b.accounts.api_keys(bob.id).await?.is_empty());

    // Forged keys: right prefix with another secret, wrong shapes.
    let forged = format!("{}{}", &key[..20], "B".repeat(43));
    for bad in [forged.as_str(), "", "btcr_ak_", &key[..key.len() - 1], &format!("{key}x")] {
        assert!(
            matches!(b.accounts.check_api_key(bad).await, Err(AccountsError::InvalidToken(_))),
            "{bad}"
        );
    }
    // Bad names and scopes; the per-user bound.
    for (name, scopes) in [
        ("", &[Scope::Read][..]),
        (&"n".repeat(65)[..], &[Scope::Read][..]),
        ("tab\there", &[Scope::Read][..]),
        ("ok", &[][..]),
    ] {
        assert!(
            matches!(
                b.accounts.create_api_key(ann.id, name, scopes, &meta()).await,
                Err(AccountsError::InvalidApiKey(_))
            ),
            "{name:?}"
        );
    }
    for i in 1..btcr_accounts::MAX_API_KEYS {
        b.accounts
            .create_api_key(ann.id, &format!("k{i}"), &[Scope::Read, Scope::Write], &meta())
            .await?;
    }
    assert!(matches!(
        b.accounts.create_api_key(ann.id, "one more", &[Scope::Read], &meta()).await,
        Err(AccountsError::TooManyApiKeys { max: 50 })
    ));
    // Bob cannot revoke Ann's key; Ann can, and it stops working.
    assert!(matches!(
        b.accounts.revoke_api_key(bob.id, made.id, &meta()).await,
        Err(AccountsError::InvalidApiKey(_))
    ));
    b.accounts.revoke_api_key(ann.id, made.id, &meta()).await?;
    assert!(matches!(
        b.accounts.check_api_key(&key).await,
        Err(AccountsError::InvalidToken("revoked API key"))
    ));
    // A disabled owner's keys stop too.
    let admin = b.accounts.create_admin("root@example.org", PASSWORD, &meta()).await?;
    let (_, bobs) = b.accounts.create_api_key(bob.id, "bot", &[Scope::Write], &meta()).await?;
    b.accounts.update_user(admin.id, bob.id, None, Some(true), &meta()).await?;
    assert!(matches!(b.accounts.check_api_key(&bobs).await, Err(AccountsError::Disabled)));
    Ok(())
}

fn from(ip: &str) -> RequestMeta {
    RequestMeta { ip: Some(ip.into()), user_agent: None }
}

pub async fn repeated_logins_registrations_and_refreshes_are_locked_out_for_a_while(
    b: Backend,
) -> eyre::Result<()> {
    // Registrations: ten an hour from one address; another address is not held back.
    for i in 0..10 {
        b.accounts.register(&format!("u{i}@example.org"), PASSWORD, &from("198.51.100.1")).await?;
    }
    let refused = b.accounts.register("u10@example.org", PASSWORD, &from("198.51.100.1")).await;
    assert!(
        matches!(refused, Err(AccountsError::RateLimited { retry_after_s: 3600 })),
        "{refused:?}"
    );
    b.accounts.register("u10@example.org", PASSWORD, &from("198.51.100.2")).await?;

    // Five wrong passwords lock the account, even for the right one and from elsewhere;
    // other accounts go on; the lockout ends.
    for _ in 0..5 {
        let wrong = b
            .accounts
            .login("u0@example.org", "not the password at all", &from("203.0.113.9"))
            .await;
        assert!(matches!(wrong, Err(AccountsError::InvalidCredentials)));
    }
    let locked = b.accounts.login("u0@example.org", PASSWORD, &from("203.0.113.10")).await;
    assert!(matches!(locked, Err(AccountsError::RateLimited { .. })), "{locked:?}");
    sign_in(&b.accounts, "u1@example.org", PASSWORD, &from("203.0.113.9")).await?;
    b.clock.advance(Duration::from_secs(15 * 60));
    sign_in(&b.accounts, "u0@example.org", PASSWORD, &from("203.0.113.10")).await?;

    // Fifty failures from one address over many accounts (or none) lock that address.
    for i in 0..50 {
        let _ =
            b.accounts.login(&format!("guess{i}@example.org"), PASSWORD, &from("192.0.2.66")).await;
    }
    let locked = b.accounts.login("u2@example.org", PASSWORD, &from("192.0.2.66")).await;
    assert!(matches!(locked, Err(AccountsError::RateLimited { .. })), "{locked:?}");
    sign_in(&b.accounts, "u2@example.org", PASSWORD, &from("192.0.2.67")).await?;

    // Refreshes: 120 a minute from one address, valid or not.
    let (_, mut pair) =
        sign_in(&b.accounts, "u3@example.org", PASSWORD, &from("192.0.2.80")).await?;
    for _ in 0..120 {
        pair = b.accounts.refresh(&pair.refresh_token, &from("192.0.2.80")).await?;
    }
    let held = b.accounts.refresh(&pair.refresh_token, &from("192.0.2.80")).await;
    assert!(matches!(held, Err(AccountsError::RateLimited { retry_after_s: 60 })), "{held:?}");
    b.accounts.refresh(&pair.refresh_token, &from("192.0.2.81")).await?;
    Ok(())
}
