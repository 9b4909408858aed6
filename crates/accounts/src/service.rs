//! The service itself: registration, login, token refresh and logout, sessions, and the
//! audit records of each.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use crate::{
    AccessClaims, AccountsError, AuditCheck, AuditEvent, AuditRecord, Clock, Database,
    PasswordPolicy, Passwords, RateLimits,
    audit::{self, append_in},
    db::{BeginWrite, on_backend},
    limits::{Kind, Limiter},
    settings::{Settings, SettingsCache},
    tokens::{self, ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL, TokenKeys},
};

/// Stores `$hash` as user `$id`'s password hash, in transaction `$tx`.
macro_rules! store_password_hash {
    ($tx:expr, $hash:expr, $now:expr, $id:expr) => {
        sqlx::query("UPDATE users SET password_hash = $1, updated_ms = $2 WHERE id = $3")
            .bind($hash)
            .bind($now)
            .bind($id)
            .execute(&mut *$tx)
            .await?;
    };
}
pub(crate) use store_password_hash;

/// The longest e-mail address accepted (RFC 5321's path limit).
const MAX_EMAIL_BYTES: usize = 254;

/// Settings of the accounts service.
#[derive(Clone, Debug)]
pub struct AccountsConfig {
    /// The `iss` of access tokens.
    pub issuer: String,
    /// The `aud` of access tokens.
    pub audience: String,
    /// Password rules and hashing cost.
    pub passwords: PasswordPolicy,
    /// Where times come from.
    pub clock: Clock,
    /// Bounds on repeated registrations, logins, codes and refreshes, until an
    /// administrator's settings replace them.
    pub limits: RateLimits,
    /// Whether visitors may register, until an administrator's settings say otherwise.
    pub registration_open: bool,
    /// Where the rate limits count: this process (`None`), or the Redis at this URL
    /// (`redis://host:port/db`), shared by every replica that names it.
    pub redis_url: Option<String>,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            issuer: "btcr".into(),
            audience: "btcr-api".into(),
            passwords: PasswordPolicy::default(),
            clock: Clock::system(),
            limits: RateLimits::default(),
            registration_open: true,
            redis_url: None,
        }
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An ordinary user.
    User,
    /// An administrator.
    Admin,
}

impl Role {
    /// As stored and as tokens carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Result<Self, AccountsError> {
        match text {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            _ => Err(AccountsError::Database(sqlx::Error::Decode(
                format!("unknown role {text:?}").into(),
            ))),
        }
    }
}

/// A user, as the service shows it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Its id.
    pub id: i64,
    /// Its e-mail address, lower-cased.
    pub email: String,
    /// Its role.
    pub role: Role,
    /// Whether an administrator disabled it.
    pub disabled: bool,
    /// When it registered (Unix ms).
    pub created_ms: i64,
}

/// What a login or a refresh hands the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The access token (a JWT), for `Authorization: Bearer`.
    pub access_token: String,
    /// Seconds it is valid.
    pub expires_in: u64,
    /// The refresh token: single use, rotated by each refresh.
    pub refresh_token: String,
    /// The session it belongs to.
    pub session: String,
}

/// A live session (one login and the refreshes since).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Session {
    /// Its id.
    pub id: String,
    /// When it began (Unix ms).
    pub created_ms: i64,
    /// When its refresh token was last used.
    pub last_used_ms: i64,
    /// When it ends unless refreshed.
    pub expires_ms: i64,
    /// The address it was last used from.
    pub ip: Option<String>,
    /// The client it was last used with.
    pub user_agent: Option<String>,
}

/// Where a request came from, for sessions and the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    /// The client's address.
    pub ip: Option<String>,
    /// Its user agent.
    pub user_agent: Option<String>,
}

impl RequestMeta {
    /// An audit event of this request.
    pub(crate) fn event(
        &self,
        actor: Option<i64>,
        action: &'static str,
        subject: Option<String>,
        detail: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent {
            actor,
            action,
            subject,
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            detail,
        }
    }
}

/// The accounts service over one database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Accounts {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) db: Database,
    pub(crate) passwords: Passwords,
    pub(crate) keys: TokenKeys,
    pub(crate) clock: Clock,
    pub(crate) issuer: String,
    pub(crate) limiter: Limiter,
    pub(crate) settings: SettingsCache,
}

/// What a correct password gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// A session: the user has no second factor.
    Signed(User, TokenPair),
    /// The user has TOTP on: answer [`Accounts::login_totp`] with this challenge and a code
    /// (or a recovery code) within five minutes.
    TotpRequired {
        /// Single use; five wrong codes end it.
        challenge: String,
    },
}

impl LoginOutcome {
    /// The session, for a user without a second factor.
    pub fn signed(self) -> Option<(User, TokenPair)> {
        match self {
            LoginOutcome::Signed(user, pair) => Some((user, pair)),
            LoginOutcome::TotpRequired { .. } => None,
        }
    }
}

/// A user's row: id, e-mail, password hash, role, disabled, created.
pub(crate) type UserRow = (i64, String, String, String, bool, i64);

pub(crate) fn user_of(row: &UserRow) -> Result<User, AccountsError> {
    Ok(User {
        id: row.0,
        email: row.1.clone(),
        role: Role::parse(&row.3)?,
        disabled: row.4,
        created_ms: row.5,
    })
}

/// `email`, trimmed of nothing and lower-cased, if it is an address.
fn normalise_email(email: &str) -> Result<String, AccountsError> {
    if email.len() > MAX_EMAIL_BYTES {
        return Err(AccountsError::InvalidEmail("longer than 254 bytes"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AccountsError::InvalidEmail("contains spaces or control characters"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(AccountsError::InvalidEmail("no @"));
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return Err(AccountsError::InvalidEmail("malformed local part"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.len() > 63) {
        return Err(AccountsError::InvalidEmail("malformed domain"));
    }
    Ok(email.to_lowercase())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

/// A refresh token's row with its session's: family, used, expires, revoked, user.
type TokenRow = (String, Option<i64>, i64, Option<i64>, i64);
/// A session's row: id, created, last used, expires, IP, user agent.
type SessionRow = (String, i64, i64, i64, Option<String>, Option<String>);

pub(crate) const SELECT_USER: &str =
    "SELECT id, email, password_hash, role, disabled, created_ms FROM users";

impl Accounts {
    /// The service over `db`, with the token key the database holds (made on first use, so
    /// that every replica on one database signs and checks with the same key).
    pub async fn open(db: Database, config: AccountsConfig) -> Result<Self, AccountsError> {
        let passwords = Passwords::new(config.passwords)?;
        let now = config.clock.now_db();
        let fresh: [u8; 32] = rand::random();
        let secret: Vec<u8> = on_backend!(db, pool => {
            sqlx::query(
                "INSERT INTO signing_keys (id, secret, created_ms) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(fresh.as_slice())
            .bind(now)
            .execute(pool)
            .await?;
            sqlx::query_scalar("SELECT secret FROM signing_keys WHERE id = 1").fetch_one(pool).await?
        });
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| AccountsError::Hashing("the stored token key is not 32 bytes".into()))?;
        let issuer = config.issuer.clone();
        let keys = TokenKeys::new(secret, config.issuer, config.audience);
        let settings = SettingsCache::new(Settings {
            registration_open: config.registration_open,
            banner: None,
            limits: config.limits.clone(),
        });
        let limiter = match &config.redis_url {
            Some(url) => Limiter::redis(config.limits, url).await?,
            None => Limiter::new(config.limits),
        };
        let inner = Inner { db, passwords, keys, clock: config.clock, issuer, limiter, settings };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The database it runs on.
    pub fn database(&self) -> &Database {
        &self.inner.db
    }

    /// Where the rate limits count: `local` (this process) or `redis`.
    pub fn limits_store(&self) -> &'static str {
        self.inner.limiter.store_name()
    }

    /// The password policy in force.
    pub fn password_policy(&self) -> &PasswordPolicy {
        self.inner.passwords.policy()
    }

    /// Registers a user.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<User, AccountsError> {
        if !self.settings().await?.registration_open {
            return Err(AccountsError::RegistrationClosed);
        }
        if let Some(ip) = &meta.ip {
            let now = self.inner.clock.now_ms();
            self.limited(Kind::RegisterIp, ip, now).await?;
            self.inner.limiter.count(Kind::RegisterIp, ip, now).await?;
        }
        self.create(email, password, Role::User, meta, "user.registered").await
    }

    /// Refuses while `key` is locked out for `kind`.
    pub(crate) async fn limited(
        &self,
        kind: Kind,
        key: &str,
        now_ms: u64,
    ) -> Result<(), AccountsError> {
        match self.inner.limiter.check(kind, key, now_ms).await? {
            Some(locked) => Err(AccountsError::RateLimited { retry_after_s: locked.retry_after_s }),
            None => Ok(()),
        }
    }

    /// Counts a failed login or code for `email` and the request's address, recording a
    /// lockout when this one starts it.
    pub(crate) async fn count_failure(
        &self,
        email: &str,
        actor: Option<i64>,
        meta: &RequestMeta,
    ) -> Result<(), AccountsError> {
        let now = self.inner.clock.now_ms();
        let mut locked = Vec::new();
        if self.inner.limiter.count(Kind::LoginAccount, email, now).await? {
            locked.push(json!({ "account": email }));
        }
        if let Some(ip) = &meta.ip
            && self.inner.limiter.count(Kind::LoginIp, ip, now).await?
        {
            locked.push(json!({ "ip": ip }));
        }
        for detail in locked {
            self.record(meta.event(actor, "login.locked", None, detail)).await?;
        }
        Ok(())
    }

    /// Refuses a login for `email` from this request while either is locked out.
    pub(crate) async fn login_allowed(
        &self,
        email: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountsError> {
        self.settings().await?;
        let now = self.inner.clock.now_ms();
        self.limited(Kind::LoginAccount, email, now).await?;
        if let Some(ip) = &meta.ip {
            self.limited(Kind::LoginIp, ip, now).await?;
        }
        Ok(())
    }

    /// Creates an administrator (the command line's `accounts create-admin`).
    pub async fn create_admin(
        &self,
        email: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<User, AccountsError> {
        self.create(email, password, Role::Admin, meta, "admin.created").await
    }

    async fn create(
        &self,
        email: &str,
        password: &str,
        role: Role,
        meta: &RequestMeta,
        action: &'static str,
    ) -> Result<User, AccountsError> {
        let email = normalise_email(email)?;
        let hash = self.inner.passwords.hash(password).await?;
        let now = self.inner.clock.now_db();
        let id: i64 = on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query_scalar(
                "INSERT INTO users (email, password_hash, role, disabled, created_ms, updated_ms) \
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            )
            .bind(&email)
            .bind(&hash)
            .bind(role.as_str())
            .bind(false)
            .bind(now)
            .fetch_one(&mut *tx)
            .await;
            let id: i64 = match inserted {
                Ok(id) => id,
                Err(e) if is_unique_violation(&e) => return Err(AccountsError::EmailTaken),
                Err(e) => return Err(e.into()),
            };
            let event = meta.event(Some(id), action, Some(id.to_string()), json!({ "email": email, "role": role.as_str() }));
            append_in!(tx, &event, now);
            tx.commit().await?;
            id
        });
        Ok(User { id, email, role, disabled: false, created_ms: now })
    }

    /// A user by id.
    pub async fn user(&self, id: i64) -> Result<User, AccountsError> {
        let sql = format!("{SELECT_USER} WHERE id = $1");
        let row: Option<UserRow> = on_backend!(self.inner.db, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        });
        user_of(&row.ok_or(AccountsError::NoSuchUser)?)
    }

    /// An administrator's change to a user: its role, or whether it is disabled. Disabling
    /// ends the user's sessions.
    pub async fn update_user(
        &self,
        admin: i64,
        id: i64,
        role: Option<Role>,
        disabled: Option<bool>,
        meta: &RequestMeta,
    ) -> Result<User, AccountsError> {
        self.require_admin(admin).await?;
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE users SET role = COALESCE($1, role), disabled = COALESCE($2, disabled), \
                 updated_ms = $3 WHERE id = $4",
            )
            .bind(role.map(Role::as_str))
            .bind(disabled)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(AccountsError::NoSuchUser);
            }
            if disabled == Some(true) {
                sqlx::query("UPDATE sessions SET revoked_ms = $1 WHERE user_id = $2 AND revoked_ms IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            let detail = json!({ "role": role.map(Role::as_str), "disabled": disabled });
            let event = meta.event(Some(admin), "admin.user-updated", Some(id.to_string()), detail);
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        self.user(id).await
    }

    /// Checks an e-mail address and password and opens a session, or asks for the second
    /// factor. Unknown addresses and wrong passwords get the same answer, in the same time.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<LoginOutcome, AccountsError> {
        let outcome = self.login_with_password(email, password, meta).await;
        btcr_metrics::metrics().login(match &outcome {
            Ok(LoginOutcome::Signed(..)) => "ok",
            Ok(LoginOutcome::TotpRequired { .. }) => "second_factor",
            Err(e) => login_failure(e),
        });
        outcome
    }

    async fn login_with_password(
        &self,
        email: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<LoginOutcome, AccountsError> {
        let email = normalise_email(email).map_err(|_| AccountsError::InvalidCredentials)?;
        self.login_allowed(&email, meta).await?;
        let sql = format!("{SELECT_USER} WHERE email = $1");
        let row: Option<UserRow> = on_backend!(self.inner.db, pool => {
            sqlx::query_as(&sql).bind(&email).fetch_optional(pool).await?
        });
        let Some(row) = row else {
            self.inner.passwords.verify_nothing(password).await?;
            self.record(meta.event(
                None,
                "login.failed",
                None,
                json!({ "email": email, "reason": "unknown e-mail address" }),
            ))
            .await?;
            self.count_failure(&email, None, meta).await?;
            return Err(AccountsError::InvalidCredentials);
        };
        let user = user_of(&row)?;
        let Some(verified) = self.inner.passwords.verify(password, &row.2).await? else {
            self.record(meta.event(
                Some(user.id),
                "login.failed",
                Some(user.id.to_string()),
                json!({ "reason": "wrong password" }),
            ))
            .await?;
            self.count_failure(&email, Some(user.id), meta).await?;
            return Err(AccountsError::InvalidCredentials);
        };
        if user.disabled {
            self.record(meta.event(
                Some(user.id),
                "login.refused",
                Some(user.id.to_string()),
                json!({ "reason": "disabled" }),
            ))
            .await?;
            return Err(AccountsError::Disabled);
        }
        let rehash = if verified.needs_rehash {
            Some(self.inner.passwords.hash(password).await?)
        } else {
            None
        };
        if let Some(challenge) = self.totp_challenge(user.id, rehash.as_deref()).await? {
            return Ok(LoginOutcome::TotpRequired { challenge });
        }
        self.inner.limiter.clear(Kind::LoginAccount, &email).await?;
        let detail = json!({ "rehashed": rehash.is_some() });
        let pair = self.open_session(&user, rehash.as_deref(), detail, meta).await?;
        Ok(LoginOutcome::Signed(user, pair))
    }

    /// Opens a session for `user` (storing `rehash` as its new password hash if given) and
    /// records the login with `detail`.
    pub(crate) async fn open_session(
        &self,
        user: &User,
        rehash: Option<&str>,
        detail: serde_json::Value,
        meta: &RequestMeta,
    ) -> Result<TokenPair, AccountsError> {
        let now = self.inner.clock.now_db();
        let family = tokens::fresh_id();
        let (refresh, refresh_hash) = tokens::fresh_refresh_token();
        let expires = now.saturating_add(REFRESH_TOKEN_TTL.as_millis() as i64);
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            if let Some(hash) = rehash {
                store_password_hash!(tx, hash, now, user.id);
            }
            sqlx::query(
                "INSERT INTO sessions (family, user_id, created_ms, last_used_ms, expires_ms, ip, user_agent) \
                 VALUES ($1, $2, $3, $3, $4, $5, $6)",
            )
            .bind(&family)
            .bind(user.id)
            .bind(now)
            .bind(expires)
            .bind(meta.ip.as_deref())
            .bind(audit::clip_user_agent(meta.user_agent.as_deref()))
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO refresh_tokens (hash, family, issued_ms) VALUES ($1, $2, $3)")
                .bind(&refresh_hash)
                .bind(&family)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let event = meta.event(Some(user.id), "login", Some(family.clone()), detail);
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        Ok(self.pair(user, family, refresh))
    }

    fn pair(&self, user: &User, family: String, refresh_token: String) -> TokenPair {
        let access_token = self.inner.keys.issue(
            user.id.to_string(),
            user.role.as_str().to_owned(),
            family.clone(),
            self.inner.clock.now_ms(),
        );
        TokenPair {
            access_token,
            expires_in: ACCESS_TOKEN_TTL.as_secs(),
            refresh_token,
            session: family,
        }
    }

    /// Trades a refresh token for a new pair. A token already traded comes back only when
    /// it was stolen (or the client lost the answer): the whole session is revoked.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        meta: &RequestMeta,
    ) -> Result<TokenPair, AccountsError> {
        self.refresh_for(refresh_token, meta).await.map(|(_, pair)| pair)
    }

    /// [`Accounts::refresh`], with the user the session belongs to.
    pub async fn refresh_for(
        &self,
        refresh_token: &str,
        meta: &RequestMeta,
    ) -> Result<(User, TokenPair), AccountsError> {
        self.settings().await?;
        if let Some(ip) = &meta.ip {
            let now = self.inner.clock.now_ms();
            self.limited(Kind::RefreshIp, ip, now).await?;
            self.inner.limiter.count(Kind::RefreshIp, ip, now).await?;
        }
        let hash = tokens::parse_refresh_token(refresh_token)
            .ok_or(AccountsError::InvalidToken("not a refresh token"))?;
        let now = self.inner.clock.now_db();
        let (fresh, fresh_hash) = tokens::fresh_refresh_token();
        let outcome: Result<(User, String), AccountsError> = on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<TokenRow> = sqlx::query_as(
                "SELECT t.family, t.used_ms, s.expires_ms, s.revoked_ms, s.user_id \
                 FROM refresh_tokens t JOIN sessions s ON s.family = t.family WHERE t.hash = $1",
            )
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((family, used, expires, revoked, user_id)) = row else {
                return Err(AccountsError::InvalidToken("unknown refresh token"));
            };
            if revoked.is_some() {
                return Err(AccountsError::SessionEnded);
            }
            let claimed = used.is_none()
                && sqlx::query("UPDATE refresh_tokens SET used_ms = $1 WHERE hash = $2 AND used_ms IS NULL")
                    .bind(now)
                    .bind(&hash)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
            if !claimed {
                sqlx::query("UPDATE sessions SET revoked_ms = $1 WHERE family = $2")
                    .bind(now)
                    .bind(&family)
                    .execute(&mut *tx)
                    .await?;
                let event = meta.event(Some(user_id), "session.refresh-reused", Some(family.clone()), json!({ "revoked": true }));
                append_in!(tx, &event, now);
                tx.commit().await?;
                Err(AccountsError::RefreshReused)
            } else if now >= expires {
                Err(AccountsError::TokenExpired)
            } else {
                let sql = format!("{SELECT_USER} WHERE id = $1");
                let user: UserRow = sqlx::query_as(&sql).bind(user_id).fetch_one(&mut *tx).await?;
                let user = user_of(&user)?;
                if user.disabled {
                    return Err(AccountsError::Disabled);
                }
                sqlx::query("INSERT INTO refresh_tokens (hash, family, issued_ms) VALUES ($1, $2, $3)")
                    .bind(&fresh_hash)
                    .bind(&family)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE sessions SET last_used_ms = $1, expires_ms = $2, ip = $3, user_agent = $4 WHERE family = $5",
                )
                .bind(now)
                .bind(now.saturating_add(REFRESH_TOKEN_TTL.as_millis() as i64))
                .bind(meta.ip.as_deref())
                .bind(audit::clip_user_agent(meta.user_agent.as_deref()))
                .bind(&family)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok((user, family))
            }
        });
        let (user, family) = outcome?;
        let pair = self.pair(&user, family, fresh);
        Ok((user, pair))
    }

    /// Ends the session a refresh token belongs to.
    pub async fn logout(
        &self,
        refresh_token: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountsError> {
        let hash = tokens::parse_refresh_token(refresh_token)
            .ok_or(AccountsError::InvalidToken("not a refresh token"))?;
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<(String, i64)> = sqlx::query_as(
                "SELECT s.family, s.user_id FROM refresh_tokens t JOIN sessions s ON s.family = t.family \
                 WHERE t.hash = $1 AND s.revoked_ms IS NULL",
            )
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((family, user_id)) = row else {
                return Err(AccountsError::SessionEnded);
            };
            sqlx::query("UPDATE sessions SET revoked_ms = $1 WHERE family = $2")
                .bind(now)
                .bind(&family)
                .execute(&mut *tx)
                .await?;
            let event = meta.event(Some(user_id), "logout", Some(family), json!({}));
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// The claims of an access token this service issued and that is still valid.
    pub fn check_access(&self, token: &str) -> Result<AccessClaims, AccountsError> {
        self.inner.keys.check(token, self.inner.clock.now_ms())
    }

    /// A user's live sessions, most recently used first.
    pub async fn sessions(&self, user_id: i64) -> Result<Vec<Session>, AccountsError> {
        let now = self.inner.clock.now_db();
        let rows: Vec<SessionRow> = on_backend!(self.inner.db, pool => {
            sqlx::query_as(
                "SELECT family, created_ms, last_used_ms, expires_ms, ip, user_agent FROM sessions \
                 WHERE user_id = $1 AND revoked_ms IS NULL AND expires_ms > $2 \
                 ORDER BY last_used_ms DESC, family LIMIT 1000",
            )
            .bind(user_id)
            .bind(now)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, created_ms, last_used_ms, expires_ms, ip, user_agent)| Session {
                id,
                created_ms,
                last_used_ms,
                expires_ms,
                ip,
                user_agent,
            })
            .collect())
    }

    /// Ends one of a user's sessions.
    pub async fn revoke_session(
        &self,
        user_id: i64,
        session: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountsError> {
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let ended = sqlx::query(
                "UPDATE sessions SET revoked_ms = $1 WHERE family = $2 AND user_id = $3 AND revoked_ms IS NULL",
            )
            .bind(now)
            .bind(session)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if ended == 0 {
                return Err(AccountsError::SessionEnded);
            }
            let event = meta.event(Some(user_id), "session.revoked", Some(session.to_owned()), json!({}));
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records an event on its own.
    pub(crate) async fn record(&self, event: AuditEvent) -> Result<(), AccountsError> {
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Audit records after `after` (a seq), oldest first, at most `limit` (1 to 1000).
    pub async fn audit(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, AccountsError> {
        audit::records(&self.inner.db, after, limit.clamp(1, 1000)).await
    }

    /// Walks the audit log's hash chain from its first record to its head.
    pub async fn verify_audit(&self) -> Result<AuditCheck, AccountsError> {
        audit::verify(&self.inner.db).await
    }
}

/// The `btcr_logins_total` result of a login that failed with `e`.
pub(crate) fn login_failure(e: &AccountsError) -> &'static str {
    match e {
        AccountsError::InvalidCredentials
        | AccountsError::InvalidCode
        | AccountsError::InvalidToken(_)
        | AccountsError::TokenExpired
        | AccountsError::TooManyAttempts => "failed",
        AccountsError::Disabled => "refused",
        AccountsError::RateLimited { .. } | AccountsError::Busy => "limited",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_lower_cased() {
        assert_eq!(normalise_email("Ann@Example.ORG").unwrap(), "ann@example.org");
        for bad in [
            "",
            "ann",
            "@example.org",
            "ann@",
            "ann@org",
            "ann@ex..org",
            "a b@example.org",
            "a@b@example.org",
            "ann@example.org\n",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad:?}");
        }
        assert!(normalise_email(&format!("{}@example.org", "a".repeat(65))).is_err());
        assert!(normalise_email(&format!("a@{}.org", "b".repeat(250))).is_err());
    }
}
