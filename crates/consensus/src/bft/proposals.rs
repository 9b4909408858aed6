//! This validator's own proposals, kept on disk until their height is decided: after a
//! crash, a round it already proposed in gets the same block again, never a second one
//! (which peers would see as a double proposal).

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use alloy_rlp::{Decodable, Encodable};
use btcr_primitives::Block;
use malachitebft_app_channel::app::types::core::Round;

use super::context::Height;

/// Proposals by height and round, one file each (`<height>-<round>.rlp`).
#[derive(Debug)]
pub struct ProposalStore {
    dir: PathBuf,
}

impl ProposalStore {
    /// The store in `dir`, created if missing.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(Self { dir: dir.to_path_buf() })
    }

    fn path(&self, height: Height, round: Round) -> PathBuf {
        self.dir.join(format!("{}-{}.rlp", height.0, round.as_i64()))
    }

    /// The block proposed at `height` and `round`, if any. A file that does not decode to a
    /// block of that height was never completely written (it is written before the
    /// proposal is signed), so it counts as none.
    pub fn load(&self, height: Height, round: Round) -> Option<Block> {
        let bytes = fs::read(self.path(height, round)).ok()?;
        Block::decode(&mut bytes.as_slice()).ok().filter(|b| b.number() == height.0)
    }

    /// Writes the block durably (a temporary file, fsync, rename, fsync of the directory).
    pub fn save(&self, height: Height, round: Round, block: &Block) -> std::io::Result<()> {
        let mut encoded = Vec::with_capacity(block.length());
        block.encode(&mut encoded);
        let path = self.path(height, round);
        let tmp = path.with_extension("tmp");
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&encoded)?;
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        fs::File::open(&self.dir)?.sync_all()
    }

    /// Deletes the proposals of heights below `height`: they are decided.
    pub fn prune(&self, height: Height) {
        let Ok(entries) = fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let below = name
                .to_str()
                .and_then(|n| n.split('-').next())
                .and_then(|h| h.parse::<u64>().ok())
                .is_some_and(|h| h < height.0);
            if below {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Address;
    use btcr_primitives::BlockBody;

    use super::*;
    use crate::bft::test_header;

    fn block(number: u64) -> Block {
        Block { header: test_header(number, Address::ZERO), body: BlockBody::default() }
    }

    #[test]
    fn proposals_survive_until_their_height_is_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProposalStore::open(dir.path()).unwrap();
        assert!(store.load(Height(5), Round::new(0)).is_none());
        store.save(Height(5), Round::new(0), &block(5)).unwrap();
        store.save(Height(6), Round::new(1), &block(6)).unwrap();
        let reopened = ProposalStore::open(dir.path()).unwrap();
        assert_eq!(reopened.load(Height(5), Round::new(0)), Some(block(5)));
        assert!(reopened.load(Height(5), Round::new(1)).is_none());
        // A torn write is no proposal.
        fs::write(reopened.path(Height(7), Round::new(0)), [0xf9, 0x01]).unwrap();
        assert!(reopened.load(Height(7), Round::new(0)).is_none());
        reopened.prune(Height(6));
        assert!(reopened.load(Height(5), Round::new(0)).is_none());
        assert_eq!(reopened.load(Height(6), Round::new(1)), Some(block(6)));
    }
}
