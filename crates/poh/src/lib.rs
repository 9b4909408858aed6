//! Proof of History for BTCR blocks: the proposer runs a SHA-256 hash chain through the
//! block interval and mixes the hash of each executed batch of transactions into it, in
//! execution order. The header records the chain's start hash, end hash and tick count; the
//! body keeps the entries, from which any validator re-derives the chain in parallel.
//!
//! ```text
//!  proposer                                         validator
//!  ────────                                         ─────────
//!  execute batch ─ batch_hash(tx hashes) ─┐
//!                                         ▼ PohSlotHandle::record (bounded channel)
//!  PohSlot thread: Poh::hash / record / tick        verify(start, entries, txs, config)
//!    (start = parent's end hash, paced ticks)         1. structure: counts, ticks,
//!                                         │              transactions (sequential, cheap)
//!                      PohSlotHandle::finish          2. hash chains per segment (rayon)
//!                                         ▼                        │
//!  PohSlotOutput ─┬─ entries ─────────► block body ───────────────►│
//!                 └─ end_hash, ticks ─► header (+ start hash) ─────► compare PohSummary
//! ```
//!
//! Entry semantics are on [`PohEntry`]; the rule for mixins at a tick boundary is in the
//! [`poh`] module; pacing and back-pressure are in the [`slot`] module.

mod config;
mod entry;
mod error;
pub mod poh;
pub mod slot;
mod verify;

pub use config::PohConfig;
pub use entry::{PohEntry, batch_hash, entries_root, next_hash};
pub use error::PohError;
pub use poh::Poh;
pub use slot::{MIXIN_CHANNEL_CAPACITY, PohSlot, PohSlotHandle, PohSlotOutput};
pub use verify::{PohSummary, verify, verify_structure, verify_with_pool};
