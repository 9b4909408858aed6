//! What the accounts service refuses, and why.

/// An accounts operation that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// The e-mail address is not one.
    #[error("invalid e-mail address: {0}")]
    InvalidEmail(&'static str),
    /// The password is shorter than the policy asks.
    #[error("the password must be at least {min} characters long")]
    PasswordTooShort {
        /// The policy's minimum, in characters.
        min: usize,
    },
    /// The password is longer than the service hashes.
    #[error("the password must be at most {max} bytes long")]
    PasswordTooLong {
        /// The policy's maximum, in bytes.
        max: usize,
    },
    /// Another user has this e-mail address.
    #[error("an account with this e-mail address exists")]
    EmailTaken,
    /// Unknown e-mail address or wrong password (which of the two is not said).
    #[error("wrong e-mail address or password")]
    InvalidCredentials,
    /// The account was disabled by an administrator.
    #[error("this account is disabled")]
    Disabled,
    /// The caller may not do this (not an administrator).
    #[error("only an administrator may do this")]
    Forbidden,
    /// No such user.
    #[error("no such user")]
    NoSuchUser,
    /// An access or refresh token that is malformed, forged or unknown.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// A token past its lifetime.
    #[error("the token has expired")]
    TokenExpired,
    /// A refresh token that was already rotated came back: its whole session is revoked.
    #[error("this refresh token was already used; its session is revoked")]
    RefreshReused,
    /// The session was ended (logout, revoked, or a reused refresh token).
    #[error("this session has ended")]
    SessionEnded,
    /// A TOTP or recovery code that is wrong, or was used already.
    #[error("wrong or already used code")]
    InvalidCode,
    /// Too many wrong codes for one login: sign in again.
    #[error("too many wrong codes; sign in again")]
    TooManyAttempts,
    /// The user has no second factor to check or turn off.
    #[error("two-factor authentication is not on")]
    TotpNotEnabled,
    /// The user has a second factor already (turn it off first).
    #[error("two-factor authentication is already on")]
    TotpAlreadyEnabled,
    /// An API key's name or scopes are not acceptable.
    #[error("invalid API key: {0}")]
    InvalidApiKey(&'static str),
    /// The user holds as many API keys as allowed.
    #[error("at most {max} API keys per user")]
    TooManyApiKeys {
        /// The bound.
        max: usize,
    },
    /// The API key does not carry the scope the request needs.
    #[error("this API key lacks the {0:?} scope")]
    MissingScope(&'static str),
    /// A signed-in user's current password, given to change it, is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// Registration is closed by the settings.
    #[error("registration is closed")]
    RegistrationClosed,
    /// Settings an administrator sent that cannot be put in force.
    #[error("invalid settings: {0}")]
    InvalidSettings(String),
    /// A keystore backup that is not a version 3 keystore this node reads.
    #[error("invalid keystore: {0}")]
    InvalidKeystore(String),
    /// Not `0x` and 40 hex digits.
    #[error("invalid address: expected 0x and 40 hex digits")]
    InvalidAddress,
    /// A watched address's label is too long or not printable.
    #[error("invalid label: at most 64 printable characters")]
    InvalidLabel,
    /// The user watches as many addresses as allowed.
    #[error("at most {max} watched addresses per user")]
    WatchlistFull {
        /// The bound.
        max: i64,
    },
    /// A query's parameters are out of range.
    #[error("invalid query: {0}")]
    InvalidQuery(&'static str),
    /// Too many attempts from this address or on this account: wait.
    #[error("too many attempts; try again in {retry_after_s} s")]
    RateLimited {
        /// Seconds until the lockout ends.
        retry_after_s: u64,
    },
    /// The shared store of the rate limits (Redis) did not answer: limited requests are
    /// refused rather than let through uncounted.
    #[error("the rate-limit store is unavailable: {0}")]
    LimitStore(String),
    /// Too many password hashes are waiting; try again shortly.
    #[error("the service is busy; try again")]
    Busy,
    /// The audit log's hash chain does not hold at record `seq`.
    #[error("the audit log is broken at record {seq}: {reason}")]
    AuditBroken {
        /// The first record that does not check.
        seq: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// The database URL names no backend this service speaks.
    #[error("unsupported database URL {0:?}: expected sqlite:PATH or postgres://…")]
    UnsupportedDatabase(String),
    /// A password hash could not be made or read.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}
