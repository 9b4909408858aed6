//! The portal (`web/`, built into `web/dist` and embedded in the binary): the HTTP server's
//! fallback, so that it is served at `/` and at every path no API takes, and the browser's
//! routes reach the app.

use axum::{
    Router,
    body::Body,
    http::{StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/dist"]
struct Assets;

/// The portal's router: every path is an asset or a route of the app.
pub fn router() -> Router {
    Router::new().fallback(serve)
}

/// The asset at `uri`'s path, or the app's page for a route of the app.
async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if let Some(asset) = (!path.is_empty()).then(|| Assets::get(path)).flatten() {
        // Built assets carry their content hash in their names: they never change.
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [(header::CONTENT_TYPE, content_type(path)), (header::CACHE_CONTROL, cache)],
            Body::from(asset.data.into_owned()),
        )
            .into_response();
    }
    if path.starts_with("api/") || path.contains('.') {
        // A missing file, or an API path nothing answers: not the app's to show.
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    index()
}

/// The app's page.
fn index() -> Response {
    match Assets::get("index.html") {
        Some(page) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            Body::from(page.data.into_owned()),
        )
            .into_response(),
        None => {
            (StatusCode::NOT_FOUND, "this node was built without the portal (web/dist is empty)")
                .into_response()
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_portal_is_embedded() {
        let page = Assets::get("index.html").expect("web/dist/index.html is embedded");
        let page = String::from_utf8_lossy(&page.data).into_owned();
        assert!(page.contains("<div id=\"root\">"));
        // Every asset the page names is embedded too.
        for name in page.split("/assets/").skip(1) {
            let file: String = name.chars().take_while(|c| *c != '"').collect();
            assert!(Assets::get(&format!("assets/{file}")).is_some(), "assets/{file} is missing");
        }
        assert_eq!(content_type("assets/index-x.js"), "text/javascript; charset=utf-8");
    }
}
