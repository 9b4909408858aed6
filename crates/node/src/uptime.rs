//! Validators' uptime: of the latest blocks, how many carry each validator's precommit in
//! their commit certificate, counting for each validator only the blocks decided by a set
//! it was in. The sets come from the store, which keeps each set an epoch's end elects.

use std::collections::{HashMap, VecDeque};

use alloy_primitives::Address;
use btcr_interfaces::Uptime;

/// The most blocks uptime is counted over.
pub(crate) const UPTIME_WINDOW: u64 = 100;

/// The validator sets that decided the latest blocks: each from its first height on, oldest
/// first.
#[derive(Debug, Clone)]
pub(crate) struct DecidingSets {
    sets: VecDeque<(u64, Vec<Address>)>,
}

impl DecidingSets {
    /// Starts with the set that decides blocks from `first` on.
    pub(crate) fn new(first: u64, members: Vec<Address>) -> Self {
        Self { sets: VecDeque::from([(first, members)]) }
    }

    /// A new set decides blocks from `first` on (after an epoch ends).
    pub(crate) fn advance(&mut self, first: u64, members: Vec<Address>) {
        self.sets.push_back((first, members));
    }

    /// The sets the store lists latest first ([`btcr_storage::Snapshot::validator_sets`]).
    pub(crate) fn from_latest_first(
        sets: Vec<(u64, Vec<btcr_primitives::GenesisValidator>)>,
    ) -> Option<Self> {
        let mut sets = sets.into_iter().rev();
        let (first, members) = sets.next()?;
        let mut out = Self::new(first, members.iter().map(|v| v.address).collect());
        for (first, members) in sets {
            out.advance(first, members.iter().map(|v| v.address).collect());
        }
        Some(out)
    }

    /// The set that decided block `height`, if known.
    fn deciding(&self, height: u64) -> Option<&[Address]> {
        self.sets.iter().rev().find(|(first, _)| *first <= height).map(|(_, m)| m.as_slice())
    }

    /// Each validator's uptime over blocks `head - 99 ..= head` (those decided by a known
    /// set), reading the signers of each block's certificate with `signers`.
    pub(crate) fn uptime<E>(
        &self,
        head: u64,
        mut signers: impl FnMut(u64) -> Result<Vec<Address>, E>,
    ) -> Result<HashMap<Address, Uptime>, E> {
        let mut out: HashMap<Address, Uptime> = HashMap::new();
        let oldest = self.sets.front().map_or(u64::MAX, |(first, _)| *first);
        let first = oldest.max((head + 1).saturating_sub(UPTIME_WINDOW)).max(1);
        for height in first..=head {
            let Some(members) = self.deciding(height) else { continue };
            let signed = signers(height)?;
            for member in members {
                let entry = out.entry(*member).or_default();
                entry.window += 1;
                if signed.contains(member) {
                    entry.signed += 1;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_counts_each_validator_over_the_blocks_its_sets_decided() {
        let (a, b, c) = (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        // a and b decide from block 1; from block 150, a and c.
        let mut sets = DecidingSets::new(1, vec![a, b]);
        sets.advance(150, vec![a, c]);
        // b signs the even blocks; everyone else signs every block they decide.
        let signers = |h: u64| -> Result<Vec<Address>, ()> {
            let mut s = vec![a];
            if h >= 150 {
                s.push(c);
            } else if h.is_multiple_of(2) {
                s.push(b);
            }
            Ok(s)
        };
        // Head 199: the window is 100..=199, 50 blocks of each set.
        let up = sets.uptime(199, signers).unwrap();
        assert_eq!(up[&a], Uptime { signed: 100, window: 100 });
        assert_eq!(up[&b], Uptime { signed: 25, window: 50 });
        assert_eq!(up[&c], Uptime { signed: 50, window: 50 });

        // A third set: a is out of it from block 250 on, b long gone.
        sets.advance(250, vec![c]);
        let up = sets.uptime(260, signers).unwrap();
        assert_eq!(up[&a], Uptime { signed: 89, window: 89 }, "161..=249 and nothing after");
        assert_eq!(up[&c], Uptime { signed: 100, window: 100 });
        assert!(!up.contains_key(&b));
        // Blocks before the oldest known set are not counted.
        let later = DecidingSets::new(150, vec![a, c]);
        assert_eq!(later.uptime(199, signers).unwrap()[&a], Uptime { signed: 50, window: 50 });

        // Early on, the window starts at block 1 (genesis has no certificate).
        let fresh = DecidingSets::new(1, vec![a]);
        assert_eq!(fresh.uptime(10, signers).unwrap()[&a], Uptime { signed: 10, window: 10 });
        assert!(fresh.uptime(0, signers).unwrap().is_empty());
        // A set that decides from the next block on has decided nothing yet.
        assert!(DecidingSets::new(11, vec![a]).uptime(10, signers).unwrap().is_empty());
    }
}
