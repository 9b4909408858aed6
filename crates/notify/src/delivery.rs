//! The delivery workers: each pass claims the oldest pending message of every endpoint
//! that is due (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so that replicas share the
//! work and never take the same message), leases it for [`LEASE`], posts it, and records
//! the attempt with the message's new state in one transaction.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use btcr_accounts::{BeginWrite as _, on_backend};
use bytes::Bytes;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{Notify, NotifyError, email::MAILTO, signing::signature_header, target::Target};

/// The wait before each retry of a failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
/// 10 h (eight attempts over about 28 hours).
pub const DEFAULT_RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];
/// An endpoint whose every attempt has failed for this long is disabled.
pub const DEFAULT_DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);
/// How long a claimed message is a worker's: past it (the worker died mid-attempt) another
/// takes it again.
pub const LEASE: Duration = Duration::from_secs(30);
/// Messages claimed per pass.
const CLAIM_BATCH: i64 = 32;
/// How often an idle worker looks for due messages (retries come due by time).
const POLL: Duration = Duration::from_secs(1);

const CLAIM_SQLITE: &str = "SELECT o.seq FROM notify_outbox o \
    JOIN webhook_endpoints e ON e.id = o.endpoint_id \
    WHERE o.state = 'pending' AND e.disabled_ms IS NULL AND o.next_attempt_ms <= $1 \
    AND o.lease_until_ms <= $1 \
    AND o.seq = (SELECT MIN(p.seq) FROM notify_outbox p WHERE p.queue = o.queue AND p.state = 'pending') \
    ORDER BY o.seq LIMIT $2";
const CLAIM_POSTGRES: &str = "SELECT o.seq FROM notify_outbox o \
    JOIN webhook_endpoints e ON e.id = o.endpoint_id \
    WHERE o.state = 'pending' AND e.disabled_ms IS NULL AND o.next_attempt_ms <= $1 \
    AND o.lease_until_ms <= $1 \
    AND o.seq = (SELECT MIN(p.seq) FROM notify_outbox p WHERE p.queue = o.queue AND p.state = 'pending') \
    ORDER BY o.seq LIMIT $2 FOR UPDATE OF o SKIP LOCKED";

/// A claimed message, with what sending it needs.
#[derive(Debug, Clone)]
pub struct DeliveryLease {
    /// The message's sequence.
    pub seq: i64,
    /// `webhook-id`.
    pub message_id: String,
    /// The body.
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// The endpoint.
    pub endpoint_id: i64,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_until_ms: Option<i64>,
}

/// What an attempt got back: the receiver's status (HTTP, or the SMTP server's reply code),
/// whether that is an acceptance, and the start of its answer.
struct Sent {
    status: u16,
    accepted: bool,
    body: String,
}

/// A claimed message's row: [`LEASE_SELECT`]'s columns.
pub(crate) type LeaseRow =
    (i64, String, String, i64, i64, String, String, Option<String>, Option<i64>);
/// What sending message `$1` needs.
pub(crate) const LEASE_SELECT: &str = "SELECT o.seq, o.message_id, o.payload, o.attempts, e.id, \
    e.url, e.secret, e.previous_secret, e.previous_until_ms FROM notify_outbox o \
    JOIN webhook_endpoints e ON e.id = o.endpoint_id WHERE o.seq = $1";

impl DeliveryLease {
    pub(crate) fn of(r: LeaseRow) -> Self {
        Self {
            seq: r.0,
            message_id: r.1,
            payload: r.2,
            attempts: r.3,
            endpoint_id: r.4,
            url: r.5,
            secret: r.6,
            previous_secret: r.7,
            previous_until_ms: r.8,
        }
    }
}

/// Unix ms as RFC 3339 (UTC, milliseconds).
pub(crate) fn rfc3339(ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

impl Notify {
    /// Runs the delivery workers until `shutdown`: on the outbox table, or through RabbitMQ
    /// when the configuration names one (none when it holds them).
    pub fn spawn_workers(&self, shutdown: CancellationToken) {
        if self.inner.config.hold_delivery {
            tracing::warn!(target: "btcr::notify", "webhook delivery is held (fault injection)");
            return;
        }
        if let Some(url) = self.inner.config.amqp_url.clone() {
            self.spawn_amqp(url, shutdown);
            return;
        }
        let notify = self.clone();
        tokio::spawn(async move {
            loop {
                let worked = match notify.deliver_due().await {
                    Ok(n) => n > 0,
                    Err(e) => {
                        tracing::warn!(target: "btcr::notify", error = %e, "delivery pass failed");
                        false
                    }
                };
                if worked {
                    continue;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = notify.inner.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
        });
    }

    /// One pass: claims the due messages and attempts each (endpoints in parallel, each
    /// endpoint's one at a time); how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, NotifyError> {
        let leases = self.claim(LEASE, None, CLAIM_BATCH).await?;
        let count = leases.len();
        let mut attempts = JoinSet::new();
        for lease in leases {
            let notify = self.clone();
            attempts.spawn(async move { notify.attempt(lease).await });
        }
        while let Some(done) = attempts.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(target: "btcr::notify", error = %e, "recording a delivery failed")
                }
                Err(e) => tracing::warn!(target: "btcr::notify", error = %e, "a delivery panicked"),
            }
        }
        Ok(count)
    }

    /// Claims the oldest due message of each enabled endpoint (at most `batch`), leased
    /// for `lease`; a relay's claim also marks each with its dispatch `token`.
    pub(crate) async fn claim(
        &self,
        lease: Duration,
        token: Option<&str>,
        batch: i64,
    ) -> Result<Vec<DeliveryLease>, NotifyError> {
        let now = self.now();
        let until = now + lease.as_millis() as i64;
        let claim =
            if self.inner.db.backend_name() == "postgres" { CLAIM_POSTGRES } else { CLAIM_SQLITE };
        let rows: Vec<LeaseRow> = on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let seqs: Vec<(i64,)> =
                sqlx::query_as(claim).bind(now).bind(batch).fetch_all(&mut *tx).await?;
            let mut rows = Vec::with_capacity(seqs.len());
            for (seq,) in seqs {
                sqlx::query("UPDATE notify_outbox SET lease_until_ms = $1, dispatch = $2 WHERE seq = $3")
                    .bind(until)
                    .bind(token)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                let row: LeaseRow = sqlx::query_as(LEASE_SELECT).bind(seq).fetch_one(&mut *tx).await?;
                rows.push(row);
            }
            tx.commit().await?;
            rows
        });
        Ok(rows.into_iter().map(DeliveryLease::of).collect())
    }

    pub(crate) async fn attempt(&self, lease: DeliveryLease) -> Result<(), NotifyError> {
        let started = self.now();
        let outcome = match lease.url.strip_prefix(MAILTO) {
            Some(to) => self.mail(&lease, to).await,
            None => self.post(&lease, started).await,
        };
        let finished = self.now();
        let (status, error, response) = match outcome {
            Ok(Sent { status, accepted: true, body }) => (Some(i64::from(status)), None, body),
            Ok(Sent { status, accepted: false, body }) => {
                let why = if (300..400).contains(&status) {
                    format!("answered {status} (redirects are not followed)")
                } else {
                    format!("answered {status}")
                };
                (Some(i64::from(status)), Some(why), body)
            }
            Err(e) => (None, Some(e), String::new()),
        };
        let channel = if lease.url.starts_with(MAILTO) { "email" } else { "webhook" };
        btcr_metrics::metrics().delivery(channel, error.is_none());
        self.record(&lease, started, finished, status, error, response).await
    }

    /// Posts a webhook message, signed.
    async fn post(&self, lease: &DeliveryLease, started: i64) -> Result<Sent, String> {
        // The receiver compares it with its own clock: the wall clock's.
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let mut secrets = vec![lease.secret.as_str()];
        if let (Some(previous), Some(until)) = (&lease.previous_secret, lease.previous_until_ms)
            && until > started
        {
            secrets.push(previous);
        }
        let body = Bytes::from(lease.payload.clone());
        let target = Target::parse(&lease.url).map_err(|e| e.to_string())?;
        let signature = signature_header(secrets, &lease.message_id, timestamp, &body)
            .ok_or_else(|| "the endpoint's secret is malformed".to_owned())?;
        let headers = [
            ("webhook-id", lease.message_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        let answer = self.inner.client.post(&target, &headers, body).await?;
        let accepted = (200..300).contains(&answer.status);
        Ok(Sent { status: answer.status, accepted, body: answer.body })
    }

    /// Mails a message to `to` (an e-mail endpoint's address).
    async fn mail(&self, lease: &DeliveryLease, to: &str) -> Result<Sent, String> {
        let Some(mailer) = &self.inner.mailer else {
            return Err("this service has no SMTP server to send e-mail with".to_owned());
        };
        let answer = mailer.send(to, &lease.message_id, &lease.payload).await?;
        Ok(Sent { status: answer.status, accepted: true, body: answer.body })
    }

    async fn record(
        &self,
        lease: &DeliveryLease,
        started: i64,
        finished: i64,
        status: Option<i64>,
        error: Option<String>,
        response: String,
    ) -> Result<(), NotifyError> {
        let delays = &self.inner.config.retry_delays;
        let attempt = lease.attempts + 1;
        let succeeded = error.is_none();
        let disable_after = self.inner.config.disable_after.as_millis() as i64;
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO notify_attempts (seq, attempt, started_ms, duration_ms, status, \
                 error, response) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(lease.seq)
            .bind(attempt)
            .bind(started)
            .bind((finished - started).max(0))
            .bind(status)
            .bind(&error)
            .bind(&response)
            .execute(&mut *tx)
            .await?;
            if succeeded {
                sqlx::query(
                    "UPDATE notify_outbox SET state = 'delivered', attempts = $1, \
                     delivered_ms = $2, lease_until_ms = 0, dispatch = NULL WHERE seq = $3",
                )
                .bind(attempt)
                .bind(finished)
                .bind(lease.seq)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE webhook_endpoints SET failing_since_ms = NULL WHERE id = $1")
                    .bind(lease.endpoint_id)
                    .execute(&mut *tx)
                    .await?;
            } else {
                let (state, next) = match delays.get(lease.attempts as usize) {
                    Some(delay) => ("pending", finished + delay.as_millis() as i64),
                    None => ("failed", finished),
                };
                sqlx::query(
                    "UPDATE notify_outbox SET state = $1, attempts = $2, next_attempt_ms = $3, \
                     lease_until_ms = 0, dispatch = NULL WHERE seq = $4",
                )
                .bind(state)
                .bind(attempt)
                .bind(next)
                .bind(lease.seq)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE webhook_endpoints SET failing_since_ms = COALESCE(failing_since_ms, $1) \
                     WHERE id = $2",
                )
                .bind(started)
                .bind(lease.endpoint_id)
                .execute(&mut *tx)
                .await?;
                let disabled = sqlx::query(
                    "UPDATE webhook_endpoints SET disabled_ms = $1, disabled_reason = $2 \
                     WHERE id = $3 AND disabled_ms IS NULL AND failing_since_ms <= $4",
                )
                .bind(finished)
                .bind(format!(
                    "every attempt failed for {}",
                    humantime::format_duration(self.inner.config.disable_after)
                ))
                .bind(lease.endpoint_id)
                .bind(finished - disable_after)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if disabled > 0 {
                    btcr_metrics::metrics().notify.endpoints_disabled.inc();
                    tracing::warn!(
                        target: "btcr::notify",
                        endpoint = lease.endpoint_id,
                        "webhook endpoint disabled: it has failed for too long"
                    );
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
