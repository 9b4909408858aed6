//! The README's tour works: the signed transfer it shows, sent with `curl` exactly as
//! written, gets a receipt on a fresh dev chain.

use std::{process::Command, time::Duration};

use alloy_primitives::B256;
use btcr_testkit::DevProcess;

use crate::btcr_bin;

#[test]
fn the_readme_curl_transfer_gets_a_receipt() -> eyre::Result<()> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))?;
    let line = readme
        .lines()
        .find(|l| l.starts_with("curl") && l.contains("eth_sendRawTransaction"))
        .expect("the README shows a raw transaction sent with curl");
    let body = line.split_once("-d '").expect("a -d body").1.trim_end_matches('\'');

    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let response: serde_json::Value = match Command::new("curl")
        .args(["-s", node.rpc.url(), "-H", "content-type: application/json", "-d", body])
        .output()
    {
        Ok(out) if out.status.success() => serde_json::from_slice(&out.stdout)?,
        // Without curl on the machine, send the same bytes over HTTP ourselves.
        _ => node.rpc.post(&serde_json::from_str(body)?)?,
    };
    let hash: B256 = serde_json::from_value(response["result"].clone())
        .map_err(|e| eyre::eyre!("{response}: {e}"))?;
    let receipt = node.rpc.wait_for_receipt(hash, Duration::from_secs(20))?;
    assert_eq!(receipt["status"], "0x1");
    Ok(())
}
