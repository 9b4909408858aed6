//! The accounts service: users, their passwords, sessions and tokens, and the audit log of
//! every security event. Non-custodial: it never sees a private key (the keystore backup it
//! will keep is encrypted in the browser or the CLI).
//!
//! ```text
//!  register / login ─▶ Accounts ─▶ Passwords (argon2id, on the blocking pool, bounded)
//!                         │      ─▶ Tokens: access JWT (EdDSA, ~10 min, pinned algorithm,
//!                         │                 issuer and audience) + opaque refresh token
//!                         │                 (stored hashed, rotated on every use; a rotated
//!                         │                 token coming back revokes its whole family)
//!                         ▼
//!                      Database: SQLite (a file: WAL, busy timeout, immediate write
//!                                transactions) or PostgreSQL, same queries, migrations
//!                                embedded per backend
//!                         │
//!                         └─▶ audit_log: append-only (triggers), each record hashed with
//!                             the one before it; `Accounts::verify_audit` walks the chain
//! ```
//!
//! A user may add TOTP (RFC 6238, with ten single-use recovery codes): a correct password
//! then answers a login challenge that a code completes, each code accepted once. API keys
//! (`btcr_ak_…`, stored hashed, scoped `read`/`write`) act for their owner.
//!
//! Times come from a [`Clock`], so that tests can move past a token's expiry.

mod account_data;
mod admin;
mod api_keys;
mod audit;
mod authenticator;
mod chain;
mod clock;
mod db;
mod error;
pub mod http;
mod limits;
mod password;
mod second_factor;
mod service;
mod settings;
mod tokens;
mod totp;

pub use account_data::{KeystoreBackup, MAX_KEYSTORE_BYTES, MAX_WATCHED, Watched};
pub use admin::{AccountStats, DayCount, MAX_USERS_PAGE, SIGNUP_DAYS, UserPage};
pub use api_keys::{ApiKey, ApiKeyPrincipal, MAX_API_KEYS, Scope};
pub use audit::{AuditCheck, AuditEvent, AuditRecord};
pub use authenticator::AccountsAuthenticator;
pub use chain::{ChainFigures, ChainSource, FiguresFuture, NodeClient};
pub use clock::Clock;
pub use db::{Backend, BeginWrite, Database, WriteTx};
pub use error::AccountsError;
pub use limits::{Limit, RateLimits};
pub use password::{PasswordPolicy, Passwords};
pub use second_factor::{LOGIN_CHALLENGE_TTL, MAX_CODE_ATTEMPTS, RECOVERY_CODES, TotpSetup};
pub use service::{
    Accounts, AccountsConfig, LoginOutcome, RequestMeta, Role, Session, TokenPair, User,
};
pub use settings::{MAX_BANNER_CHARS, PublicSettings, SETTINGS_REFRESH, Settings};
pub use tokens::{ACCESS_TOKEN_TTL, AccessClaims, REFRESH_TOKEN_TTL};
