//! The node's errors: a setting refused, or a step that failed with its cause kept.

use btcr_interfaces::BoxError;

/// Starting or preparing a node failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A setting, a file or a request is refused, for the reason given.
    #[error("{0}")]
    Invalid(String),
    /// A step failed.
    #[error("{context}: {source}")]
    Failed {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: BoxError,
    },
}

/// A result of the node crate.
pub type NodeResult<T> = Result<T, NodeError>;

/// Says what was being done when an error happened.
pub(crate) trait Context<T> {
    /// Wraps the error with `context`.
    fn wrap_err(self, context: impl Into<String>) -> NodeResult<T>;
    /// Wraps the error with the context `f` makes (only when there is an error).
    fn wrap_err_with(self, f: impl FnOnce() -> String) -> NodeResult<T>;
}

impl<T, E: Into<BoxError>> Context<T> for Result<T, E> {
    fn wrap_err(self, context: impl Into<String>) -> NodeResult<T> {
        self.map_err(|e| NodeError::Failed { context: context.into(), source: e.into() })
    }

    fn wrap_err_with(self, f: impl FnOnce() -> String) -> NodeResult<T> {
        self.map_err(|e| NodeError::Failed { context: f(), source: e.into() })
    }
}

/// Returns a [`NodeError::Invalid`] with a formatted reason.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::NodeError::Invalid(format!($($arg)*)))
    };
}
pub(crate) use bail;

macro_rules! failed_from {
    ($($t:ty => $context:literal),* $(,)?) => {$(
        impl From<$t> for NodeError {
            fn from(e: $t) -> Self {
                NodeError::Failed { context: $context.into(), source: Box::new(e) }
            }
        }
    )*};
}

failed_from!(
    btcr_crypto::CryptoError => "keys",
    btcr_primitives::GenesisError => "genesis",
    crate::ChainError => "opening the chain",
    btcr_storage::StoreError => "the chain store",
    btcr_consensus::PipelineError => "consensus",
    std::io::Error => "input/output",
    tokio::task::JoinError => "a task of the node",
);
