//! ERC-20 views run on the head state: token balances of an address and a token's details,
//! within a gas budget per answer.

use alloy_primitives::Address;
use alloy_sol_types::SolCall;
use btcr_http::ApiError;
use btcr_interfaces::ChainView;

use crate::{read_error, views::TokenBalance};

alloy_sol_types::sol! {
    function name() external view returns (string);
    function symbol() external view returns (string);
    function decimals() external view returns (uint8);
    function balanceOf(address owner) external view returns (uint256);
    function totalSupply() external view returns (uint256);
}

/// Gas allowed to each ERC-20 view.
const TOKEN_CALL_GAS: u64 = 100_000;
/// Gas all the ERC-20 views of one answer may use together: a holder of many tokens whose
/// views are costly gets fewer listed, not a request that runs for long.
const TOKEN_GAS_BUDGET: u64 = 5_000_000;
/// The most tokens an address page lists.
pub const MAX_TOKENS: usize = 100;

/// Runs ERC-20 views of token contracts on the latest state, within [`TOKEN_GAS_BUDGET`].
pub(crate) struct TokenViews<'a> {
    view: &'a dyn ChainView,
    gas_left: u64,
}

impl<'a> TokenViews<'a> {
    pub(crate) fn new(view: &'a dyn ChainView) -> Self {
        Self { view, gas_left: TOKEN_GAS_BUDGET }
    }

    /// `call` on `token`; `None` when it reverts, does not decode (a contract that is not
    /// an ERC-20 after all) or the budget is spent.
    pub(crate) fn view<C: SolCall>(&mut self, token: Address, call: C) -> Option<C::Return> {
        let gas = TOKEN_CALL_GAS.min(self.gas_left);
        if gas < TOKEN_CALL_GAS / 10 {
            return None;
        }
        let request = alloy_rpc_types_eth::TransactionRequest::default()
            .to(token)
            .input(alloy_primitives::Bytes::from(call.abi_encode()).into());
        let outcome = self.view.call(&request, None, &btcr_execution::CallBudget::new(gas)).ok()?;
        self.gas_left = self.gas_left.saturating_sub(outcome.gas_used());
        match outcome {
            btcr_execution::CallOutcome::Success { output, .. } => {
                C::abi_decode_returns(&output).ok()
            }
            _ => None,
        }
    }

    fn spent(&self) -> bool {
        self.gas_left < TOKEN_CALL_GAS / 10
    }
}

/// The balances `holder` has of the tokens it sent or received, zero balances left out.
pub(crate) fn token_balances(
    view: &dyn ChainView,
    holder: Address,
) -> Result<Vec<TokenBalance>, ApiError> {
    let tokens = view.address_tokens(&holder, MAX_TOKENS).map_err(read_error)?;
    let mut views = TokenViews::new(view);
    let mut out = Vec::new();
    for token in tokens {
        if views.spent() {
            break;
        }
        let Some(balance) = views.view(token, balanceOfCall { owner: holder }) else { continue };
        if balance.is_zero() {
            continue;
        }
        out.push(TokenBalance {
            token: token.to_string(),
            name: views.view(token, nameCall {}),
            symbol: views.view(token, symbolCall {}),
            decimals: views.view(token, decimalsCall {}),
            balance: balance.to_string(),
        });
    }
    Ok(out)
}
