//! The settings an administrator changes while the service runs: whether anyone may
//! register, the rate limits, and a banner every visitor sees. One JSON document in the
//! database; each change is audited with what it was before. A replica reads the document
//! again when its copy is older than [`SETTINGS_REFRESH`], so a change made on one replica
//! is in force on all of them within that time, and at once on the one that made it.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    Accounts, AccountsError, RateLimits, RequestMeta,
    audit::append_in,
    db::{BeginWrite, on_backend},
};

/// How old a replica's copy of the settings may be before it reads them again.
pub const SETTINGS_REFRESH: Duration = Duration::from_secs(2);
/// The longest banner, in characters.
pub const MAX_BANNER_CHARS: usize = 500;

/// What an administrator decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Whether visitors may register (administrators are made with `btcr accounts
    /// create-admin` either way).
    pub registration_open: bool,
    /// A message shown on every page of the portal; `None` for none.
    pub banner: Option<String>,
    /// The rate limits.
    pub limits: RateLimits,
}

impl Settings {
    /// Refuses a banner that is too long or carries control characters.
    fn check(&self) -> Result<(), AccountsError> {
        if let Some(banner) = &self.banner {
            if banner.chars().count() > MAX_BANNER_CHARS {
                return Err(AccountsError::InvalidSettings(format!(
                    "the banner is longer than {MAX_BANNER_CHARS} characters"
                )));
            }
            if banner.chars().any(char::is_control) {
                return Err(AccountsError::InvalidSettings(
                    "the banner carries control characters".into(),
                ));
            }
        }
        Ok(())
    }
}

/// What every visitor may know of the settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicSettings {
    /// Whether registration is open.
    pub registration_open: bool,
    /// The banner, if any.
    pub banner: Option<String>,
    /// The shortest password accepted, in characters.
    pub min_password_chars: usize,
}

/// A replica's copy of the settings and when it was read.
#[derive(Debug)]
pub(crate) struct SettingsCache {
    current: RwLock<(Arc<Settings>, Option<Instant>)>,
}

impl SettingsCache {
    /// Starts from `defaults`, to be read from the database at first use.
    pub(crate) fn new(defaults: Settings) -> Self {
        Self { current: RwLock::new((Arc::new(defaults), None)) }
    }

    fn fresh(&self) -> Option<Arc<Settings>> {
        let current = self.current.read();
        match current.1 {
            Some(read) if read.elapsed() < SETTINGS_REFRESH => Some(current.0.clone()),
            _ => None,
        }
    }

    fn defaults(&self) -> Arc<Settings> {
        self.current.read().0.clone()
    }

    fn store(&self, settings: Arc<Settings>) {
        *self.current.write() = (settings, Some(Instant::now()));
    }
}

impl Accounts {
    /// The settings in force, read again from the database when this replica's copy is
    /// older than [`SETTINGS_REFRESH`].
    pub async fn settings(&self) -> Result<Arc<Settings>, AccountsError> {
        if let Some(settings) = self.inner.settings.fresh() {
            return Ok(settings);
        }
        let stored: Option<String> = on_backend!(self.inner.db, pool => {
            sqlx::query_scalar("SELECT document FROM settings WHERE id = 1")
                .fetch_optional(pool)
                .await?
        });
        let settings = match stored {
            Some(document) => {
                Arc::new(serde_json::from_str::<Settings>(&document).map_err(|e| {
                    AccountsError::InvalidSettings(format!("the stored settings do not read: {e}"))
                })?)
            }
            None => self.inner.settings.defaults(),
        };
        self.put_in_force(settings.clone());
        Ok(settings)
    }

    /// What visitors see of the settings.
    pub async fn public_settings(&self) -> Result<PublicSettings, AccountsError> {
        let settings = self.settings().await?;
        Ok(PublicSettings {
            registration_open: settings.registration_open,
            banner: settings.banner.clone(),
            min_password_chars: self.password_policy().min_chars,
        })
    }

    /// An administrator replaces the settings; they are in force on return.
    pub async fn update_settings(
        &self,
        admin: i64,
        settings: Settings,
        meta: &RequestMeta,
    ) -> Result<Arc<Settings>, AccountsError> {
        settings.check()?;
        self.require_admin(admin).await?;
        let before = self.settings().await?;
        let document = serde_json::to_string(&settings).expect("settings serialise");
        let now = self.inner.clock.now_db();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO settings (id, document, updated_ms, updated_by) VALUES (1, $1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET document = $1, updated_ms = $2, updated_by = $3",
            )
            .bind(&document)
            .bind(now)
            .bind(admin)
            .execute(&mut *tx)
            .await?;
            let detail = json!({ "before": *before, "after": settings });
            let event = meta.event(Some(admin), "admin.settings-updated", None, detail);
            append_in!(tx, &event, now);
            tx.commit().await?;
        });
        let settings = Arc::new(settings);
        self.put_in_force(settings.clone());
        Ok(settings)
    }

    fn put_in_force(&self, settings: Arc<Settings>) {
        self.inner.limiter.set_limits(&settings.limits);
        self.inner.settings.store(settings);
    }
}
