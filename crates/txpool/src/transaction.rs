//! The view of a transaction that the pool needs: identity, nonce, fees, value and size.
//!
//! The pool never decodes or verifies transactions itself; the node recovers the sender and
//! implements [`PoolTransaction`] for its own transaction type.

use alloy_primitives::{Address, B256, U256};

/// What the pool needs to know about a transaction; the node implements it for its recovered
/// transaction type.
///
/// For legacy and EIP-2930 transactions both fee methods return the gas price.
pub trait PoolTransaction: Clone + Send + Sync + 'static {
    /// The transaction hash; the pool treats it as the transaction's identity.
    fn hash(&self) -> B256;

    /// The recovered signer.
    fn sender(&self) -> Address;

    /// The sender's account nonce this transaction consumes.
    fn nonce(&self) -> u64;

    /// The gas limit the sender signed.
    fn gas_limit(&self) -> u64;

    /// The most the sender pays per gas, base fee included (gas price for legacy/2930).
    fn max_fee_per_gas(&self) -> u128;

    /// The most the sender tips the block producer per gas (gas price for legacy/2930).
    fn max_priority_fee_per_gas(&self) -> u128;

    /// The wei transferred to the recipient.
    fn value(&self) -> U256;

    /// The length of the transaction's network encoding in bytes; the pool's byte limit counts it.
    fn encoded_len(&self) -> usize;

    /// The most the transaction can take from the sender's balance:
    /// `gas_limit * max_fee_per_gas + value`, saturating at `U256::MAX`.
    fn cost(&self) -> U256 {
        // u64 * u128 always fits in 256 bits; only adding the value can overflow.
        U256::from(self.gas_limit())
            .saturating_mul(U256::from(self.max_fee_per_gas()))
            .saturating_add(self.value())
    }

    /// The tip per gas the block producer receives at `base_fee`:
    /// `min(max_priority_fee_per_gas, max_fee_per_gas - base_fee)`, or `None` when the fee cap
    /// does not even cover the base fee (the transaction cannot be included at that base fee).
    fn effective_tip(&self, base_fee: u128) -> Option<u128> {
        self.max_fee_per_gas()
            .checked_sub(base_fee)
            .map(|headroom| headroom.min(self.max_priority_fee_per_gas()))
    }
}
