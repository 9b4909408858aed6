//! What a committed block means to the owners of the addresses it touches: each
//! [`Notice`] is one event about one address, in the block's order (transaction, then log).
//!
//! - `transfer.in` / `transfer.out`: BTCR a transaction sends (its value, when not zero)
//!   or an ERC-20 token a `Transfer` log records; the address is the recipient or the sender.
//! - `transaction.finalized`: a transaction the address sent or was sent (a committed block
//!   is final: BFT finality), with whether it succeeded.
//! - `validator.slashed`: the staking contract slashed the address (a validator) for double
//!   signing and jailed it until an epoch.
//! - `rewards.claimable`: at an epoch's end, the address (a delegator or validator) has
//!   staking rewards it can claim (read from the staking contract by the consumer, which has
//!   the chain's state; not a log of the block).
//!
//! BTCR moved by a contract's internal calls is not seen (no call tracing yet).

use alloy_consensus::Transaction as _;
use alloy_primitives::Address;
use alloy_sol_types::SolEvent as _;
use btcr_interfaces::CommittedBlock;
use btcr_primitives::{TokenTransferLog, created_contract};
use btcr_staking::{STAKING_ADDRESS, Staking};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// The kinds of event a subscription may ask for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum EventKind {
    /// BTCR or a token received.
    #[serde(rename = "transfer.in")]
    TransferIn,
    /// BTCR or a token sent.
    #[serde(rename = "transfer.out")]
    TransferOut,
    /// A transaction from or to the address is in a committed (final) block.
    #[serde(rename = "transaction.finalized")]
    TransactionFinalized,
    /// The validator was slashed and jailed.
    #[serde(rename = "validator.slashed")]
    ValidatorSlashed,
    /// Staking rewards wait to be claimed (told at each epoch's end).
    #[serde(rename = "rewards.claimable")]
    RewardsClaimable,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 5] = [
        EventKind::TransferIn,
        EventKind::TransferOut,
        EventKind::TransactionFinalized,
        EventKind::ValidatorSlashed,
        EventKind::RewardsClaimable,
    ];

    /// Its name, as in webhooks' `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::TransferIn => "transfer.in",
            EventKind::TransferOut => "transfer.out",
            EventKind::TransactionFinalized => "transaction.finalized",
            EventKind::ValidatorSlashed => "validator.slashed",
            EventKind::RewardsClaimable => "rewards.claimable",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One event about one address.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Whose event (lower-case `0x` hex, as the watch list stores it).
    pub address: String,
    /// What happened.
    pub kind: EventKind,
    /// Where in the block: the transaction's index, and the log's index within the block
    /// (`None` for what the transaction itself did). With the height and the kind, this
    /// names the event uniquely.
    pub position: (u64, Option<u64>),
    /// The event's data (the webhook's `data`).
    pub data: Value,
}

/// The notices of `block`, in its order.
pub fn notices(block: &CommittedBlock) -> Vec<Notice> {
    let mut out = Vec::new();
    let number = block.number();
    let hash = block.hash.to_string();
    let mut log_index = 0u64;
    for (index, ((tx, sender, tx_hash), receipt)) in
        block.transactions().zip(&block.receipts).enumerate()
    {
        let index = index as u64;
        let to = tx.to().or_else(|| created_contract(tx, sender));
        let common = |extra: Value| {
            let mut data = json!({
                "blockNumber": number,
                "blockHash": hash,
                "transactionHash": tx_hash.to_string(),
                "transactionIndex": index,
            });
            if let (Value::Object(base), Value::Object(extra)) = (&mut data, extra) {
                base.extend(extra);
            }
            data
        };
        let succeeded = receipt.status();
        let mut finalized = vec![sender];
        finalized.extend(to);
        finalized.dedup();
        for address in finalized {
            out.push(Notice {
                address: hex_address(address),
                kind: EventKind::TransactionFinalized,
                position: (index, None),
                data: common(json!({
                    "from": hex_address(sender),
                    "to": to.map(hex_address),
                    "value": tx.value().to_string(),
                    "succeeded": succeeded,
                })),
            });
        }
        if succeeded
            && !tx.value().is_zero()
            && let Some(to) = tx.to()
        {
            out.extend(transfer(
                common(json!({
                    "asset": "BTCR",
                    "from": hex_address(sender),
                    "to": hex_address(to),
                    "value": tx.value().to_string(),
                })),
                sender,
                to,
                (index, None),
            ));
        }
        for log in receipt.logs() {
            let position = (index, Some(log_index));
            log_index += 1;
            if let Some(t) = TokenTransferLog::decode(log) {
                out.extend(transfer(
                    common(json!({
                        "asset": hex_address(t.token),
                        "from": hex_address(t.from),
                        "to": hex_address(t.to),
                        "value": t.value.to_string(),
                        "logIndex": position.1,
                    })),
                    t.from,
                    t.to,
                    position,
                ));
            } else if log.address == STAKING_ADDRESS
                && let Ok(slash) = Staking::Slashed::decode_log_data(&log.data)
            {
                out.push(Notice {
                    address: hex_address(slash.validator),
                    kind: EventKind::ValidatorSlashed,
                    position,
                    data: common(json!({
                        "validator": hex_address(slash.validator),
                        "faultHeight": slash.height,
                        "amount": slash.amount.to_string(),
                        "jailedUntilEpoch": slash.jailedUntil,
                        "logIndex": position.1,
                    })),
                });
            }
        }
    }
    out
}

/// A transfer's two notices: out for the sender, in for the recipient (none for the zero
/// address of a mint or a burn).
fn transfer(data: Value, from: Address, to: Address, position: (u64, Option<u64>)) -> Vec<Notice> {
    let mut out = Vec::with_capacity(2);
    for (address, kind) in [(from, EventKind::TransferOut), (to, EventKind::TransferIn)] {
        if !address.is_zero() {
            out.push(Notice { address: hex_address(address), kind, position, data: data.clone() });
        }
    }
    out
}

/// `0x` and lower-case hex.
pub fn hex_address(address: Address) -> String {
    format!("{address:#x}")
}

/// The position of a `rewards.claimable` notice: after every transaction of its block.
pub const REWARDS_POSITION: (u64, Option<u64>) = (u64::MAX, None);

/// A `rewards.claimable` notice for `address`, which can claim `amount` wei after block
/// `number` (an epoch's last).
pub fn rewards_notice(
    number: u64,
    hash: &str,
    address: Address,
    amount: alloy_primitives::U256,
) -> Notice {
    Notice {
        address: hex_address(address),
        kind: EventKind::RewardsClaimable,
        position: REWARDS_POSITION,
        data: json!({
            "blockNumber": number,
            "blockHash": hash,
            "delegator": hex_address(address),
            "amount": amount.to_string(),
        }),
    }
}
