//! RabbitMQ between the outbox and the delivery workers (`NotifyConfig::amqp_url`, the
//! production setting).
//!
//! ```text
//!  notify_outbox ──relay: claim each endpoint's oldest due message, lease it with a token──┐
//!                                                                                         ▼
//!        publish {seq, token} (persistent, publisher confirm) ─▶ quorum queue btcr.notify.deliveries
//!                                                                      │ manual ack, prefetch 32
//!  workers (every replica) ◀─────────────────────────────────────────────┘
//!     take the row if the token still matches ─▶ POST ─▶ record the attempt ─▶ ack
//!  malformed, or redelivered past the limit ─▶ dead-letter exchange ─▶ btcr.notify.dead-letter
//! ```
//!
//! The outbox stays the record of what is owed, so a broker that is down, restarted or
//! emptied loses nothing: a message the relay could not publish (no confirm) is released at
//! once, and one published but never taken is dispatched again when its lease
//! (`NotifyConfig::dispatch_lease`) ends, under a new token. A worker takes a row only with
//! the token it was dispatched with, so a stale or redelivered copy of a message is
//! acknowledged and dropped instead of posted twice. Only the oldest pending message of an
//! endpoint is ever dispatched, so each endpoint still gets its messages one at a time, in
//! order. The relay and the workers reconnect by themselves, waiting 0.5 s, then twice as
//! long each time, up to 10 s.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use btcr_accounts::{BeginWrite as _, on_backend};
use futures::StreamExt as _;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
        QueueBindOptions, QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable},
};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{
    LEASE, Notify, NotifyError,
    delivery::{DeliveryLease, LEASE_SELECT, LeaseRow},
};

/// The quorum queue the relay publishes to and the workers consume.
pub const DELIVERY_QUEUE: &str = "btcr.notify.deliveries";
/// Where the delivery queue sends what it dead-letters (a fanout exchange).
pub const DEAD_LETTER_EXCHANGE: &str = "btcr.notify.dead-letter";
/// The queue that holds dead-lettered messages for an operator to read.
pub const DEAD_LETTER_QUEUE: &str = "btcr.notify.dead-letter";
/// Deliveries of one message (a worker that died or gave it back each time) before the
/// queue dead-letters it.
pub const DELIVERY_LIMIT: i64 = 10;
/// Most dead-lettered messages kept (the oldest are dropped past it).
pub const DEAD_LETTER_MAX: i64 = 100_000;
/// The default lease of a dispatched message: not taken by a worker within it, it is
/// dispatched again.
pub const DEFAULT_DISPATCH_LEASE: Duration = Duration::from_secs(5 * 60);
/// Messages a worker holds unacknowledged (and attempts at once).
const PREFETCH: u16 = 32;
/// Messages claimed and published per relay pass.
const DISPATCH_BATCH: i64 = 64;
/// How often an idle relay looks for due messages (retries come due by time).
const POLL: Duration = Duration::from_secs(1);
/// The first wait before reconnecting; it doubles up to [`RECONNECT_MAX`].
const RECONNECT_MIN: Duration = Duration::from_millis(500);
const RECONNECT_MAX: Duration = Duration::from_secs(10);
/// How long the broker may take to confirm a publish or to answer while a session is set
/// up; past it the session ends and a new connection is tried (a queue without a leader
/// answers nothing).
const BROKER_ANSWER_WITHIN: Duration = Duration::from_secs(15);
/// How long a worker waits before giving back a message it could not take (the database
/// did not answer), so that a database outage does not spin the queue.
const GIVE_BACK_AFTER: Duration = Duration::from_secs(1);

/// What a queued message says: which outbox row, under which dispatch token.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Dispatched {
    seq: i64,
    token: String,
}

fn queue_error(what: &str, e: lapin::Error) -> NotifyError {
    NotifyError::Queue(format!("{what}: {e}"))
}

/// Connects, opens a channel and declares the queues (idempotent: every relay and worker
/// declares the same).
async fn open(url: &str, role: Role) -> Result<(Connection, Channel), NotifyError> {
    let name = format!("btcr-notify-{}", role.name());
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    let connection =
        Connection::connect(url, properties).await.map_err(|e| queue_error("connecting", e))?;
    let channel = connection.create_channel().await.map_err(|e| queue_error("a channel", e))?;
    declare(&channel).await?;
    Ok((connection, channel))
}

/// Declares the dead-letter exchange and queue and the delivery queue on `channel`, as
/// every relay and worker does when it connects.
pub async fn declare(channel: &Channel) -> Result<(), NotifyError> {
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    let mut dead = FieldTable::default();
    dead.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    dead.insert("x-max-length".into(), AMQPValue::LongLongInt(DEAD_LETTER_MAX));
    channel
        .exchange_declare(
            DEAD_LETTER_EXCHANGE.into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions { durable: true, ..Default::default() },
            FieldTable::default(),
        )
        .await
        .map_err(|e| queue_error("declaring the dead-letter exchange", e))?;
    channel
        .queue_declare(DEAD_LETTER_QUEUE.into(), durable, dead)
        .await
        .map_err(|e| queue_error("declaring the dead-letter queue", e))?;
    channel
        .queue_bind(
            DEAD_LETTER_QUEUE.into(),
            DEAD_LETTER_EXCHANGE.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| queue_error("binding the dead-letter queue", e))?;
    let mut deliveries = FieldTable::default();
    deliveries.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    deliveries.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(DEAD_LETTER_EXCHANGE.into()),
    );
    deliveries.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(DELIVERY_LIMIT));
    channel
        .queue_declare(DELIVERY_QUEUE.into(), durable, deliveries)
        .await
        .map_err(|e| queue_error("declaring the delivery queue", e))?;
    Ok(())
}

/// `setup`, or a queue error when the broker takes longer than [`BROKER_ANSWER_WITHIN`].
async fn within<T>(setup: impl Future<Output = Result<T, NotifyError>>) -> Result<T, NotifyError> {
    tokio::time::timeout(BROKER_ANSWER_WITHIN, setup).await.unwrap_or_else(|_| {
        Err(NotifyError::Queue(format!("no answer within {BROKER_ANSWER_WITHIN:?}")))
    })
}

/// What a connection of this process is for.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// Publishes the outbox's due messages.
    Relay,
    /// Consumes the queue and attempts each message.
    Worker,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Relay => "relay",
            Role::Worker => "worker",
        }
    }
}

impl Notify {
    /// Starts the relay and a worker on RabbitMQ at `url`, until `shutdown`.
    pub(crate) fn spawn_amqp(&self, url: String, shutdown: CancellationToken) {
        for role in [Role::Relay, Role::Worker] {
            let (notify, url, shutdown) = (self.clone(), url.clone(), shutdown.clone());
            tokio::spawn(async move { notify.reconnecting(role, &url, &shutdown).await });
        }
    }

    /// Runs `role`'s session again whenever it fails, waiting longer each time (from
    /// [`RECONNECT_MIN`] again after a session that got connected), until `shutdown`.
    async fn reconnecting(&self, role: Role, url: &str, shutdown: &CancellationToken) {
        let mut wait = RECONNECT_MIN;
        loop {
            let connected = AtomicBool::new(false);
            let session = async {
                match role {
                    Role::Relay => self.relay_session(url, shutdown, &connected).await,
                    Role::Worker => self.worker_session(url, shutdown, &connected).await,
                }
            };
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => return,
                outcome = session => outcome,
            };
            let Err(e) = outcome else { return };
            if connected.load(Ordering::Relaxed) {
                wait = RECONNECT_MIN;
            }
            tracing::warn!(
                target: "btcr::notify",
                role = role.name(),
                error = %e,
                retry_in = ?wait,
                "RabbitMQ unavailable; reconnecting"
            );
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(RECONNECT_MAX);
        }
    }

    /// Publishes due messages until the connection fails or `shutdown`.
    async fn relay_session(
        &self,
        url: &str,
        shutdown: &CancellationToken,
        connected: &AtomicBool,
    ) -> Result<(), NotifyError> {
        let setup = async {
            let (connection, channel) = open(url, Role::Relay).await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| queue_error("turning publisher confirms on", e))?;
            Ok::<_, NotifyError>((connection, channel))
        };
        let (connection, channel) = within(setup).await?;
        connected.store(true, Ordering::Relaxed);
        tracing::info!(target: "btcr::notify", "relay connected to RabbitMQ");
        loop {
            let published = match self.dispatch_due(&channel).await {
                Ok(n) => n,
                // The broker's failure ends the session (a reconnect follows); the database's
                // is waited out here.
                Err(e @ NotifyError::Queue(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(target: "btcr::notify", error = %e, "dispatch pass failed");
                    0
                }
            };
            if published > 0 {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => {
                    let _ = connection.close(200, "shutting down".into()).await;
                    return Ok(());
                }
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// One relay pass: claims the due messages under a fresh token, publishes each and
    /// waits for the broker's confirms; what was not confirmed is released for the next
    /// pass. How many were confirmed.
    pub async fn dispatch_due(&self, channel: &Channel) -> Result<usize, NotifyError> {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let leases =
            self.claim(self.inner.config.dispatch_lease, Some(&token), DISPATCH_BATCH).await?;
        let mut confirms = Vec::with_capacity(leases.len());
        let mut failure = None;
        for lease in &leases {
            let body = serde_json::to_vec(&Dispatched { seq: lease.seq, token: token.clone() })
                .expect("a dispatch serializes");
            let properties = BasicProperties::default()
                .with_message_id(lease.message_id.clone().into())
                .with_content_type("application/json".into())
                // Persistent: kept across a broker restart.
                .with_delivery_mode(2);
            let published = channel
                .basic_publish(
                    "".into(),
                    DELIVERY_QUEUE.into(),
                    BasicPublishOptions { mandatory: true, ..Default::default() },
                    &body,
                    properties,
                )
                .await;
            match published {
                Ok(confirm) => confirms.push((lease.seq, confirm)),
                Err(e) => {
                    failure = Some(queue_error("publishing", e));
                    break;
                }
            }
        }
        let mut confirmed = Vec::with_capacity(confirms.len());
        for (seq, confirm) in confirms {
            let Ok(confirmed_or_not) = tokio::time::timeout(BROKER_ANSWER_WITHIN, confirm).await
            else {
                failure.get_or_insert(NotifyError::Queue(format!(
                    "no confirm within {BROKER_ANSWER_WITHIN:?}"
                )));
                continue;
            };
            match confirmed_or_not {
                Ok(Confirmation::Ack(None)) => confirmed.push(seq),
                Ok(other) => {
                    failure.get_or_insert(NotifyError::Queue(format!(
                        "the broker did not take message {seq}: {other:?}"
                    )));
                }
                Err(e) => {
                    failure.get_or_insert(queue_error("waiting for a confirm", e));
                }
            }
        }
        let unconfirmed: Vec<i64> =
            leases.iter().map(|l| l.seq).filter(|seq| !confirmed.contains(seq)).collect();
        if !unconfirmed.is_empty() {
            self.release(&unconfirmed, &token).await?;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(confirmed.len()),
        }
    }

    /// Gives messages dispatched under `token` back to the next relay pass.
    async fn release(&self, seqs: &[i64], token: &str) -> Result<(), NotifyError> {
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            for seq in seqs {
                sqlx::query(
                    "UPDATE notify_outbox SET lease_until_ms = 0, dispatch = NULL \
                     WHERE seq = $1 AND dispatch = $2",
                )
                .bind(seq)
                .bind(token)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Consumes the delivery queue until the connection fails or `shutdown`.
    async fn worker_session(
        &self,
        url: &str,
        shutdown: &CancellationToken,
        connected: &AtomicBool,
    ) -> Result<(), NotifyError> {
        let setup = async {
            let (connection, channel) = open(url, Role::Worker).await?;
            channel
                .basic_qos(PREFETCH, BasicQosOptions::default())
                .await
                .map_err(|e| queue_error("setting the prefetch", e))?;
            let consumer = channel
                .basic_consume(
                    DELIVERY_QUEUE.into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|e| queue_error("consuming", e))?;
            Ok::<_, NotifyError>((connection, channel, consumer))
        };
        let (connection, _channel, mut consumer) = within(setup).await?;
        connected.store(true, Ordering::Relaxed);
        tracing::info!(target: "btcr::notify", "worker consuming from RabbitMQ");
        let mut attempts = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    // Unacknowledged messages go back to the queue with the connection.
                    let _ = connection.close(200, "shutting down".into()).await;
                    return Ok(());
                }
                Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        let notify = self.clone();
                        attempts.spawn(async move { notify.handle(delivery).await });
                    }
                    Some(Err(e)) => return Err(queue_error("consuming", e)),
                    None => return Err(NotifyError::Queue("the broker ended the consumer".into())),
                },
            }
        }
    }

    /// One queued message: taken and attempted if its token still holds, dropped if stale,
    /// dead-lettered if it is not a message of ours.
    async fn handle(&self, delivery: lapin::message::Delivery) {
        let Ok(dispatched) = serde_json::from_slice::<Dispatched>(&delivery.data) else {
            tracing::warn!(
                target: "btcr::notify",
                bytes = delivery.data.len(),
                "a queued message is not a dispatch: dead-lettered"
            );
            let _ = delivery.acker.reject(BasicRejectOptions { requeue: false }).await;
            return;
        };
        match self.take_dispatched(dispatched.seq, &dispatched.token).await {
            Ok(Some(lease)) => {
                if let Err(e) = self.attempt(lease).await {
                    // The row stays leased: the relay dispatches it again when the lease ends.
                    tracing::warn!(target: "btcr::notify", error = %e, "recording a delivery failed");
                }
                // The endpoint's next message may go now.
                self.inner.wake.notify_one();
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            }
            Ok(None) => {
                tracing::debug!(
                    target: "btcr::notify",
                    seq = dispatched.seq,
                    "a stale dispatch (delivered, or dispatched again): dropped"
                );
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            }
            Err(e) => {
                tracing::warn!(target: "btcr::notify", error = %e, "taking a dispatched message failed");
                tokio::time::sleep(GIVE_BACK_AFTER).await;
                let _ = delivery
                    .acker
                    .nack(BasicNackOptions { requeue: true, ..Default::default() })
                    .await;
            }
        }
    }

    /// Takes outbox row `seq` for an attempt if it is still pending under `token` and its
    /// endpoint is enabled: the token is spent, so no other copy of the message takes it.
    pub(crate) async fn take_dispatched(
        &self,
        seq: i64,
        token: &str,
    ) -> Result<Option<DeliveryLease>, NotifyError> {
        let until = self.now() + LEASE.as_millis() as i64;
        let row = on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let taken = sqlx::query(
                "UPDATE notify_outbox SET dispatch = NULL, lease_until_ms = $1 \
                 WHERE seq = $2 AND dispatch = $3 AND state = 'pending' \
                 AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE disabled_ms IS NULL)",
            )
            .bind(until)
            .bind(seq)
            .bind(token)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let row: Option<LeaseRow> = if taken == 1 {
                Some(sqlx::query_as(LEASE_SELECT).bind(seq).fetch_one(&mut *tx).await?)
            } else {
                None
            };
            tx.commit().await?;
            row
        });
        Ok(row.map(DeliveryLease::of))
    }
}
