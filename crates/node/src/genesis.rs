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
    // The forks are left out, so that an upgrade naming a later height for a rule keeps the
    // chain's genesis hash.
    let without_forks = Genesis { forks: Default::default(), ..genesis.clone() };
    let poh_seed = keccak256(without_forks.to_json());
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
        poh_entries_root: genesis.forks.poh_entries_root_at(0).then(|| btcr_poh::entries_root(&[])),
    };
    Ok((Block { header, body: BlockBody::default() }, root))
}

#[cfg(test)]
mod tests {
    use btcr_primitives::{Forks, GenesisValidator};

    use super::*;

    /// A chain's genesis block is the same whether its genesis names a rule for a later
    /// height or none (an upgrade); a rule from block 0 (a new chain) is in its header.
    #[test]
    fn forks_from_a_later_height_keep_the_genesis_hash() {
        let key = btcr_crypto::SecretKey::random();
        let genesis = Genesis {
            chain_id: 7,
            timestamp_ms: 1_700_000_000_000,
            gas_limit: 30_000_000,
            base_fee_per_gas: 1_000_000_000,
            block_time_ms: 100,
            poh: btcr_poh::PohConfig { hashes_per_tick: 10, ticks_per_block: 2 },
            consensus: Default::default(),
            forks: Forks::default(),
            validators: vec![GenesisValidator {
                address: key.address(),
                public_key: key.public_key().to_vec().into(),
                power: 1000,
            }],
            alloc: Default::default(),
        };
        let hash = |g: &Genesis| genesis_block(g).unwrap().0.hash();
        let upgraded =
            Genesis { forks: Forks { poh_entries_root: Some(5_000) }, ..genesis.clone() };
        assert_eq!(hash(&upgraded), hash(&genesis));
        let new = Genesis { forks: Forks::ALL, ..genesis.clone() };
        let (block, _) = genesis_block(&new).unwrap();
        assert_eq!(block.header.poh_entries_root, Some(btcr_poh::entries_root(&[])));
        assert_ne!(block.hash(), hash(&genesis));
    }
}
