//! What the notifications service refuses, and why it failed.

use btcr_accounts::AccountsError;
use btcr_http::ApiError;

/// An error of the notifications service.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A request this service does not take.
    #[error("{0}")]
    Invalid(String),
    /// No such thing of the caller's.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The caller has as many as one may have.
    #[error("{0}")]
    Limit(String),
    /// The database failed.
    #[error("notifications database: {0}")]
    Database(#[from] sqlx::Error),
    /// RabbitMQ failed (unreachable, a channel closed, a message not confirmed).
    #[error("queue: {0}")]
    Queue(String),
    /// Opening the tables failed.
    #[error("notifications tables: {0}")]
    Accounts(#[from] AccountsError),
}

impl From<NotifyError> for ApiError {
    fn from(error: NotifyError) -> Self {
        match error {
            NotifyError::Invalid(m) => ApiError::bad_request(m),
            e @ NotifyError::NotFound(_) => ApiError::not_found(e.to_string()),
            NotifyError::Limit(m) => ApiError::conflict(m),
            e => {
                tracing::error!(target: "btcr::notify", error = %e, "notifications request failed");
                ApiError::internal("the notifications service failed")
            }
        }
    }
}
