//! Running a transaction request against a state without committing anything: what
//! `eth_call` and `eth_estimateGas` answer.
//!
//! A request may leave out the sender (the zero address), the gas (the caller's cap), the
//! fees (then no fee is charged and the base fee does not apply) and the nonce (then it is
//! not checked). State overrides replace an account's balance, nonce, code or storage for
//! the one request.

use std::collections::HashMap;

use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bytes, Log, TxKind, U256, keccak256};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use btcr_primitives::{Account, EMPTY_CODE_HASH, StateError, StateReader};
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::result::{EVMError, ExecutionResult, InvalidTransaction},
};

use crate::{BlockContext, SPEC, db::BlockDb};

/// Gas below which no transaction can run: the intrinsic cost of a plain transfer.
const MIN_GAS: u64 = 21_000;

/// How a simulated call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// It returned.
    Success {
        /// Return data (for a creation: the deployed code).
        output: Bytes,
        /// Gas the transaction would pay for.
        gas_used: u64,
        /// Logs it emitted.
        logs: Vec<Log>,
    },
    /// It ran `REVERT`.
    Revert {
        /// The revert data (an ABI-encoded reason or custom error).
        output: Bytes,
        /// Gas the transaction would pay for.
        gas_used: u64,
    },
    /// It stopped with an exceptional halt (out of gas, invalid opcode, ...).
    Halt {
        /// Why, as the EVM names it.
        reason: String,
        /// Gas the transaction would pay for (all of it).
        gas_used: u64,
    },
}

impl CallOutcome {
    /// Gas the transaction would pay for.
    pub fn gas_used(&self) -> u64 {
        match self {
            Self::Success { gas_used, .. }
            | Self::Revert { gas_used, .. }
            | Self::Halt { gas_used, .. } => *gas_used,
        }
    }
}

/// Why a request could not be run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The request is not a valid transaction against the state (fees, balance, nonce,
    /// gas), with the reason a user reads.
    #[error("{0}")]
    Invalid(String),
    /// The state could not be read.
    #[error("execution failed: {0}")]
    Fatal(String),
}

/// Runs `request` on top of `state` in a block with context `ctx`, changing nothing. Gas is
/// the request's, or `gas_cap` when it names none, and never more than `gas_cap`.
pub fn simulate<S: StateReader + ?Sized>(
    state: &S,
    ctx: &BlockContext,
    request: &TransactionRequest,
    overrides: Option<&StateOverride>,
    gas_cap: u64,
) -> Result<CallOutcome, CallError> {
    let gas = request.gas.unwrap_or(gas_cap).min(gas_cap);
    Simulator::new(state, ctx, request, overrides)?.run(gas)
}

/// The least gas with which `request` succeeds, found by bisection between what one run
/// uses and `gas_cap` (or the request's own gas). A request that fails even with the most
/// gas returns that failure as `Err(Ok(outcome))`.
pub fn estimate_gas<S: StateReader + ?Sized>(
    state: &S,
    ctx: &BlockContext,
    request: &TransactionRequest,
    overrides: Option<&StateOverride>,
    gas_cap: u64,
) -> Result<u64, Result<CallOutcome, CallError>> {
    let mut sim = Simulator::new(state, ctx, request, overrides).map_err(Err)?;
    let mut hi = request.gas.unwrap_or(gas_cap).min(gas_cap);
    // With a fee, the sender cannot pay for more gas than its balance covers.
    if let Some(price) = sim.fee_per_gas().filter(|p| *p > 0) {
        let balance = sim.balance_of_sender().map_err(Err)?;
        let value = request.value.unwrap_or_default();
        // Not even the value and the cheapest transaction's fee: say so, as sending would.
        let least = value.saturating_add(U256::from(MIN_GAS) * U256::from(price));
        if balance < least {
            return Err(Err(CallError::Invalid(format!(
                "insufficient funds for gas * price + value: balance {balance}, cost {least}"
            ))));
        }
        let affordable = balance.saturating_sub(value) / U256::from(price);
        hi = hi.min(u64::try_from(affordable).unwrap_or(u64::MAX));
    }
    let first = sim.run(hi).map_err(Err)?;
    let CallOutcome::Success { gas_used, .. } = first else { return Err(Ok(first)) };
    // The gas used is a lower bound, and most calls need no more; refunds and the 63/64 rule
    // can make the limit needed higher. Try it, then a little above it.
    if gas_used < hi && matches!(sim.run(gas_used).map_err(Err)?, CallOutcome::Success { .. }) {
        return Ok(gas_used);
    }
    let mut lo = gas_used.max(MIN_GAS - 1);
    let optimistic = (gas_used + 2_300) * 64 / 63;
    if optimistic < hi {
        if matches!(sim.run(optimistic).map_err(Err)?, CallOutcome::Success { .. }) {
            hi = optimistic;
        } else {
            lo = optimistic;
        }
    }
    // Stop once the interval is within 1.5% of the answer: another run would not change
    // what a wallet pays by much.
    while hi - lo > 1 && (hi - lo) * 1000 / hi > 15 {
        let mid = lo + (hi - lo) / 2;
        match sim.run(mid).map_err(Err)? {
            CallOutcome::Success { .. } => hi = mid,
            _ => lo = mid,
        }
    }
    Ok(hi)
}

/// The accounts and storage slots `request` touches (sender, recipient, precompiles and the
/// proposer left out: they are warm anyway), and the gas it uses with that access list. A
/// request that fails still yields its list, with the failure alongside.
pub fn create_access_list<S: StateReader + ?Sized>(
    state: &S,
    ctx: &BlockContext,
    request: &TransactionRequest,
    overrides: Option<&StateOverride>,
    gas_cap: u64,
) -> Result<(AccessList, CallOutcome), CallError> {
    let gas = request.gas.unwrap_or(gas_cap).min(gas_cap);
    let mut sim = Simulator::new(state, ctx, request, overrides)?;
    let mut list = sim.tx.access_list.clone();
    // Declaring slots can change the path a call takes (gas-dependent code); a few rounds
    // settle it.
    for _ in 0..3 {
        sim.tx.access_list = list.clone();
        let (outcome, touched) = sim.run_traced(gas)?;
        let excluded = |a: &Address| {
            *a == sim.tx.caller
                || Some(*a) == sim.tx.kind.to().copied()
                || *a == ctx.fee_recipient
                || is_precompile(a)
        };
        let mut next: Vec<AccessListItem> = touched
            .into_iter()
            .filter(|(a, _)| !excluded(a))
            .map(|(address, mut keys)| {
                keys.sort_unstable();
                AccessListItem { address, storage_keys: keys }
            })
            .collect();
        next.sort_unstable_by_key(|item| item.address);
        let next = AccessList(next);
        if next == list {
            return Ok((list, outcome));
        }
        list = next;
    }
    sim.tx.access_list = list.clone();
    let (outcome, _) = sim.run_traced(gas)?;
    Ok((list, outcome))
}

/// Addresses 0x01 to 0x11: Prague's precompiles.
fn is_precompile(address: &Address) -> bool {
    address.0[..19].iter().all(|b| *b == 0) && (1..=0x11).contains(&address.0[19])
}

/// Accounts a run loaded, each with the storage slots it read or wrote.
type Touched = Vec<(Address, Vec<B256>)>;

/// One request ready to run, possibly several times with different gas limits.
struct Simulator<'a, S: ?Sized> {
    state: Overridden<'a, S>,
    ctx: &'a BlockContext,
    tx: TxEnv,
    /// The request names no fee: none is charged and the base fee is not enforced.
    free: bool,
}

impl<'a, S: StateReader + ?Sized> Simulator<'a, S> {
    fn new(
        state: &'a S,
        ctx: &'a BlockContext,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
    ) -> Result<Self, CallError> {
        let input = request.input.input().cloned().unwrap_or_default();
        if let (Some(a), Some(b)) = (&request.input.input, &request.input.data)
            && a != b
        {
            return Err(CallError::Invalid(
                "both \"data\" and \"input\" are set and not equal".into(),
            ));
        }
        let (tx_type, gas_price, priority) = match (
            request.gas_price,
            request.max_fee_per_gas,
            request.max_priority_fee_per_gas,
        ) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(CallError::Invalid(
                    "both gasPrice and maxFeePerGas or maxPriorityFeePerGas specified".into(),
                ));
            }
            (Some(price), None, None) => {
                (if request.access_list.is_some() { 1 } else { 0 }, price, None)
            }
            (None, None, None) => (0, 0, None),
            (None, max_fee, priority) => {
                let priority = priority.unwrap_or(0);
                let max_fee = max_fee.unwrap_or(u128::from(ctx.base_fee) + priority);
                if priority > max_fee {
                    return Err(CallError::Invalid(format!(
                        "max priority fee per gas higher than max fee per gas: {priority} > {max_fee}"
                    )));
                }
                (2, max_fee, Some(priority))
            }
        };
        let tx = TxEnv {
            tx_type,
            caller: request.from.unwrap_or_default(),
            gas_limit: MIN_GAS,
            gas_price,
            gas_priority_fee: priority,
            kind: request.to.unwrap_or(TxKind::Create),
            value: request.value.unwrap_or_default(),
            data: input,
            nonce: request.nonce.unwrap_or_default(),
            chain_id: Some(ctx.chain_id),
            access_list: request.access_list.clone().unwrap_or_default(),
            ..Default::default()
        };
        Ok(Self { state: Overridden::new(state, overrides)?, ctx, tx, free: gas_price == 0 })
    }

    fn fee_per_gas(&self) -> Option<u128> {
        (!self.free).then_some(self.tx.gas_price)
    }

    fn balance_of_sender(&self) -> Result<U256, CallError> {
        let account = self.state.account(&self.tx.caller).map_err(|e| CallError::Fatal(e.0))?;
        Ok(account.map(|a| a.balance).unwrap_or_default())
    }

    fn run(&mut self, gas: u64) -> Result<CallOutcome, CallError> {
        self.run_traced(gas).map(|(outcome, _)| outcome)
    }

    /// Runs with `gas` and also returns every account the run loaded, with the storage
    /// slots it read or wrote.
    fn run_traced(&mut self, gas: u64) -> Result<(CallOutcome, Touched), CallError> {
        let mut cfg = CfgEnv::new_with_spec(SPEC);
        cfg.chain_id = self.ctx.chain_id;
        // A request's nonce is never checked, as Ethereum clients do not: a wallet estimates
        // each of several pipelined sends with the nonce it will use, ahead of the state's.
        cfg.disable_nonce_check = true;
        cfg.disable_base_fee = self.free;
        // The caller's gas cap bounds a call, not the block's limit.
        cfg.disable_block_gas_limit = true;
        let block = BlockEnv {
            number: U256::from(self.ctx.number),
            beneficiary: self.ctx.fee_recipient,
            timestamp: U256::from(self.ctx.timestamp_ms / 1000),
            gas_limit: self.ctx.gas_limit,
            basefee: if self.free { 0 } else { self.ctx.base_fee },
            difficulty: U256::ZERO,
            prevrandao: Some(self.ctx.prev_randao),
            ..Default::default()
        };
        let mut evm = Context::mainnet()
            .with_db(BlockDb::new(&self.state))
            .with_cfg(cfg)
            .with_block(block)
            .build_mainnet();
        let tx = TxEnv { gas_limit: gas, ..self.tx.clone() };
        let result = evm.transact(tx).map_err(|e| match e {
            // Worded as Ethereum clients word it, which wallets recognise.
            EVMError::Transaction(InvalidTransaction::LackOfFundForMaxFee { fee, balance }) => {
                CallError::Invalid(format!(
                    "insufficient funds for gas * price + value: balance {balance}, cost {fee}"
                ))
            }
            EVMError::Transaction(invalid) => CallError::Invalid(invalid.to_string()),
            EVMError::Database(e) => CallError::Fatal(e.0),
            other => CallError::Fatal(other.to_string()),
        })?;
        let touched = result
            .state
            .iter()
            .map(|(address, account)| {
                let keys =
                    account.storage.keys().map(|k| B256::from(k.to_be_bytes::<32>())).collect();
                (*address, keys)
            })
            .collect();
        let gas_used = result.result.tx_gas_used();
        let outcome = match result.result {
            ExecutionResult::Success { output, logs, .. } => {
                CallOutcome::Success { output: output.into_data(), gas_used, logs }
            }
            ExecutionResult::Revert { output, .. } => CallOutcome::Revert { output, gas_used },
            ExecutionResult::Halt { reason, .. } => {
                CallOutcome::Halt { reason: halt_message(&format!("{reason:?}")), gas_used }
            }
        };
        Ok((outcome, touched))
    }
}

/// The EVM's halt reason (`OutOfGas(Basic)`, `InvalidFEOpcode`, ...) as the lower-case words
/// Ethereum clients report (`out of gas`, `invalid opcode`, ...).
fn halt_message(debug: &str) -> String {
    let name = debug.split(['(', ' ', '{']).next().unwrap_or(debug);
    match name {
        "OutOfGas" => "out of gas".into(),
        "InvalidFEOpcode" | "OpcodeNotFound" => "invalid opcode".into(),
        "StackUnderflow" => "stack underflow".into(),
        "StackOverflow" => "stack limit reached".into(),
        "InvalidJump" => "invalid jump destination".into(),
        "StateChangeDuringStaticCall" => "write protection".into(),
        "CallTooDeep" => "max call depth exceeded".into(),
        "OutOfFunds" => "insufficient balance for transfer".into(),
        "CreateContractSizeLimit" => "max code size exceeded".into(),
        "CreateCollision" => "contract address collision".into(),
        other => {
            // Split CamelCase into words.
            let mut out = String::new();
            for (i, c) in other.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    out.push(' ');
                }
                out.extend(c.to_lowercase());
            }
            out
        }
    }
}

/// A state with per-request overrides on top.
struct Overridden<'a, S: ?Sized> {
    base: &'a S,
    accounts: HashMap<Address, AccountPatch>,
    codes: HashMap<B256, Bytes>,
}

struct AccountPatch {
    balance: Option<U256>,
    nonce: Option<u64>,
    code_hash: Option<B256>,
    /// `Some` replaces all storage; slots not named read as zero.
    storage: Option<HashMap<U256, U256>>,
    /// Slots changed on top of the account's storage.
    storage_diff: HashMap<U256, U256>,
}

impl<'a, S: StateReader + ?Sized> Overridden<'a, S> {
    fn new(base: &'a S, overrides: Option<&StateOverride>) -> Result<Self, CallError> {
        let mut out = Self { base, accounts: HashMap::new(), codes: HashMap::new() };
        let Some(overrides) = overrides else { return Ok(out) };
        let slots = |map: &alloy_primitives::map::B256HashMap<B256>| -> HashMap<U256, U256> {
            map.iter().map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0))).collect()
        };
        for (address, o) in overrides {
            if o.state.is_some() && o.state_diff.is_some() {
                return Err(CallError::Invalid(format!(
                    "account {address} has both 'state' and 'stateDiff'"
                )));
            }
            if o.move_precompile_to.is_some() {
                return Err(CallError::Invalid("movePrecompileToAddress is not supported".into()));
            }
            let code_hash = o.code.as_ref().map(|code| {
                if code.is_empty() {
                    return EMPTY_CODE_HASH;
                }
                let hash = keccak256(code);
                out.codes.insert(hash, code.clone());
                hash
            });
            out.accounts.insert(
                *address,
                AccountPatch {
                    balance: o.balance,
                    nonce: o.nonce,
                    code_hash,
                    storage: o.state.as_ref().map(slots),
                    storage_diff: o.state_diff.as_ref().map(slots).unwrap_or_default(),
                },
            );
        }
        Ok(out)
    }
}

impl<S: StateReader + ?Sized> StateReader for Overridden<'_, S> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        let base = self.base.account(address)?;
        let Some(patch) = self.accounts.get(address) else { return Ok(base) };
        let mut account = base.unwrap_or_default();
        if let Some(balance) = patch.balance {
            account.balance = balance;
        }
        if let Some(nonce) = patch.nonce {
            account.nonce = nonce;
        }
        if let Some(code_hash) = patch.code_hash {
            account.code_hash = code_hash;
        }
        Ok(Some(account))
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        if let Some(patch) = self.accounts.get(address) {
            if let Some(storage) = &patch.storage {
                return Ok(storage.get(slot).copied().unwrap_or_default());
            }
            if let Some(value) = patch.storage_diff.get(slot) {
                return Ok(*value);
            }
        }
        self.base.storage(address, slot)
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        match self.codes.get(code_hash) {
            Some(code) => Ok(Some(code.clone())),
            None => self.base.code(code_hash),
        }
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        self.base.block_hash(number)
    }
}
