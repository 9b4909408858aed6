//! The wallet's errors: an input refused, or a step that failed with its cause kept.

/// Any error, kept as the source of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A wallet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// A setting, a file or a request is refused, for the reason given.
    #[error("{0}")]
    Invalid(String),
    /// The node answered with a JSON-RPC error.
    #[error(transparent)]
    Rpc(#[from] crate::rpc::RpcErrorObject),
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

/// A result of the wallet.
pub type WalletResult<T> = Result<T, WalletError>;

/// Says what was being done when an error happened.
pub(crate) trait Context<T> {
    /// Wraps the error with `context`.
    fn wrap_err(self, context: impl Into<String>) -> WalletResult<T>;
    /// Wraps the error with the context `f` makes (only when there is an error).
    fn wrap_err_with(self, f: impl FnOnce() -> String) -> WalletResult<T>;
}

impl<T, E: Into<BoxError>> Context<T> for Result<T, E> {
    fn wrap_err(self, context: impl Into<String>) -> WalletResult<T> {
        self.map_err(|e| WalletError::Failed { context: context.into(), source: e.into() })
    }

    fn wrap_err_with(self, f: impl FnOnce() -> String) -> WalletResult<T> {
        self.map_err(|e| WalletError::Failed { context: f(), source: e.into() })
    }
}

/// Returns a [`WalletError::Invalid`] with a formatted reason.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::WalletError::Invalid(format!($($arg)*)))
    };
}
pub(crate) use bail;

/// A [`WalletError::Invalid`] with a formatted reason.
macro_rules! invalid {
    ($($arg:tt)*) => {
        $crate::error::WalletError::Invalid(format!($($arg)*))
    };
}
pub(crate) use invalid;

macro_rules! failed_from {
    ($($t:ty => $context:literal),* $(,)?) => {$(
        impl From<$t> for WalletError {
            fn from(e: $t) -> Self {
                WalletError::Failed { context: $context.into(), source: Box::new(e) }
            }
        }
    )*};
}

failed_from!(
    btcr_crypto::CryptoError => "keys",
    std::io::Error => "input/output",
    btcr_crypto::keystore::KeystoreError => "the key file",
    serde_json::Error => "JSON",
);
