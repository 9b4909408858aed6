//! The HTTP server's authentication hook over this service: a bearer access token or API
//! key on any request becomes the request's `Principal` (or a 401 when it does not hold),
//! so that every router can tell who calls. Other schemes (`Basic`, …) are not this
//! service's and leave the request anonymous.

use axum::http::{header, request::Parts};
use btcr_http::{AuthError, AuthFuture, Authenticator, Principal};

use crate::{Accounts, api_keys::KEY_PREFIX};

/// The role of a principal that an API key names.
pub(crate) const API_KEY_ROLE: &str = "api-key";
/// What each of an API key's scopes becomes among its principal's roles (`scope:read`).
pub(crate) const SCOPE_ROLE_PREFIX: &str = "scope:";

/// Authenticates requests with [`Accounts`]: an access token gives the user's id and role
/// (`user` or `admin`); an API key its owner's id, the role `api-key` and one
/// `scope:<name>` per scope.
#[derive(Debug, Clone)]
pub struct AccountsAuthenticator {
    accounts: Accounts,
}

impl AccountsAuthenticator {
    /// The hook over `accounts`.
    pub fn new(accounts: Accounts) -> Self {
        Self { accounts }
    }
}

impl Authenticator for AccountsAuthenticator {
    fn authenticate<'a>(&'a self, request: &'a Parts) -> AuthFuture<'a> {
        Box::pin(async move {
            let Some(value) = request.headers.get(header::AUTHORIZATION) else {
                return Ok(None);
            };
            let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
                return Ok(None);
            };
            let token = token.trim();
            if token.starts_with(KEY_PREFIX) {
                let key = self
                    .accounts
                    .check_api_key(token)
                    .await
                    .map_err(|e| AuthError(e.to_string()))?;
                let mut roles = vec![API_KEY_ROLE.to_owned()];
                roles.extend(
                    key.scopes.iter().map(|s| format!("{SCOPE_ROLE_PREFIX}{}", s.as_str())),
                );
                return Ok(Some(Principal { subject: key.user.id.to_string(), roles }));
            }
            let claims = self.accounts.check_access(token).map_err(|e| AuthError(e.to_string()))?;
            Ok(Some(Principal { subject: claims.sub, roles: vec![claims.role] }))
        })
    }
}
