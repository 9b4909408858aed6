//! The authentication hook: an [`Authenticator`] the node installs (the accounts service,
//! later) turns a request's credentials into a [`Principal`], which handlers find in the
//! request's extensions. Without one, every request is anonymous.

use std::{future::Future, pin::Pin};

use axum::http::request::Parts;

use crate::ApiError;

/// Who is calling, as the authenticator established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// A stable id of the caller (a user id, an API key's id).
    pub subject: String,
    /// What it may do (`user`, `admin`, an API key's scopes).
    pub roles: Vec<String>,
}

impl Principal {
    /// Whether the caller holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Credentials that were given but do not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// What the boxed future of [`Authenticator::authenticate`] resolves to.
pub type AuthFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Principal>, AuthError>> + Send + 'a>>;

/// Turns credentials into a principal.
pub trait Authenticator: Send + Sync + 'static {
    /// `Ok(None)` for a request without credentials (anonymous); `Err` for credentials
    /// that are malformed, expired or revoked (answered 401 before any handler runs).
    fn authenticate<'a>(&'a self, request: &'a Parts) -> AuthFuture<'a>;
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::unauthorized(e.0)
    }
}
