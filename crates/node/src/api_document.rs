//! The OpenAPI document each process serves at `/api/v1/openapi.json`: the parts of the
//! routers it mounts, merged (a node: the explorer, the accounts service and the
//! notifications; `btcr api`: the accounts service and the notifications).

use utoipa::openapi::OpenApi;

/// The document of everything a node serves under `/api/v1`.
pub fn openapi_document() -> String {
    let mut document = btcr_explorer::openapi();
    document.merge(btcr_accounts::http::openapi());
    document.merge(btcr_notify::http::openapi());
    document.info.description = Some(
        "Blocks, transactions, addresses, validators and search for explorers and wallets \
         (amounts are decimal strings in wei); accounts: sign-up, sign-in with TOTP, sessions, \
         API keys, a keystore backup, a watch list, and the administrators' users, audit log, \
         statistics and settings; notifications: subscriptions on watched addresses, the \
         portal's list, and signed webhooks with their delivery log."
            .into(),
    );
    to_json(document)
}

/// The document of `btcr api`: the accounts service alone.
pub fn accounts_document() -> String {
    let mut document = btcr_accounts::http::openapi();
    document.merge(btcr_notify::http::openapi());
    document.info.title = "BTCR accounts API".into();
    document.info.version = "1".into();
    document.info.description = Some(
        "Sign-up, sign-in with TOTP, sessions, API keys, a keystore backup, a watch list, and \
         the administrators' users, audit log, statistics and settings; subscriptions, the \
         portal's notifications and signed webhooks."
            .into(),
    );
    document.info.license = None;
    document.info.contact = None;
    to_json(document)
}

fn to_json(document: OpenApi) -> String {
    document.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The portal's API types are generated from `web/openapi.json` (`npm run gen:api`), so
    /// that file must be the node's document. `BTCR_UPDATE_OPENAPI=1` rewrites it.
    #[test]
    fn the_portal_is_built_from_the_nodes_document() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/openapi.json");
        let document = openapi_document();
        if std::env::var_os("BTCR_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &document).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == document,
            "web/openapi.json differs from the document the handlers make: run \
             `BTCR_UPDATE_OPENAPI=1 cargo nextest run -p btcr-node api_document`, then \
             scripts/build-portal.sh, and commit web/openapi.json, web/src/lib/api.gen.ts \
             and web/dist"
        );
    }

    #[test]
    fn the_nodes_document_holds_both_parts_and_every_schema_it_names() {
        let json: serde_json::Value = serde_json::from_str(&openapi_document()).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
        let paths = json["paths"].as_object().unwrap();
        for path in [
            "/api/v1/blocks",
            "/api/v1/auth/login",
            "/api/v1/me/keystore",
            "/api/v1/admin/settings",
            "/api/v1/me/webhooks/{id}/messages",
        ] {
            assert!(paths.contains_key(path), "{path} is missing");
        }
        let schemas = json["components"]["schemas"].as_object().unwrap();
        let text = json.to_string();
        for reference in text.split("#/components/schemas/").skip(1) {
            let name: String = reference.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "{name} is referenced but not defined");
        }
        let accounts: serde_json::Value = serde_json::from_str(&accounts_document()).unwrap();
        assert!(accounts["paths"].get("/api/v1/blocks").is_none());
        assert_eq!(accounts["paths"].as_object().unwrap().len(), paths.len() - 10);
    }
}
