//! The accounts service's REST routes under `/api/v1`: `auth/*` (register, login, the TOTP
//! step, refresh, logout), `me*` (the signed-in user's account, sessions, second factor and
//! API keys) and `admin/*` (enforced here: the caller's token must say `admin`, and the
//! service checks the stored role again). Errors have the API's one shape.
//!
//! In a browser the refresh token travels only as an `HttpOnly; Secure; SameSite=Strict`
//! cookie scoped to `/api/v1/auth`, never in a body a script could read; other clients ask
//! for it in the body (`"refreshTokenInBody": true`) and send it back the same way. Every
//! body is JSON (`Content-Type: application/json`), which a cross-site form cannot send, and
//! the cookie is never sent cross-site: refresh and logout are safe from CSRF.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Path, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use btcr_http::{ApiError, ApiErrorBody, ApiErrorDetail, ApiQuery, Principal};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{
    AccessClaims, AccountStats, Accounts, AccountsError, ApiKey, AuditRecord, ChainFigures,
    ChainSource, DayCount, KeystoreBackup, LoginOutcome, PublicSettings, RateLimits, RequestMeta,
    Role, Scope, Session, Settings, TokenPair, User, UserPage, Watched, tokens::REFRESH_TOKEN_TTL,
};

/// The refresh-token cookie's name.
pub const REFRESH_COOKIE: &str = "btcr_refresh";

/// What the routes share: the service, and where the statistics find the chain.
#[derive(Clone)]
pub struct AccountsState {
    accounts: Accounts,
    chain: Arc<dyn ChainSource>,
}

impl FromRef<AccountsState> for Accounts {
    fn from_ref(state: &AccountsState) -> Accounts {
        state.accounts.clone()
    }
}

/// The accounts routes, `/api/v1/…` in full; the statistics read the chain from `chain`.
pub fn router(accounts: Accounts, chain: Arc<dyn ChainSource>) -> Router {
    routes(Router::new()).with_state(AccountsState { accounts, chain })
}

btcr_http::documented_routes!(AccountsState;
    "accounts" => public_settings,
    "auth" => register,
    "auth" => login,
    "auth" => login_totp,
    "auth" => refresh,
    "auth" => logout,
    "me" => me,
    "me" => sessions,
    "me" => revoke_session,
    "me" => totp_begin,
    "me" => totp_disable,
    "me" => totp_confirm,
    "me" => recovery_codes,
    "me" => api_keys,
    "me" => create_api_key,
    "me" => revoke_api_key,
    "me" => change_password,
    "me" => keystore,
    "me" => put_keystore,
    "me" => delete_keystore,
    "me" => watchlist,
    "me" => watch,
    "me" => unwatch,
    "admin" => list_users,
    "admin" => update_user,
    "admin" => audit,
    "admin" => stats,
    "admin" => settings,
    "admin" => update_settings,
);

/// The accounts service's part of the OpenAPI document: its operations, their bodies, and
/// the two ways to authenticate.
#[derive(OpenApi)]
#[openapi(
    modifiers(&Handlers, &Authentication),
    components(schemas(
        ApiErrorBody,
        ApiErrorDetail,
        User,
        Role,
        Session,
        ApiKey,
        Scope,
        AuditRecord,
        Settings,
        RateLimits,
        PublicSettings,
        UserPage,
        AccountStats,
        DayCount,
        ChainFigures,
        KeystoreBackup,
        Watched,
        Credentials,
        Signed,
        TotpChallenge,
        LoginAnswer,
        TotpLogin,
        RefreshBody,
        Me,
        TotpSecret,
        Code,
        RecoveryCodes,
        NewKey,
        CreatedKey,
        UserChange,
        Stats,
        PasswordChange,
        KeystoreBody,
        WatchBody
    ))
)]
struct AccountsDoc;

/// The security schemes the operations name.
struct Authentication;

impl utoipa::Modify for Authentication {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "accessToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from login or refresh (about 10 minutes)."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("btcr_ak_…")
                    .description(Some(
                        "An API key, within its scopes: `read` to read, `write` to change.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The accounts service's part of the OpenAPI document (merged with the explorer's where
/// both are served).
pub fn openapi() -> utoipa::openapi::OpenApi {
    AccountsDoc::openapi()
}

/// How the client sees a refusal of the service.
impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        use AccountsError as E;
        let message = e.to_string();
        match e {
            E::InvalidEmail(_)
            | E::PasswordTooShort { .. }
            | E::PasswordTooLong { .. }
            | E::InvalidApiKey(_)
            | E::TooManyApiKeys { .. }
            | E::WrongPassword
            | E::InvalidSettings(_)
            | E::InvalidKeystore(_)
            | E::InvalidAddress
            | E::InvalidLabel
            | E::WatchlistFull { .. }
            | E::InvalidQuery(_) => ApiError::bad_request(message),
            E::EmailTaken | E::TotpNotEnabled | E::TotpAlreadyEnabled => {
                ApiError::conflict(message)
            }
            E::InvalidCredentials
            | E::InvalidToken(_)
            | E::TokenExpired
            | E::RefreshReused
            | E::SessionEnded
            | E::InvalidCode => ApiError::unauthorized(message),
            E::Disabled | E::Forbidden | E::MissingScope(_) | E::RegistrationClosed => {
                ApiError::forbidden(message)
            }
            E::NoSuchUser => ApiError::not_found(message),
            E::TooManyAttempts => ApiError::too_many_requests(message, 1),
            E::RateLimited { retry_after_s } => ApiError::too_many_requests(message, retry_after_s),
            E::Busy => ApiError::unavailable(message, 1),
            E::LimitStore(_) => {
                tracing::error!(target: "btcr::accounts", error = %message, "rate-limit store failed");
                ApiError::unavailable("the service is unavailable; try again", 1)
            }
            E::AuditBroken { .. }
            | E::UnsupportedDatabase(_)
            | E::Hashing(_)
            | E::Database(_)
            | E::Migration(_) => {
                tracing::error!(target: "btcr::accounts", error = %message, "accounts request failed");
                ApiError::internal("the accounts service failed")
            }
        }
    }
}

/// A JSON body, refused in the API's error shape when it is not JSON or not the type.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        use axum::extract::rejection::JsonRejection as R;
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(R::MissingJsonContentType(_)) => {
                Err(ApiError::unsupported_media_type("send the body as application/json"))
            }
            Err(R::JsonDataError(e)) => Err(ApiError::bad_request(e.body_text())),
            Err(R::JsonSyntaxError(e)) => Err(ApiError::bad_request(e.body_text())),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::too_large("the body is larger than the node takes"))
            }
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

/// Where the request came from.
fn meta_of(headers: &HeaderMap, peer: Option<SocketAddr>) -> RequestMeta {
    RequestMeta {
        ip: peer.map(|a| a.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// The request's origin, as an extractor.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        Ok(Meta(meta_of(&parts.headers, peer)))
    }
}

/// A caller signed in with an access token (`Authorization: Bearer …`).
pub struct Caller(pub AccessClaims);

impl Caller {
    fn user_id(&self) -> Result<i64, ApiError> {
        self.0.sub.parse().map_err(|_| ApiError::unauthorized("invalid token: malformed subject"))
    }
}

/// The token of `Authorization: Bearer <token>`.
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("sign in: no Authorization header"))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("the Authorization header is not `Bearer <token>`"))
}

impl<S: Send + Sync> FromRequestParts<S> for Caller
where
    Accounts: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        if token.starts_with(crate::api_keys::KEY_PREFIX) {
            return Err(ApiError::forbidden("an API key cannot do this: sign in with a password"));
        }
        Ok(Caller(Accounts::from_ref(state).check_access(token)?))
    }
}

/// A caller acting for a user: signed in (an access token, which may do anything the user
/// may), or with one of the user's API keys (which may do what its scopes allow).
pub struct Holder {
    user_id: i64,
    /// The key's scopes; `None` for a signed-in user.
    scopes: Option<Vec<Scope>>,
}

impl Holder {
    /// The user, if the caller may act with `scope`.
    pub fn with(&self, scope: Scope) -> Result<i64, ApiError> {
        match &self.scopes {
            Some(scopes) if !scopes.contains(&scope) => {
                Err(AccountsError::MissingScope(scope.as_str()).into())
            }
            _ => Ok(self.user_id),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Holder
where
    Accounts: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let accounts = Accounts::from_ref(state);
        if token.starts_with(crate::api_keys::KEY_PREFIX) {
            // The server's authentication hook checked this key already (a database read):
            // its principal says whose it is and what it may do.
            if let Some(principal) = parts.extensions.get::<Principal>()
                && principal.has_role(crate::authenticator::API_KEY_ROLE)
            {
                let user_id = principal
                    .subject
                    .parse()
                    .map_err(|_| ApiError::unauthorized("invalid API key: malformed owner"))?;
                let scopes = principal
                    .roles
                    .iter()
                    .filter_map(|r| r.strip_prefix(crate::authenticator::SCOPE_ROLE_PREFIX))
                    .filter_map(Scope::parse)
                    .collect();
                return Ok(Holder { user_id, scopes: Some(scopes) });
            }
            let key = accounts.check_api_key(token).await?;
            return Ok(Holder { user_id: key.user.id, scopes: Some(key.scopes) });
        }
        let caller = Caller(accounts.check_access(token)?);
        Ok(Holder { user_id: caller.user_id()?, scopes: None })
    }
}

/// A caller whose token says `admin` and who is, as stored now, an enabled administrator
/// (a token minted before a demotion or a disabling does not pass).
pub struct Admin(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Admin
where
    Accounts: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.0.role != Role::Admin.as_str() {
            return Err(ApiError::forbidden("only an administrator may do this"));
        }
        let id = caller.user_id()?;
        Accounts::from_ref(state).require_admin(id).await?;
        Ok(Admin(id))
    }
}

/// The refresh token from the cookie, if the request carries one.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn set_cookie(token: Option<&str>) -> HeaderValue {
    let text = match token {
        Some(t) => format!(
            "{REFRESH_COOKIE}={t}; Path=/api/v1/auth; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
            REFRESH_TOKEN_TTL.as_secs()
        ),
        None => format!(
            "{REFRESH_COOKIE}=; Path=/api/v1/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
        ),
    };
    HeaderValue::from_str(&text).expect("a refresh token is a valid header value")
}

/// An e-mail address and a password.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
    /// Answer the refresh token in the body instead of the cookie (clients other than a
    /// browser).
    #[serde(default)]
    refresh_token_in_body: bool,
}

/// Signed in.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Signed {
    /// `Authorization: Bearer <accessToken>` on the next requests.
    access_token: String,
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// Seconds the access token lives.
    expires_in: u64,
    /// The session.
    session: String,
    user: User,
    /// Only when asked for in the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// The password was right; a TOTP or recovery code must follow, with this challenge.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct TotpChallenge {
    totp_required: bool,
    /// Send it to `/auth/login/totp` with a code, within 5 minutes.
    challenge: String,
}

/// What a login answers.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum LoginAnswer {
    Signed(Signed),
    TotpRequired(TotpChallenge),
}

/// The answer of a login or refresh: the access token in the body, the refresh token in
/// the cookie or, when asked, the body.
fn signed(user: User, pair: TokenPair, in_body: bool) -> Response {
    let body = Signed {
        access_token: pair.access_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        session: pair.session,
        user,
        refresh_token: in_body.then(|| pair.refresh_token.clone()),
    };
    // Untagged: the same JSON as `body` alone, which a refresh answers too.
    let mut response = Json(LoginAnswer::Signed(body)).into_response();
    if !in_body {
        response.headers_mut().insert(header::SET_COOKIE, set_cookie(Some(&pair.refresh_token)));
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(post, path = "/api/v1/auth/register", request_body = Credentials, responses((status = 201, description = "registered", body = User), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 409, description = "in conflict with the account as it is", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody), (status = 429, description = "too many attempts: wait Retry-After seconds", body = ApiErrorBody), (status = 503, description = "the rate-limit store does not answer: try again", body = ApiErrorBody)))]
async fn register(
    State(accounts): State<Accounts>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let user = accounts.register(&body.email, &body.password, &meta).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

#[utoipa::path(post, path = "/api/v1/auth/login", request_body = Credentials, responses((status = 200, description = "signed in (the refresh token in the cookie unless asked in the body), or a TOTP challenge", body = LoginAnswer), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody), (status = 429, description = "too many attempts: wait Retry-After seconds", body = ApiErrorBody), (status = 503, description = "the rate-limit store does not answer: try again", body = ApiErrorBody)))]
async fn login(
    State(accounts): State<Accounts>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    match accounts.login(&body.email, &body.password, &meta).await? {
        LoginOutcome::Signed(user, pair) => Ok(signed(user, pair, body.refresh_token_in_body)),
        LoginOutcome::TotpRequired { challenge } => {
            Ok(Json(LoginAnswer::TotpRequired(TotpChallenge { totp_required: true, challenge }))
                .into_response())
        }
    }
}

/// The second step of a login.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TotpLogin {
    challenge: String,
    code: String,
    #[serde(default)]
    refresh_token_in_body: bool,
}

#[utoipa::path(post, path = "/api/v1/auth/login/totp", request_body = TotpLogin, responses((status = 200, description = "signed in", body = Signed), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody), (status = 429, description = "too many attempts: wait Retry-After seconds", body = ApiErrorBody), (status = 503, description = "the rate-limit store does not answer: try again", body = ApiErrorBody)))]
async fn login_totp(
    State(accounts): State<Accounts>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<TotpLogin>,
) -> Result<Response, ApiError> {
    let (user, pair) = accounts.login_totp(&body.challenge, &body.code, &meta).await?;
    Ok(signed(user, pair, body.refresh_token_in_body))
}

/// The refresh token, when it is not in the cookie (send `{}` with the cookie).
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RefreshBody {
    refresh_token: Option<String>,
}

/// The refresh token of a request, and whether it came in the body.
fn refresh_token_of(headers: &HeaderMap, body: RefreshBody) -> Result<(String, bool), ApiError> {
    match (body.refresh_token, cookie_token(headers)) {
        (Some(token), _) => Ok((token, true)),
        (None, Some(token)) => Ok((token, false)),
        (None, None) => Err(ApiError::unauthorized("no refresh token (cookie or body)")),
    }
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", request_body = RefreshBody, responses((status = 200, description = "a new access token; the refresh token rotated (a rotated one coming back ends its session)", body = Signed), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody), (status = 429, description = "too many attempts: wait Retry-After seconds", body = ApiErrorBody), (status = 503, description = "the rate-limit store does not answer: try again", body = ApiErrorBody)))]
async fn refresh(
    State(accounts): State<Accounts>,
    Meta(meta): Meta,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Response, ApiError> {
    let (token, in_body) = refresh_token_of(&headers, body)?;
    let (user, pair) = accounts.refresh_for(&token, &meta).await?;
    Ok(signed(user, pair, in_body))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", request_body = RefreshBody, responses((status = 204, description = "the session ended and the cookie cleared"), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody)))]
async fn logout(
    State(accounts): State<Accounts>,
    Meta(meta): Meta,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Response, ApiError> {
    let (token, _) = refresh_token_of(&headers, body)?;
    let outcome = accounts.logout(&token, &meta).await;
    // The cookie goes either way: a client logging out of an ended session is done too.
    let mut response = match outcome {
        Ok(()) | Err(AccountsError::SessionEnded) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ApiError::from(e).into_response(),
    };
    response.headers_mut().insert(header::SET_COOKIE, set_cookie(None));
    Ok(response)
}

/// The signed-in user.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Me {
    // The user's fields, one by one rather than flattened, so that the document describes
    // one closed object.
    id: i64,
    email: String,
    role: Role,
    disabled: bool,
    #[serde(rename = "created_ms")]
    created_ms: i64,
    /// Whether TOTP is on.
    totp: bool,
    recovery_codes_left: i64,
    /// The session of this access token.
    session: String,
}

#[utoipa::path(get, path = "/api/v1/me", security(("accessToken" = [])), responses((status = 200, body = Me), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody)))]
async fn me(State(accounts): State<Accounts>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let id = caller.user_id()?;
    let user = accounts.user(id).await?;
    let totp = accounts.totp_enabled(id).await?;
    let recovery_codes_left = accounts.recovery_codes_left(id).await?;
    let User { id, email, role, disabled, created_ms } = user;
    Ok(Json(Me {
        id,
        email,
        role,
        disabled,
        created_ms,
        totp,
        recovery_codes_left,
        session: caller.0.sid,
    }))
}

#[utoipa::path(get, path = "/api/v1/me/sessions", security(("accessToken" = [])), responses((status = 200, description = "the sessions not ended nor expired", body = Vec<Session>), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody)))]
async fn sessions(
    State(accounts): State<Accounts>,
    caller: Caller,
) -> Result<Json<Vec<Session>>, ApiError> {
    Ok(Json(accounts.sessions(caller.user_id()?).await?))
}

#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", security(("accessToken" = [])), params(("id" = String, Path, description = "the session")), responses((status = 204, description = "ended"), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn revoke_session(
    State(accounts): State<Accounts>,
    caller: Caller,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    accounts.revoke_session(caller.user_id()?, &id, &meta).await.map_err(|e| match e {
        AccountsError::SessionEnded => ApiError::not_found("no such session"),
        e => e.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/me/totp", security(("accessToken" = [])), responses((status = 200, description = "a new secret, on once a code confirms it", body = TotpSecret), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 409, description = "in conflict with the account as it is", body = ApiErrorBody)))]
async fn totp_begin(
    State(accounts): State<Accounts>,
    caller: Caller,
) -> Result<Json<TotpSecret>, ApiError> {
    let setup = accounts.totp_begin(caller.user_id()?).await?;
    Ok(Json(TotpSecret { secret: setup.secret, uri: setup.uri }))
}

/// A new TOTP secret.
#[derive(Serialize, ToSchema)]
struct TotpSecret {
    /// Base32, for typing into an authenticator.
    secret: String,
    /// `otpauth://totp/…`, for a QR code.
    uri: String,
}

/// Recovery codes, each good once; shown only now.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// A TOTP code (6 digits) or, where it says so, a recovery code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Code {
    code: String,
}

#[utoipa::path(post, path = "/api/v1/me/totp/confirm", security(("accessToken" = [])), request_body = Code, responses((status = 200, description = "TOTP on, with recovery codes shown once", body = RecoveryCodes), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 409, description = "in conflict with the account as it is", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody), (status = 429, description = "too many attempts: wait Retry-After seconds", body = ApiErrorBody)))]
async fn totp_confirm(
    State(accounts): State<Accounts>,
    caller: Caller,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<Code>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let codes =
        accounts.totp_confirm(caller.user_id()?, &body.code, &meta).await.map_err(code_refused)?;
    Ok(Json(RecoveryCodes { recovery_codes: codes }))
}

/// A wrong code from a signed-in user is a bad request, not a failed sign-in.
fn code_refused(e: AccountsError) -> ApiError {
    match e {
        AccountsError::InvalidCode => ApiError::bad_request(e.to_string()),
        e => e.into(),
    }
}

#[utoipa::path(delete, path = "/api/v1/me/totp", security(("accessToken" = [])), request_body = Code, responses((status = 204, description = "TOTP off"), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 409, description = "in conflict with the account as it is", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody), (status = 429, description = "too many attempts: wait Retry-After seconds", body = ApiErrorBody)))]
async fn totp_disable(
    State(accounts): State<Accounts>,
    caller: Caller,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<Code>,
) -> Result<StatusCode, ApiError> {
    accounts.totp_disable(caller.user_id()?, &body.code, &meta).await.map_err(code_refused)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/me/recovery-codes", security(("accessToken" = [])), request_body = Code, responses((status = 200, description = "new recovery codes (the old ones no longer work)", body = RecoveryCodes), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 409, description = "in conflict with the account as it is", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody), (status = 429, description = "too many attempts: wait Retry-After seconds", body = ApiErrorBody)))]
async fn recovery_codes(
    State(accounts): State<Accounts>,
    caller: Caller,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<Code>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let codes = accounts
        .regenerate_recovery_codes(caller.user_id()?, &body.code, &meta)
        .await
        .map_err(code_refused)?;
    Ok(Json(RecoveryCodes { recovery_codes: codes }))
}

#[utoipa::path(get, path = "/api/v1/me/api-keys", security(("accessToken" = [])), responses((status = 200, body = Vec<ApiKey>), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody)))]
async fn api_keys(
    State(accounts): State<Accounts>,
    caller: Caller,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    Ok(Json(accounts.api_keys(caller.user_id()?).await?))
}

/// A new API key: its name and scopes (`read`, `write`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    scopes: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/me/api-keys", security(("accessToken" = [])), request_body = NewKey, responses((status = 201, description = "the key, and its secret shown once", body = CreatedKey), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody)))]
async fn create_api_key(
    State(accounts): State<Accounts>,
    caller: Caller,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<Response, ApiError> {
    if body.scopes.len() > 8 {
        return Err(ApiError::bad_request("at most 8 scopes"));
    }
    let scopes = body
        .scopes
        .iter()
        .map(|s| {
            Scope::parse(s)
                .ok_or_else(|| ApiError::bad_request(format!("unknown scope {s:?}: read or write")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (key, secret) =
        accounts.create_api_key(caller.user_id()?, &body.name, &scopes, &meta).await?;
    let body = CreatedKey { key, secret };
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// A new API key and its secret, which is shown only now.
#[derive(Serialize, ToSchema)]
struct CreatedKey {
    key: ApiKey,
    /// `btcr_ak_…`: `Authorization: Bearer <secret>`.
    secret: String,
}

#[utoipa::path(delete, path = "/api/v1/me/api-keys/{id}", security(("accessToken" = [])), params(("id" = i64, Path, description = "the key")), responses((status = 204, description = "revoked"), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn revoke_api_key(
    State(accounts): State<Accounts>,
    caller: Caller,
    Meta(meta): Meta,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    accounts.revoke_api_key(caller.user_id()?, id, &meta).await.map_err(|e| match e {
        AccountsError::InvalidApiKey(_) => ApiError::not_found("no such API key"),
        e => e.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an administrator changes of a user (either or both).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UserChange {
    /// `user` or `admin`.
    role: Option<String>,
    disabled: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", security(("accessToken" = [])), params(("id" = i64, Path, description = "the user")), request_body = UserChange, responses((status = 200, description = "the user as changed", body = User), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody)))]
async fn update_user(
    State(accounts): State<Accounts>,
    Admin(admin): Admin,
    Meta(meta): Meta,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<UserChange>,
) -> Result<Json<User>, ApiError> {
    let role = match body.role.as_deref() {
        None => None,
        Some("user") => Some(Role::User),
        Some("admin") => Some(Role::Admin),
        Some(other) => {
            return Err(ApiError::bad_request(format!("unknown role {other:?}: user or admin")));
        }
    };
    Ok(Json(accounts.update_user(admin, id, role, body.disabled, &meta).await?))
}

/// A page of the audit log.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditPage {
    /// The records after this sequence number (default 0: from the first).
    after: Option<i64>,
    /// How many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/admin/audit", security(("accessToken" = [])), params(AuditPage), responses((status = 200, description = "records after `after`, oldest first", body = Vec<AuditRecord>), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody)))]
async fn audit(
    State(accounts): State<Accounts>,
    _: Admin,
    ApiQuery(page): ApiQuery<AuditPage>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let limit = page.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 1000"));
    }
    Ok(Json(accounts.audit(page.after.unwrap_or(0).max(0), limit).await?))
}

#[utoipa::path(get, path = "/api/v1/settings", responses((status = 200, body = PublicSettings), (status = 503, description = "the rate-limit store does not answer: try again", body = ApiErrorBody)))]
async fn public_settings(
    State(accounts): State<Accounts>,
) -> Result<Json<PublicSettings>, ApiError> {
    Ok(Json(accounts.public_settings().await?))
}

#[utoipa::path(get, path = "/api/v1/admin/settings", security(("accessToken" = [])), responses((status = 200, body = Settings), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody)))]
async fn settings(State(accounts): State<Accounts>, _: Admin) -> Result<Json<Settings>, ApiError> {
    Ok(Json(Settings::clone(&*accounts.settings().await?)))
}

#[utoipa::path(put, path = "/api/v1/admin/settings", security(("accessToken" = [])), request_body = Settings, responses((status = 200, description = "in force now on this replica, within 2 s on the others", body = Settings), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody)))]
async fn update_settings(
    State(accounts): State<Accounts>,
    Admin(admin): Admin,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<Settings>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(Settings::clone(&*accounts.update_settings(admin, body, &meta).await?)))
}

/// A page of users.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UsersQuery {
    /// A part of the e-mail address.
    search: Option<String>,
    /// Users to skip (default 0).
    #[param(minimum = 0)]
    offset: Option<i64>,
    /// How many (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/admin/users", security(("accessToken" = [])), params(UsersQuery), responses((status = 200, body = UserPage), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody)))]
async fn list_users(
    State(accounts): State<Accounts>,
    Admin(admin): Admin,
    ApiQuery(query): ApiQuery<UsersQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let page = accounts
        .list_users(
            admin,
            query.search.as_deref(),
            query.offset.unwrap_or(0),
            query.limit.unwrap_or(50),
        )
        .await?;
    Ok(Json(page))
}

/// The figures of the accounts and of the chain.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Stats {
    accounts: AccountStats,
    /// `null` when the node could not be asked; `chainError` says why.
    chain: Option<ChainFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_error: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/admin/stats", security(("accessToken" = [])), responses((status = 200, body = Stats), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody)))]
async fn stats(
    State(state): State<AccountsState>,
    Admin(admin): Admin,
) -> Result<Json<Stats>, ApiError> {
    let accounts = state.accounts.account_stats(admin).await?;
    let (chain, chain_error) = match state.chain.figures().await {
        Ok(figures) => (Some(figures), None),
        Err(e) => {
            tracing::warn!(target: "btcr::accounts", error = %e, "the chain's figures are missing from the statistics");
            (None, Some(e))
        }
    };
    Ok(Json(Stats { accounts, chain, chain_error }))
}

/// A new password, with the current one.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

#[utoipa::path(put, path = "/api/v1/me/password", security(("accessToken" = [])), request_body = PasswordChange, responses((status = 204, description = "changed; the other sessions ended"), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody), (status = 429, description = "too many attempts: wait Retry-After seconds", body = ApiErrorBody), (status = 503, description = "the rate-limit store does not answer: try again", body = ApiErrorBody)))]
async fn change_password(
    State(accounts): State<Accounts>,
    caller: Caller,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let id = caller.user_id()?;
    accounts
        .change_password(id, &caller.0.sid, &body.current_password, &body.new_password, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me/keystore", security(("accessToken" = []), ("apiKey" = [])), responses((status = 200, body = KeystoreBackup), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn keystore(
    State(accounts): State<Accounts>,
    holder: Holder,
) -> Result<Json<KeystoreBackup>, ApiError> {
    let backup = accounts.keystore(holder.with(Scope::Read)?).await?;
    Ok(Json(backup.ok_or_else(|| ApiError::not_found("no keystore backup"))?))
}

/// An encrypted keystore (version 3) to keep, made in the browser or the CLI.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct KeystoreBody {
    #[schema(value_type = Object)]
    keystore: serde_json::Value,
}

#[utoipa::path(put, path = "/api/v1/me/keystore", security(("accessToken" = []), ("apiKey" = [])), request_body = KeystoreBody, responses((status = 200, description = "kept (replacing the one before)", body = KeystoreBackup), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 413, description = "the body is too large", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody)))]
async fn put_keystore(
    State(accounts): State<Accounts>,
    holder: Holder,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<KeystoreBody>,
) -> Result<Json<KeystoreBackup>, ApiError> {
    Ok(Json(accounts.put_keystore(holder.with(Scope::Write)?, &body.keystore, &meta).await?))
}

#[utoipa::path(delete, path = "/api/v1/me/keystore", security(("accessToken" = []), ("apiKey" = [])), responses((status = 204, description = "deleted"), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn delete_keystore(
    State(accounts): State<Accounts>,
    holder: Holder,
    Meta(meta): Meta,
) -> Result<StatusCode, ApiError> {
    if !accounts.delete_keystore(holder.with(Scope::Write)?, &meta).await? {
        return Err(ApiError::not_found("no keystore backup"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me/watchlist", security(("accessToken" = []), ("apiKey" = [])), responses((status = 200, body = Vec<Watched>), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody)))]
async fn watchlist(
    State(accounts): State<Accounts>,
    holder: Holder,
) -> Result<Json<Vec<Watched>>, ApiError> {
    Ok(Json(accounts.watchlist(holder.with(Scope::Read)?).await?))
}

/// An address to watch, with a label.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WatchBody {
    address: String,
    #[serde(default)]
    label: String,
}

#[utoipa::path(post, path = "/api/v1/me/watchlist", security(("accessToken" = []), ("apiKey" = [])), request_body = WatchBody, responses((status = 200, description = "watched (or renamed)", body = Watched), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody)))]
async fn watch(
    State(accounts): State<Accounts>,
    holder: Holder,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<WatchBody>,
) -> Result<Json<Watched>, ApiError> {
    let user = holder.with(Scope::Write)?;
    Ok(Json(accounts.watch(user, &body.address, &body.label, &meta).await?))
}

#[utoipa::path(delete, path = "/api/v1/me/watchlist/{address}", security(("accessToken" = []), ("apiKey" = [])), params(("address" = String, Path, description = "0x and 40 hex digits")), responses((status = 204, description = "no longer watched"), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn unwatch(
    State(accounts): State<Accounts>,
    holder: Holder,
    Meta(meta): Meta,
    Path(address): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !accounts.unwatch(holder.with(Scope::Write)?, &address, &meta).await? {
        return Err(ApiError::not_found("this address is not on the watch list"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_says_who_may_call_it_and_how_it_refuses() {
        let json = serde_json::to_value(openapi()).unwrap();
        let mut operations = 0;
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                operations += 1;
                let open = path.starts_with("/api/v1/auth/") || path == "/api/v1/settings";
                let security = operation["security"].as_array();
                assert_eq!(security.is_none(), open, "{method} {path}: security");
                if path.starts_with("/api/v1/admin/") {
                    let schemes = security.unwrap();
                    assert_eq!(schemes.len(), 1, "{method} {path}: an API key is not an admin");
                    assert!(operation["responses"]["403"].is_object(), "{method} {path}: 403");
                }
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.keys().any(|c| c.starts_with('2')), "{method} {path}: 2xx");
                assert!(
                    responses.keys().filter(|c| c.starts_with('4') || c.starts_with('5')).count()
                        >= 1,
                    "{method} {path}: refusals"
                );
            }
        }
        assert_eq!(operations, 29, "the accounts' surface changed: say so here, on purpose");
        // The limits' bounds are documented as the settings check them.
        let limit = &json["components"]["schemas"]["Limit"]["properties"];
        assert_eq!(limit["max"]["maximum"], crate::limits::MAX_LIMIT_COUNT);
        assert_eq!(limit["windowS"]["maximum"], crate::limits::MAX_LIMIT_SECONDS);
        assert_eq!(limit["lockoutS"]["maximum"], crate::limits::MAX_LIMIT_SECONDS);
    }
}
