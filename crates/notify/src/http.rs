//! The notifications' REST routes under `/api/v1/me/…`: the portal's list
//! (`notifications`), `subscriptions`, and `webhooks` with each endpoint's secret rotation,
//! re-enabling, a test message, its messages with their delivery log, and replays. A
//! signed-in user may do everything; an API key reads with `read` and changes with `write`.

use axum::{
    Json, Router,
    extract::{FromRef, Path, State},
    http::StatusCode,
};
use btcr_accounts::{
    Accounts, Scope,
    http::{ApiJson, Holder},
};
use btcr_http::{ApiError, ApiErrorBody, ApiErrorDetail, ApiQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{
    Attempt, Channel, Endpoint, EventKind, MAX_PAGE, Message, MessageState, NewEndpoint,
    NewSubscription, Notification, NotificationPage, Notify, RotatedSecret, Subscription,
};

/// What the routes share.
#[derive(Clone)]
pub struct NotifyState {
    pub(crate) notify: Notify,
    pub(crate) accounts: Accounts,
}

impl FromRef<NotifyState> for Accounts {
    fn from_ref(state: &NotifyState) -> Accounts {
        state.accounts.clone()
    }
}

/// The notifications routes, `/api/v1/…` in full, and the portal's live connection
/// ([`crate::live::LIVE_PATH`]); callers are authenticated by `accounts`.
pub fn router(notify: Notify, accounts: Accounts) -> Router {
    routes(crate::live::routes()).with_state(NotifyState { notify, accounts })
}

btcr_http::documented_routes!(NotifyState;
    "notifications" => notifications,
    "notifications" => mark_read,
    "notifications" => subscriptions,
    "notifications" => subscribe,
    "notifications" => unsubscribe,
    "webhooks" => endpoints,
    "webhooks" => create_endpoint,
    "webhooks" => endpoint,
    "webhooks" => delete_endpoint,
    "webhooks" => rotate_secret,
    "webhooks" => enable_endpoint,
    "webhooks" => send_test,
    "webhooks" => messages,
    "webhooks" => replay,
);

/// The notifications' part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    modifiers(&Handlers),
    components(schemas(
        ApiErrorBody,
        ApiErrorDetail,
        EventKind,
        Channel,
        Subscription,
        NewSubscription,
        Endpoint,
        NewEndpoint,
        EndpointBody,
        RotatedSecret,
        MessageState,
        Attempt,
        Message,
        Notification,
        NotificationPage,
        ReadBody,
        ReadCount,
        Queued
    ))
)]
struct NotifyDoc;

/// The notifications' part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    NotifyDoc::openapi()
}

/// An id in a path, refused in the API's shape when it is not a number.
fn id_arg(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::bad_request(format!("{id:?} is not an id")))
}

/// A page, newest first.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// Items older than this id or sequence (default: from the newest).
    before: Option<i64>,
    /// How many (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

impl PageQuery {
    fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::bad_request(format!("limit is 1 to {MAX_PAGE}"))),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/me/notifications", security(("accessToken" = []), ("apiKey" = [])), params(PageQuery), responses((status = 200, description = "newest first, with the unread count", body = NotificationPage), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody)))]
async fn notifications(
    State(notify): State<Notify>,
    holder: Holder,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<NotificationPage>, ApiError> {
    let user = holder.with(Scope::Read)?;
    Ok(Json(notify.notifications(user, query.before, query.limit()?).await?))
}

/// Marks notifications read.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReadBody {
    /// Every notification up to this id.
    up_to: i64,
}

/// How many changed.
#[derive(Serialize, ToSchema)]
struct ReadCount {
    /// Notifications marked read.
    marked: u64,
}

#[utoipa::path(post, path = "/api/v1/me/notifications/read", security(("accessToken" = []), ("apiKey" = [])), request_body = ReadBody, responses((status = 200, body = ReadCount), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody)))]
async fn mark_read(
    State(notify): State<Notify>,
    holder: Holder,
    ApiJson(body): ApiJson<ReadBody>,
) -> Result<Json<ReadCount>, ApiError> {
    let user = holder.with(Scope::Write)?;
    Ok(Json(ReadCount { marked: notify.mark_read(user, body.up_to).await? }))
}

#[utoipa::path(get, path = "/api/v1/me/subscriptions", security(("accessToken" = []), ("apiKey" = [])), responses((status = 200, body = Vec<Subscription>), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody)))]
async fn subscriptions(
    State(notify): State<Notify>,
    holder: Holder,
) -> Result<Json<Vec<Subscription>>, ApiError> {
    Ok(Json(notify.subscriptions(holder.with(Scope::Read)?).await?))
}

#[utoipa::path(post, path = "/api/v1/me/subscriptions", security(("accessToken" = []), ("apiKey" = [])), request_body = NewSubscription, responses((status = 201, description = "subscribed", body = Subscription), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody), (status = 409, description = "too many", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody)))]
async fn subscribe(
    State(notify): State<Notify>,
    holder: Holder,
    ApiJson(body): ApiJson<NewSubscription>,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let user = holder.with(Scope::Write)?;
    Ok((StatusCode::CREATED, Json(notify.subscribe(user, body).await?)))
}

#[utoipa::path(delete, path = "/api/v1/me/subscriptions/{id}", security(("accessToken" = []), ("apiKey" = [])), params(("id" = i64, Path, description = "the subscription")), responses((status = 204, description = "ended"), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn unsubscribe(
    State(notify): State<Notify>,
    holder: Holder,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    notify.unsubscribe(holder.with(Scope::Write)?, id_arg(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me/webhooks", security(("accessToken" = []), ("apiKey" = [])), responses((status = 200, body = Vec<Endpoint>), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody)))]
async fn endpoints(
    State(notify): State<Notify>,
    holder: Holder,
) -> Result<Json<Vec<Endpoint>>, ApiError> {
    Ok(Json(notify.endpoints(holder.with(Scope::Read)?).await?))
}

/// An endpoint to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EndpointBody {
    /// `https://…` (or `http://`), reaching a public address.
    url: String,
    /// A note of the owner's (200 characters).
    #[serde(default)]
    description: String,
}

#[utoipa::path(post, path = "/api/v1/me/webhooks", security(("accessToken" = []), ("apiKey" = [])), request_body = EndpointBody, responses((status = 201, description = "added, with its secret (shown this once)", body = NewEndpoint), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 409, description = "too many", body = ApiErrorBody), (status = 415, description = "the body is not JSON", body = ApiErrorBody)))]
async fn create_endpoint(
    State(notify): State<Notify>,
    holder: Holder,
    ApiJson(body): ApiJson<EndpointBody>,
) -> Result<(StatusCode, Json<NewEndpoint>), ApiError> {
    let user = holder.with(Scope::Write)?;
    let created = notify.create_endpoint(user, &body.url, &body.description).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/api/v1/me/webhooks/{id}", security(("accessToken" = []), ("apiKey" = [])), params(("id" = i64, Path, description = "the endpoint")), responses((status = 200, body = Endpoint), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn endpoint(
    State(notify): State<Notify>,
    holder: Holder,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    Ok(Json(notify.endpoint(holder.with(Scope::Read)?, id_arg(&id)?).await?))
}

#[utoipa::path(delete, path = "/api/v1/me/webhooks/{id}", security(("accessToken" = []), ("apiKey" = [])), params(("id" = i64, Path, description = "the endpoint")), responses((status = 204, description = "deleted, with its subscriptions and messages"), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn delete_endpoint(
    State(notify): State<Notify>,
    holder: Holder,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    notify.delete_endpoint(holder.with(Scope::Write)?, id_arg(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/me/webhooks/{id}/secret", security(("accessToken" = []), ("apiKey" = [])), params(("id" = i64, Path, description = "the endpoint")), responses((status = 200, description = "a new secret; the old one signs too for 24 hours", body = RotatedSecret), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn rotate_secret(
    State(notify): State<Notify>,
    holder: Holder,
    Path(id): Path<String>,
) -> Result<Json<RotatedSecret>, ApiError> {
    Ok(Json(notify.rotate_secret(holder.with(Scope::Write)?, id_arg(&id)?).await?))
}

#[utoipa::path(post, path = "/api/v1/me/webhooks/{id}/enable", security(("accessToken" = []), ("apiKey" = [])), params(("id" = i64, Path, description = "the endpoint")), responses((status = 200, description = "enabled; its waiting messages go out", body = Endpoint), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn enable_endpoint(
    State(notify): State<Notify>,
    holder: Holder,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    Ok(Json(notify.enable_endpoint(holder.with(Scope::Write)?, id_arg(&id)?).await?))
}

/// A message queued.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Queued {
    /// Its `webhook-id`.
    message_id: String,
}

#[utoipa::path(post, path = "/api/v1/me/webhooks/{id}/test", security(("accessToken" = []), ("apiKey" = [])), params(("id" = i64, Path, description = "the endpoint")), responses((status = 202, description = "a `webhook.test` message queued", body = Queued), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn send_test(
    State(notify): State<Notify>,
    holder: Holder,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let message_id = notify.send_test(holder.with(Scope::Write)?, id_arg(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { message_id })))
}

#[utoipa::path(get, path = "/api/v1/me/webhooks/{id}/messages", security(("accessToken" = []), ("apiKey" = [])), params(("id" = i64, Path, description = "the endpoint"), PageQuery), responses((status = 200, description = "newest first, each with its latest attempts", body = Vec<Message>), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn messages(
    State(notify): State<Notify>,
    holder: Holder,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Vec<Message>>, ApiError> {
    let user = holder.with(Scope::Read)?;
    Ok(Json(notify.messages(user, id_arg(&id)?, query.before, query.limit()?).await?))
}

#[utoipa::path(post, path = "/api/v1/me/webhooks/{id}/messages/{messageId}/replay", security(("accessToken" = []), ("apiKey" = [])), params(("id" = i64, Path, description = "the endpoint"), ("messageId" = String, Path, description = "the message's `webhook-id`")), responses((status = 202, description = "queued again, under the same `webhook-id`", body = Queued), (status = 400, description = "a bad body or parameter", body = ApiErrorBody), (status = 401, description = "not signed in, or a token refused", body = ApiErrorBody), (status = 403, description = "not allowed", body = ApiErrorBody), (status = 404, description = "no such thing", body = ApiErrorBody)))]
async fn replay(
    State(notify): State<Notify>,
    holder: Holder,
    Path((id, message_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    notify.replay(holder.with(Scope::Write)?, id_arg(&id)?, &message_id).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { message_id })))
}

impl FromRef<NotifyState> for Notify {
    fn from_ref(state: &NotifyState) -> Notify {
        state.notify.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_takes_a_token_or_a_key_and_documents_its_refusals() {
        let json = serde_json::to_value(openapi()).unwrap();
        let mut operations = 0;
        for (path, item) in json["paths"].as_object().unwrap() {
            assert!(path.starts_with("/api/v1/me/"), "{path}");
            for (method, operation) in item.as_object().unwrap() {
                operations += 1;
                let schemes = operation["security"].as_array().expect("security");
                assert_eq!(schemes.len(), 2, "{method} {path}: an access token or an API key");
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.keys().any(|c| c.starts_with('2')), "{method} {path}: 2xx");
                for code in ["401", "403"] {
                    assert!(responses.contains_key(code), "{method} {path}: {code}");
                }
                if path.contains('{') {
                    for code in ["400", "404"] {
                        assert!(responses.contains_key(code), "{method} {path}: {code}");
                    }
                }
            }
        }
        assert_eq!(operations, 14, "the notifications' surface changed: say so here, on purpose");
    }
}
