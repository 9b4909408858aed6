//! Notifications: a user (signed in, or with an API key) subscribes to events on the
//! addresses of their watch list, for the portal's list or for a signed webhook.
//!
//! ```text
//!  chain events ─▶ NotifyConsumer ──one write transaction──▶ notifications (the portal's list)
//!                  (its thread)                           ├─▶ notify_outbox (webhook messages)
//!                                                         └─▶ notify_checkpoint (its height)
//!  delivery workers ◀─claim the oldest pending message of each endpoint (SKIP LOCKED)─┘
//!        │  POST, Standard Webhooks signature ─▶ the endpoint (public addresses only)
//!        └─▶ notify_attempts (the delivery log) and the message's state, in one transaction
//! ```
//!
//! Nothing is lost: the consumer writes its output and its checkpoint together, so a crash
//! replays whole blocks, whose messages have ids made from what they are about (`INSERT … ON
//! CONFLICT DO NOTHING`); a message leaves `pending` only when an endpoint answered 2xx or
//! its retries ran out, and a delivery that was under way when the process died is tried
//! again once its lease ends. Each endpoint's messages go out one at a time in the order
//! they were written; a receiver sees a message twice only under the same `webhook-id`.
//!
//! Retries (`NotifyConfig::retry_delays`, [`DEFAULT_RETRY_DELAYS`]): after a failed attempt
//! the next waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then 10 h; after the eighth failure
//! the message is `failed` (a user may replay it). An endpoint that has failed every attempt
//! for [`DEFAULT_DISABLE_AFTER`] (5 days) is disabled; its messages wait until its owner
//! enables it again.

pub mod amqp;
mod client;
mod consumer;
mod delivery;
pub mod email;
mod error;
pub mod events;
pub mod http;
pub mod live;
mod service;
pub mod signing;
pub mod target;

pub use client::{Answer, MAX_RESPONSE_KEPT, WebhookClient};
pub use consumer::{CONSUMER_NAME, MAX_REWARD_WATCHERS, NotifyConsumer};
pub use delivery::{DEFAULT_DISABLE_AFTER, DEFAULT_RETRY_DELAYS, DeliveryLease, LEASE};
pub use email::{Mailer, SmtpConfig};
pub use error::NotifyError;
pub use events::{EventKind, Notice};
pub use service::{
    Attempt, Channel, Endpoint, MAX_ATTEMPTS_SHOWN, MAX_DESCRIPTION_CHARS, MAX_ENDPOINTS, MAX_PAGE,
    MAX_SUBSCRIPTIONS, Message, MessageState, NewEndpoint, NewSubscription, Notification,
    NotificationPage, Notify, NotifyConfig, RotatedSecret, Subscription,
};
