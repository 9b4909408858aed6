//! Query strings, decoded properly (percent-escapes and `+`) into the type that also
//! documents them in the OpenAPI document.

use axum::{extract::FromRequestParts, http::request::Parts};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The longest query string read, in bytes: no API takes more than a few short parameters.
const MAX_QUERY_BYTES: usize = 4096;

/// A query string deserialized into `T`. Give `T` `#[serde(deny_unknown_fields)]` so that
/// an unknown parameter is refused; a parameter given twice, a missing required one or a
/// value of the wrong type is refused too, as a 400 naming it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        parse(raw).map(ApiQuery)
    }
}

/// Parses a raw query string (without the `?`).
pub fn parse<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    if raw.len() > MAX_QUERY_BYTES {
        return Err(ApiError::bad_request(format!(
            "the query string is {} bytes long, more than the {MAX_QUERY_BYTES} allowed",
            raw.len()
        )));
    }
    serde_urlencoded::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("query string: {}", explain(&e.to_string()))))
}

/// The deserializer's message in the words of query parameters.
fn explain(message: &str) -> String {
    message.replace("field", "parameter").replace("expected one of", "this endpoint takes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Q {
        q: Option<String>,
        limit: Option<usize>,
    }

    #[test]
    fn values_are_percent_decoded_and_mistakes_named() {
        let q: Q = parse("q=a%20b%2Bc+d&limit=5").unwrap();
        assert_eq!(q, Q { q: Some("a b+c d".into()), limit: Some(5) });
        assert_eq!(parse::<Q>("").unwrap(), Q { q: None, limit: None });
        let unknown = parse::<Q>("x=1").unwrap_err();
        assert!(unknown.message().contains("unknown parameter `x`"), "{}", unknown.message());
        let twice = parse::<Q>("limit=1&limit=2").unwrap_err();
        assert!(twice.message().contains("duplicate parameter `limit`"), "{}", twice.message());
        let wrong = parse::<Q>("limit=ten").unwrap_err();
        assert!(wrong.message().contains("invalid digit"), "{}", wrong.message());
        let long = format!("q={}", "a".repeat(5000));
        assert!(parse::<Q>(&long).unwrap_err().message().contains("4096"));
    }
}
