//! Prints a signed EIP-1559 transfer as raw hex, ready for `eth_sendRawTransaction`.
//!
//! ```sh
//! cargo run -q -p btcr-testkit --example sign-transfer -- [FROM_INDEX] [NONCE] [TO] [WEI] [CHAIN_ID]
//! ```
//!
//! Defaults: dev account 0 sends 1 BTCR to dev account 1 with nonce 0 on chain 1337, at a
//! 10 gwei fee cap and a 1 gwei tip.

use alloy_primitives::{Address, U256};
use btcr_testkit::{TxBuilder, dev_key};
use eyre::WrapErr;

fn main() -> eyre::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let from: u32 = arg(0).unwrap_or("0").parse().wrap_err("FROM_INDEX")?;
    let nonce: u64 = arg(1).unwrap_or("0").parse().wrap_err("NONCE")?;
    let to: Address = match arg(2) {
        Some(to) => to.parse().wrap_err("TO")?,
        None => dev_key(1).address(),
    };
    let wei: U256 = arg(3).unwrap_or("1000000000000000000").parse().wrap_err("WEI")?;
    let chain_id: u64 = arg(4).unwrap_or("1337").parse().wrap_err("CHAIN_ID")?;
    let raw = TxBuilder::transfer(chain_id, nonce, to, wei).eip1559(&dev_key(from));
    println!("{raw}");
    Ok(())
}
