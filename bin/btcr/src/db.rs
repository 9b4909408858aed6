//! `btcr db`: offline work on a stopped node's chain store (snapshots and pruning).

use std::path::{Path, PathBuf};

use alloy_primitives::B256;
use btcr_node::{SNAPSHOT_BLOCKS, export_snapshot, import_snapshot, manifest_json, read_manifest};
use btcr_primitives::Genesis;
use btcr_storage::ChainStore;
use clap::{Args, Subcommand};
use eyre::{WrapErr, bail};

/// Options of `btcr db`.
#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Write or read a snapshot file: the state after the head block, with the blocks just
    /// before it.
    Snapshot(SnapshotArgs),
    /// Remove old blocks (headers, bodies, receipts, certificates), keeping the last N and
    /// genesis; reading a removed block answers that it is pruned. The node must be stopped.
    Prune(PruneArgs),
}

/// Where the chain is: a node's home (`btcr testnet`'s) or `btcr dev`'s data directory.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Place {
    /// A node's home directory (genesis.json, data/chain).
    #[arg(long)]
    home: Option<PathBuf>,
    /// `btcr dev --datadir`'s directory (genesis.json, chain).
    #[arg(long)]
    datadir: Option<PathBuf>,
}

impl Place {
    /// The genesis file and the store's directory.
    fn paths(&self) -> (PathBuf, PathBuf) {
        match (&self.home, &self.datadir) {
            (Some(home), _) => (home.join("genesis.json"), home.join("data").join("chain")),
            (None, Some(dir)) => (dir.join("genesis.json"), dir.join("chain")),
            (None, None) => unreachable!("clap requires one"),
        }
    }

    fn genesis(&self) -> eyre::Result<Genesis> {
        let (path, _) = self.paths();
        Genesis::load(&path).wrap_err_with(|| format!("reading {}", path.display()))
    }

    /// Opens the store, which must exist unless `create`.
    fn store(&self, create: bool) -> eyre::Result<ChainStore> {
        let (_, dir) = self.paths();
        if !create && !dir.join("chain.redb").exists() {
            bail!("{} holds no chain store", dir.display());
        }
        ChainStore::open(&dir).wrap_err_with(|| {
            format!("opening the chain store in {} (is the node still running?)", dir.display())
        })
    }
}

#[derive(Debug, Args)]
struct SnapshotArgs {
    #[command(subcommand)]
    command: SnapshotCommand,
}

#[derive(Debug, Subcommand)]
enum SnapshotCommand {
    /// Write the head's state and the blocks before it to a file, from one consistent read
    /// of a stopped node's store; prints the manifest.
    Export {
        #[command(flatten)]
        place: Place,
        /// The file to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
        /// Blocks to carry, ending at the head (the `BLOCKHASH` window by default).
        #[arg(long, default_value_t = SNAPSHOT_BLOCKS)]
        blocks: u64,
    },
    /// Verify a snapshot against this node's genesis and the head's commit certificate, and
    /// start a new node's store from it; the node then syncs the rest from its peers.
    Import {
        #[command(flatten)]
        place: Place,
        /// The snapshot file.
        #[arg(long)]
        file: PathBuf,
        /// The head's hash, from a source you trust: needed on a proof-of-stake chain
        /// whose genesis validators no longer hold a third of the power signing the head.
        #[arg(long = "trust-hash")]
        trust_hash: Option<B256>,
    },
    /// Print a snapshot file's manifest (without verifying its contents).
    Inspect {
        /// The snapshot file.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
struct PruneArgs {
    #[command(flatten)]
    place: Place,
    /// Blocks to keep, ending at the head (at least 256: the `BLOCKHASH` window).
    #[arg(long = "keep-blocks")]
    keep_blocks: u64,
}

/// Blocks removed per durable transaction while pruning.
const PRUNE_BATCH: u64 = 1_000;

/// Runs `btcr db`.
pub fn run(args: DbArgs) -> eyre::Result<()> {
    match args.command {
        DbCommand::Snapshot(SnapshotArgs { command }) => match command {
            SnapshotCommand::Export { place, out, blocks } => export(&place, &out, blocks),
            SnapshotCommand::Import { place, file, trust_hash } => {
                import(&place, &file, trust_hash)
            }
            SnapshotCommand::Inspect { file } => {
                println!("{}", manifest_json(&read_manifest(&file)?));
                Ok(())
            }
        },
        DbCommand::Prune(args) => prune(&args),
    }
}

fn export(place: &Place, out: &Path, blocks: u64) -> eyre::Result<()> {
    let genesis = place.genesis()?;
    let store = place.store(false)?;
    let exported = export_snapshot(&store, &genesis, out, blocks, |what, count| {
        eprintln!("wrote {count} {what}");
    })?;
    eprintln!(
        "Wrote {} ({} bytes): block {} ({}), state root {}",
        out.display(),
        exported.bytes,
        exported.manifest.height,
        exported.manifest.block_hash,
        exported.manifest.state_root
    );
    println!("{}", manifest_json(&exported.manifest));
    Ok(())
}

fn import(place: &Place, file: &Path, trust_hash: Option<B256>) -> eyre::Result<()> {
    let genesis = place.genesis()?;
    let store = place.store(true)?;
    let imported = import_snapshot(&store, &genesis, file, trust_hash, |what, count| {
        eprintln!("checked {count} {what}");
    })?;
    let m = &imported.manifest;
    eprintln!(
        "Imported block {} ({}), state root {}: {} accounts, {} storage slots, {} codes, \
         blocks {}..={}; its certificate is trusted through {}",
        m.height,
        m.block_hash,
        m.state_root,
        m.accounts,
        m.storage_slots,
        m.codes,
        m.earliest,
        m.height,
        imported.trusted_by
    );
    Ok(())
}

fn prune(args: &PruneArgs) -> eyre::Result<()> {
    if args.keep_blocks < SNAPSHOT_BLOCKS {
        bail!(
            "--keep-blocks must be at least {SNAPSHOT_BLOCKS}: executing the next block reads \
             the hashes of the last {SNAPSHOT_BLOCKS}"
        );
    }
    let store = args.place.store(false)?;
    let removed = store.prune_blocks(args.keep_blocks, PRUNE_BATCH, |done, total| {
        eprintln!("pruned {done} of {total} blocks");
    })?;
    match removed {
        Some(range) => eprintln!(
            "Removed blocks {}..={}; this node keeps genesis and blocks from {} on",
            range.start,
            range.end - 1,
            range.end
        ),
        None => eprintln!("Nothing to prune: the store keeps at most {} blocks", args.keep_blocks),
    }
    Ok(())
}
