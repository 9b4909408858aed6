//! The service: endpoints, subscriptions, the messages of each endpoint with their delivery
//! log, and the portal's notifications, each a user's own.

use std::{sync::Arc, time::Duration};

use btcr_accounts::{BeginWrite as _, Clock, Database, on_backend};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::migrate::Migrator;
use utoipa::ToSchema;

use crate::{
    DEFAULT_DISABLE_AFTER, DEFAULT_RETRY_DELAYS, EventKind, NotifyError, WebhookClient,
    email::{MAILTO, Mailer, SmtpConfig},
    signing::new_secret,
    target::Target,
};

// Numbered from 1001: the accounts' migrations in the same database leave these alone.
static SQLITE_MIGRATIONS: Migrator =
    Migrator { ignore_missing: true, ..sqlx::migrate!("migrations/sqlite") };
static POSTGRES_MIGRATIONS: Migrator =
    Migrator { ignore_missing: true, ..sqlx::migrate!("migrations/postgres") };

/// Webhook endpoints one user may have.
pub const MAX_ENDPOINTS: usize = 10;
/// Subscriptions one user may have.
pub const MAX_SUBSCRIPTIONS: usize = 50;
/// Characters of an endpoint's description.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Most items in one page (messages, notifications).
pub const MAX_PAGE: u32 = 100;
/// Attempts shown with each message (the latest).
pub const MAX_ATTEMPTS_SHOWN: usize = 20;
/// How long a rotated-out secret still signs (beside the new one).
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// How the service runs.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// Whether webhooks may reach loopback and private addresses (a test, or an operator's
    /// own network).
    pub allow_private_targets: bool,
    /// The wait before each retry; once they are spent, a message is `failed`.
    pub retry_delays: Vec<Duration>,
    /// An endpoint failing every attempt for this long is disabled.
    pub disable_after: Duration,
    /// One attempt's limit: connecting, sending and reading the answer.
    pub request_timeout: Duration,
    /// Do not start the delivery workers (a fault the crash tests use: messages are written
    /// and stay pending).
    pub hold_delivery: bool,
    /// RabbitMQ (`amqp://…`) between the outbox and the workers; `None`: the workers take
    /// from the outbox table itself.
    pub amqp_url: Option<String>,
    /// With RabbitMQ: how long a published message may wait for a worker before it is
    /// published again (under a new token: the older copy is dropped when it arrives).
    pub dispatch_lease: Duration,
    /// E-mail over SMTP; `None`: the `email` channel is refused.
    pub smtp: Option<SmtpConfig>,
    /// Where times come from.
    pub clock: Clock,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            retry_delays: DEFAULT_RETRY_DELAYS.to_vec(),
            disable_after: DEFAULT_DISABLE_AFTER,
            request_timeout: Duration::from_secs(15),
            hold_delivery: false,
            amqp_url: None,
            dispatch_lease: crate::amqp::DEFAULT_DISPATCH_LEASE,
            smtp: None,
            clock: Clock::system(),
        }
    }
}

/// The notifications service over the application database.
#[derive(Clone, Debug)]
pub struct Notify {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) db: Database,
    pub(crate) config: NotifyConfig,
    pub(crate) client: WebhookClient,
    /// Sends the `email` channel's mail, when SMTP is set up.
    pub(crate) mailer: Option<Mailer>,
    /// Woken when messages are written, so that workers need not wait for their poll.
    pub(crate) wake: tokio::sync::Notify,
    /// The users whose portal notifications were just written, for their live connections
    /// (1,024 kept; a connection that falls behind looks for everything).
    pub(crate) live: tokio::sync::broadcast::Sender<i64>,
    /// Live connections per user.
    pub(crate) live_counts: crate::live::LiveCounts,
}

/// Where a subscription's events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// The portal's notification list.
    Portal,
    /// A webhook endpoint of the user's.
    Webhook,
    /// Mail to the address the user signed up with (when the operator set up SMTP).
    Email,
}

impl Channel {
    /// The stored channel: an e-mail subscription is stored as one to its `mailto:`
    /// endpoint.
    fn as_str(self) -> &'static str {
        match self {
            Channel::Portal => "portal",
            Channel::Webhook | Channel::Email => "webhook",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "portal" => Some(Channel::Portal),
            "webhook" => Some(Channel::Webhook),
            _ => None,
        }
    }
}

/// A subscription: events of `kinds` on one watched address (or all of them) to a channel.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Its id.
    pub id: i64,
    /// The watched address it follows; `null`: every address of the watch list.
    pub address: Option<String>,
    /// What it follows.
    pub kinds: Vec<EventKind>,
    /// Where the events go.
    pub channel: Channel,
    /// The endpoint, for a webhook subscription.
    pub endpoint_id: Option<i64>,
    /// When it was made (Unix ms).
    pub created_ms: i64,
}

/// A subscription to make.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSubscription {
    /// An address of the caller's watch list; absent or `null`: all of them.
    #[serde(default)]
    pub address: Option<String>,
    /// One or more kinds.
    pub kinds: Vec<EventKind>,
    /// Where the events go.
    pub channel: Channel,
    /// The endpoint (the caller's), for `webhook`.
    #[serde(default)]
    pub endpoint_id: Option<i64>,
}

/// A webhook endpoint (its secret is shown only when made or rotated).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// Its id.
    pub id: i64,
    /// Where messages are posted.
    pub url: String,
    /// The owner's note.
    pub description: String,
    /// When it was made (Unix ms).
    pub created_ms: i64,
    /// Since when every attempt has failed (`null`: the last one succeeded).
    pub failing_since_ms: Option<i64>,
    /// When it was disabled (`null`: enabled).
    pub disabled_ms: Option<i64>,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Until when the rotated-out secret still signs beside the current one.
    pub previous_secret_until_ms: Option<i64>,
    /// Messages waiting for delivery.
    pub pending: i64,
}

/// A new endpoint with its secret, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewEndpoint {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// `whsec_…`: verifies the `webhook-signature` of each message.
    pub secret: String,
}

/// A rotated secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotatedSecret {
    /// The new secret, shown this once.
    pub secret: String,
    /// Until when messages are signed with the old one too (Unix ms).
    pub previous_secret_until_ms: i64,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageState {
    /// Waiting for its (next) attempt.
    Pending,
    /// An attempt got a 2xx.
    Delivered,
    /// Its retries ran out.
    Failed,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// 1 for the first.
    pub attempt: i64,
    /// When it started (Unix ms).
    pub started_ms: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// The HTTP status, when an answer came.
    pub status: Option<i64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The start of the answer's body.
    pub response: String,
}

/// A message to an endpoint, with its latest attempts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Its place in the endpoint's order (a cursor for older pages).
    pub sequence: i64,
    /// `webhook-id`: the same on every attempt and replay.
    pub message_id: String,
    /// The event's kind (`webhook.test` for a test).
    pub kind: String,
    /// Where it stands.
    pub state: MessageState,
    /// Attempts made.
    pub attempts: i64,
    /// When it was written (Unix ms).
    pub created_ms: i64,
    /// When the next attempt is due, while pending.
    pub next_attempt_ms: Option<i64>,
    /// When it was delivered.
    pub delivered_ms: Option<i64>,
    /// The body posted.
    pub payload: Value,
    /// The latest attempts, oldest first.
    pub log: Vec<Attempt>,
}

/// One entry of the portal's list.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Its id (a cursor).
    pub id: i64,
    /// The event's id.
    pub message_id: String,
    /// The event's kind.
    pub kind: String,
    /// What the webhook's body would hold.
    pub payload: Value,
    /// When it was written (Unix ms).
    pub created_ms: i64,
    /// When it was marked read.
    pub read_ms: Option<i64>,
}

/// A page of the portal's list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPage {
    /// The notifications.
    pub notifications: Vec<Notification>,
    /// How many are unread in all.
    pub unread: i64,
}

type EndpointRow =
    (i64, String, String, i64, Option<i64>, Option<i64>, Option<String>, Option<i64>, i64);
const ENDPOINT_COLUMNS: &str = "e.id, e.url, e.description, e.created_ms, e.failing_since_ms, \
    e.disabled_ms, e.disabled_reason, e.previous_until_ms, \
    (SELECT COUNT(*) FROM notify_outbox o WHERE o.endpoint_id = e.id AND o.state = 'pending')";

fn endpoint_of(r: EndpointRow) -> Endpoint {
    Endpoint {
        id: r.0,
        url: r.1,
        description: r.2,
        created_ms: r.3,
        failing_since_ms: r.4,
        disabled_ms: r.5,
        disabled_reason: r.6,
        previous_secret_until_ms: r.7,
        pending: r.8,
    }
}

type NotificationRow = (i64, String, String, String, i64, Option<i64>);

fn notification_of(r: NotificationRow) -> Notification {
    Notification {
        id: r.0,
        message_id: r.1,
        kind: r.2,
        payload: serde_json::from_str(&r.3).unwrap_or(Value::Null),
        created_ms: r.4,
        read_ms: r.5,
    }
}

type SubscriptionRow = (i64, Option<String>, String, String, Option<i64>, i64, Option<String>);

fn subscription_of(r: SubscriptionRow) -> Subscription {
    let mailed = r.6.as_deref().is_some_and(|url| url.starts_with(MAILTO));
    Subscription {
        id: r.0,
        address: r.1,
        kinds: parse_kinds(&r.2),
        channel: if mailed {
            Channel::Email
        } else {
            Channel::parse(&r.3).unwrap_or(Channel::Portal)
        },
        endpoint_id: r.4,
        created_ms: r.5,
    }
}

pub(crate) fn parse_kinds(s: &str) -> Vec<EventKind> {
    s.split(',').filter_map(EventKind::parse).collect()
}

/// A `0x` address of 20 bytes, lower-cased.
fn address_arg(address: &str) -> Result<String, NotifyError> {
    let hex = address.strip_prefix("0x").unwrap_or("");
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NotifyError::Invalid(format!("{address:?} is not a 0x address of 20 bytes")));
    }
    Ok(address.to_ascii_lowercase())
}

impl Notify {
    /// Opens the service on `db` (the accounts' database, whose users and watch lists it
    /// reads), adding its tables when they are missing.
    pub async fn open(db: Database, config: NotifyConfig) -> Result<Self, NotifyError> {
        db.migrate(&SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS).await?;
        if config.retry_delays.is_empty() {
            return Err(NotifyError::Invalid("at least one retry delay is needed".into()));
        }
        let client = WebhookClient::new(config.allow_private_targets, config.request_timeout);
        let mailer = config
            .smtp
            .as_ref()
            .map(|smtp| Mailer::new(smtp, config.request_timeout))
            .transpose()?;
        let wake = tokio::sync::Notify::new();
        let (live, _) = tokio::sync::broadcast::channel(1024);
        let live_counts = Default::default();
        Ok(Self { inner: Arc::new(Inner { db, config, client, mailer, wake, live, live_counts }) })
    }

    /// The time now (Unix ms).
    pub(crate) fn now(&self) -> i64 {
        self.inner.config.clock.now_ms() as i64
    }

    /// The configuration.
    pub fn config(&self) -> &NotifyConfig {
        &self.inner.config
    }

    /// Adds a webhook endpoint for `user` at `url`: the URL's form is checked, and its host
    /// must resolve to addresses webhooks may reach.
    pub async fn create_endpoint(
        &self,
        user: i64,
        url: &str,
        description: &str,
    ) -> Result<NewEndpoint, NotifyError> {
        let target = Target::parse(url).map_err(|e| NotifyError::Invalid(e.to_string()))?;
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(NotifyError::Invalid(format!(
                "the description is longer than {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        target
            .resolve(self.inner.client.allows_private())
            .await
            .map_err(|e| NotifyError::Invalid(e.to_string()))?;
        let secret = new_secret();
        let now = self.now();
        let id: i64 = on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let (count,): (i64,) =
                sqlx::query_as(
                    "SELECT COUNT(*) FROM webhook_endpoints WHERE user_id = $1 \
                     AND url NOT LIKE 'mailto:%'",
                )
                .bind(user)
                    .fetch_one(&mut *tx)
                    .await?;
            if count >= MAX_ENDPOINTS as i64 {
                return Err(NotifyError::Limit(format!(
                    "a user may have {MAX_ENDPOINTS} webhook endpoints; delete one first"
                )));
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO webhook_endpoints (user_id, url, description, secret, created_ms) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(user)
            .bind(url)
            .bind(description)
            .bind(&secret)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            id
        });
        let endpoint = self.endpoint(user, id).await?;
        Ok(NewEndpoint { endpoint, secret })
    }

    /// `user`'s endpoint `id`.
    pub async fn endpoint(&self, user: i64, id: i64) -> Result<Endpoint, NotifyError> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE e.user_id = $1 AND e.id = $2"
        );
        let row: Option<EndpointRow> = on_backend!(self.inner.db, pool => {
            sqlx::query_as(&sql).bind(user).bind(id).fetch_optional(pool).await?
        });
        row.map(endpoint_of).ok_or(NotifyError::NotFound("webhook endpoint"))
    }

    /// `user`'s endpoints, oldest first.
    pub async fn endpoints(&self, user: i64) -> Result<Vec<Endpoint>, NotifyError> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE e.user_id = $1 ORDER BY e.id"
        );
        let rows: Vec<EndpointRow> = on_backend!(self.inner.db, pool => {
            sqlx::query_as(&sql).bind(user).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(endpoint_of).collect())
    }

    /// Deletes `user`'s endpoint `id`, with its subscriptions and messages.
    pub async fn delete_endpoint(&self, user: i64, id: i64) -> Result<(), NotifyError> {
        let sql = "DELETE FROM webhook_endpoints WHERE user_id = $1 AND id = $2";
        self.delete_owned(sql, user, id, "webhook endpoint").await
    }

    /// Gives `user`'s endpoint `id` a new secret; the old one signs beside it for
    /// [`ROTATION_OVERLAP`], so that receivers can switch without losing a message.
    pub async fn rotate_secret(&self, user: i64, id: i64) -> Result<RotatedSecret, NotifyError> {
        let secret = new_secret();
        let until = self.now() + ROTATION_OVERLAP.as_millis() as i64;
        let updated = on_backend!(self.inner.db, pool => {
            sqlx::query(
                "UPDATE webhook_endpoints SET previous_secret = secret, previous_until_ms = $1, \
                 secret = $2 WHERE user_id = $3 AND id = $4",
            )
            .bind(until)
            .bind(&secret)
            .bind(user)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if updated == 0 {
            return Err(NotifyError::NotFound("webhook endpoint"));
        }
        Ok(RotatedSecret { secret, previous_secret_until_ms: until })
    }

    /// Enables `user`'s endpoint `id` again (its waiting messages go out).
    pub async fn enable_endpoint(&self, user: i64, id: i64) -> Result<Endpoint, NotifyError> {
        let updated = on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE webhook_endpoints SET disabled_ms = NULL, disabled_reason = NULL, \
                 failing_since_ms = NULL WHERE user_id = $1 AND id = $2",
            )
            .bind(user)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // A message published while the endpoint was disabled was dropped by the worker
            // that got it: it goes out again now rather than when its lease ends.
            if updated > 0 {
                sqlx::query(
                    "UPDATE notify_outbox SET lease_until_ms = 0, dispatch = NULL \
                     WHERE endpoint_id = $1 AND state = 'pending' AND dispatch IS NOT NULL",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            updated
        });
        if updated == 0 {
            return Err(NotifyError::NotFound("webhook endpoint"));
        }
        self.inner.wake.notify_one();
        self.endpoint(user, id).await
    }

    /// Makes a subscription for `user`.
    pub async fn subscribe(
        &self,
        user: i64,
        request: NewSubscription,
    ) -> Result<Subscription, NotifyError> {
        let mut kinds = request.kinds.clone();
        kinds.sort_unstable();
        kinds.dedup();
        if kinds.is_empty() {
            return Err(NotifyError::Invalid("name at least one kind of event".into()));
        }
        let kinds_text: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let kinds_text = kinds_text.join(",");
        let address = request.address.as_deref().map(address_arg).transpose()?;
        match (request.channel, request.endpoint_id) {
            (Channel::Webhook, None) => {
                return Err(NotifyError::Invalid(
                    "a webhook subscription needs an endpointId".into(),
                ));
            }
            (Channel::Portal | Channel::Email, Some(_)) => {
                return Err(NotifyError::Invalid(format!(
                    "a {} subscription takes no endpointId",
                    if request.channel == Channel::Email { "email" } else { "portal" }
                )));
            }
            (Channel::Email, None) if self.inner.mailer.is_none() => {
                return Err(NotifyError::Invalid(
                    "this service sends no e-mail (its operator has set no SMTP server)".into(),
                ));
            }
            _ => {}
        }
        let now = self.now();
        let id: (i64, Option<i64>) = on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let (count,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM notify_subscriptions WHERE user_id = $1")
                    .bind(user)
                    .fetch_one(&mut *tx)
                    .await?;
            if count >= MAX_SUBSCRIPTIONS as i64 {
                return Err(NotifyError::Limit(format!(
                    "a user may have {MAX_SUBSCRIPTIONS} subscriptions; delete one first"
                )));
            }
            if let Some(address) = &address {
                let watched: Option<(String,)> = sqlx::query_as(
                    "SELECT address FROM watchlist WHERE user_id = $1 AND address = $2",
                )
                .bind(user)
                .bind(address)
                .fetch_optional(&mut *tx)
                .await?;
                if watched.is_none() {
                    return Err(NotifyError::Invalid(format!(
                        "{address} is not on your watch list: watch it first"
                    )));
                }
            }
            let mut endpoint_id = request.endpoint_id;
            if let Some(endpoint) = endpoint_id {
                let owned: Option<(String,)> = sqlx::query_as(
                    "SELECT url FROM webhook_endpoints WHERE user_id = $1 AND id = $2",
                )
                .bind(user)
                .bind(endpoint)
                .fetch_optional(&mut *tx)
                .await?;
                match owned {
                    None => return Err(NotifyError::NotFound("webhook endpoint")),
                    Some((url,)) if url.starts_with(MAILTO) => {
                        return Err(NotifyError::Invalid(
                            "that endpoint is your e-mail: subscribe on the email channel".into(),
                        ));
                    }
                    Some(_) => {}
                }
            }
            if request.channel == Channel::Email {
                // The user's own address, and no other: their e-mail endpoint, made once.
                let (email,): (String,) = sqlx::query_as("SELECT email FROM users WHERE id = $1")
                    .bind(user)
                    .fetch_one(&mut *tx)
                    .await?;
                let url = format!("{MAILTO}{email}");
                let existing: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM webhook_endpoints WHERE user_id = $1 AND url = $2",
                )
                .bind(user)
                .bind(&url)
                .fetch_optional(&mut *tx)
                .await?;
                let id = match existing {
                    Some((id,)) => id,
                    None => {
                        let (id,): (i64,) = sqlx::query_as(
                            "INSERT INTO webhook_endpoints (user_id, url, description, secret, \
                             created_ms) VALUES ($1, $2, 'e-mail', $3, $4) RETURNING id",
                        )
                        .bind(user)
                        .bind(&url)
                        .bind(new_secret())
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                        id
                    }
                };
                endpoint_id = Some(id);
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO notify_subscriptions (user_id, address, kinds, channel, endpoint_id, \
                 created_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(user)
            .bind(&address)
            .bind(&kinds_text)
            .bind(request.channel.as_str())
            .bind(endpoint_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            (id, endpoint_id)
        });
        let (id, endpoint_id) = id;
        Ok(Subscription {
            id,
            address,
            kinds,
            channel: request.channel,
            endpoint_id,
            created_ms: now,
        })
    }

    /// `user`'s subscriptions, oldest first.
    pub async fn subscriptions(&self, user: i64) -> Result<Vec<Subscription>, NotifyError> {
        let rows: Vec<SubscriptionRow> = on_backend!(self.inner.db, pool => {
            sqlx::query_as(
                "SELECT s.id, s.address, s.kinds, s.channel, s.endpoint_id, s.created_ms, e.url \
                 FROM notify_subscriptions s LEFT JOIN webhook_endpoints e ON e.id = s.endpoint_id \
                 WHERE s.user_id = $1 ORDER BY s.id",
            )
            .bind(user)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(subscription_of).collect())
    }

    /// Ends `user`'s subscription `id` (what it wrote stays).
    pub async fn unsubscribe(&self, user: i64, id: i64) -> Result<(), NotifyError> {
        let sql = "DELETE FROM notify_subscriptions WHERE user_id = $1 AND id = $2";
        self.delete_owned(sql, user, id, "subscription").await
    }

    /// Runs `sql`, a delete of row `id` of `user` (bound as `$1` and `$2`); `NotFound(what)`
    /// when no such row is theirs.
    async fn delete_owned(
        &self,
        sql: &'static str,
        user: i64,
        id: i64,
        what: &'static str,
    ) -> Result<(), NotifyError> {
        let deleted = on_backend!(self.inner.db, pool => {
            sqlx::query(sql).bind(user).bind(id).execute(pool).await?.rows_affected()
        });
        if deleted == 0 {
            return Err(NotifyError::NotFound(what));
        }
        Ok(())
    }

    /// Queues a `webhook.test` message to `user`'s endpoint `id`; its id.
    pub async fn send_test(&self, user: i64, id: i64) -> Result<String, NotifyError> {
        self.endpoint(user, id).await?;
        let now = self.now();
        let message_id = format!("msg_test_{}", hex::encode(rand::random::<[u8; 12]>()));
        let payload = serde_json::json!({
            "type": "webhook.test",
            "timestamp": crate::delivery::rfc3339(now),
            "data": { "endpointId": id },
        })
        .to_string();
        on_backend!(self.inner.db, pool => {
            sqlx::query(
                "INSERT INTO notify_outbox (message_id, user_id, queue, endpoint_id, \
                 subscription_id, kind, payload, created_ms, state, next_attempt_ms) \
                 VALUES ($1, $2, $3, $4, NULL, 'webhook.test', $5, $6, 'pending', $6)",
            )
            .bind(&message_id)
            .bind(user)
            .bind(format!("webhook:{id}"))
            .bind(id)
            .bind(&payload)
            .bind(now)
            .execute(pool)
            .await?;
        });
        self.inner.wake.notify_one();
        Ok(message_id)
    }

    /// The messages of `user`'s endpoint `id`, newest first, older than `before` (a
    /// sequence), at most `limit`, each with its latest attempts.
    pub async fn messages(
        &self,
        user: i64,
        id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Message>, NotifyError> {
        self.endpoint(user, id).await?;
        type Row = (i64, String, String, String, i64, i64, i64, Option<i64>, String);
        type AttemptRow = (i64, i64, i64, i64, Option<i64>, Option<String>, String);
        let limit = i64::from(limit.clamp(1, MAX_PAGE));
        let before = before.unwrap_or(i64::MAX);
        let (rows, attempts): (Vec<Row>, Vec<AttemptRow>) = on_backend!(self.inner.db, pool => {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT seq, message_id, kind, state, attempts, created_ms, next_attempt_ms, \
                 delivered_ms, payload FROM notify_outbox WHERE endpoint_id = $1 AND seq < $2 \
                 ORDER BY seq DESC LIMIT $3",
            )
            .bind(id)
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            let (low, high) = match (rows.last(), rows.first()) {
                (Some(l), Some(h)) => (l.0, h.0),
                _ => (0, -1),
            };
            let attempts: Vec<AttemptRow> = sqlx::query_as(
                "SELECT a.seq, a.attempt, a.started_ms, a.duration_ms, a.status, a.error, \
                 a.response FROM notify_attempts a JOIN notify_outbox o ON o.seq = a.seq \
                 WHERE o.endpoint_id = $1 AND a.seq >= $2 AND a.seq <= $3 ORDER BY a.id",
            )
            .bind(id)
            .bind(low)
            .bind(high)
            .fetch_all(pool)
            .await?;
            (rows, attempts)
        });
        let mut messages: Vec<Message> = rows
            .into_iter()
            .map(|r| {
                let state = match r.3.as_str() {
                    "delivered" => MessageState::Delivered,
                    "failed" => MessageState::Failed,
                    _ => MessageState::Pending,
                };
                Message {
                    sequence: r.0,
                    message_id: r.1,
                    kind: r.2,
                    state,
                    attempts: r.4,
                    created_ms: r.5,
                    next_attempt_ms: (state == MessageState::Pending).then_some(r.6),
                    delivered_ms: r.7,
                    payload: serde_json::from_str(&r.8).unwrap_or(Value::Null),
                    log: Vec::new(),
                }
            })
            .collect();
        for a in attempts {
            if let Some(m) = messages.iter_mut().find(|m| m.sequence == a.0) {
                m.log.push(Attempt {
                    attempt: a.1,
                    started_ms: a.2,
                    duration_ms: a.3,
                    status: a.4,
                    error: a.5,
                    response: a.6,
                });
            }
        }
        for m in &mut messages {
            let extra = m.log.len().saturating_sub(MAX_ATTEMPTS_SHOWN);
            m.log.drain(..extra);
        }
        Ok(messages)
    }

    /// Sends message `message_id` of `user`'s endpoint `id` again (same `webhook-id`), now
    /// and ahead of newer pending ones.
    pub async fn replay(&self, user: i64, id: i64, message_id: &str) -> Result<(), NotifyError> {
        self.endpoint(user, id).await?;
        let now = self.now();
        let updated = on_backend!(self.inner.db, pool => {
            sqlx::query(
                "UPDATE notify_outbox SET state = 'pending', attempts = 0, next_attempt_ms = $1, \
                 delivered_ms = NULL WHERE endpoint_id = $2 AND message_id = $3 \
                 AND state <> 'pending'",
            )
            .bind(now)
            .bind(id)
            .bind(message_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if updated == 0 {
            let exists: Option<(i64,)> = on_backend!(self.inner.db, pool => {
                sqlx::query_as("SELECT seq FROM notify_outbox WHERE endpoint_id = $1 AND message_id = $2")
                    .bind(id)
                    .bind(message_id)
                    .fetch_optional(pool)
                    .await?
            });
            return match exists {
                Some(_) => Err(NotifyError::Invalid("the message is still pending".into())),
                None => Err(NotifyError::NotFound("message")),
            };
        }
        self.inner.wake.notify_one();
        Ok(())
    }

    /// `user`'s portal notifications, newest first, older than `before`, at most `limit`,
    /// with the count of unread ones.
    pub async fn notifications(
        &self,
        user: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<NotificationPage, NotifyError> {
        type Row = (i64, String, String, String, i64, Option<i64>);
        let limit = i64::from(limit.clamp(1, MAX_PAGE));
        let before = before.unwrap_or(i64::MAX);
        let (rows, unread): (Vec<Row>, i64) = on_backend!(self.inner.db, pool => {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT id, message_id, kind, payload, created_ms, read_ms FROM notifications \
                 WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            )
            .bind(user)
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            let (unread,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_ms IS NULL",
            )
            .bind(user)
            .fetch_one(pool)
            .await?;
            (rows, unread)
        });
        let notifications = rows.into_iter().map(notification_of).collect();
        Ok(NotificationPage { notifications, unread })
    }

    /// `user`'s portal notifications after id `after`, oldest first, at most `limit`.
    pub async fn notifications_after(
        &self,
        user: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Notification>, NotifyError> {
        type Row = (i64, String, String, String, i64, Option<i64>);
        let rows: Vec<Row> = on_backend!(self.inner.db, pool => {
            sqlx::query_as(
                "SELECT id, message_id, kind, payload, created_ms, read_ms FROM notifications \
                 WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(user)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(notification_of).collect())
    }

    /// Marks `user`'s notifications up to id `up_to` read; how many were unread.
    pub async fn mark_read(&self, user: i64, up_to: i64) -> Result<u64, NotifyError> {
        let now = self.now();
        Ok(on_backend!(self.inner.db, pool => {
            sqlx::query(
                "UPDATE notifications SET read_ms = $1 WHERE user_id = $2 AND id <= $3 \
                 AND read_ms IS NULL",
            )
            .bind(now)
            .bind(user)
            .bind(up_to)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    /// How many messages wait for delivery, and how many gave up after their last retry
    /// (both read through partial indexes, so a scrape stays cheap however long the
    /// outbox's history).
    pub async fn queue_counts(&self) -> Result<(i64, i64), NotifyError> {
        Ok(on_backend!(self.inner.db, pool => {
            let (pending,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM notify_outbox WHERE state = 'pending'")
                    .fetch_one(pool)
                    .await?;
            let (failed,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM notify_outbox WHERE state = 'failed'")
                    .fetch_one(pool)
                    .await?;
            (pending, failed)
        }))
    }
}
