//! The second factor: TOTP with single-use recovery codes, and the login challenge a
//! password opens when TOTP is on. A code is accepted once: each TOTP step at most once
//! (the last accepted step is kept), each recovery code once.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    Accounts, AccountsError, RequestMeta, TokenPair, User,
    audit::append_in,
    db::{BeginWrite, on_backend},
    service::store_password_hash,
    totp,
};

/// How long a login challenge waits for its code.
pub const LOGIN_CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);
/// Wrong codes one challenge takes before it ends.
pub const MAX_CODE_ATTEMPTS: i64 = 5;
/// Recovery codes made at once.
pub const RECOVERY_CODES: usize = 10;
const CHALLENGE_PREFIX: &str = "btcr_lc_";

/// What a user needs to add the second factor to an authenticator app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpSetup {
    /// The secret, base32, for typing in.
    pub secret: String,
    /// The `otpauth://` URI, for a QR code.
    pub uri: String,
}

fn digest(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// A recovery code as its hash is computed: lower case, without the dash.
fn normalise_recovery(code: &str) -> Option<String> {
    let plain: String = code.chars().filter(|c| *c != '-').collect::<String>().to_ascii_lowercase();
    (plain.len() == 10 && plain.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(plain)
}

/// Ten fresh recovery codes, `xxxxx-xxxxx` in base32's lower-case letters and digits.
fn fresh_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let text = data_encoding::BASE32_NOPAD
                .encode(&rand::random::<[u8; 10]>())
                .to_ascii_lowercase();
            format!("{}-{}", &text[..5], &text[5..10])
        })
        .collect()
}

/// Replaces `$user`'s recovery codes with the hashes of `$codes`, in transaction `$tx`.
macro_rules! replace_recovery_codes {
    ($tx:expr, $user:expr, $codes:expr) => {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind($user)
            .execute(&mut *$tx)
            .await?;
        for c in $codes {
            let plain = normalise_recovery(c).expect("a fresh code is well formed");
            sqlx::query("INSERT INTO recovery_codes (hash, user_id) VALUES ($1, $2)")
                .bind(digest(&plain))
                .bind($user)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

impl Accounts {
    /// Starts turning TOTP on: a fresh secret, kept pending until a code from it confirms it.
    pub async fn totp_begin(&self, user_id: i64) -> Result<TotpSetup, AccountsError> {
        let user = self.user(user_id).await?;
        let secret: [u8; totp::SECRET_BYTES] = rand::random();
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let on: Option<Option<i64>> = sqlx::query_scalar("SELECT confirmed_ms FROM totp WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if matches!(on, Some(Some(_))) {
                return Err(AccountsError::TotpAlreadyEnabled);
            }
            sqlx::query("DELETE FROM totp WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO totp (user_id, secret, last_step, created_ms) VALUES ($1, $2, 0, $3)")
                .bind(user_id)
                .bind(secret.as_slice())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(TotpSetup {
            secret: totp::secret_text(&secret),
            uri: totp::otpauth_uri(&self.inner.issuer, &user.email, &secret),
        })
    }

    /// Turns TOTP on with a code from the pending secret; answers the recovery codes, shown
    /// this once.
    pub async fn totp_confirm(
        &self,
        user_id: i64,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<String>, AccountsError> {
        let now_ms = self.inner.clock.now_ms();
        let now = self.inner.clock.now_db();
        let codes = fresh_recovery_codes();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<(Vec<u8>, Option<i64>)> = sqlx::query_as("SELECT secret, confirmed_ms FROM totp WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            let secret = match row {
                None => return Err(AccountsError::TotpNotEnabled),
                Some((_, Some(_))) => return Err(AccountsError::TotpAlreadyEnabled),
                Some((secret, None)) => secret,
            };
            let step = totp::matching_step(&secret, code, now_ms).ok_or(AccountsError::InvalidCode)?;
            sqlx::query("UPDATE totp SET confirmed_ms = $1, last_step = $2 WHERE user_id = $3")
                .bind(now)
                .bind(step as i64)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            replace_recovery_codes!(tx, user_id, &codes);
            let event = meta.event(Some(user_id), "totp.enabled", Some(user_id.to_string()), json!({}));
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        Ok(codes)
    }

    /// Turns TOTP off, proven with a current code or a recovery code.
    pub async fn totp_disable(
        &self,
        user_id: i64,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountsError> {
        self.spend_code(user_id, code).await?;
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM totp WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            let event = meta.event(Some(user_id), "totp.disabled", Some(user_id.to_string()), json!({}));
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// New recovery codes in place of the old ones, proven with a current code.
    pub async fn regenerate_recovery_codes(
        &self,
        user_id: i64,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<String>, AccountsError> {
        self.spend_code(user_id, code).await?;
        let now = self.inner.clock.now_db();
        let codes = fresh_recovery_codes();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            replace_recovery_codes!(tx, user_id, &codes);
            let event = meta.event(Some(user_id), "totp.recovery-codes-replaced", Some(user_id.to_string()), json!({}));
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        Ok(codes)
    }

    /// Recovery codes the user has not used.
    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<i64, AccountsError> {
        Ok(on_backend!(self.inner.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_ms IS NULL")
                .bind(user_id)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Whether the user has TOTP on.
    pub async fn totp_enabled(&self, user_id: i64) -> Result<bool, AccountsError> {
        let confirmed: Option<Option<i64>> = on_backend!(self.inner.db, pool => {
            sqlx::query_scalar("SELECT confirmed_ms FROM totp WHERE user_id = $1").bind(user_id).fetch_optional(pool).await?
        });
        Ok(matches!(confirmed, Some(Some(_))))
    }

    /// Accepts a TOTP code of a step after the last accepted one, or an unused recovery
    /// code, and marks it used; either way at most once.
    async fn spend_code(&self, user_id: i64, code: &str) -> Result<(), AccountsError> {
        let now_ms = self.inner.clock.now_ms();
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<(Vec<u8>, i64)> = sqlx::query_as(
                "SELECT secret, last_step FROM totp WHERE user_id = $1 AND confirmed_ms IS NOT NULL",
            )
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((secret, last_step)) = row else {
                return Err(AccountsError::TotpNotEnabled);
            };
            let spent = if let Some(step) = totp::matching_step(&secret, code, now_ms) {
                step as i64 > last_step
                    && sqlx::query("UPDATE totp SET last_step = $1 WHERE user_id = $2 AND last_step < $1")
                        .bind(step as i64)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                        == 1
            } else if let Some(plain) = normalise_recovery(code) {
                sqlx::query("UPDATE recovery_codes SET used_ms = $1 WHERE hash = $2 AND user_id = $3 AND used_ms IS NULL")
                    .bind(now)
                    .bind(digest(&plain))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1
            } else {
                false
            };
            if !spent {
                return Err(AccountsError::InvalidCode);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// For a user with TOTP on: stores `rehash` if given and opens a login challenge.
    pub(crate) async fn totp_challenge(
        &self,
        user_id: i64,
        rehash: Option<&str>,
    ) -> Result<Option<String>, AccountsError> {
        if !self.totp_enabled(user_id).await? {
            return Ok(None);
        }
        let token =
            format!("{CHALLENGE_PREFIX}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()));
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            if let Some(hash) = rehash {
                store_password_hash!(tx, hash, now, user_id);
            }
            sqlx::query("INSERT INTO login_challenges (hash, user_id, expires_ms, attempts) VALUES ($1, $2, $3, 0)")
                .bind(digest(&token))
                .bind(user_id)
                .bind(now.saturating_add(LOGIN_CHALLENGE_TTL.as_millis() as i64))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(Some(token))
    }

    /// Completes a login that TOTP holds: the challenge from [`Accounts::login`] and a code
    /// or a recovery code.
    pub async fn login_totp(
        &self,
        challenge: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<(User, TokenPair), AccountsError> {
        let outcome = self.login_with_code(challenge, code, meta).await;
        btcr_metrics::metrics().login(match &outcome {
            Ok(_) => "ok",
            Err(e) => crate::service::login_failure(e),
        });
        outcome
    }

    async fn login_with_code(
        &self,
        challenge: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<(User, TokenPair), AccountsError> {
        if !challenge.starts_with(CHALLENGE_PREFIX)
            || challenge.len() != CHALLENGE_PREFIX.len() + 43
        {
            return Err(AccountsError::InvalidToken("not a login challenge"));
        }
        let hash = digest(challenge);
        let now = self.inner.clock.now_db();
        let row: Option<(i64, i64, i64, Option<i64>)> = on_backend!(self.inner.db, pool => {
            sqlx::query_as("SELECT user_id, expires_ms, attempts, used_ms FROM login_challenges WHERE hash = $1")
                .bind(&hash)
                .fetch_optional(pool)
                .await?
        });
        let Some((user_id, expires, attempts, used)) = row else {
            return Err(AccountsError::InvalidToken("unknown login challenge"));
        };
        if used.is_some() || now >= expires {
            return Err(AccountsError::TokenExpired);
        }
        if attempts >= MAX_CODE_ATTEMPTS {
            return Err(AccountsError::TooManyAttempts);
        }
        let user = self.user(user_id).await?;
        let email = user.email.clone();
        self.login_allowed(&email, meta).await?;
        if let Err(e) = self.spend_code(user_id, code).await {
            if matches!(e, AccountsError::InvalidCode) {
                self.count_failure(&email, Some(user_id), meta).await?;
                on_backend!(self.inner.db, pool => {
                    let mut tx = pool.begin_write().await?;
                    sqlx::query("UPDATE login_challenges SET attempts = attempts + 1 WHERE hash = $1")
                        .bind(&hash)
                        .execute(&mut *tx)
                        .await?;
                    let event = meta.event(Some(user_id), "login.totp-failed", Some(user_id.to_string()), json!({ "attempt": attempts + 1 }));
                    append_in!(tx, &event, now);
                    tx.commit().await?;
                });
            }
            return Err(e);
        }
        let claimed = on_backend!(self.inner.db, pool => {
            sqlx::query("UPDATE login_challenges SET used_ms = $1 WHERE hash = $2 AND used_ms IS NULL")
                .bind(now)
                .bind(&hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if claimed != 1 {
            return Err(AccountsError::TokenExpired);
        }
        if user.disabled {
            return Err(AccountsError::Disabled);
        }
        self.inner.limiter.clear(crate::limits::Kind::LoginAccount, &email).await?;
        let pair = self.open_session(&user, None, json!({ "second_factor": "totp" }), meta).await?;
        Ok((user, pair))
    }
}
