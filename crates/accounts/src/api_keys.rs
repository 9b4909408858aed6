//! API keys: `btcr_ak_` + a 12-hex-digit prefix (how the key is found and shown) + 32 random
//! bytes. Only the SHA-256 of the whole key is stored; the key itself is shown once.

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    Accounts, AccountsError, RequestMeta, User,
    audit::append_in,
    db::{BeginWrite, on_backend},
    service::{SELECT_USER, UserRow, user_of},
};

pub(crate) const KEY_PREFIX: &str = "btcr_ak_";
/// Hex digits of a key's public prefix.
const PREFIX_CHARS: usize = 12;
/// Live keys one user may hold.
pub const MAX_API_KEYS: usize = 50;
/// The longest key name, in characters.
const MAX_NAME_CHARS: usize = 64;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read the account's own data.
    Read,
    /// Change it (watch list, subscriptions, keystore backup).
    Write,
}

impl Scope {
    /// As stored and as requests name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    /// The scope `text` names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            _ => None,
        }
    }
}

/// A key, as its owner sees it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Its id.
    pub id: i64,
    /// The owner's name for it.
    pub name: String,
    /// `btcr_ak_` and its first twelve characters, to recognise it.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// When it was made (Unix ms).
    pub created_ms: i64,
    /// When it was last used.
    pub last_used_ms: Option<i64>,
}

/// Who a request with a key acts as, and what the key allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyPrincipal {
    /// The key's owner.
    pub user: User,
    /// The key's id.
    pub key_id: i64,
    /// Its scopes.
    pub scopes: Vec<Scope>,
}

impl ApiKeyPrincipal {
    /// Refuses unless the key carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AccountsError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(AccountsError::MissingScope(scope.as_str()))
        }
    }
}

fn parse_scopes(text: &str) -> Vec<Scope> {
    text.split(',').filter_map(Scope::parse).collect()
}

fn key_hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// A key's row: id, name, prefix, scopes, created, last used.
type KeyRow = (i64, String, String, String, i64, Option<i64>);

/// What checking a key reads: id, owner, hash, scopes, revoked, last used.
type StoredKey = (i64, i64, Vec<u8>, String, Option<i64>, Option<i64>);
/// How stale a key's "last used" may get before a use writes it again (a key used many
/// times a second writes once a minute).
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

fn key_of(row: KeyRow) -> ApiKey {
    let (id, name, prefix, scopes, created_ms, last_used_ms) = row;
    ApiKey {
        id,
        name,
        prefix: format!("{KEY_PREFIX}{prefix}"),
        scopes: parse_scopes(&scopes),
        created_ms,
        last_used_ms,
    }
}

impl Accounts {
    /// Makes a key for `user_id`; answers it with its secret, shown this once.
    pub async fn create_api_key(
        &self,
        user_id: i64,
        name: &str,
        scopes: &[Scope],
        meta: &RequestMeta,
    ) -> Result<(ApiKey, String), AccountsError> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(AccountsError::InvalidApiKey(
                "a name of 1 to 64 printable characters is needed",
            ));
        }
        let mut scopes = scopes.to_vec();
        scopes.sort_by_key(|s| s.as_str());
        scopes.dedup();
        if scopes.is_empty() {
            return Err(AccountsError::InvalidApiKey("at least one scope is needed"));
        }
        let scope_text = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
        let prefix: String =
            rand::random::<[u8; PREFIX_CHARS / 2]>().iter().map(|b| format!("{b:02x}")).collect();
        let secret = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            rand::random::<[u8; 32]>(),
        );
        let key = format!("{KEY_PREFIX}{prefix}{secret}");
        let now = self.inner.clock.now_db();
        let id: i64 = on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND revoked_ms IS NULL")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            if live >= MAX_API_KEYS as i64 {
                return Err(AccountsError::TooManyApiKeys { max: MAX_API_KEYS });
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO api_keys (user_id, name, prefix, hash, scopes, created_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(user_id)
            .bind(name)
            .bind(&prefix)
            .bind(key_hash(&key))
            .bind(&scope_text)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let event = meta.event(Some(user_id), "api-key.created", Some(id.to_string()), json!({ "name": name, "scopes": scope_text }));
            append_in!(tx, &event, now);
            tx.commit().await?;
            id
        });
        let made = ApiKey {
            id,
            name: name.to_owned(),
            prefix: format!("{KEY_PREFIX}{prefix}"),
            scopes,
            created_ms: now,
            last_used_ms: None,
        };
        Ok((made, key))
    }

    /// A user's live keys, newest first.
    pub async fn api_keys(&self, user_id: i64) -> Result<Vec<ApiKey>, AccountsError> {
        let rows: Vec<KeyRow> = on_backend!(self.inner.db, pool => {
            sqlx::query_as(
                "SELECT id, name, prefix, scopes, created_ms, last_used_ms FROM api_keys \
                 WHERE user_id = $1 AND revoked_ms IS NULL ORDER BY id DESC",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(key_of).collect())
    }

    /// Revokes one of a user's keys.
    pub async fn revoke_api_key(
        &self,
        user_id: i64,
        id: i64,
        meta: &RequestMeta,
    ) -> Result<(), AccountsError> {
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let revoked = sqlx::query("UPDATE api_keys SET revoked_ms = $1 WHERE id = $2 AND user_id = $3 AND revoked_ms IS NULL")
                .bind(now)
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if revoked == 0 {
                return Err(AccountsError::InvalidApiKey("no such key"));
            }
            let event = meta.event(Some(user_id), "api-key.revoked", Some(id.to_string()), json!({}));
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Who `key` acts as, if it is a live key of an enabled user; records its use (to the
    /// minute).
    pub async fn check_api_key(&self, key: &str) -> Result<ApiKeyPrincipal, AccountsError> {
        let Some(rest) = key.strip_prefix(KEY_PREFIX) else {
            return Err(AccountsError::InvalidToken("not an API key"));
        };
        if rest.len() != PREFIX_CHARS + 43 || !rest.is_char_boundary(PREFIX_CHARS) {
            return Err(AccountsError::InvalidToken("not an API key"));
        }
        let prefix = &rest[..PREFIX_CHARS];
        let now = self.inner.clock.now_db();
        let row: Option<StoredKey> = on_backend!(self.inner.db, pool => {
            sqlx::query_as("SELECT id, user_id, hash, scopes, revoked_ms, last_used_ms FROM api_keys WHERE prefix = $1")
                .bind(prefix)
                .fetch_optional(pool)
                .await?
        });
        let Some((id, user_id, hash, scopes, revoked, last_used)) = row else {
            return Err(AccountsError::InvalidToken("unknown API key"));
        };
        if hash != key_hash(key) {
            return Err(AccountsError::InvalidToken("unknown API key"));
        }
        if revoked.is_some() {
            return Err(AccountsError::InvalidToken("revoked API key"));
        }
        let sql = format!("{SELECT_USER} WHERE id = $1");
        let user: UserRow = on_backend!(self.inner.db, pool => {
            if last_used.is_none_or(|at| now - at >= LAST_USED_RESOLUTION_MS) {
                sqlx::query("UPDATE api_keys SET last_used_ms = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(pool)
                    .await?;
            }
            sqlx::query_as(&sql).bind(user_id).fetch_one(pool).await?
        });
        let user = user_of(&user)?;
        if user.disabled {
            return Err(AccountsError::Disabled);
        }
        Ok(ApiKeyPrincipal { user, key_id: id, scopes: parse_scopes(&scopes) })
    }
}
