//! A check of the consensus write-ahead log before the engine replays it. The engine stops
//! for good ("hanging to prevent unsafe auto-restart") on a corrupt entry, and refuses a
//! file whose header is unreadable; BTCR looks first, so that a node either starts or says
//! exactly what is wrong and what to do.
//!
//! - A torn last write (the process died while appending): the log's own opening drops an
//!   incomplete entry, and this check drops a complete-looking last entry whose checksum
//!   fails. Nothing was done on the strength of an entry that never finished persisting:
//!   every vote is signed only after its inputs are in the log.
//! - Any earlier entry corrupt, or an unreadable header: the node refuses to start. Deleting
//!   the log would let the validator sign again at the height it was at, which could be a
//!   double vote; that is for the operator to decide, once the network is past that height.

use std::path::Path;

use malachitebft_app_channel::app::wal::Log;

/// What the check did to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalCheck {
    /// No log yet.
    Absent,
    /// Every entry reads back.
    Intact {
        /// Entries in the log.
        entries: usize,
    },
    /// The last entry was torn and is dropped.
    DroppedTornTail {
        /// Entries left.
        entries: usize,
    },
}

/// Checks the log at `path`, repairing a torn tail; an error explains what is wrong.
pub fn check_wal(path: &Path) -> Result<WalCheck, String> {
    if !path.exists() {
        return Ok(WalCheck::Absent);
    }
    let advice = "The node will not start on it: it could sign a second, different vote at \
                  the height it was at. Once the network has finalized past that height (see \
                  `btcr_nodeInfo` on a peer), move the file aside and start again.";
    let mut log = Log::open(path).map_err(|e| {
        format!("the consensus write-ahead log {} is unreadable ({e}). {advice}", path.display())
    })?;
    let entries = log.len();
    let mut corrupt = None;
    {
        let iter = log.iter().map_err(|e| format!("reading {}: {e}", path.display()))?;
        for (i, entry) in iter.enumerate() {
            if entry.is_err() {
                corrupt = Some(i);
                break;
            }
        }
    }
    match corrupt {
        None => Ok(WalCheck::Intact { entries }),
        Some(i) if i + 1 == entries => {
            log.truncate(i as u64).map_err(|e| format!("repairing {}: {e}", path.display()))?;
            Ok(WalCheck::DroppedTornTail { entries: i })
        }
        Some(i) => Err(format!(
            "entry {i} of {entries} in the consensus write-ahead log {} is corrupt. {advice}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_log(path: &Path, entries: &[&[u8]]) {
        let mut log = Log::open(path).unwrap();
        for e in entries {
            log.append(e).unwrap();
        }
        log.flush().unwrap();
    }

    /// Flips a byte inside the data of entry `index` (each entry: flag, length, CRC, data).
    fn corrupt_entry(path: &Path, entries: &[&[u8]], index: usize) {
        let mut bytes = std::fs::read(path).unwrap();
        let header = 12;
        let offset: usize = header + entries[..index].iter().map(|e| 13 + e.len()).sum::<usize>();
        bytes[offset + 13] ^= 0xff;
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_torn_tail_is_dropped_and_earlier_damage_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consensus.wal");
        assert_eq!(check_wal(&path), Ok(WalCheck::Absent));
        let entries: [&[u8]; 3] = [b"first entry", b"second entry", b"third entry"];
        write_log(&path, &entries);
        assert_eq!(check_wal(&path), Ok(WalCheck::Intact { entries: 3 }));

        // A write cut short: the log's opening drops it.
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 4).unwrap();
        assert_eq!(check_wal(&path), Ok(WalCheck::Intact { entries: 2 }));

        // A complete-looking last entry whose checksum fails: dropped here.
        std::fs::remove_file(&path).unwrap();
        write_log(&path, &entries);
        corrupt_entry(&path, &entries, 2);
        assert_eq!(check_wal(&path), Ok(WalCheck::DroppedTornTail { entries: 2 }));
        assert_eq!(check_wal(&path), Ok(WalCheck::Intact { entries: 2 }), "repaired on disk");

        // Damage before the last entry: refused, with the file named.
        std::fs::remove_file(&path).unwrap();
        write_log(&path, &entries);
        corrupt_entry(&path, &entries, 0);
        let err = check_wal(&path).unwrap_err();
        assert!(err.contains("entry 0 of 3") && err.contains("consensus.wal"), "{err}");

        // An unreadable header: refused.
        std::fs::write(&path, [0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        let err = check_wal(&path).unwrap_err();
        assert!(err.contains("unreadable"), "{err}");
    }
}
