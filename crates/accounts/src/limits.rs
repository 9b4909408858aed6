//! Rate limits on what an attacker would repeat: registrations and refreshes per client
//! address, failed logins per account and per address, wrong second-factor codes per
//! account. Each counts in a fixed window; past its bound the key is locked out for a while
//! and the request refused with the seconds to wait. Counters live in this process (one
//! replica: a bounded table) or in Redis (`--redis-url`: every replica counts in the same
//! keys, each event counted by one atomic script, each key expiring once its window and
//! lockout are over). When Redis does not answer, the limited requests are refused (503)
//! rather than let through uncounted.

use std::{collections::HashMap, time::Duration};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::AccountsError;

/// One bound: at most `max` counted events per `window`; the next is refused until
/// `lockout` after the one that crossed it. In settings: `{"max", "windowS", "lockoutS"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LimitDoc", into = "LimitDoc")]
pub struct Limit {
    /// Events counted in one window before the key locks.
    pub max: u32,
    /// The window.
    pub window: Duration,
    /// How long a key stays locked once over.
    pub lockout: Duration,
}

impl Limit {
    const fn new(max: u32, window_s: u64, lockout_s: u64) -> Self {
        Self { max, window: Duration::from_secs(window_s), lockout: Duration::from_secs(lockout_s) }
    }
}

/// The most events a limit may allow per window.
pub(crate) const MAX_LIMIT_COUNT: u32 = 1_000_000;
/// The longest window or lockout a limit may have: a day.
pub(crate) const MAX_LIMIT_SECONDS: u64 = 86_400;

/// One rate limit, as settings write it: at most `max` events in `windowS` seconds, then
/// locked for `lockoutS` seconds.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = Limit)]
struct LimitDoc {
    /// Events counted in one window before the key locks.
    #[schema(minimum = 1, maximum = 1_000_000)] // MAX_LIMIT_COUNT
    max: u32,
    /// The window, in seconds.
    #[schema(minimum = 1, maximum = 86_400)] // MAX_LIMIT_SECONDS
    window_s: u64,
    /// How long a key stays locked once over, in seconds.
    #[schema(minimum = 1, maximum = 86_400)] // MAX_LIMIT_SECONDS
    lockout_s: u64,
}

impl TryFrom<LimitDoc> for Limit {
    type Error = String;

    fn try_from(doc: LimitDoc) -> Result<Self, String> {
        if !(1..=MAX_LIMIT_COUNT).contains(&doc.max) {
            return Err(format!("max must be 1 to {MAX_LIMIT_COUNT}"));
        }
        for (name, value) in [("windowS", doc.window_s), ("lockoutS", doc.lockout_s)] {
            if !(1..=MAX_LIMIT_SECONDS).contains(&value) {
                return Err(format!("{name} must be 1 to {MAX_LIMIT_SECONDS} seconds"));
            }
        }
        Ok(Limit::new(doc.max, doc.window_s, doc.lockout_s))
    }
}

impl From<Limit> for LimitDoc {
    fn from(limit: Limit) -> Self {
        LimitDoc {
            max: limit.max,
            window_s: limit.window.as_secs(),
            lockout_s: limit.lockout.as_secs(),
        }
    }
}

/// Every bound of the service. Administrators change them in the settings (all but
/// `max_tracked`, which bounds this process's memory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimits {
    /// Registrations from one address.
    #[schema(value_type = LimitDoc)]
    pub register_per_ip: Limit,
    /// Failed logins (and wrong codes) for one account.
    #[schema(value_type = LimitDoc)]
    pub login_failures_per_account: Limit,
    /// Failed logins from one address, whatever the account.
    #[schema(value_type = LimitDoc)]
    pub login_failures_per_ip: Limit,
    /// Refreshes from one address.
    #[schema(value_type = LimitDoc)]
    pub refresh_per_ip: Limit,
    /// Keys tracked at once, past which idle ones are forgotten first.
    #[serde(skip, default = "default_max_tracked")]
    pub max_tracked: usize,
}

impl Default for RateLimits {
    /// 10 registrations an hour per address; 5 failed logins per account and 50 per address
    /// in 15 minutes, each then locked 15 minutes; 120 refreshes a minute per address;
    /// 100,000 keys tracked.
    fn default() -> Self {
        Self {
            register_per_ip: Limit::new(10, 3600, 3600),
            login_failures_per_account: Limit::new(5, 900, 900),
            login_failures_per_ip: Limit::new(50, 900, 900),
            refresh_per_ip: Limit::new(120, 60, 60),
            max_tracked: 100_000,
        }
    }
}

fn default_max_tracked() -> usize {
    RateLimits::default().max_tracked
}

/// What a key is counted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    RegisterIp,
    LoginAccount,
    LoginIp,
    RefreshIp,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start_ms: u64,
    count: u32,
    locked_until_ms: u64,
}

impl Kind {
    /// Its name in a shared store's keys.
    fn name(self) -> &'static str {
        match self {
            Kind::RegisterIp => "register-ip",
            Kind::LoginAccount => "login-account",
            Kind::LoginIp => "login-ip",
            Kind::RefreshIp => "refresh-ip",
        }
    }
}

/// A refusal: wait this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Locked {
    pub(crate) retry_after_s: u64,
}

/// How long the shared store has to answer one command.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// What every key of the shared store begins with.
const REDIS_PREFIX: &str = "btcr:limits:";

/// Counts one event in the shared store, atomically: the hash holds the window's start,
/// its count and the lockout's end; the key expires once neither matters. Answers 1 when
/// this event locked the key. KEYS[1]: the key; ARGV: max, window (ms), lockout (ms), now
/// (ms).
const REDIS_COUNT: &str = r#"
local max, window, lockout, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local entry = redis.call('HMGET', KEYS[1], 'start', 'count', 'locked')
local start, count, locked = tonumber(entry[1]) or now, tonumber(entry[2]) or 0, tonumber(entry[3]) or 0
if now >= start + window then start, count = now, 0 end
count = count + 1
local locked_now = 0
if count >= max and locked <= now then
  locked, count, start, locked_now = now + lockout, 0, now, 1
end
redis.call('HSET', KEYS[1], 'start', start, 'count', count, 'locked', locked)
redis.call('PEXPIRE', KEYS[1], math.max(start + window, locked) - now + 1000)
return locked_now
"#;

/// Where the counts live.
enum Store {
    /// In this process: one replica.
    Local(Mutex<HashMap<(Kind, String), Entry>>),
    /// In Redis, shared by every replica that names it.
    Redis { connection: redis::aio::ConnectionManager, count: redis::Script },
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Store::Local(entries) => write!(f, "Local({} keys)", entries.lock().len()),
            Store::Redis { .. } => write!(f, "Redis"),
        }
    }
}

/// The counters.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: RwLock<RateLimits>,
    store: Store,
}

fn store_failed(e: redis::RedisError) -> AccountsError {
    AccountsError::LimitStore(e.to_string())
}

impl Limiter {
    /// Counts in this process.
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self { limits: RwLock::new(limits), store: Store::Local(Mutex::new(HashMap::new())) }
    }

    /// Counts in the Redis at `url` (`redis://host:port/db`), connecting now; the
    /// connection comes back by itself after a failure.
    pub(crate) async fn redis(limits: RateLimits, url: &str) -> Result<Self, AccountsError> {
        let client = redis::Client::open(url).map_err(store_failed)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(2);
        let connection =
            client.get_connection_manager_with_config(config).await.map_err(store_failed)?;
        let store = Store::Redis { connection, count: redis::Script::new(REDIS_COUNT) };
        Ok(Self { limits: RwLock::new(limits), store })
    }

    /// `local` or `redis`.
    pub(crate) fn store_name(&self) -> &'static str {
        match self.store {
            Store::Local(_) => "local",
            Store::Redis { .. } => "redis",
        }
    }

    /// Puts new bounds in force (the settings changed); how many keys are tracked stays.
    pub(crate) fn set_limits(&self, limits: &RateLimits) {
        let mut current = self.limits.write();
        let max_tracked = current.max_tracked;
        *current = RateLimits { max_tracked, ..limits.clone() };
    }

    fn limit(&self, kind: Kind) -> Limit {
        let limits = self.limits.read();
        match kind {
            Kind::RegisterIp => limits.register_per_ip,
            Kind::LoginAccount => limits.login_failures_per_account,
            Kind::LoginIp => limits.login_failures_per_ip,
            Kind::RefreshIp => limits.refresh_per_ip,
        }
    }

    /// `Some` while `key` is locked out for `kind`.
    pub(crate) async fn check(
        &self,
        kind: Kind,
        key: &str,
        now_ms: u64,
    ) -> Result<Option<Locked>, AccountsError> {
        let locked_until_ms = match &self.store {
            Store::Local(entries) => {
                entries.lock().get(&(kind, key.to_owned())).map_or(0, |e| e.locked_until_ms)
            }
            Store::Redis { connection, .. } => {
                let mut connection = connection.clone();
                redis::cmd("HGET")
                    .arg(redis_key(kind, key))
                    .arg("locked")
                    .query_async::<Option<u64>>(&mut connection)
                    .await
                    .map_err(store_failed)?
                    .unwrap_or(0)
            }
        };
        Ok((locked_until_ms > now_ms)
            .then(|| Locked { retry_after_s: (locked_until_ms - now_ms).div_ceil(1000) }))
    }

    /// Counts one event for `key`; `true` when this one locked it.
    pub(crate) async fn count(
        &self,
        kind: Kind,
        key: &str,
        now_ms: u64,
    ) -> Result<bool, AccountsError> {
        let limit = self.limit(kind);
        match &self.store {
            Store::Local(entries) => {
                let max_tracked = self.limits.read().max_tracked;
                Ok(count_local(&mut entries.lock(), max_tracked, limit, kind, key, now_ms))
            }
            Store::Redis { connection, count } => {
                let mut connection = connection.clone();
                let locked: i64 = count
                    .key(redis_key(kind, key))
                    .arg(limit.max)
                    .arg(limit.window.as_millis() as u64)
                    .arg(limit.lockout.as_millis() as u64)
                    .arg(now_ms)
                    .invoke_async(&mut connection)
                    .await
                    .map_err(store_failed)?;
                Ok(locked == 1)
            }
        }
    }

    /// Forgets `key`'s count (a successful login clears the account's failures).
    pub(crate) async fn clear(&self, kind: Kind, key: &str) -> Result<(), AccountsError> {
        match &self.store {
            Store::Local(entries) => {
                entries.lock().remove(&(kind, key.to_owned()));
            }
            Store::Redis { connection, .. } => {
                let mut connection = connection.clone();
                redis::cmd("DEL")
                    .arg(redis_key(kind, key))
                    .query_async::<i64>(&mut connection)
                    .await
                    .map_err(store_failed)?;
            }
        }
        Ok(())
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        match &self.store {
            Store::Local(entries) => entries.lock().len(),
            Store::Redis { .. } => 0,
        }
    }
}

fn redis_key(kind: Kind, key: &str) -> String {
    format!("{REDIS_PREFIX}{}:{key}", kind.name())
}

/// [`Limiter::count`] in this process's table, which holds at most `max_tracked` keys.
fn count_local(
    entries: &mut HashMap<(Kind, String), Entry>,
    max_tracked: usize,
    limit: Limit,
    kind: Kind,
    key: &str,
    now_ms: u64,
) -> bool {
    let window_ms = limit.window.as_millis() as u64;
    if entries.len() >= max_tracked && !entries.contains_key(&(kind, key.to_owned())) {
        // Forget what has gone quiet; if that is not enough, what is not locked.
        entries.retain(|_, e| e.locked_until_ms > now_ms || now_ms < e.window_start_ms + window_ms);
        if entries.len() >= max_tracked {
            entries.retain(|_, e| e.locked_until_ms > now_ms);
        }
    }
    let entry = entries.entry((kind, key.to_owned())).or_insert(Entry {
        window_start_ms: now_ms,
        count: 0,
        locked_until_ms: 0,
    });
    if now_ms >= entry.window_start_ms + window_ms {
        entry.window_start_ms = now_ms;
        entry.count = 0;
    }
    entry.count += 1;
    if entry.count >= limit.max && entry.locked_until_ms <= now_ms {
        entry.locked_until_ms = now_ms + limit.lockout.as_millis() as u64;
        entry.count = 0;
        entry.window_start_ms = now_ms;
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_locks_at_its_bound_for_its_lockout_and_others_do_not() {
        let limiter = Limiter::new(RateLimits::default());
        let t = 1_000_000;
        for i in 0..4 {
            assert!(!limiter.count(Kind::LoginAccount, "ann", t + i).await.unwrap());
            assert!(limiter.check(Kind::LoginAccount, "ann", t + i).await.unwrap().is_none());
        }
        assert!(limiter.count(Kind::LoginAccount, "ann", t + 10).await.unwrap());
        assert_eq!(
            limiter.check(Kind::LoginAccount, "ann", t + 10).await.unwrap(),
            Some(Locked { retry_after_s: 900 })
        );
        assert!(limiter.check(Kind::LoginAccount, "bob", t + 10).await.unwrap().is_none());
        assert!(limiter.check(Kind::LoginIp, "ann", t + 10).await.unwrap().is_none());
        let later = t + 10 + 900_000;
        assert!(limiter.check(Kind::LoginAccount, "ann", later).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn counts_start_again_in_each_window() {
        let limiter = Limiter::new(RateLimits::default());
        for window in 0..10u64 {
            for i in 0..4 {
                let now = window * 900_000 + i;
                assert!(!limiter.count(Kind::LoginAccount, "ann", now).await.unwrap());
            }
        }
    }

    #[tokio::test]
    async fn a_flood_of_distinct_keys_stays_within_the_tracked_bound_and_keeps_the_locked_ones() {
        let limiter = Limiter::new(RateLimits { max_tracked: 1000, ..Default::default() });
        let t = 1_000_000;
        for _ in 0..5 {
            limiter.count(Kind::LoginAccount, "victim-of-guessing", t).await.unwrap();
        }
        for i in 0..100_000 {
            let ip = format!("198.51.{}.{}", i / 256, i % 256);
            limiter.count(Kind::LoginIp, &ip, t + 1).await.unwrap();
            assert!(limiter.tracked() <= 1000);
        }
        let locked = limiter.check(Kind::LoginAccount, "victim-of-guessing", t + 2).await;
        assert!(locked.unwrap().is_some());
    }

    #[test]
    fn limits_in_settings_are_checked_and_named_in_seconds() {
        let limit: Limit =
            serde_json::from_str(r#"{"max":3,"windowS":60,"lockoutS":600}"#).unwrap();
        assert_eq!(limit, Limit::new(3, 60, 600));
        assert_eq!(
            serde_json::to_value(limit).unwrap(),
            serde_json::json!({ "max": 3, "windowS": 60, "lockoutS": 600 })
        );
        for bad in [
            r#"{"max":0,"windowS":60,"lockoutS":600}"#,
            r#"{"max":3,"windowS":0,"lockoutS":600}"#,
            r#"{"max":3,"windowS":60,"lockoutS":86401}"#,
            r#"{"max":3,"windowS":60}"#,
            r#"{"max":3,"windowS":60,"lockoutS":600,"extra":1}"#,
        ] {
            assert!(serde_json::from_str::<Limit>(bad).is_err(), "{bad}");
        }
    }
}
