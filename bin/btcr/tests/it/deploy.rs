//! What `deploy/` ships, checked offline: Prometheus' configuration and alert rules with
//! `promtool` (the rules' own unit tests included, one for every alert), Alertmanager's with
//! `amtool`, the Grafana dashboards against the provisioned datasource, the Compose file's
//! services and health checks, the Dockerfile's build, and the Kubernetes manifests against
//! the API's vendored schemas (`deploy/k8s/check.py`) with the Secrets their script makes. That every metric a panel or a
//! rule names is served is `metrics::a_network_node_serves_…`.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Runs `tool args…` (the tool named by `env` when set), which must succeed.
fn run_tool(env: &str, tool: &str, args: &[&str]) -> eyre::Result<String> {
    let program = std::env::var(env).unwrap_or_else(|_| tool.to_owned());
    let out = Command::new(&program)
        .args(args)
        .current_dir(deploy())
        .output()
        .map_err(|e| eyre::eyre!("running {program} (scripts/services.sh installs it): {e}"))?;
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    Ok(text)
}

#[test]
fn prometheus_rules_pass_their_tests_and_every_alert_has_one() -> eyre::Result<()> {
    run_tool("BTCR_PROMTOOL", "promtool", &["check", "config", "prometheus/prometheus.yml"])?;
    let tested = run_tool(
        "BTCR_PROMTOOL",
        "promtool",
        &["test", "rules", "prometheus/rules/btcr.test.yml"],
    )?;
    assert!(tested.contains("SUCCESS"), "{tested}");
    let rules = std::fs::read_to_string(deploy().join("prometheus/rules/btcr.yml"))?;
    let tests = std::fs::read_to_string(deploy().join("prometheus/rules/btcr.test.yml"))?;
    let alerts: Vec<&str> =
        rules.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")).collect();
    for wanted in [
        "BtcrHeightStalled",
        "BtcrFinalityLag",
        "BtcrValidatorMissingPrecommits",
        "BtcrFewPeers",
        "BtcrPoolFull",
        "BtcrRpcErrors",
        "BtcrNotifyBacklog",
        "BtcrDiskLow",
    ] {
        assert!(alerts.contains(&wanted), "no {wanted} rule");
    }
    for alert in alerts {
        let fires =
            tests.contains(&format!("alertname: {alert}\n        exp_alerts:\n          -"));
        assert!(fires, "no test shows {alert} firing");
    }
    Ok(())
}

#[test]
fn alertmanager_configuration_is_valid() -> eyre::Result<()> {
    run_tool("BTCR_AMTOOL", "amtool", &["check-config", "alertmanager/alertmanager.yml"])?;
    Ok(())
}

#[test]
fn dashboards_use_the_provisioned_datasource_and_query_on_every_panel() -> eyre::Result<()> {
    let provisioned =
        std::fs::read_to_string(deploy().join("grafana/provisioning/datasources/prometheus.yml"))?;
    let uid = provisioned
        .lines()
        .find_map(|l| l.trim().strip_prefix("uid: "))
        .expect("the datasource has a fixed uid")
        .to_owned();
    let mut dashboard_uids = BTreeSet::new();
    let mut n_dashboards = 0;
    for entry in std::fs::read_dir(deploy().join("grafana/dashboards"))? {
        let path = entry?.path();
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        n_dashboards += 1;
        let name = path.display();
        assert!(dashboard_uids.insert(dashboard["uid"].as_str().unwrap().to_owned()), "{name}");
        let panels = dashboard["panels"].as_array().expect("panels");
        assert!(panels.len() >= 10, "{name}: {} panels", panels.len());
        let mut ids = BTreeSet::new();
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or_default();
            assert!(ids.insert(panel["id"].as_u64().unwrap()), "{name}: id of {title} repeats");
            assert_eq!(panel["datasource"]["uid"], uid.as_str(), "{name}: {title}");
            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{name}: {title} queries nothing");
            for target in targets {
                assert_eq!(target["datasource"]["uid"], uid.as_str(), "{name}: {title}");
                assert!(!target["expr"].as_str().unwrap_or_default().is_empty());
            }
        }
    }
    assert!(n_dashboards >= 1);
    Ok(())
}

/// The Compose file read as JSON (PyYAML expands its anchors and merge keys).
fn compose() -> eyre::Result<Value> {
    let out = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(deploy().join("compose.yml"))
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[test]
fn compose_runs_the_network_and_its_operations_with_health_checks() -> eyre::Result<()> {
    let compose = compose()?;
    let services = compose["services"].as_object().expect("services");
    let prometheus = std::fs::read_to_string(deploy().join("prometheus/prometheus.yml"))?;
    let mut metrics_ports = BTreeSet::new();
    for name in ["validator0", "validator1", "validator2", "validator3", "fullnode"] {
        let service = &services[name];
        let command: Vec<&str> =
            service["command"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(command.first(), Some(&"node"), "{name}");
        let at = command.iter().position(|a| *a == "--metrics.addr").expect("--metrics.addr");
        let port = command[at + 1].rsplit(':').next().unwrap().to_owned();
        assert!(prometheus.contains(&format!("validator0:{port}")), "{name} is not scraped");
        assert!(metrics_ports.insert(port.clone()), "{name} reuses a metrics port");
        assert_eq!(service["environment"]["BTCR_METRICS_PORT"], port.as_str(), "{name}");
        assert_eq!(service["image"], "btcr:local");
    }
    for name in [
        "validator0",
        "validator1",
        "validator2",
        "validator3",
        "fullnode",
        "postgres",
        "redis",
        "rabbitmq",
        "prometheus",
        "grafana",
        "alertmanager",
    ] {
        let service = services.get(name).unwrap_or_else(|| panic!("no {name} service"));
        assert!(service["healthcheck"].is_object(), "{name} has no health check");
    }
    let full: Vec<&str> = services["fullnode"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for flag in ["--accounts.database-url", "--redis-url", "--amqp-url"] {
        assert!(full.contains(&flag), "the full node does not use {flag}");
    }
    assert_eq!(services["testnet"]["build"]["dockerfile"], "deploy/Dockerfile");
    Ok(())
}

#[test]
fn the_image_builds_locked_in_stages_and_runs_unprivileged() -> eyre::Result<()> {
    let dockerfile = std::fs::read_to_string(deploy().join("Dockerfile"))?;
    let froms = dockerfile.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "not a multi-stage build");
    assert!(dockerfile.contains("cargo build --release --locked"));
    let user = dockerfile.lines().filter_map(|l| l.strip_prefix("USER ")).next_back();
    let user = user.expect("a USER line");
    assert!(!user.starts_with('0') && !user.starts_with("root"), "runs as {user}");
    assert!(dockerfile.contains("HEALTHCHECK"));
    Ok(())
}

/// Runs `deploy/k8s/check.py` on the kustomization in `dir`: its success and its report.
fn check_k8s(dir: &Path) -> eyre::Result<(bool, String)> {
    let out =
        Command::new("/usr/bin/python3").arg(deploy().join("k8s/check.py")).arg(dir).output()?;
    let report =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), report))
}

#[test]
fn kubernetes_manifests_pass_the_api_schemas_and_their_rules() -> eyre::Result<()> {
    let (ok, report) = check_k8s(&deploy().join("k8s"))?;
    assert!(ok, "{report}");
    for kind in ["StatefulSet", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget"] {
        assert!(report.contains(kind), "{report}");
    }
    // The check can fail: a misspelt field, a rolling update of the validators, a
    // Deployment without its autoscaler and a container that may escalate are each caught.
    let broken = tempfile::tempdir()?;
    for entry in std::fs::read_dir(deploy().join("k8s"))? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::copy(&path, broken.path().join(path.file_name().unwrap()))?;
        }
    }
    let edit = |file: &str, from: &str, to: &str| -> eyre::Result<()> {
        let path = broken.path().join(file);
        let text = std::fs::read_to_string(&path)?;
        assert!(text.contains(from), "{file} has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1))?;
        Ok(())
    };
    edit(
        "validators.yaml",
        "  podManagementPolicy: Parallel",
        "  podManagementPolicy: Parallel\n  replicaz: 3",
    )?;
    edit("validators.yaml", "    type: OnDelete", "    type: RollingUpdate")?;
    edit(
        "api.yaml",
        "kind: HorizontalPodAutoscaler",
        "kind: HorizontalPodAutoscaler\nx-unused: 1",
    )?;
    edit("full-nodes.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true")?;
    let (ok, report) = check_k8s(broken.path())?;
    assert!(!ok, "{report}");
    for expected in [
        "'replicaz' was unexpected",
        "must update OnDelete",
        "'x-unused' was unexpected",
        "allowPrivilegeEscalation must be false",
    ] {
        assert!(report.contains(expected), "{expected:?} not in\n{report}");
    }
    Ok(())
}

#[test]
fn the_secrets_script_gives_each_validator_its_own_home_reaching_the_others_by_name()
-> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("secrets");
    let status = Command::new("bash")
        .arg(deploy().join("k8s/make-secrets.sh"))
        .arg(&out)
        .env("BTCR", crate::btcr_bin())
        .env("BTCR_ACCOUNTS_DATABASE_URL", "postgres://btcr@db/btcr")
        .status()?;
    assert!(status.success());
    let secret = |file: &str| -> eyre::Result<Value> {
        let out = Command::new("/usr/bin/python3")
            .args([
                "-c",
                "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
            ])
            .arg(out.join(file))
            .output()?;
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    let decode = |value: &Value| -> eyre::Result<String> {
        let out = Command::new("base64")
            .arg("-d")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(value.as_str().unwrap().as_bytes())?;
                child.wait_with_output()
            })?;
        Ok(String::from_utf8(out.stdout)?)
    };
    let homes = secret("validator-homes.yaml")?;
    assert_eq!(homes["metadata"]["name"], "btcr-validator-homes");
    let data = homes["data"].as_object().unwrap();
    assert_eq!(data.len(), 1 + 4 * 3, "the genesis and three files per validator");
    let keys: BTreeSet<String> = (0..4)
        .map(|i| decode(&data[&format!("node{i}-validator.key")]))
        .collect::<Result<_, _>>()?;
    assert_eq!(keys.len(), 4, "each validator has a key of its own");
    let node1: Value = serde_json::from_str(&decode(&data["node1-node.json"])?)?;
    let peers = node1["peers"].as_array().unwrap();
    assert!(peers.contains(&Value::from("/dns4/btcr-validator-0.btcr-validator/tcp/26600")));
    assert_eq!(node1["p2pListen"], "/ip4/0.0.0.0/tcp/26600");
    let full = secret("full-node-home.yaml")?;
    let full_data = full["data"].as_object().unwrap();
    assert!(full_data.contains_key("node.json") && !full_data.contains_key("p2p.key"));
    let services = secret("services.yaml")?;
    assert_eq!(decode(&services["data"]["BTCR_ACCOUNTS_DATABASE_URL"])?, "postgres://btcr@db/btcr");
    assert!(services["data"].get("BTCR_REDIS_URL").is_none());
    Ok(())
}
