//! The JSON-RPC fuzz target's node (`fuzz/`): a real chain in a directory, with funded
//! accounts and no blocks, answering bodies as its HTTP endpoint would.

use std::{path::Path, time::Duration};

use btcr_crypto::{DEV_MNEMONIC, SecretKey};
use btcr_primitives::{ConsensusParams, GenesisValidator};
use btcr_rpc::{RpcConfig, RpcHandler};
use btcr_storage::ChainStore;
use btcr_txpool::PoolConfig;
use tokio_util::sync::CancellationToken;

use crate::{ChainServices, NodeResult, testnet::dev_genesis};

/// A node that answers JSON-RPC bodies.
pub struct JsonRpc {
    handler: RpcHandler,
    _services: ChainServices,
}

impl JsonRpc {
    /// Opens a fresh chain in `dir` (empty), with the development accounts funded.
    pub fn open(dir: &Path) -> NodeResult<Self> {
        let validator = SecretKey::from_mnemonic(DEV_MNEMONIC, 0)?;
        let validators = vec![GenesisValidator {
            address: validator.address(),
            public_key: validator.public_key().to_vec().into(),
            power: 1000,
        }];
        let genesis = dev_genesis(
            1337,
            ConsensusParams::default(),
            validators,
            Duration::from_millis(100),
            30_000_000,
            4,
            1_000,
        )?;
        let store = ChainStore::open(dir)?;
        let services = ChainServices::open(
            store,
            genesis,
            validator.address(),
            PoolConfig::default(),
            CancellationToken::new(),
        )?;
        let api = services.api.clone();
        let config = RpcConfig { evm_timeout: Duration::from_millis(200), ..RpcConfig::default() };
        let handler = RpcHandler::new(api.clone(), api.clone(), api, config)?;
        Ok(Self { handler, _services: services })
    }

    /// Answers `data` as a JSON-RPC body; an answer is JSON.
    pub fn answer(&self, data: &[u8]) {
        if let Some(answer) = self.handler.answer(data) {
            serde_json::from_slice::<serde_json::Value>(&answer).expect("answers are JSON");
        }
    }
}

/// Reads `data` as a peer's block request and as its answer to a range (the items as
/// certified blocks): what decodes encodes back to the same bytes, and nothing panics.
pub fn block_range(data: &[u8]) {
    use btcr_network::{BlockResponse, decode_request, decode_response, encode_request};
    if let Ok(request) = decode_request(data) {
        assert_eq!(encode_request(&request), data, "a request encodes to its bytes");
    }
    let bytes = bytes::Bytes::copy_from_slice(data);
    let Ok(response) = decode_response(&bytes) else { return };
    assert_eq!(btcr_network::encode_response(&response), data, "a response encodes to its bytes");
    if let BlockResponse::Blocks(items) = response {
        for item in items {
            if let Ok((block, certificate)) = crate::decode_certified(&item) {
                let mut again = alloy_rlp::encode(&block.header);
                again.extend(alloy_rlp::encode(&block.body));
                again.extend(alloy_rlp::encode(&certificate));
                assert_eq!(again, item, "a certified block encodes to its bytes");
            }
        }
    }
}
