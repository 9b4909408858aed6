//! Password hashing: argon2id with OWASP's parameters, run on the blocking pool, never more
//! at once than the policy allows, and a bounded number waiting, so that a flood of logins
//! cannot take every core or queue without end.

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicUsize, Ordering},
};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::SaltString,
};
use tokio::sync::Semaphore;

use crate::AccountsError;

/// What a password must be, and what hashing it costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Shortest password accepted, in characters.
    pub min_chars: usize,
    /// Longest password hashed, in bytes (argon2 reads all of it).
    pub max_bytes: usize,
    /// Argon2id memory, in KiB.
    pub memory_kib: u32,
    /// Argon2id passes.
    pub iterations: u32,
    /// Argon2id lanes.
    pub parallelism: u32,
    /// Hashes computed at once.
    pub concurrent: usize,
    /// Hashes waiting for a turn, past which a request is refused as busy.
    pub max_waiting: usize,
}

impl Default for PasswordPolicy {
    /// OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane), 12 to 256 bytes, one
    /// hash per core at once.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            min_chars: 12,
            max_bytes: 256,
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            concurrent: cores,
            max_waiting: 64 * cores,
        }
    }
}

/// Hashes and verifies passwords under one [`PasswordPolicy`].
#[derive(Clone, Debug)]
pub struct Passwords {
    policy: PasswordPolicy,
    params: Params,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    /// A hash under this policy's parameters that no password matches, verified for logins
    /// of unknown addresses (made on first use).
    decoy: Arc<OnceLock<String>>,
}

/// A verified password, and whether its stored hash used weaker parameters than today's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) needs_rehash: bool,
}

impl Passwords {
    /// Hashing under `policy`; fails if its argon2 parameters are out of range.
    pub fn new(policy: PasswordPolicy) -> Result<Self, AccountsError> {
        let params = Params::new(policy.memory_kib, policy.iterations, policy.parallelism, None)
            .map_err(|e| AccountsError::Hashing(e.to_string()))?;
        let permits = Arc::new(Semaphore::new(policy.concurrent.max(1)));
        Ok(Self {
            policy,
            params,
            permits,
            waiting: Arc::new(AtomicUsize::new(0)),
            decoy: Arc::new(OnceLock::new()),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    /// Refuses a password the policy does not accept.
    pub fn check(&self, password: &str) -> Result<(), AccountsError> {
        if password.len() > self.policy.max_bytes {
            return Err(AccountsError::PasswordTooLong { max: self.policy.max_bytes });
        }
        if password.chars().count() < self.policy.min_chars {
            return Err(AccountsError::PasswordTooShort { min: self.policy.min_chars });
        }
        Ok(())
    }

    /// The PHC string of `password` under today's parameters, with a fresh salt.
    pub async fn hash(&self, password: &str) -> Result<String, AccountsError> {
        self.check(password)?;
        let password = password.to_owned();
        let params = self.params.clone();
        self.run(move || {
            let salt = SaltString::from_b64(&fresh_salt())
                .map_err(|e| AccountsError::Hashing(e.to_string()))?;
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AccountsError::Hashing(e.to_string()))
        })
        .await
    }

    /// Checks `password` against `stored`; `None` when it does not match. A password longer
    /// than the policy allows never matches and is not hashed.
    pub(crate) async fn verify(
        &self,
        password: &str,
        stored: &str,
    ) -> Result<Option<Verified>, AccountsError> {
        if password.len() > self.policy.max_bytes {
            return Ok(None);
        }
        let password = password.to_owned();
        let stored = stored.to_owned();
        let current = self.params.clone();
        self.run(move || {
            let hash =
                PasswordHash::new(&stored).map_err(|e| AccountsError::Hashing(e.to_string()))?;
            let needs_rehash = hash.algorithm != Algorithm::Argon2id.ident()
                || Params::try_from(&hash).map_or(true, |p| {
                    p.m_cost() < current.m_cost()
                        || p.t_cost() < current.t_cost()
                        || p.p_cost() < current.p_cost()
                });
            match Argon2::default().verify_password(password.as_bytes(), &hash) {
                Ok(()) => Ok(Some(Verified { needs_rehash })),
                Err(argon2::password_hash::Error::Password) => Ok(None),
                Err(e) => Err(AccountsError::Hashing(e.to_string())),
            }
        })
        .await
    }

    /// Burns the time of one verification, for a login whose e-mail is unknown, so that
    /// its answer takes as long as a wrong password's.
    pub(crate) async fn verify_nothing(&self, password: &str) -> Result<(), AccountsError> {
        let decoy = self.decoy.get_or_init(|| {
            let salt = SaltString::from_b64(&fresh_salt()).expect("a fresh salt is valid");
            Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
                .hash_password(b"no such account", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        self.verify(password, decoy).await.map(|_| ())
    }

    /// Runs `work` on the blocking pool once a permit is free, refusing when too many wait.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AccountsError> + Send + 'static,
    ) -> Result<T, AccountsError> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.policy.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(AccountsError::Busy);
        }
        let permit = self.permits.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let permit = permit.map_err(|_| AccountsError::Busy)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| AccountsError::Hashing(format!("the hashing task failed: {e}")))?
    }
}

/// 16 random bytes, as the unpadded base64 a PHC salt is.
fn fresh_salt() -> String {
    use base64::Engine as _;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> Passwords {
        Passwords::new(PasswordPolicy { memory_kib: 1024, iterations: 1, ..Default::default() })
            .unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only_and_weaker_parameters_ask_for_a_rehash() {
        let weak = quick();
        let hash = weak.hash("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert_eq!(
            weak.verify("correct horse battery", &hash).await.unwrap(),
            Some(Verified { needs_rehash: false })
        );
        assert_eq!(weak.verify("correct horse batterz", &hash).await.unwrap(), None);
        let strong =
            Passwords::new(PasswordPolicy { memory_kib: 2048, ..weak.policy().clone() }).unwrap();
        assert_eq!(
            strong.verify("correct horse battery", &hash).await.unwrap(),
            Some(Verified { needs_rehash: true })
        );
    }

    #[tokio::test]
    async fn passwords_outside_the_policy_are_refused_before_hashing() {
        let p = quick();
        assert!(matches!(p.hash("short").await, Err(AccountsError::PasswordTooShort { min: 12 })));
        let long = "x".repeat(257);
        assert!(matches!(p.hash(&long).await, Err(AccountsError::PasswordTooLong { max: 256 })));
        let hash = p.hash("correct horse battery").await.unwrap();
        assert_eq!(p.verify(&long, &hash).await.unwrap(), None);
    }

    #[tokio::test]
    async fn past_the_waiting_bound_a_hash_is_refused_as_busy() {
        let p = Passwords::new(PasswordPolicy {
            memory_kib: 1024,
            iterations: 1,
            concurrent: 1,
            max_waiting: 2,
            ..Default::default()
        })
        .unwrap();
        let held = p.permits.clone().acquire_owned().await.unwrap();
        let (a, b) = (p.clone(), p.clone());
        let first = tokio::spawn(async move { a.hash("correct horse battery").await });
        let second = tokio::spawn(async move { b.hash("correct horse battery").await });
        assert!(
            btcr_testkit::eventually_async(|| async { p.waiting.load(Ordering::SeqCst) == 2 })
                .await
        );
        assert!(matches!(p.hash("correct horse battery").await, Err(AccountsError::Busy)));
        drop(held);
        assert!(first.await.unwrap().is_ok() && second.await.unwrap().is_ok());
    }
}
