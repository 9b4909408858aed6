//! The operations endpoints (`--metrics.addr`): `/metrics` in the OpenMetrics text format
//! with the chain's figures moving as it works, `/health`, `/ready`, labels that a client
//! cannot multiply, and what a hostile client sends them.

use std::{collections::BTreeMap, time::Duration};

use alloy_primitives::{Address, U256};
use btcr_testkit::{DevProcess, TxBuilder, WsClient, dev_key};
use serde_json::{Value, json};

use crate::{CHAIN_ID, btcr_bin, raw_request};

/// The samples of a scrape: series (name and labels, as written) → value.
pub type Samples = BTreeMap<String, f64>;

/// `http://ADDR` of the operations endpoints, from the banner's `Metrics` line.
pub fn metrics_base(node: &DevProcess) -> eyre::Result<String> {
    let line = node.announced("Metrics")?;
    let url = line.split_whitespace().next().unwrap_or_default();
    Ok(url.trim_end_matches("/metrics").to_owned())
}

/// Scrapes `/metrics`: the text, checked for the format's framing, and its samples.
pub fn scrape(base: &str) -> eyre::Result<(String, Samples)> {
    let (status, headers, text) = raw_request(base, "GET /metrics HTTP/1.1", "")?;
    assert_eq!(status, 200, "{text}");
    let content_type = headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.as_str());
    assert_eq!(content_type, Some("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    assert!(text.ends_with("# EOF\n"), "no closing # EOF: {text}");
    assert_eq!(text.matches("# EOF").count(), 1, "one # EOF only");
    let mut samples = Samples::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').expect("a sample line has a value");
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("a sample's value is a number: {line}")),
        };
        samples.insert(series.to_owned(), value);
    }
    Ok((text, samples))
}

/// The value of `series`, which must be there.
fn value(samples: &Samples, series: &str) -> f64 {
    *samples.get(series).unwrap_or_else(|| panic!("no series {series}"))
}

/// The JSON answer of `GET path`.
fn get_json(base: &str, path: &str) -> eyre::Result<(u16, Value)> {
    let (status, _, body) = raw_request(base, &format!("GET {path} HTTP/1.1"), "")?;
    Ok((status, serde_json::from_str(&body)?))
}

/// `btcr dev` with 100 ms blocks and its operations endpoints on a free port, and their
/// `http://ADDR`.
fn dev_with_metrics(datadir: &std::path::Path) -> eyre::Result<(DevProcess, String)> {
    let args = ["--block-time", "100ms", "--metrics.addr", "127.0.0.1:0"];
    let node = DevProcess::start(btcr_bin(), datadir, &args)?;
    let base = metrics_base(&node)?;
    Ok((node, base))
}

#[test]
fn metrics_health_and_ready_describe_a_working_dev_chain() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let (node, base) = dev_with_metrics(dir.path())?;
    let rpc = &node.rpc;

    // Work for the figures: a transfer, known calls, unknown methods by the hundred (each
    // name different, as a client fishing for a label explosion would send), a failed
    // login, and a WebSocket subscription held open.
    let key = dev_key(0);
    let raw =
        TxBuilder::transfer(CHAIN_ID, 0, Address::repeat_byte(7), U256::from(5)).eip1559(&key);
    let hash = rpc.send_raw(&raw)?;
    let receipt = rpc.wait_for_receipt(hash, Duration::from_secs(20))?;
    let included = btcr_testkit::rpc::quantity(&receipt["blockNumber"])?;
    for _ in 0..3 {
        rpc.call("eth_blockNumber", json!([]))?;
    }
    for i in 0..300 {
        let method = format!("evil_{:040x}", i * 7919);
        assert!(rpc.call(&method, json!([])).is_err());
    }
    let login = r#"{"email":"nobody@example.com","password":"not the right password"}"#;
    let (status, _, body) = raw_request(
        rpc.url(),
        "POST /api/v1/auth/login HTTP/1.1\r\nContent-Type: application/json",
        login,
    )?;
    assert_eq!(status, 401, "{body}");
    let mut ws = WsClient::connect(&rpc.url().replacen("http://", "ws://", 1))?;
    ws.subscribe(json!(["newHeads"]))?;

    let (text, samples) = scrape(&base)?;
    assert!(value(&samples, "btcr_chain_head_height") >= included as f64, "{text}");
    assert_eq!(
        value(&samples, "btcr_chain_finalized_height"),
        value(&samples, "btcr_chain_head_height")
    );
    assert!(value(&samples, "btcr_transactions_total") >= 1.0);
    assert!(value(&samples, "btcr_blocks_total") >= included as f64);
    assert!(value(&samples, "btcr_block_commit_seconds_count") >= included as f64);
    assert!(value(&samples, "btcr_block_transactions_count") >= included as f64);
    assert!(value(&samples, "btcr_gas_used_total") >= 21_000.0);
    assert!(value(&samples, "btcr_block_interval_seconds_sum") > 0.0);
    assert_eq!(value(&samples, "btcr_validator_set_size"), 1.0);
    assert_eq!(value(&samples, "btcr_certificate_signers"), 1.0);
    assert_eq!(value(&samples, "btcr_certificate_missing_signers_total"), 0.0);
    assert!(
        value(&samples, r#"btcr_rpc_requests_total{method="eth_blockNumber",status="ok"}"#) >= 3.0
    );
    assert!(
        value(&samples, r#"btcr_rpc_requests_total{method="eth_sendRawTransaction",status="ok"}"#)
            >= 1.0
    );
    assert_eq!(
        value(&samples, r#"btcr_rpc_requests_total{method="other",status="-32601"}"#),
        300.0
    );
    assert!(value(&samples, r#"btcr_rpc_request_duration_seconds_count{method="other"}"#) >= 300.0);
    assert_eq!(value(&samples, r#"btcr_logins_total{result="failed"}"#), 1.0);
    assert_eq!(value(&samples, "btcr_ws_connections"), 1.0);
    assert_eq!(value(&samples, r#"btcr_ws_subscriptions{kind="newHeads"}"#), 1.0);
    assert_eq!(value(&samples, "btcr_txpool_pending"), 0.0);
    assert!(value(&samples, "btcr_txpool_capacity") > 0.0);
    assert!(value(&samples, "btcr_store_bytes") > 0.0);
    assert!(value(&samples, "btcr_disk_available_bytes") > 0.0);
    assert!(value(&samples, "btcr_process_start_time_seconds") > 1.7e9);
    assert!(value(&samples, r#"btcr_consumer_lag_blocks{consumer="address-index"}"#) <= 50.0);
    assert_eq!(value(&samples, "btcr_notify_queue_depth"), 0.0);
    assert!(value(&samples, "btcr_head_age_seconds") < 15.0);
    // No label carries anything a client chose: no address, no hash, no method it made up.
    assert!(!text.contains("evil_"), "a client's method name became a label");
    assert!(
        !text.lines().any(|l| !l.starts_with('#') && l.contains("0x")),
        "a series carries an address or a hash"
    );
    assert!(samples.len() < 2_000, "{} series", samples.len());

    drop(ws);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(1_100));
        let (_, samples) = scrape(&base)?;
        if value(&samples, "btcr_ws_connections") == 0.0 {
            assert_eq!(value(&samples, r#"btcr_ws_subscriptions{kind="newHeads"}"#), 0.0);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "a closed WebSocket is still counted");
    }

    let (status, health) = get_json(&base, "/health")?;
    assert_eq!((status, &health["status"]), (200, &json!("ok")));
    let (status, ready) = get_json(&base, "/ready")?;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["checks"]["synced"]["ok"], true);
    assert_eq!(ready["checks"]["peers"]["ok"], true, "a dev chain needs no peers");
    assert_eq!(ready["checks"]["database"]["backend"], "sqlite");
    assert_eq!(ready["checks"]["database"]["ok"], true);
    Ok(())
}

/// The operations address takes only its three reads: other paths, methods and bodies are
/// refused or ignored, a crowd of scrapers is served or told to come back, and the node
/// keeps serving both its API and its metrics.
#[test]
fn the_metrics_address_refuses_what_it_does_not_serve() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let (node, base) = dev_with_metrics(dir.path())?;

    // Not the public API: JSON-RPC, the REST API and the portal are not here.
    let (status, _, body) = raw_request(
        &base,
        "POST / HTTP/1.1\r\nContent-Type: application/json",
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#,
    )?;
    assert_eq!(status, 404, "{body}");
    for path in ["/api/v1/summary", "/metrics/../api/v1/summary", "/metrics/extra", "/%2e%2e/"] {
        let (status, answer) = get_json(&base, path)?;
        assert_eq!(status, 404, "{path}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("/metrics"));
    }
    // Writes are refused.
    for method in ["POST", "PUT", "DELETE"] {
        let (status, _, _) = raw_request(&base, &format!("{method} /metrics HTTP/1.1"), "{}")?;
        assert_eq!(status, 405, "{method} /metrics");
    }
    // A body is never read, however big it says it is.
    let big = "x".repeat(256 * 1024);
    let (status, _, _) = raw_request(&base, "GET /health HTTP/1.1", &big)?;
    assert!(status == 200 || status == 413, "{status}");
    // Sixty-four scrapers at once: each is served or asked to retry, nothing else.
    let scrapers: Vec<_> = (0..64)
        .map(|_| {
            let base = base.clone();
            std::thread::spawn(move || raw_request(&base, "GET /metrics HTTP/1.1", ""))
        })
        .collect();
    let mut served = 0;
    for scraper in scrapers {
        let (status, headers, _) = scraper.join().expect("the scraper thread")?;
        match status {
            200 => served += 1,
            503 => assert!(headers.iter().any(|(k, v)| k == "retry-after" && v == "1")),
            other => panic!("a scrape answered {other}"),
        }
    }
    assert!(served > 0);
    // Still serving, both addresses.
    scrape(&base)?;
    assert!(node.rpc.call("eth_blockNumber", json!([])).is_ok());
    Ok(())
}

/// The names a scrape offers to queries: each family's samples as Prometheus stores them
/// (a counter's `_total`, a histogram's `_bucket`, `_sum` and `_count`, an info's `_info`).
fn queryable_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else { continue };
        let mut parts = rest.split_whitespace();
        let (Some(family), Some(kind)) = (parts.next(), parts.next()) else { continue };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_sum", "_count", "_created"],
            "info" => &["_info"],
            _ => &[""],
        };
        names.extend(suffixes.iter().map(|s| format!("{family}{s}")));
    }
    names
}

/// The metric names that `text` (a dashboard or a rule file) queries: every word that
/// starts with one of the project's or the engine's prefixes.
fn queried_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !text.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let at_start = i == 0 || !(word(bytes[i - 1]) || bytes[i - 1] == b':');
        let rest = &text[i..];
        if at_start && (rest.starts_with("btcr_") || rest.starts_with("malachitebft_")) {
            let end = rest.bytes().position(|b| !word(b)).unwrap_or(rest.len());
            names.insert(rest[..end].to_owned());
            i += end;
        } else {
            i += 1;
        }
    }
    names
}

/// Every file under `deploy/` that queries metrics: the dashboards and the alert rules.
fn deploy_queries() -> eyre::Result<Vec<(std::path::PathBuf, std::collections::BTreeSet<String>)>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let mut found = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json" || e == "yml" || e == "yaml") {
                let names = queried_names(&std::fs::read_to_string(&path)?);
                if !names.is_empty() {
                    found.push((path, names));
                }
            }
        }
    }
    Ok(found)
}

/// A node of a network serves the engine's own registry beside BTCR's, is not ready until
/// it has peers, and then is; every metric that a shipped dashboard panel or alert rule
/// queries is in its scrape.
#[test]
fn a_network_node_serves_the_engine_metrics_and_every_dashboard_metric_exists() -> eyre::Result<()>
{
    use std::process::Command;
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("net");
    let p2p = btcr_testkit::free_ports(4)?;
    let gossip = btcr_testkit::free_ports(4)?;
    let status = Command::new(btcr_bin())
        .args(["testnet", "--validators", "4", "--block-time", "200ms"])
        .args(["--p2p-port", &p2p.to_string(), "--gossip-port", &gossip.to_string()])
        .arg("--out")
        .arg(&out)
        .status()?;
    assert!(status.success(), "btcr testnet failed");
    let home = |i: usize| out.join(format!("node{i}"));
    let first =
        DevProcess::start_node_with(btcr_bin(), &home(0), &["--metrics.addr", "127.0.0.1:0"])?;
    let base = metrics_base(&first)?;
    let (status, ready) = get_json(&base, "/ready")?;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["ready"], false);
    assert_eq!(ready["checks"]["peers"]["ok"], false, "{ready}");

    let mut others = Vec::new();
    for i in 1..4 {
        others.push(DevProcess::start_node_with(
            btcr_bin(),
            &home(i),
            &["--metrics.addr", "127.0.0.1:0"],
        )?);
    }
    let ready_now = btcr_testkit::eventually_within(Duration::from_secs(60), || {
        let height = first.rpc.block_number().unwrap_or(0);
        height >= 3 && get_json(&base, "/ready").is_ok_and(|(status, _)| status == 200)
    });
    assert!(ready_now, "not ready: {:?}", get_json(&base, "/ready")?);

    let (text, samples) = scrape(&base)?;
    assert!(value(&samples, "btcr_peers") >= 1.0, "{text}");
    assert!(value(&samples, "btcr_consensus_height") >= 1.0);
    assert!(value(&samples, "btcr_block_finality_seconds_count") >= 1.0);
    assert_eq!(value(&samples, "btcr_validator_set_size"), 4.0);
    assert!(value(&samples, "btcr_certificate_signers") >= 3.0, "a quorum of 4 signs");
    assert!(
        samples.keys().any(|series| series.starts_with("malachitebft_core_consensus_height")),
        "no engine metrics in\n{text}"
    );
    let offered = queryable_names(&text);
    let queried = deploy_queries()?;
    assert!(queried.len() >= 2, "no dashboards or rules found under deploy/");
    for (path, names) in queried {
        let missing: Vec<_> = names.iter().filter(|n| !offered.contains(*n)).collect();
        assert!(
            missing.is_empty(),
            "{} queries metrics a node does not serve: {missing:?}\nserved: {offered:?}",
            path.display()
        );
    }
    drop(others);
    Ok(())
}

/// `btcr api --metrics.addr` (the accounts service on its own): its logins counted, its
/// delivery queue sampled, ready while its database answers.
#[test]
fn the_api_service_serves_its_own_metrics_and_readiness() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let database = format!("sqlite:{}", dir.path().join("accounts.db").display());
    let args = [
        "--node",
        "http://127.0.0.1:1",
        "--accounts.database-url",
        &database,
        "--metrics.addr",
        "127.0.0.1:0",
    ];
    let api = btcr_testkit::ApiProcess::start(btcr_bin(), &args)?;
    let line = api.announced("Metrics")?;
    let base =
        line.split_whitespace().next().unwrap_or_default().trim_end_matches("/metrics").to_owned();
    let login = r#"{"email":"nobody@example.com","password":"not the right password"}"#;
    let (status, _, body) = raw_request(
        &api.url,
        "POST /api/v1/auth/login HTTP/1.1\r\nContent-Type: application/json",
        login,
    )?;
    assert_eq!(status, 401, "{body}");
    let (text, samples) = scrape(&base)?;
    assert_eq!(value(&samples, r#"btcr_logins_total{result="failed"}"#), 1.0, "{text}");
    assert_eq!(value(&samples, "btcr_notify_queue_depth"), 0.0);
    assert!(!text.contains("malachitebft_"), "no consensus engine runs here");
    let (status, ready) = get_json(&base, "/ready")?;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["database"]["backend"], "sqlite");
    Ok(())
}
