//! Routes that are documented by their own OpenAPI annotation, and the routes that serve
//! the document.
//!
//! A router crate lists its handlers once in [`documented_routes!`]: each is routed at the
//! path and methods of its `#[utoipa::path]` annotation and added to the document from that
//! same annotation, so that what is served and what is described cannot disagree.

use axum::{
    Router,
    handler::Handler,
    http::header,
    response::{Html, IntoResponse, Response},
    routing::{MethodFilter, get, on},
};
use utoipa::openapi::{OpenApi, path::HttpMethod};

use crate::ApiError;

/// Routes `handler` at the path and methods of its annotation `P`.
pub fn route_documented<P, H, T, S>(router: Router<S>, handler: H) -> Router<S>
where
    P: utoipa::Path,
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    let filter = P::methods()
        .into_iter()
        .map(|method| match method {
            HttpMethod::Get => MethodFilter::GET,
            HttpMethod::Post => MethodFilter::POST,
            HttpMethod::Put => MethodFilter::PUT,
            HttpMethod::Delete => MethodFilter::DELETE,
            HttpMethod::Options => MethodFilter::OPTIONS,
            HttpMethod::Head => MethodFilter::HEAD,
            HttpMethod::Patch => MethodFilter::PATCH,
            HttpMethod::Trace => MethodFilter::TRACE,
        })
        .reduce(MethodFilter::or)
        .expect("an annotated handler names a method");
    router.route(&P::path(), on(filter, handler))
}

/// Adds the operation of annotation `P` to `openapi`, under `tag`.
pub fn document_operation<P: utoipa::Path>(openapi: &mut OpenApi, tag: &str) {
    let mut operation = P::operation();
    operation.tags = Some(vec![tag.to_owned()]);
    openapi.paths.add_path_operation(P::path(), P::methods(), operation);
}

/// `documented_routes!(State; "tag" => handler, …)` defines `fn routes(Router<State>) ->
/// Router<State>`, which routes every handler, and `struct Handlers`, a `utoipa::Modify`
/// that adds every handler's operation to a document.
#[macro_export]
macro_rules! documented_routes {
    ($state:ty; $($tag:literal => $handler:ident),+ $(,)?) => {
        /// Routes every handler at the path and methods of its annotation.
        fn routes(router: ::axum::Router<$state>) -> ::axum::Router<$state> {
            $(
                let router = $crate::__paste::paste! {
                    $crate::route_documented::<[<__path_ $handler>], _, _, _>(router, $handler)
                };
            )+
            router
        }

        /// Adds every handler's operation to the document.
        struct Handlers;

        impl ::utoipa::Modify for Handlers {
            fn modify(&self, openapi: &mut ::utoipa::openapi::OpenApi) {
                $(
                    $crate::__paste::paste! {
                        $crate::document_operation::<[<__path_ $handler>]>(openapi, $tag);
                    }
                )+
            }
        }
    };
}

/// `GET /api/v1/openapi.json` (`document`), `/api/v1/docs` (a page that renders it, with
/// nothing to fetch but the document and its script, served apart so that the page needs
/// no inline script), and a JSON 404 for any other path under `/api/v1`.
pub fn docs_router(document: String) -> Router {
    let document: std::sync::Arc<str> = document.into();
    Router::new().nest(
        "/api/v1",
        Router::new()
            .route(
                "/openapi.json",
                get(move || {
                    let document = document.clone();
                    async move {
                        ([(header::CONTENT_TYPE, "application/json")], document.to_string())
                            .into_response()
                    }
                }),
            )
            .route("/docs", get(docs))
            .route("/docs.js", get(docs_script))
            .fallback(|| async { ApiError::not_found("no such endpoint") }),
    )
}

async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

async fn docs_script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("docs.js"))
        .into_response()
}
