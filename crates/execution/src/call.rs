//! Running a transaction request against a state without committing anything: what
//! `eth_call` and `eth_estimateGas` answer.
//!
//! A request may leave out the sender (the zero address), the gas (the caller's cap), the
//! fees (then no fee is charged and the base fee does not apply) and the nonce (then it is
//! not checked). State overrides replace an account's balance, nonce, code or storage for
//! the one request.
//!
//! Each call has a [`CallBudget`]: gas for one run, gas for all its runs together (an
//! estimate runs the request a dozen times), and a deadline, checked every
//! [`STEPS_PER_CLOCK_READ`] instructions, past which the run is aborted in every frame.

use std::{
    cell::Cell,
    collections::HashMap,
    time::{Duration, Instant},
};

use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bytes, Log, TxKind, U256, keccak256};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use btcr_primitives::{Account, EMPTY_CODE_HASH, StateError, StateReader};
use revm::{
    Context, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::result::{EVMError, ExecutionResult, InvalidTransaction},
    inspector::{InspectEvm, Inspector},
    interpreter::{InstructionResult, Interpreter},
};

use crate::{BlockContext, SPEC, db::BlockDb};

/// Gas below which no transaction can run: the intrinsic cost of a plain transfer.
const MIN_GAS: u64 = 21_000;
/// Instructions run between two looks at the clock: a look costs some 20 ns, 1,024 cheap
/// instructions some 10 µs, so a run overshoots its deadline by microseconds.
pub const STEPS_PER_CLOCK_READ: u32 = 1_024;

/// What one call (`eth_call`, `eth_estimateGas`, `eth_createAccessList`) may spend.
#[derive(Debug)]
pub struct CallBudget {
    gas: u64,
    total_gas: u64,
    timeout: Option<(Duration, Instant)>,
    spent: Cell<u64>,
}

impl CallBudget {
    /// At most `gas` for each run, with no limit on all runs together and no deadline.
    pub fn new(gas: u64) -> Self {
        Self { gas, total_gas: u64::MAX, timeout: None, spent: Cell::new(0) }
    }

    /// At most `total` gas used by all the runs of the call together.
    pub fn with_total_gas(mut self, total: u64) -> Self {
        self.total_gas = total;
        self
    }

    /// Aborted once `timeout` has passed from now.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some((timeout, Instant::now() + timeout));
        self
    }

    /// Gas of one run.
    pub fn gas(&self) -> u64 {
        self.gas
    }

    /// Gas the runs so far used together.
    pub fn spent(&self) -> u64 {
        self.spent.get()
    }

    /// Refuses another run once the runs so far used all the gas allowed.
    fn check(&self) -> Result<(), CallError> {
        if self.spent.get() >= self.total_gas {
            return Err(CallError::Exhausted { spent: self.spent.get(), allowed: self.total_gas });
        }
        Ok(())
    }

    fn charge(&self, gas: u64) {
        self.spent.set(self.spent.get().saturating_add(gas));
    }
}

/// Aborts a run past its deadline: every frame halts at its next instruction.
struct Deadline {
    at: Option<Instant>,
    steps: u32,
    passed: bool,
}

impl<CTX> Inspector<CTX> for Deadline {
    fn step(&mut self, interp: &mut Interpreter, _context: &mut CTX) {
        let Some(at) = self.at else { return };
        self.steps = self.steps.wrapping_add(1);
        if !self.passed && self.steps.is_multiple_of(STEPS_PER_CLOCK_READ) {
            self.passed = Instant::now() >= at;
        }
        if self.passed {
            interp.halt(InstructionResult::OutOfGas);
        }
    }
}

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
    /// The call ran past its time (worded as Ethereum clients word it).
    #[error("execution aborted (timeout = {0:?})")]
    Timeout(Duration),
    /// The call's runs used all the gas its budget allows.
    #[error("the runs of this call used {spent} gas, all that its budget allows ({allowed})")]
    Exhausted {
        /// Gas used by the runs so far.
        spent: u64,
        /// Gas they may use together.
        allowed: u64,
    },
}

/// Runs `request` on top of `state` in a block with context `ctx`, changing nothing. Gas is
/// the request's, or the budget's when it names none, and never more than the budget's.
pub fn simulate<S: StateReader + ?Sized>(
    state: &S,
    ctx: &BlockContext,
    request: &TransactionRequest,
    overrides: Option<&StateOverride>,
    budget: &CallBudget,
) -> Result<CallOutcome, CallError> {
    let gas = request.gas.unwrap_or(budget.gas).min(budget.gas);
    Simulator::new(state, ctx, request, overrides, budget)?.run(gas)
}

/// The least gas with which `request` succeeds, found by bisection between what one run
/// uses and the budget's gas (or the request's own). A request that fails even with the
/// most gas returns that failure as `Err(Ok(outcome))`. Every run is charged to `budget`.
pub fn estimate_gas<S: StateReader + ?Sized>(
    state: &S,
    ctx: &BlockContext,
    request: &TransactionRequest,
    overrides: Option<&StateOverride>,
    budget: &CallBudget,
) -> Result<u64, Result<CallOutcome, CallError>> {
    let mut sim = Simulator::new(state, ctx, request, overrides, budget).map_err(Err)?;
    let mut hi = request.gas.unwrap_or(budget.gas).min(budget.gas);
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
    budget: &CallBudget,
) -> Result<(AccessList, CallOutcome), CallError> {
    let gas = request.gas.unwrap_or(budget.gas).min(budget.gas);
    let mut sim = Simulator::new(state, ctx, request, overrides, budget)?;
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
    budget: &'a CallBudget,
}

impl<'a, S: StateReader + ?Sized> Simulator<'a, S> {
    fn new(
        state: &'a S,
        ctx: &'a BlockContext,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        budget: &'a CallBudget,
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
        Ok(Self {
            state: Overridden::new(state, overrides)?,
            ctx,
            tx,
            free: gas_price == 0,
            budget,
        })
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
        self.budget.check()?;
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
            .build_mainnet_with_inspector(Deadline {
                at: self.budget.timeout.map(|(_, at)| at),
                steps: 0,
                passed: false,
            });
        let tx = TxEnv { gas_limit: gas, ..self.tx.clone() };
        let result = evm.inspect_tx(tx);
        if evm.inspector.passed {
            self.budget.charge(gas);
            let timeout = self.budget.timeout.map(|(t, _)| t).unwrap_or_default();
            return Err(CallError::Timeout(timeout));
        }
        let result = result.map_err(|e| match e {
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
        self.budget.charge(gas_used);
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

#[cfg(test)]
mod tests {
    use alloy_rpc_types_eth::state::AccountOverride;

    use super::*;
    use crate::EmptyState as Empty;

    fn context() -> BlockContext {
        BlockContext {
            chain_id: 7,
            number: 1,
            timestamp_ms: 1_700_000_000_000,
            fee_recipient: Address::ZERO,
            base_fee: 0,
            gas_limit: 30_000_000,
            prev_randao: B256::ZERO,
        }
    }

    /// A call to `code` placed at 0x…42 for the one request.
    fn call_to(code: &'static [u8]) -> (TransactionRequest, StateOverride) {
        let target = Address::repeat_byte(0x42);
        let mut overrides = StateOverride::default();
        let account =
            AccountOverride { code: Some(Bytes::from_static(code)), ..Default::default() };
        overrides.insert(target, account);
        (TransactionRequest::default().to(target), overrides)
    }

    /// `JUMPDEST PUSH1 0 JUMP`: loops until its gas runs out.
    const LOOP: &[u8] = &[0x5b, 0x60, 0x00, 0x56];

    /// A call of 50 million gas spent in a loop runs for as long as that gas lasts: with a
    /// deadline it is aborted by it, in time, and says so.
    #[test]
    fn a_call_past_its_deadline_is_aborted() {
        let (request, overrides) = call_to(LOOP);
        let started = Instant::now();
        let free = simulate(
            &Empty::default(),
            &context(),
            &request,
            Some(&overrides),
            &CallBudget::new(50_000_000),
        );
        let full = started.elapsed();
        assert!(matches!(free, Ok(CallOutcome::Halt { ref reason, .. }) if reason == "out of gas"));

        let timeout = full / 20;
        let budget = CallBudget::new(50_000_000).with_timeout(timeout);
        let started = Instant::now();
        let aborted = simulate(&Empty::default(), &context(), &request, Some(&overrides), &budget);
        let took = started.elapsed();
        println!(
            "50M gas of loop: {full:?} to the end, aborted after {took:?} (timeout {timeout:?})"
        );
        assert_eq!(aborted, Err(CallError::Timeout(timeout)));
        assert!(took < full / 2, "aborted after {took:?}, the whole run takes {full:?}");
        assert_eq!(budget.spent(), 50_000_000, "the aborted run is charged its gas");
        assert!(
            CallError::Timeout(timeout).to_string().starts_with("execution aborted (timeout = ")
        );
    }

    /// An estimate runs its request several times (here: once with all the gas, once with
    /// what that run used); all the runs are charged to the budget, and past its total the
    /// estimate is refused rather than run on.
    #[test]
    fn an_estimate_is_charged_for_every_run_and_stops_at_its_total() {
        // PUSH1 1 PUSH1 0 SSTORE STOP
        const STORE: &[u8] = &[0x60, 0x01, 0x60, 0x00, 0x55, 0x00];
        let (request, overrides) = call_to(STORE);
        let budget = CallBudget::new(1_000_000);
        let estimate =
            estimate_gas(&Empty::default(), &context(), &request, Some(&overrides), &budget)
                .unwrap();
        let runs = budget.spent();
        assert_eq!(runs, 2 * estimate, "two runs charged for an estimate of {estimate}");

        let tight = CallBudget::new(1_000_000).with_total_gas(runs / 2);
        let refused =
            estimate_gas(&Empty::default(), &context(), &request, Some(&overrides), &tight);
        assert!(matches!(refused, Err(Err(CallError::Exhausted { .. }))), "{refused:?}");
        assert!(tight.spent() >= runs / 2 && tight.spent() < runs);
    }
}
