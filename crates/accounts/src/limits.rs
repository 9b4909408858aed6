//! Rate limits on what an attacker would repeat: registrations and refreshes per client
//! address, failed logins per account and per address, wrong second-factor codes per
//! account. Each counts in a fixed window; past its bound the key is locked out for a while
//! and the request refused with the seconds to wait. Counters live in this process (one
//! replica); the shared store for several replicas comes with `--redis-url`.

use std::{collections::HashMap, time::Duration};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

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
const MAX_LIMIT_COUNT: u32 = 1_000_000;
/// The longest window or lockout a limit may have: a day.
const MAX_LIMIT_SECONDS: u64 = 86_400;

/// A [`Limit`] as settings write it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LimitDoc {
    max: u32,
    window_s: u64,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimits {
    /// Registrations from one address.
    pub register_per_ip: Limit,
    /// Failed logins (and wrong codes) for one account.
    pub login_failures_per_account: Limit,
    /// Failed logins from one address, whatever the account.
    pub login_failures_per_ip: Limit,
    /// Refreshes from one address.
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

/// The counters.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: RwLock<RateLimits>,
    entries: Mutex<HashMap<(Kind, String), Entry>>,
}

/// A refusal: wait this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Locked {
    pub(crate) retry_after_s: u64,
}

impl Limiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self { limits: RwLock::new(limits), entries: Mutex::new(HashMap::new()) }
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

    /// Refuses while `key` is locked out for `kind`.
    pub(crate) fn check(&self, kind: Kind, key: &str, now_ms: u64) -> Result<(), Locked> {
        let entries = self.entries.lock();
        match entries.get(&(kind, key.to_owned())) {
            Some(e) if e.locked_until_ms > now_ms => {
                Err(Locked { retry_after_s: (e.locked_until_ms - now_ms).div_ceil(1000) })
            }
            _ => Ok(()),
        }
    }

    /// Counts one event for `key`; `true` when this one locked it.
    pub(crate) fn count(&self, kind: Kind, key: &str, now_ms: u64) -> bool {
        let limit = self.limit(kind);
        let window_ms = limit.window.as_millis() as u64;
        let max_tracked = self.limits.read().max_tracked;
        let mut entries = self.entries.lock();
        if entries.len() >= max_tracked && !entries.contains_key(&(kind, key.to_owned())) {
            // Forget what has gone quiet; if that is not enough, what is not locked.
            entries.retain(|_, e| {
                e.locked_until_ms > now_ms || now_ms < e.window_start_ms + window_ms
            });
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

    /// Forgets `key`'s count (a successful login clears the account's failures).
    pub(crate) fn clear(&self, kind: Kind, key: &str) {
        self.entries.lock().remove(&(kind, key.to_owned()));
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.entries.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_locks_at_its_bound_for_its_lockout_and_others_do_not() {
        let limiter = Limiter::new(RateLimits::default());
        let t = 1_000_000;
        for i in 0..4 {
            assert!(!limiter.count(Kind::LoginAccount, "ann", t + i));
            assert!(limiter.check(Kind::LoginAccount, "ann", t + i).is_ok());
        }
        assert!(limiter.count(Kind::LoginAccount, "ann", t + 10));
        assert_eq!(
            limiter.check(Kind::LoginAccount, "ann", t + 10),
            Err(Locked { retry_after_s: 900 })
        );
        assert!(limiter.check(Kind::LoginAccount, "bob", t + 10).is_ok());
        assert!(limiter.check(Kind::LoginIp, "ann", t + 10).is_ok());
        assert!(limiter.check(Kind::LoginAccount, "ann", t + 10 + 900_000).is_ok());
    }

    #[test]
    fn counts_start_again_in_each_window() {
        let limiter = Limiter::new(RateLimits::default());
        for window in 0..10u64 {
            for i in 0..4 {
                assert!(!limiter.count(Kind::LoginAccount, "ann", window * 900_000 + i));
            }
        }
    }

    #[test]
    fn a_flood_of_distinct_keys_stays_within_the_tracked_bound_and_keeps_the_locked_ones() {
        let limiter = Limiter::new(RateLimits { max_tracked: 1000, ..Default::default() });
        let t = 1_000_000;
        for _ in 0..5 {
            limiter.count(Kind::LoginAccount, "victim-of-guessing", t);
        }
        for i in 0..100_000 {
            limiter.count(Kind::LoginIp, &format!("198.51.{}.{}", i / 256, i % 256), t + 1);
            assert!(limiter.tracked() <= 1000);
        }
        assert!(limiter.check(Kind::LoginAccount, "victim-of-guessing", t + 2).is_err());
    }
}
