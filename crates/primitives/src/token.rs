//! ERC-20 `Transfer` events, as the explorer and the address index read them.

use alloy_primitives::{Address, B256, Log, U256, b256};

/// `keccak256("Transfer(address,address,uint256)")`: the first topic of ERC-20 (and ERC-721)
/// transfer events.
pub const TRANSFER_TOPIC: B256 =
    b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// One ERC-20 token transfer that a log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTransferLog {
    /// The token contract (the log's emitter).
    pub token: Address,
    /// Whose tokens moved (zero when minted).
    pub from: Address,
    /// Who got them (zero when burned).
    pub to: Address,
    /// Amount, in the token's smallest unit.
    pub value: U256,
}

impl TokenTransferLog {
    /// Reads an ERC-20 `Transfer(from, to, value)`: the transfer topic, `from` and `to`
    /// indexed, the value as the 32-byte data. ERC-721 transfers (a fourth topic, no data)
    /// and anything malformed give `None`.
    pub fn decode(log: &Log) -> Option<Self> {
        let topics = log.topics();
        if topics.len() != 3 || topics[0] != TRANSFER_TOPIC || log.data.data.len() != 32 {
            return None;
        }
        let address = |topic: &B256| {
            topic[..12].iter().all(|b| *b == 0).then(|| Address::from_slice(&topic[12..]))
        };
        Some(Self {
            token: log.address,
            from: address(&topics[1])?,
            to: address(&topics[2])?,
            value: U256::from_be_slice(&log.data.data),
        })
    }

    /// The holders whose balance of the token this transfer changed (not the zero address).
    pub fn holders(&self) -> impl Iterator<Item = Address> + '_ {
        [self.from, self.to].into_iter().filter(|a| !a.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{LogData, address, keccak256};

    fn log(topics: Vec<B256>, data: Vec<u8>) -> Log {
        Log {
            address: address!("00000000000000000000000000000000000000aa"),
            data: LogData::new_unchecked(topics, data.into()),
        }
    }

    #[test]
    fn the_topic_is_the_event_signature_hash() {
        assert_eq!(TRANSFER_TOPIC, keccak256("Transfer(address,address,uint256)"));
    }

    #[test]
    fn decodes_erc20_transfers_and_nothing_else() {
        let from = address!("1111111111111111111111111111111111111111");
        let to = address!("2222222222222222222222222222222222222222");
        let value = U256::from(1234);
        let ok = log(
            vec![TRANSFER_TOPIC, from.into_word(), to.into_word()],
            value.to_be_bytes::<32>().to_vec(),
        );
        let transfer = TokenTransferLog::decode(&ok).unwrap();
        assert_eq!((transfer.from, transfer.to, transfer.value), (from, to, value));
        assert_eq!(transfer.token, ok.address);
        assert_eq!(transfer.holders().collect::<Vec<_>>(), vec![from, to]);

        let mint = log(
            vec![TRANSFER_TOPIC, Address::ZERO.into_word(), to.into_word()],
            value.to_be_bytes::<32>().to_vec(),
        );
        assert_eq!(
            TokenTransferLog::decode(&mint).unwrap().holders().collect::<Vec<_>>(),
            vec![to]
        );

        // ERC-721: the token id is a fourth topic and there is no data.
        let nft = log(vec![TRANSFER_TOPIC, from.into_word(), to.into_word(), B256::ZERO], vec![]);
        assert_eq!(TokenTransferLog::decode(&nft), None);
        // Another event, a short value, a topic that is not an address.
        let other = log(vec![B256::ZERO, from.into_word(), to.into_word()], vec![0; 32]);
        assert_eq!(TokenTransferLog::decode(&other), None);
        let short = log(vec![TRANSFER_TOPIC, from.into_word(), to.into_word()], vec![0; 31]);
        assert_eq!(TokenTransferLog::decode(&short), None);
        let wide = log(vec![TRANSFER_TOPIC, B256::repeat_byte(1), to.into_word()], vec![0; 32]);
        assert_eq!(TokenTransferLog::decode(&wide), None);
    }
}
