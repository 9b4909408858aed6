//! Architecture invariants read from the manifests: dependencies point one way.
//!
//! - `primitives`, `poh` and `trie` do no IO: no store, no network, no async runtime.
//! - `consensus`, `txpool` and `execution` never see the RPC server, the node or the
//!   concrete store.
//! - Only the HTTP crates (`http`, the server; `rpc`, `explorer`, `portal`, `accounts`,
//!   `notify`, its routers; `notify` also posts webhooks) know HTTP; `interfaces`, between them and the chain, knows neither HTTP nor the store.
//! - Only `consensus` may import the BFT library, and only `network` libp2p itself.
//! - Library crates do not use `eyre` (only the binary and the test harness).
//! - The crates on the consensus path never link an SQL, queue or cache client: the
//!   accounts service, notifications and indexers that use PostgreSQL, RabbitMQ or Redis
//!   stay out of block production.

use std::{collections::BTreeMap, path::Path};

/// The `[dependencies]` names of every crate under `crates/` and `bin/`.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = BTreeMap::new();
    for group in ["crates", "bin"] {
        for entry in std::fs::read_dir(root.join(group)).unwrap() {
            let dir = entry.unwrap().path();
            let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else { continue };
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let mut deps = Vec::new();
            let mut in_deps = false;
            for line in manifest.lines() {
                let line = line.trim();
                if line.starts_with('[') {
                    in_deps = line == "[dependencies]";
                    continue;
                }
                if in_deps
                    && let Some((dep, _)) = line.split_once(['.', ' ', '='])
                    && !dep.is_empty()
                    && !dep.starts_with('#')
                {
                    deps.push(dep.trim().to_owned());
                }
            }
            out.insert(name, deps);
        }
    }
    out
}

fn assert_none(crate_name: &str, deps: &[String], forbidden: &[&str]) {
    for f in forbidden {
        assert!(
            !deps.iter().any(|d| d == f || d.starts_with(&format!("{f}-"))),
            "crate {crate_name} must not depend on {f}"
        );
    }
}

#[test]
fn dependencies_point_one_way() {
    let all = dependencies();
    assert!(all.len() >= 10, "found crates: {:?}", all.keys());
    for name in ["primitives", "poh", "trie"] {
        assert_none(
            name,
            &all[name],
            &["redb", "tokio", "axum", "libp2p", "btcr-storage", "btcr-rpc", "btcr-node"],
        );
    }
    for name in ["consensus", "txpool", "execution"] {
        assert_none(
            name,
            &all[name],
            &["redb", "axum", "libp2p", "btcr-storage", "btcr-rpc", "btcr-node", "btcr-network"],
        );
    }
    assert_none("interfaces", &all["interfaces"], &["axum", "redb", "btcr-storage", "btcr-node"]);
    for name in [
        "primitives",
        "crypto",
        "poh",
        "trie",
        "storage",
        "execution",
        "txpool",
        "consensus",
        "staking",
        "network",
        "interfaces",
    ] {
        assert_none(
            name,
            &all[name],
            &[
                "sqlx",
                "postgres",
                "tokio-postgres",
                "rusqlite",
                "diesel",
                "sea-orm",
                "redis",
                "fred",
                "lapin",
                "amqprs",
                "deadpool",
                "bb8",
                "reqwest",
                "lettre",
            ],
        );
    }
    // Library crates report errors as typed enums that keep their sources; `eyre` is for the
    // binary and the test harness.
    for (name, deps) in &all {
        if !["btcr", "testkit"].contains(&name.as_str()) {
            assert_none(name, deps, &["eyre", "anyhow"]);
        }
    }
    const HTTP_CRATES: [&str; 7] =
        ["http", "rpc", "explorer", "portal", "accounts", "notify", "indexer"];
    for (name, deps) in &all {
        if !HTTP_CRATES.contains(&name.as_str()) {
            assert_none(name, deps, &["axum", "hyper", "jsonrpsee", "tower"]);
        }
        if name != "network" {
            assert_none(name, deps, &["libp2p"]);
        }
        if name != "consensus" {
            // Any name the engine's crates may go by (`arc-malachitebft-*`, renamed
            // `malachitebft-*`, …).
            assert!(
                !deps.iter().any(|d| d.contains("malachite")),
                "crate {name} must not depend on the BFT library"
            );
        }
    }
}
