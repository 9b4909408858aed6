//! The repository's compiled contracts (`contracts/build`, produced by
//! `scripts/compile-contracts.sh`) and their Solidity interfaces.

use alloy_primitives::Bytes;
use alloy_sol_types::{SolConstructor, sol};
use eyre::{WrapErr, eyre};

sol! {
    /// The ERC-20 token of `contracts/src/BtcrToken.sol`.
    #[derive(Debug)]
    contract BtcrToken {
        constructor(string name_, string symbol_, uint256 initialSupply);
        event Transfer(address indexed from, address indexed to, uint256 value);
        event Approval(address indexed owner, address indexed spender, uint256 value);
        function transfer(address to, uint256 amount) external returns (bool);
        function balanceOf(address account) external view returns (uint256);
        function approve(address spender, uint256 amount) external returns (bool);
        function transferFrom(address from, address to, uint256 amount) external returns (bool);
    }
}

const BTCR_TOKEN_JSON: &str = include_str!("../../../contracts/build/BtcrToken.json");
const GREEDY_TOKEN_JSON: &str = include_str!("../../../contracts/build/GreedyToken.json");

/// Creation bytecode of a build artifact.
fn bytecode(artifact: &str) -> eyre::Result<Bytes> {
    let json: serde_json::Value = serde_json::from_str(artifact).wrap_err("artifact JSON")?;
    let hex = json["bytecode"].as_str().ok_or_else(|| eyre!("artifact without bytecode"))?;
    hex.parse().wrap_err("artifact bytecode")
}

/// Init code deploying a `BtcrToken` with the given constructor arguments.
pub fn btcr_token_init_code(
    name: &str,
    symbol: &str,
    supply: alloy_primitives::U256,
) -> eyre::Result<Bytes> {
    let mut code = bytecode(BTCR_TOKEN_JSON)?.to_vec();
    let args = BtcrToken::constructorCall {
        name_: name.to_owned(),
        symbol_: symbol.to_owned(),
        initialSupply: supply,
    };
    code.extend_from_slice(&args.abi_encode());
    Ok(code.into())
}

/// Init code deploying a `GreedyToken`: ERC-20 views that burn all the gas they get.
pub fn greedy_token_init_code() -> eyre::Result<Bytes> {
    bytecode(GREEDY_TOKEN_JSON)
}
