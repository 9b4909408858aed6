//! The wallet behind `btcr wallet`: a directory of encrypted key files (Web3 Secret
//! Storage, readable by other Ethereum wallets), amounts in BTCR and token units, and
//! building, signing and sending transfers over JSON-RPC.

pub mod amount;
mod error;
pub mod keys;
pub mod rpc;
pub mod send;

pub use amount::{format_units, parse_units};
pub use error::{WalletError, WalletResult};
pub use keys::{KeyEntry, KeyStore};
pub use rpc::RpcClient;
pub use send::{Asset, Sent, send, sign};
