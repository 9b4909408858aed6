//! What a user keeps in the account besides signing in: a new password, an encrypted
//! keystore as a backup (checked to be a version 3 keystore, which only its password
//! opens: the service never sees a key), and a watch list of addresses.

use serde::Serialize;
use serde_json::json;

use crate::{
    Accounts, AccountsError, RequestMeta,
    audit::append_in,
    db::{BeginWrite, on_backend},
    service::{SELECT_USER, UserRow, store_password_hash},
};

/// Addresses one user may watch.
pub const MAX_WATCHED: i64 = 200;
/// The longest label of a watched address, in characters.
const MAX_LABEL_CHARS: usize = 64;
/// The largest keystore kept (real ones are under 1 KiB).
pub const MAX_KEYSTORE_BYTES: usize = 8 * 1024;

/// An address on a watch list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Watched {
    /// `0x` and 40 lower-case hex digits.
    pub address: String,
    /// The user's name for it (may be empty).
    pub label: String,
    /// When it was added (Unix ms).
    pub created_ms: i64,
}

/// A user's keystore backup.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeystoreBackup {
    /// The address the keystore names.
    pub address: String,
    /// The keystore, as stored.
    #[schema(value_type = Object)]
    pub keystore: serde_json::Value,
    /// When it was stored (Unix ms).
    pub updated_ms: i64,
}

/// `address` as stored: `0x` and 40 lower-case hex digits.
pub(crate) fn normalise_address(address: &str) -> Result<String, AccountsError> {
    let digits = address
        .strip_prefix("0x")
        .or_else(|| address.strip_prefix("0X"))
        .ok_or(AccountsError::InvalidAddress)?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AccountsError::InvalidAddress);
    }
    Ok(format!("0x{}", digits.to_ascii_lowercase()))
}

impl Accounts {
    /// Replaces a signed-in user's password, given the current one; every other session of
    /// the user ends (the one in `session` stays).
    pub async fn change_password(
        &self,
        user_id: i64,
        session: &str,
        current: &str,
        new: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountsError> {
        let sql = format!("{SELECT_USER} WHERE id = $1");
        let row: Option<UserRow> = on_backend!(self.inner.db, pool => {
            sqlx::query_as(&sql).bind(user_id).fetch_optional(pool).await?
        });
        let row = row.ok_or(AccountsError::NoSuchUser)?;
        let email = row.1.clone();
        self.login_allowed(&email, meta).await?;
        if self.inner.passwords.verify(current, &row.2).await?.is_none() {
            self.record(meta.event(
                Some(user_id),
                "password.change-failed",
                Some(user_id.to_string()),
                json!({ "reason": "wrong current password" }),
            ))
            .await?;
            self.count_failure(&email, Some(user_id), meta).await?;
            return Err(AccountsError::WrongPassword);
        }
        let hash = self.inner.passwords.hash(new).await?;
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            store_password_hash!(tx, &hash, now, user_id);
            let ended = sqlx::query(
                "UPDATE sessions SET revoked_ms = $1 WHERE user_id = $2 AND family <> $3 AND revoked_ms IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .bind(session)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let event = meta.event(Some(user_id), "password.changed", Some(user_id.to_string()), json!({ "sessions_ended": ended }));
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Stores `keystore` as the user's backup, replacing any before it. It must be a version
    /// 3 keystore (encrypted; its key derivation within this node's bounds) naming its
    /// address.
    pub async fn put_keystore(
        &self,
        user_id: i64,
        keystore: &serde_json::Value,
        meta: &RequestMeta,
    ) -> Result<KeystoreBackup, AccountsError> {
        let text = keystore.to_string();
        if text.len() > MAX_KEYSTORE_BYTES {
            return Err(AccountsError::InvalidKeystore(format!(
                "{} bytes: a keystore backup is at most {MAX_KEYSTORE_BYTES}",
                text.len()
            )));
        }
        let address = btcr_crypto::keystore::check(&text)
            .map_err(|e| AccountsError::InvalidKeystore(e.to_string()))?
            .ok_or_else(|| {
                AccountsError::InvalidKeystore("the keystore names no address".into())
            })?;
        let address = format!("{address:#x}");
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO keystores (user_id, address, keystore, updated_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id) DO UPDATE SET address = $2, keystore = $3, updated_ms = $4",
            )
            .bind(user_id)
            .bind(&address)
            .bind(&text)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let event = meta.event(Some(user_id), "keystore.stored", Some(user_id.to_string()), json!({ "address": address }));
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        Ok(KeystoreBackup { address, keystore: keystore.clone(), updated_ms: now })
    }

    /// The user's keystore backup, if it keeps one.
    pub async fn keystore(&self, user_id: i64) -> Result<Option<KeystoreBackup>, AccountsError> {
        let row: Option<(String, String, i64)> = on_backend!(self.inner.db, pool => {
            sqlx::query_as("SELECT address, keystore, updated_ms FROM keystores WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?
        });
        row.map(|(address, text, updated_ms)| {
            let keystore = serde_json::from_str(&text).map_err(|e| {
                AccountsError::InvalidKeystore(format!("the stored keystore does not read: {e}"))
            })?;
            Ok(KeystoreBackup { address, keystore, updated_ms })
        })
        .transpose()
    }

    /// Deletes the user's keystore backup; `false` if there was none.
    pub async fn delete_keystore(
        &self,
        user_id: i64,
        meta: &RequestMeta,
    ) -> Result<bool, AccountsError> {
        let now = self.inner.clock.now_db();
        let deleted = on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let deleted = sqlx::query("DELETE FROM keystores WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted > 0 {
                let event = meta.event(Some(user_id), "keystore.deleted", Some(user_id.to_string()), json!({}));
                append_in!(tx, &event, now);
            }
            tx.commit().await?;
            deleted
        });
        Ok(deleted > 0)
    }

    /// The addresses a user watches, in the order added.
    pub async fn watchlist(&self, user_id: i64) -> Result<Vec<Watched>, AccountsError> {
        let rows: Vec<(String, String, i64)> = on_backend!(self.inner.db, pool => {
            sqlx::query_as(
                "SELECT address, label, created_ms FROM watchlist WHERE user_id = $1 \
                 ORDER BY created_ms, address",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(address, label, created_ms)| Watched { address, label, created_ms })
            .collect())
    }

    /// Adds `address` to a user's watch list, or renames it there.
    pub async fn watch(
        &self,
        user_id: i64,
        address: &str,
        label: &str,
        meta: &RequestMeta,
    ) -> Result<Watched, AccountsError> {
        let address = normalise_address(address)?;
        let label = label.trim();
        if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
            return Err(AccountsError::InvalidLabel);
        }
        let now = self.inner.clock.now_db();
        let created_ms = on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let existing: Option<i64> = sqlx::query_scalar(
                "SELECT created_ms FROM watchlist WHERE user_id = $1 AND address = $2",
            )
            .bind(user_id)
            .bind(&address)
            .fetch_optional(&mut *tx)
            .await?;
            let action = if existing.is_some() { "watchlist.renamed" } else { "watchlist.added" };
            let created_ms = match existing {
                Some(created_ms) => {
                    sqlx::query("UPDATE watchlist SET label = $1 WHERE user_id = $2 AND address = $3")
                        .bind(label)
                        .bind(user_id)
                        .bind(&address)
                        .execute(&mut *tx)
                        .await?;
                    created_ms
                }
                None => {
                    let watched: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM watchlist WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    if watched >= MAX_WATCHED {
                        return Err(AccountsError::WatchlistFull { max: MAX_WATCHED });
                    }
                    sqlx::query("INSERT INTO watchlist (user_id, address, label, created_ms) VALUES ($1, $2, $3, $4)")
                        .bind(user_id)
                        .bind(&address)
                        .bind(label)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    now
                }
            };
            let event = meta.event(Some(user_id), action, Some(address.clone()), json!({ "label": label }));
            append_in!(tx, &event, now);
            tx.commit().await?;
            created_ms
        });
        Ok(Watched { address, label: label.to_owned(), created_ms })
    }

    /// Takes `address` off a user's watch list; `false` if it was not on it.
    pub async fn unwatch(
        &self,
        user_id: i64,
        address: &str,
        meta: &RequestMeta,
    ) -> Result<bool, AccountsError> {
        let address = normalise_address(address)?;
        let now = self.inner.clock.now_db();
        let removed = on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let removed = sqlx::query("DELETE FROM watchlist WHERE user_id = $1 AND address = $2")
                .bind(user_id)
                .bind(&address)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if removed > 0 {
                let event = meta.event(Some(user_id), "watchlist.removed", Some(address.clone()), json!({}));
                append_in!(tx, &event, now);
            }
            tx.commit().await?;
            removed
        });
        Ok(removed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_lower_cased() {
        let address = "0xAbCdEf0123456789abcdef0123456789ABCDEF01";
        assert_eq!(
            normalise_address(address).unwrap(),
            "0xabcdef0123456789abcdef0123456789abcdef01"
        );
        for bad in [
            "",
            "abcdef0123456789abcdef0123456789abcdef01",
            "0xabcdef0123456789abcdef0123456789abcdef0",
            "0xabcdef0123456789abcdef0123456789abcdef012",
            "0xgbcdef0123456789abcdef0123456789abcdef01",
            "0xabcdef0123456789abcdef0123456789abcdef0é",
        ] {
            assert!(normalise_address(bad).is_err(), "{bad:?}");
        }
    }
}
