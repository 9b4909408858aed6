//! PoH parameters shared by the generator and the verifier (part of the genesis file).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::PohError;

/// How many hashes make a tick and how many ticks make a block.
///
/// Both sides of the chain must agree on it: the proposer generates exactly
/// `hashes_per_tick * ticks_per_block` hashes per block and validators reject anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PohConfig {
    /// SHA-256 hashes between two consecutive ticks, mixin hashes included. At least 2, so
    /// that a tick always has room for one mixin plus its own closing hash.
    pub hashes_per_tick: u64,
    /// Ticks in every block; the block's last entry is its last tick.
    pub ticks_per_block: u64,
}

impl PohConfig {
    /// Checks that the parameters describe a block that can be generated and verified.
    pub fn validate(&self) -> Result<(), PohError> {
        // A tick entry needs at least one plain hash of its own and a mixin needs one more,
        // so a tick of a single hash could never carry transactions.
        if self.hashes_per_tick < 2 {
            return Err(PohError::InvalidConfig { reason: "hashes_per_tick must be at least 2" });
        }
        if self.ticks_per_block == 0 {
            return Err(PohError::InvalidConfig { reason: "ticks_per_block must be positive" });
        }
        if self.hashes_per_tick.checked_mul(self.ticks_per_block).is_none() {
            return Err(PohError::InvalidConfig { reason: "hashes per block overflow u64" });
        }
        Ok(())
    }

    /// Total hashes in a block (saturating for configs that `validate` rejects).
    pub fn hashes_per_block(&self) -> u64 {
        self.hashes_per_tick.saturating_mul(self.ticks_per_block)
    }

    /// The wall-clock time one tick gets when the block's ticks are spread evenly over
    /// `block_time` (the whole `block_time` if `ticks_per_block` is 0).
    pub fn tick_duration(&self, block_time: Duration) -> Duration {
        fraction_of(block_time, 1, self.ticks_per_block)
    }
}

/// `duration * numerator / denominator` in integer nanoseconds, so that tick targets computed
/// from the block start never drift; a zero denominator counts as 1.
pub(crate) fn fraction_of(duration: Duration, numerator: u64, denominator: u64) -> Duration {
    let nanos = duration.as_nanos() * u128::from(numerator) / u128::from(denominator.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_degenerate_configs() {
        let ok = PohConfig { hashes_per_tick: 2, ticks_per_block: 1 };
        assert!(ok.validate().is_ok());
        for bad in [
            PohConfig { hashes_per_tick: 0, ticks_per_block: 8 },
            PohConfig { hashes_per_tick: 1, ticks_per_block: 8 },
            PohConfig { hashes_per_tick: 1000, ticks_per_block: 0 },
            PohConfig { hashes_per_tick: u64::MAX, ticks_per_block: 2 },
        ] {
            assert!(matches!(bad.validate(), Err(PohError::InvalidConfig { .. })), "{bad:?}");
        }
    }

    #[test]
    fn tick_duration_divides_block_time() {
        let config = PohConfig { hashes_per_tick: 1000, ticks_per_block: 8 };
        assert_eq!(config.tick_duration(Duration::from_secs(1)), Duration::from_millis(125));
        assert_eq!(fraction_of(Duration::from_secs(1), 3, 8), Duration::from_millis(375));
    }
}
