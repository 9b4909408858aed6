//! Building and signing transactions of every supported type.

use alloy_consensus::{TxEip1559, TxEip2930, TxLegacy};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use btcr_crypto::{DEV_MNEMONIC, SecretKey};

/// Funded key `index` of a development chain.
pub fn dev_key(index: u32) -> SecretKey {
    SecretKey::from_mnemonic(DEV_MNEMONIC, index).expect("the test mnemonic derives")
}

/// One transaction to sign; fields default to a 21,000-gas transfer of 1 wei at 10 gwei.
#[derive(Debug, Clone)]
pub struct TxBuilder {
    /// Chain id (`None` makes a legacy transaction without EIP-155).
    pub chain_id: Option<u64>,
    /// Nonce.
    pub nonce: u64,
    /// Recipient; `None` creates a contract.
    pub to: Option<Address>,
    /// Value in wei.
    pub value: U256,
    /// Calldata or init code.
    pub input: Bytes,
    /// Gas limit.
    pub gas_limit: u64,
    /// Max fee per gas (gas price for legacy and EIP-2930).
    pub max_fee_per_gas: u128,
    /// Max priority fee per gas (EIP-1559 only).
    pub max_priority_fee_per_gas: u128,
}

impl TxBuilder {
    /// A transfer of `value` wei to `to`.
    pub fn transfer(chain_id: u64, nonce: u64, to: Address, value: U256) -> Self {
        Self {
            chain_id: Some(chain_id),
            nonce,
            to: Some(to),
            value,
            input: Bytes::new(),
            gas_limit: 21_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
        }
    }

    /// A contract creation with `init_code`.
    pub fn create(chain_id: u64, nonce: u64, init_code: Bytes, gas_limit: u64) -> Self {
        Self {
            to: None,
            input: init_code,
            gas_limit,
            ..Self::transfer(chain_id, nonce, Address::ZERO, U256::ZERO)
        }
    }

    /// A call of `to` with `input`.
    pub fn call(chain_id: u64, nonce: u64, to: Address, input: Bytes, gas_limit: u64) -> Self {
        Self { input, gas_limit, ..Self::transfer(chain_id, nonce, to, U256::ZERO) }
    }

    fn kind(&self) -> TxKind {
        self.to.map_or(TxKind::Create, TxKind::Call)
    }

    /// Signs as EIP-1559 and returns the raw EIP-2718 bytes.
    pub fn eip1559(&self, key: &SecretKey) -> Bytes {
        let tx = TxEip1559 {
            chain_id: self.chain_id.expect("EIP-1559 transactions carry a chain id"),
            nonce: self.nonce,
            gas_limit: self.gas_limit,
            max_fee_per_gas: self.max_fee_per_gas,
            max_priority_fee_per_gas: self.max_priority_fee_per_gas,
            to: self.kind(),
            value: self.value,
            access_list: Default::default(),
            input: self.input.clone(),
        };
        sign(tx, key)
    }

    /// Signs as EIP-2930.
    pub fn eip2930(&self, key: &SecretKey) -> Bytes {
        let tx = TxEip2930 {
            chain_id: self.chain_id.expect("EIP-2930 transactions carry a chain id"),
            nonce: self.nonce,
            gas_price: self.max_fee_per_gas,
            gas_limit: self.gas_limit,
            to: self.kind(),
            value: self.value,
            access_list: Default::default(),
            input: self.input.clone(),
        };
        sign(tx, key)
    }

    /// Signs as legacy (EIP-155 when `chain_id` is set).
    pub fn legacy(&self, key: &SecretKey) -> Bytes {
        let tx = TxLegacy {
            chain_id: self.chain_id,
            nonce: self.nonce,
            gas_price: self.max_fee_per_gas,
            gas_limit: self.gas_limit,
            to: self.kind(),
            value: self.value,
            input: self.input.clone(),
        };
        sign(tx, key)
    }
}

pub use btcr_wallet::sign;
