//! End-to-end tests: `btcr dev` runs as a separate process and is driven over JSON-RPC.

mod crash;
mod erc20;
mod hostile;
mod network;
mod readme;
mod rejections;
mod rest;
mod rpc;
mod transfers;
mod wallet;
mod ws;

use std::path::Path;

/// The `btcr` binary under test.
pub fn btcr_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_btcr"))
}

/// Chain id of `btcr dev`.
pub const CHAIN_ID: u64 = 1337;
