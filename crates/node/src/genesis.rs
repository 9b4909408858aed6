//! Building block 0 from the genesis file.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bloom, Bytes, U256, keccak256};
use btcr_execution::{EmptyState, StateRootOutput, compute_state_root};
use btcr_primitives::{
    Account, AccountChange, Block, BlockBody, EMPTY_CODE_HASH, Genesis, Header, StateChanges,
};

/// Block 0 and its state. The PoH chain starts from a hash of the genesis file, so two
/// chains with different parameters never share a PoH history.
pub fn genesis_block(genesis: &Genesis) -> Result<(Block, StateRootOutput), String> {
    let mut changes = StateChanges::default();
    for (address, alloc) in &genesis.alloc {
        let code_hash = match &alloc.code {
            Some(code) if !code.is_empty() => {
                let hash = keccak256(code);
                changes.codes.insert(hash, code.clone());
                hash
            }
            _ => EMPTY_CODE_HASH,
        };
        let storage: BTreeMap<U256, U256> = alloc
            .storage
            .iter()
            .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
            .filter(|(_, v)| !v.is_zero())
            .collect();
        changes.accounts.insert(
            *address,
            AccountChange {
                account: Some(Account {
                    nonce: alloc.nonce,
                    balance: alloc.balance,
                    code_hash,
                    storage_root: B256::ZERO,
                }),
                storage_wiped: false,
                storage,
            },
        );
    }
    btcr_staking::genesis_state(genesis, &mut changes).map_err(|e| e.to_string())?;
    let root = compute_state_root(&EmptyState::default(), changes).map_err(|e| e.to_string())?;
    let poh_seed = keccak256(genesis.to_json());
    let header = Header {
        parent_hash: B256::ZERO,
        number: 0,
        timestamp_ms: genesis.timestamp_ms,
        proposer: Address::ZERO,
        state_root: root.state_root,
        transactions_root: alloy_consensus::EMPTY_ROOT_HASH,
        receipts_root: alloy_consensus::EMPTY_ROOT_HASH,
        logs_bloom: Bloom::ZERO,
        gas_used: 0,
        gas_limit: genesis.gas_limit,
        base_fee_per_gas: genesis.base_fee_per_gas,
        poh_start_hash: poh_seed,
        poh_end_hash: poh_seed,
        poh_ticks: 0,
        extra_data: Bytes::new(),
    };
    Ok((Block { header, body: BlockBody::default() }, root))
}
