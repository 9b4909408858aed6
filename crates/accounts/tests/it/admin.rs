//! Settings, the users list and the statistics, on each backend.

use std::{sync::Arc, time::Duration};

use btcr_accounts::{AccountsError, Limit, MAX_BANNER_CHARS, RequestMeta, Role, Settings};
use btcr_testkit::eventually_async;

use crate::Backend;

const PASSWORD: &str = "correct horse battery staple";

fn from(ip: &str) -> RequestMeta {
    RequestMeta { ip: Some(ip.into()), user_agent: Some("admin-scenario/1".into()) }
}

pub async fn settings_close_registration_tighten_limits_and_show_a_banner_on_every_replica(
    b: Backend,
) -> eyre::Result<()> {
    let admin = b.accounts.create_admin("root@example.org", PASSWORD, &from("192.0.2.1")).await?;
    let user = b.accounts.register("ann@example.org", PASSWORD, &from("192.0.2.2")).await?;
    let shown = b.accounts.public_settings().await?;
    assert!(shown.registration_open && shown.banner.is_none());
    assert_eq!(shown.min_password_chars, 12);
    // A replica that has read the settings before they change.
    let replica = b.reopen(b.config.clone()).await?;
    assert!(replica.settings().await?.registration_open);

    let before = b.accounts.settings().await?;
    let mut changed = Settings::clone(&before);
    changed.registration_open = false;
    changed.banner = Some("Maintenance on Sunday 02:00 UTC".into());
    changed.limits.login_failures_per_account =
        Limit { max: 2, window: Duration::from_secs(60), lockout: Duration::from_secs(120) };
    assert!(matches!(
        b.accounts.update_settings(user.id, changed.clone(), &from("192.0.2.2")).await,
        Err(AccountsError::Forbidden)
    ));
    for banner in ["x".repeat(MAX_BANNER_CHARS + 1), "line\nbreak".into()] {
        let bad = Settings { banner: Some(banner), ..changed.clone() };
        assert!(matches!(
            b.accounts.update_settings(admin.id, bad, &from("192.0.2.1")).await,
            Err(AccountsError::InvalidSettings(_))
        ));
    }
    assert_eq!(*b.accounts.settings().await?, *before, "refused changes leave the settings");

    let applied = b.accounts.update_settings(admin.id, changed.clone(), &from("192.0.2.1")).await?;
    assert_eq!(*applied, changed);
    // In force at once on this replica: registration closed (administrators are still
    // made), the banner shown, and the second wrong password locks the account.
    assert!(matches!(
        b.accounts.register("bob@example.org", PASSWORD, &from("192.0.2.3")).await,
        Err(AccountsError::RegistrationClosed)
    ));
    b.accounts.create_admin("second@example.org", PASSWORD, &from("192.0.2.1")).await?;
    let shown = b.accounts.public_settings().await?;
    assert!(!shown.registration_open);
    assert_eq!(shown.banner.as_deref(), Some("Maintenance on Sunday 02:00 UTC"));
    for _ in 0..2 {
        assert!(matches!(
            b.accounts.login("ann@example.org", "wrong password!", &from("192.0.2.4")).await,
            Err(AccountsError::InvalidCredentials)
        ));
    }
    match b.accounts.login("ann@example.org", PASSWORD, &from("192.0.2.4")).await {
        Err(AccountsError::RateLimited { retry_after_s }) => assert_eq!(retry_after_s, 120),
        other => eyre::bail!("expected the account locked, got {other:?}"),
    }

    // The replica reads them again once its copy is older than `SETTINGS_REFRESH`; a
    // replica opened now reads them at once.
    let fresh = b.reopen(b.config.clone()).await?;
    assert!(!fresh.settings().await?.registration_open);
    let replica = Arc::new(replica);
    assert!(
        eventually_async(|| {
            let replica = replica.clone();
            async move { replica.settings().await.is_ok_and(|s| !s.registration_open) }
        })
        .await
    );
    assert!(matches!(
        replica.register("carol@example.org", PASSWORD, &from("192.0.2.5")).await,
        Err(AccountsError::RegistrationClosed)
    ));

    // Audited with what they were before.
    let records = b.accounts.audit(0, 1000).await?;
    let record = records
        .iter()
        .find(|r| r.action == "admin.settings-updated")
        .ok_or_else(|| eyre::eyre!("no settings record"))?;
    assert_eq!(record.actor, Some(admin.id));
    let detail: serde_json::Value = serde_json::from_str(&record.detail)?;
    assert_eq!(detail["before"]["registrationOpen"], true);
    assert_eq!(detail["after"]["registrationOpen"], false);
    assert_eq!(detail["after"]["limits"]["loginFailuresPerAccount"]["max"], 2);
    b.accounts.verify_audit().await?;

    // Opening registration again takes effect the same way.
    let reopened = Settings { registration_open: true, ..changed };
    b.accounts.update_settings(admin.id, reopened, &from("192.0.2.1")).await?;
    b.accounts.register("dan@example.org", PASSWORD, &from("192.0.2.6")).await?;
    Ok(())
}

pub async fn an_admin_lists_users_by_search_and_page_and_reads_the_figures(
    b: Backend,
) -> eyre::Result<()> {
    let anyone = RequestMeta::default();
    let admin = b.accounts.create_admin("root@example.org", PASSWORD, &anyone).await?;
    let mut ids = vec![admin.id];
    for i in 0..12 {
        ids.push(b.accounts.register(&format!("ann{i}@example.org"), PASSWORD, &anyone).await?.id);
    }
    ids.push(b.accounts.register("bob_x@example.org", PASSWORD, &anyone).await?.id);
    ids.push(b.accounts.register("bobyx@example.org", PASSWORD, &anyone).await?.id);

    let page = b.accounts.list_users(admin.id, Some("ANN1"), 0, 50).await?;
    let found: Vec<&str> = page.users.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(found, ["ann1@example.org", "ann10@example.org", "ann11@example.org"]);
    assert_eq!(page.total, 3);
    // A wildcard in the search is a character like any other.
    let page = b.accounts.list_users(admin.id, Some("b_x"), 0, 50).await?;
    assert_eq!(page.users.len(), 1);
    assert_eq!(page.users[0].email, "bob_x@example.org");
    let page = b.accounts.list_users(admin.id, Some("%"), 0, 50).await?;
    assert_eq!(page.total, 0);

    let mut seen = Vec::new();
    for offset in (0..20).step_by(5) {
        let page = b.accounts.list_users(admin.id, None, offset, 5).await?;
        assert_eq!(page.total, 15);
        seen.extend(page.users.iter().map(|u| u.id));
    }
    assert_eq!(seen, ids, "pages cover every user once, by id");
    for (offset, limit) in [(0, 0), (0, 101), (-1, 10)] {
        assert!(matches!(
            b.accounts.list_users(admin.id, None, offset, limit).await,
            Err(AccountsError::InvalidQuery(_))
        ));
    }
    assert!(matches!(
        b.accounts.list_users(admin.id, Some(&"a".repeat(255)), 0, 10).await,
        Err(AccountsError::InvalidQuery(_))
    ));
    assert!(matches!(
        b.accounts.list_users(ids[1], None, 0, 10).await,
        Err(AccountsError::Forbidden)
    ));

    // The figures: two sessions, one key, one disabled user, sign-ups by day.
    for email in ["ann0@example.org", "ann1@example.org"] {
        b.accounts.login(email, PASSWORD, &anyone).await?;
    }
    b.accounts.create_api_key(ids[1], "ci", &[btcr_accounts::Scope::Read], &anyone).await?;
    b.accounts.update_user(admin.id, ids[3], None, Some(true), &anyone).await?;
    b.clock.advance(Duration::from_secs(86_400));
    b.accounts.register("late@example.org", PASSWORD, &anyone).await?;
    let stats = b.accounts.account_stats(admin.id).await?;
    assert_eq!((stats.users, stats.admins, stats.disabled, stats.with_totp), (16, 1, 1, 0));
    assert_eq!((stats.active_sessions, stats.api_keys), (2, 1));
    assert_eq!(stats.signups_per_day.len(), 30);
    let counts: Vec<i64> = stats.signups_per_day.iter().map(|d| d.count).collect();
    assert_eq!(counts[28..], [15, 1]);
    assert!(counts[..28].iter().all(|c| *c == 0));
    let last = &stats.signups_per_day[29].day;
    assert_eq!(last.len(), 10, "{last}");
    assert!(stats.signups_per_day.windows(2).all(|w| w[0].day < w[1].day));

    // A demoted administrator's old token is not enough: the stored role is read.
    b.accounts.update_user(admin.id, ids[2], Some(Role::Admin), None, &anyone).await?;
    b.accounts.update_user(ids[2], admin.id, Some(Role::User), None, &anyone).await?;
    assert!(matches!(b.accounts.account_stats(admin.id).await, Err(AccountsError::Forbidden)));
    assert!(b.accounts.account_stats(ids[2]).await.is_ok());
    Ok(())
}

pub async fn replicas_count_failures_in_one_redis_and_refuse_while_it_is_down(
    b: Backend,
) -> eyre::Result<()> {
    let mut redis = btcr_testkit::TempRedis::start()?;
    let shared = btcr_accounts::AccountsConfig { redis_url: Some(redis.url()), ..b.config.clone() };
    let (one, two) = (b.reopen(shared.clone()).await?, b.reopen(shared.clone()).await?);
    assert_eq!((one.limits_store(), b.accounts.limits_store()), ("redis", "local"));
    one.register("ann@example.org", PASSWORD, &from("192.0.2.1")).await?;

    // Five failures, alternating between the replicas from two addresses, lock the account
    // on both; a replica counting in its own process knows nothing of them.
    for i in 0..5 {
        let (replica, ip) = if i % 2 == 0 { (&one, "192.0.2.2") } else { (&two, "192.0.2.3") };
        assert!(matches!(
            replica.login("ann@example.org", "wrong password!", &from(ip)).await,
            Err(AccountsError::InvalidCredentials)
        ));
    }
    for replica in [&one, &two] {
        assert!(matches!(
            replica.login("ann@example.org", PASSWORD, &from("192.0.2.4")).await,
            Err(AccountsError::RateLimited { retry_after_s: 900 })
        ));
    }
    assert!(b.accounts.login("ann@example.org", PASSWORD, &from("192.0.2.4")).await.is_ok());
    // The lockout ends on both at once.
    b.clock.advance(Duration::from_secs(900));
    two.login("ann@example.org", PASSWORD, &from("192.0.2.4")).await?;

    // With Redis gone, what is limited is refused, not let through uncounted; once it is
    // back on its address, the replicas reconnect by themselves.
    let port = redis.port();
    redis.kill();
    for replica in [&one, &two] {
        assert!(matches!(
            replica.login("ann@example.org", PASSWORD, &from("192.0.2.4")).await,
            Err(AccountsError::LimitStore(_))
        ));
    }
    let _restarted = btcr_testkit::TempRedis::start_on(port)?;
    let one = Arc::new(one);
    assert!(
        eventually_async(|| {
            let one = one.clone();
            async move { one.login("ann@example.org", PASSWORD, &from("192.0.2.4")).await.is_ok() }
        })
        .await
    );
    Ok(())
}
