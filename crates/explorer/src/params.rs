//! Query parameters: each a type that decodes and checks its value (with the message a
//! person reads when it is wrong) and describes itself in the OpenAPI document, so the
//! document says exactly what the handlers take.

use serde::{Deserialize, Deserializer, de::Error as _};
use utoipa::{
    IntoParams, PartialSchema, ToSchema,
    openapi::{ObjectBuilder, RefOr, Schema, Type},
};

/// Items per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// The most items one page may hold.
pub const MAX_LIMIT: usize = 500;
/// The highest page number accepted.
const MAX_PAGE: usize = 1_000_000;

/// The raw text of a parameter.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

/// A whole number from 1 to `max` named `name`, or the message that says it is not.
fn whole_number<'de, D: Deserializer<'de>>(
    d: D,
    name: &str,
    max: usize,
) -> Result<usize, D::Error> {
    let v = text(d)?;
    match v.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(D::Error::custom(format!(
            "{name} must be a whole number from 1 to {max}, not {v:?}"
        ))),
    }
}

/// The schema of a whole number from 1 to `max`, `default` when absent.
fn whole_number_schema(max: usize, default: usize) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(max as u64))
        .default(Some(default.into()))
        .into()
}

/// Items per page, 1 to 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit(pub(crate) usize);

impl Default for Limit {
    fn default() -> Self {
        Self(DEFAULT_LIMIT)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        whole_number(d, "limit", MAX_LIMIT).map(Self)
    }
}

impl PartialSchema for Limit {
    fn schema() -> RefOr<Schema> {
        whole_number_schema(MAX_LIMIT, DEFAULT_LIMIT)
    }
}

impl ToSchema for Limit {}

/// A page number, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageNumber(pub(crate) usize);

impl Default for PageNumber {
    fn default() -> Self {
        Self(1)
    }
}

impl<'de> Deserialize<'de> for PageNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        whole_number(d, "page", MAX_PAGE).map(Self)
    }
}

impl PartialSchema for PageNumber {
    fn schema() -> RefOr<Schema> {
        whole_number_schema(MAX_PAGE, 1)
    }
}

impl ToSchema for PageNumber {}

/// A block height to list blocks before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockCursor(pub(crate) u64);

impl<'de> Deserialize<'de> for BlockCursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = text(d)?;
        v.parse()
            .map(Self)
            .map_err(|_| D::Error::custom(format!("before must be a block height, not {v:?}")))
    }
}

impl PartialSchema for BlockCursor {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).into()
    }
}

impl ToSchema for BlockCursor {}

/// A place in an address's history, `block-index`, as a page's `nextCursor` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxCursor(pub(crate) u64, pub(crate) u32);

impl<'de> Deserialize<'de> for TxCursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = text(d)?;
        v.split_once('-')
            .and_then(|(n, i)| Some(Self(n.parse().ok()?, i.parse().ok()?)))
            .ok_or_else(|| {
                D::Error::custom(format!(
                    "before must be a cursor from nextCursor (block-index), not {v:?}"
                ))
            })
    }
}

impl PartialSchema for TxCursor {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]+-[0-9]+$")).into()
    }
}

impl ToSchema for TxCursor {}

/// No parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct NoQuery {}

/// A page of blocks.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct BlocksQuery {
    /// Blocks strictly below this height (a page's `nextCursor`).
    #[param(inline)]
    pub(crate) before: Option<BlockCursor>,
    /// Items per page, 1 to 500 (default 50).
    #[param(inline)]
    #[serde(default)]
    pub(crate) limit: Limit,
}

/// A numbered page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// Page number from 1.
    #[param(inline)]
    #[serde(default)]
    pub(crate) page: PageNumber,
    /// Items per page, 1 to 500 (default 50).
    #[param(inline)]
    #[serde(default)]
    pub(crate) limit: Limit,
}

/// A page of an address's history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// Transactions strictly before this cursor (a page's `nextCursor`).
    #[param(inline)]
    pub(crate) before: Option<TxCursor>,
    /// Items per page, 1 to 500 (default 50).
    #[param(inline)]
    #[serde(default)]
    pub(crate) limit: Limit,
}

/// What to search for.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// A block height, a block or transaction hash, or an address.
    #[serde(default)]
    pub(crate) q: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, String> {
        btcr_http::parse_query(raw).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn parameters_are_checked() {
        assert!(parse::<BlocksQuery>("limit=0").unwrap_err().contains("limit must be"));
        assert!(parse::<BlocksQuery>("limit=501").unwrap_err().contains("limit must be"));
        assert_eq!(parse::<BlocksQuery>("limit=500").unwrap().limit, Limit(500));
        assert_eq!(parse::<BlocksQuery>("").unwrap().limit, Limit(DEFAULT_LIMIT));
        assert!(parse::<BlocksQuery>("x=1").unwrap_err().contains("unknown parameter"));
        assert!(parse::<BlocksQuery>("limit=1&limit=2").unwrap_err().contains("duplicate"));
        assert!(parse::<BlocksQuery>("before=abc").unwrap_err().contains("before must be"));
        assert_eq!(parse::<HistoryQuery>("before=7-3").unwrap().before, Some(TxCursor(7, 3)));
        assert!(parse::<HistoryQuery>("before=7").unwrap_err().contains("cursor"));
        assert!(parse::<PageQuery>("page=0").unwrap_err().contains("page must be"));
        assert!(parse::<NoQuery>("a=1").unwrap_err().contains("unknown parameter"));
        // Values are percent-decoded.
        assert_eq!(parse::<SearchQuery>("q=%20 12%2B").unwrap().q, "  12+");
    }
}
