//! Test harness: JSON-RPC clients (HTTP and WebSocket), transaction signing, empty headers, a `btcr dev` process that tests
//! can start, kill and restart, the repository's compiled contracts, and waiting on state.

pub mod block;
pub mod contracts;
pub mod faults;
pub mod http;
pub mod node;
pub mod postgres;
pub mod rabbitmq;
pub mod redis;
pub mod smtp;
pub mod tx;
pub mod wait;
pub mod webhooks;
pub mod ws;

pub use block::empty_header;
pub use btcr_wallet::rpc;
pub use http::HttpConnection;
pub use node::{ApiProcess, DevProcess, free_ports};
pub use postgres::{TempAppDatabase, TempPostgres};
pub use rabbitmq::TempRabbit;
pub use redis::TempRedis;
pub use rpc::RpcClient;
pub use smtp::{Mail, TempSmtp};
pub use tx::{TxBuilder, dev_key};
pub use wait::{eventually, eventually_async, eventually_within, holds_for};
pub use webhooks::{Received, WebhookReceiver};
pub use ws::WsClient;

/// The JSON-RPC error inside `report`, from the wallet's client (a [`btcr_wallet::WalletError`])
/// or the WebSocket client (an [`rpc::RpcErrorObject`]).
pub fn rpc_error_of(report: eyre::Report) -> Option<rpc::RpcErrorObject> {
    match report.downcast::<rpc::RpcErrorObject>() {
        Ok(e) => Some(e),
        Err(report) => match report.downcast::<btcr_wallet::WalletError>() {
            Ok(btcr_wallet::WalletError::Rpc(e)) => Some(e),
            _ => None,
        },
    }
}
