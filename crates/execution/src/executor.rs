//! Executing a block's transactions one by one and collecting receipts and state changes.

use alloy_consensus::{
    Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction, TxEnvelope, Typed2718,
};
use alloy_primitives::{Address, B256, Bloom, Bytes, U256};
use btcr_primitives::{RecoveredTx, StateChanges, StateReader};
use revm::{
    Context, Database, ExecuteCommitEvm, MainBuilder, MainContext, MainnetEvm, SystemCallCommitEvm,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::{
        ContextTr,
        result::{EVMError, ExecutionResult},
    },
    handler::MainnetContext,
    primitives::hardfork::SpecId,
    state::AccountInfo,
};

use crate::db::{BlockDb, DbError};

/// The EVM rules BTCR runs (Prague: Cancun opcodes such as `PUSH0`, `MCOPY`, transient
/// storage, plus Prague's calldata floor). Blob and set-code transactions are refused before
/// they reach the EVM.
pub const SPEC: SpecId = SpecId::PRAGUE;

/// The block-level inputs of execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockContext {
    /// Chain id.
    pub chain_id: u64,
    /// Height of the block.
    pub number: u64,
    /// Block timestamp in milliseconds (the EVM sees whole seconds).
    pub timestamp_ms: u64,
    /// Who is paid the priority fees (`COINBASE`): the staking contract on a proof-of-stake
    /// chain, which shares them among the validators, or the proposer.
    pub fee_recipient: Address,
    /// Base fee per gas (burned).
    pub base_fee: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Value of `PREVRANDAO`: the parent block's PoH end hash, which the proposer cannot
    /// choose freely.
    pub prev_randao: B256,
}

/// Why a transaction could not be executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The transaction is invalid against the current state (nonce, balance, fees); it is
    /// left out of the block.
    #[error("{0}")]
    Invalid(String),
    /// Not enough gas left in the block for the transaction's gas limit.
    #[error("block gas limit reached: {remaining} gas left, transaction needs {needed}")]
    BlockFull {
        /// Gas left in the block.
        remaining: u64,
        /// The transaction's gas limit.
        needed: u64,
    },
    /// State could not be read: the node cannot go on.
    #[error("execution failed: {0}")]
    Fatal(String),
}

/// Everything a block's execution produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionOutcome {
    /// One receipt per executed transaction, in order.
    pub receipts: Vec<ReceiptEnvelope>,
    /// State changes to commit.
    pub changes: StateChanges,
    /// Gas used by the block.
    pub gas_used: u64,
    /// Union of the receipts' blooms.
    pub logs_bloom: Bloom,
}

/// Executes transactions into one block.
pub struct BlockExecutor<'a, S: StateReader + ?Sized> {
    evm: MainnetEvm<MainnetContext<BlockDb<'a, S>>>,
    receipts: Vec<ReceiptEnvelope>,
    gas_used: u64,
    gas_limit: u64,
}

impl<'a, S: StateReader + ?Sized> BlockExecutor<'a, S> {
    /// Starts a block on top of `state`.
    pub fn new(state: &'a S, ctx: &BlockContext) -> Self {
        let mut cfg = CfgEnv::new_with_spec(SPEC);
        cfg.chain_id = ctx.chain_id;
        let block = BlockEnv {
            number: U256::from(ctx.number),
            beneficiary: ctx.fee_recipient,
            timestamp: U256::from(ctx.timestamp_ms / 1000),
            gas_limit: ctx.gas_limit,
            basefee: ctx.base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(ctx.prev_randao),
            ..Default::default()
        };
        let evm = Context::mainnet()
            .with_db(BlockDb::new(state))
            .with_cfg(cfg)
            .with_block(block)
            .build_mainnet();
        Self { evm, receipts: Vec::new(), gas_used: 0, gas_limit: ctx.gas_limit }
    }

    /// Gas used so far.
    pub fn gas_used(&self) -> u64 {
        self.gas_used
    }

    /// Gas still available in the block.
    pub fn gas_remaining(&self) -> u64 {
        self.gas_limit.saturating_sub(self.gas_used)
    }

    /// Number of transactions executed so far.
    pub fn n_transactions(&self) -> usize {
        self.receipts.len()
    }

    /// Executes `tx` and commits its effects to the block's state. A failed (reverted or
    /// halted) transaction is still included and pays for its gas; an invalid one is not.
    pub fn execute(&mut self, tx: &RecoveredTx) -> Result<&ReceiptEnvelope, ExecError> {
        let needed = tx.tx.gas_limit();
        if needed > self.gas_remaining() {
            return Err(ExecError::BlockFull { remaining: self.gas_remaining(), needed });
        }
        let result = self.evm.transact_commit(tx_env(tx)).map_err(|e| match e {
            EVMError::Transaction(invalid) => ExecError::Invalid(invalid.to_string()),
            EVMError::Database(DbError(msg)) => ExecError::Fatal(msg),
            other => ExecError::Fatal(other.to_string()),
        })?;
        let gas_used = result.tx_gas_used();
        self.gas_used += gas_used;
        let success = matches!(result, ExecutionResult::Success { .. });
        let receipt = Receipt {
            status: Eip658Value::Eip658(success),
            cumulative_gas_used: self.gas_used,
            logs: result.into_logs(),
        };
        let with_bloom = ReceiptWithBloom::from(receipt);
        let envelope = match &tx.tx {
            TxEnvelope::Legacy(_) => ReceiptEnvelope::Legacy(with_bloom),
            TxEnvelope::Eip2930(_) => ReceiptEnvelope::Eip2930(with_bloom),
            TxEnvelope::Eip1559(_) => ReceiptEnvelope::Eip1559(with_bloom),
            TxEnvelope::Eip4844(_) => ReceiptEnvelope::Eip4844(with_bloom),
            TxEnvelope::Eip7702(_) => ReceiptEnvelope::Eip7702(with_bloom),
        };
        self.receipts.push(envelope);
        Ok(self.receipts.last().expect("just pushed"))
    }

    /// Adds `amount` wei to `address`'s balance outside any transaction (the block reward).
    pub fn credit(&mut self, address: Address, amount: U256) -> Result<(), ExecError> {
        let db = self.evm.ctx.db_mut();
        let info = db.basic(address).map_err(|e| ExecError::Fatal(e.0))?.unwrap_or_default();
        let mut account = revm::state::Account::from(AccountInfo {
            balance: info.balance.saturating_add(amount),
            ..info
        });
        account.mark_touch();
        db.commit_account(address, account);
        Ok(())
    }

    /// Calls `contract` as the chain itself (from revm's system address, with 30 million gas
    /// that no one pays for) and keeps what it changed. The chain's own calls must succeed:
    /// a revert or a halt is a broken contract, which the node cannot go past.
    pub fn system_call(&mut self, contract: Address, data: Bytes) -> Result<Bytes, ExecError> {
        let result = self
            .evm
            .system_call_commit(contract, data)
            .map_err(|e| ExecError::Fatal(format!("system call to {contract}: {e}")))?;
        match result {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            ExecutionResult::Revert { output, .. } => Err(ExecError::Fatal(format!(
                "system call to {contract} reverted: {}",
                alloy_sol_types::decode_revert_reason(&output)
                    .unwrap_or_else(|| output.to_string())
            ))),
            ExecutionResult::Halt { reason, .. } => {
                Err(ExecError::Fatal(format!("system call to {contract} halted: {reason:?}")))
            }
        }
    }

    /// Ends the block.
    pub fn finish(self) -> ExecutionOutcome {
        let changes = self.evm.ctx.db_ref().changes();
        let mut logs_bloom = Bloom::ZERO;
        for r in &self.receipts {
            logs_bloom.accrue_bloom(r.logs_bloom());
        }
        ExecutionOutcome { receipts: self.receipts, changes, gas_used: self.gas_used, logs_bloom }
    }
}

/// The EVM's view of a transaction.
fn tx_env(tx: &RecoveredTx) -> TxEnv {
    let t = &tx.tx;
    let is_1559 = matches!(t, TxEnvelope::Eip1559(_));
    TxEnv {
        tx_type: t.ty(),
        caller: tx.sender,
        gas_limit: t.gas_limit(),
        gas_price: t.max_fee_per_gas(),
        kind: t.kind(),
        value: t.value(),
        data: t.input().clone(),
        nonce: t.nonce(),
        chain_id: t.chain_id(),
        access_list: t.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: if is_1559 { t.max_priority_fee_per_gas() } else { None },
        ..Default::default()
    }
}
