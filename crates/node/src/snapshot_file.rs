//! Snapshot files (`btcr db snapshot export|import`): the state after one block, with the
//! blocks just before it, read in one consistent view of the store and verified on import
//! against the block's commit certificate before anything is written.
//!
//! ```text
//!  "BTCRSNAP" │ frame │ frame │ … │ manifest frame │ manifest offset (u64 BE)
//!  frame = kind (u8) │ payload length (u32 BE) │ payload (RLP list, at most 8 MiB)
//! ```
//!
//! Frames hold, in this order: blocks (header, body, receipts, certificate, senders and
//! balances; the last one is the snapshot's head), validator sets, accounts, storage slots
//! and contract code. The manifest (JSON, last) names the chain, its genesis, the head's
//! height, hash and state root, the counts, and each frame's kind, length and keccak256.
//!
//! Import checks, before writing: the chain and genesis against the node's genesis file;
//! each frame against the manifest; the blocks linked by parent hash up to the head; each
//! body and receipt list against its header's roots; the state root recomputed from the
//! accounts and storage against the head's header; each code against its hash; the head's
//! certificate signed by more than two thirds of the set deciding it; and the trust in that
//! set: the genesis set on a proof-of-authority chain, otherwise validators of the genesis
//! set holding more than a third of its power among the signers (the light-client rule), or
//! a block hash the operator trusts (`--trust-hash`). Memory: the state is held whole while
//! its root is computed.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write},
    path::Path,
};

use alloy_consensus::proofs::{calculate_receipt_root, calculate_transaction_root};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use btcr_execution::{EmptyState, compute_state_root};
use btcr_primitives::{
    Account, AccountChange, Block, BlockAccounts, CommitCertificate, ConsensusMode, Genesis,
    GenesisValidator, ReceiptEnvelope, StateChanges, StateOverlay,
};
use btcr_storage::{ChainStore, SnapshotInstall, StoredBlock};
use serde::{Deserialize, Serialize};

use crate::error::{Context as _, NodeResult, bail};

const MAGIC: &[u8; 8] = b"BTCRSNAP";
/// The version of the layout this node writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;
/// Payload bytes of one frame at most (a reader allocates no more per frame).
const MAX_FRAME: usize = 8 << 20;
/// A frame is closed once its payload passes this size.
const FRAME_TARGET: usize = 4 << 20;
/// Bytes of the manifest at most.
const MAX_MANIFEST: u64 = 64 << 20;
/// Blocks a snapshot carries by default: the `BLOCKHASH` window.
pub const SNAPSHOT_BLOCKS: u64 = 256;
/// Blocks a snapshot may carry at most.
const MAX_BLOCKS: u64 = 4096;

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrameKind {
    /// [`SnapBlock`]s, in height order.
    Blocks,
    /// [`SnapSet`]s.
    ValidatorSets,
    /// [`SnapAccount`]s, in address order.
    Accounts,
    /// [`SnapSlot`]s, in address and slot order.
    Storage,
    /// [`SnapCode`]s.
    Code,
}

impl FrameKind {
    fn code(self) -> u8 {
        match self {
            FrameKind::Blocks => 1,
            FrameKind::ValidatorSets => 2,
            FrameKind::Accounts => 3,
            FrameKind::Storage => 4,
            FrameKind::Code => 5,
        }
    }
}

/// Code of the manifest's frame.
const MANIFEST_FRAME: u8 = 0xff;

/// One frame as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrameEntry {
    /// What it holds.
    pub kind: FrameKind,
    /// Payload bytes.
    pub bytes: u32,
    /// keccak256 of the payload.
    pub hash: B256,
}

/// What a snapshot holds, written last in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// [`SNAPSHOT_FORMAT`].
    pub format: u32,
    /// The chain's id.
    pub chain_id: u64,
    /// Hash of its genesis block.
    pub genesis_hash: B256,
    /// The head: the block whose state the snapshot holds.
    pub height: u64,
    /// The head's hash.
    pub block_hash: B256,
    /// The head's state root.
    pub state_root: B256,
    /// The first block carried (blocks below it are pruned on the importing node).
    pub earliest: u64,
    /// Accounts carried.
    pub accounts: u64,
    /// Storage slots carried.
    pub storage_slots: u64,
    /// Contract codes carried.
    pub codes: u64,
    /// The frames, in file order.
    pub frames: Vec<FrameEntry>,
}

/// A block in a snapshot; the inner byte strings are RLP encodings (empty when absent).
#[derive(Debug, Clone, RlpEncodable, RlpDecodable)]
struct SnapBlock {
    block: Bytes,
    receipts: Bytes,
    certificate: Bytes,
    accounts: Bytes,
}

/// A validator set and the first block it decides.
#[derive(Debug, Clone, RlpEncodable, RlpDecodable)]
struct SnapSet {
    first: u64,
    validators: Vec<SnapValidator>,
}

#[derive(Debug, Clone, RlpEncodable, RlpDecodable)]
struct SnapValidator {
    address: Address,
    public_key: Bytes,
    power: u64,
}

#[derive(Debug, Clone, RlpEncodable, RlpDecodable)]
struct SnapAccount {
    address: Address,
    account: Account,
}

#[derive(Debug, Clone, RlpEncodable, RlpDecodable)]
struct SnapSlot {
    address: Address,
    slot: U256,
    value: U256,
}

#[derive(Debug, Clone, RlpEncodable, RlpDecodable)]
struct SnapCode {
    hash: B256,
    code: Bytes,
}

/// Writes frames of RLP items to a file, closing a frame at [`FRAME_TARGET`].
struct FrameWriter<W: Write> {
    out: W,
    frames: Vec<FrameEntry>,
    kind: Option<FrameKind>,
    items: Vec<u8>,
    written: u64,
}

impl<W: Write> FrameWriter<W> {
    fn push(&mut self, kind: FrameKind, item: &impl Encodable) -> std::io::Result<()> {
        if self.kind != Some(kind) || self.items.len() >= FRAME_TARGET {
            self.flush()?;
            self.kind = Some(kind);
        }
        item.encode(&mut self.items);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let Some(kind) = self.kind.take() else { return Ok(()) };
        let mut payload = Vec::with_capacity(self.items.len() + 9);
        alloy_rlp::Header { list: true, payload_length: self.items.len() }.encode(&mut payload);
        payload.append(&mut self.items);
        let bytes = u32::try_from(payload.len()).expect("frames stay under 8 MiB");
        self.frames.push(FrameEntry { kind, bytes, hash: keccak256(&payload) });
        self.raw(kind.code(), &payload)
    }

    fn raw(&mut self, code: u8, payload: &[u8]) -> std::io::Result<()> {
        self.out.write_all(&[code])?;
        self.out.write_all(&(payload.len() as u32).to_be_bytes())?;
        self.out.write_all(payload)?;
        self.written += 5 + payload.len() as u64;
        Ok(())
    }
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The manifest.
    pub manifest: Manifest,
    /// Bytes of the file.
    pub bytes: u64,
}

/// Writes the head's state and up to `blocks` blocks ending at it (never genesis, never
/// pruned ones) from one consistent view of `store` to `out` (written beside it first, then
/// renamed, so a crash leaves no half file under the name). `progress(what, count)` while
/// it goes.
pub fn export_snapshot(
    store: &ChainStore,
    genesis: &Genesis,
    out: &Path,
    blocks: u64,
    mut progress: impl FnMut(&str, u64),
) -> NodeResult<Exported> {
    if !(1..=MAX_BLOCKS).contains(&blocks) {
        bail!("--blocks must be 1 to {MAX_BLOCKS}");
    }
    let view = store.snapshot()?;
    let Some(head) = view.head().cloned() else { bail!("the store holds no chain") };
    if head.number == 0 {
        bail!("the chain has only its genesis block: nothing to snapshot");
    }
    let genesis_hash = view.header(0)?.map(|h| h.hash()).unwrap_or_default();
    let earliest = (head.number + 1).saturating_sub(blocks).max(view.earliest()).max(1);
    let partial = out.with_extension("partial");
    let file =
        File::create(&partial).wrap_err_with(|| format!("creating {}", partial.display()))?;
    let mut w = FrameWriter {
        out: BufWriter::new(file),
        frames: Vec::new(),
        kind: None,
        items: Vec::new(),
        written: 0,
    };
    let io = |e: std::io::Error| crate::error::NodeError::Failed {
        context: format!("writing {}", partial.display()),
        source: Box::new(e),
    };
    w.out.write_all(MAGIC).map_err(io)?;
    w.written = MAGIC.len() as u64;
    for number in earliest..=head.number {
        let block = view.block(number)?.ok_or_else(|| missing(format!("block {number}")))?;
        let receipts = view.receipts(number)?.unwrap_or_default();
        let mut receipt_bytes = Vec::new();
        alloy_rlp::encode_list::<ReceiptEnvelope, ReceiptEnvelope>(&receipts, &mut receipt_bytes);
        let item = SnapBlock {
            block: alloy_rlp::encode(&block).into(),
            receipts: receipt_bytes.into(),
            certificate: view
                .certificate(number)?
                .map(|c| alloy_rlp::encode(c).into())
                .unwrap_or_default(),
            accounts: view
                .block_accounts(number)?
                .map(|a| alloy_rlp::encode(a).into())
                .unwrap_or_default(),
        };
        w.push(FrameKind::Blocks, &item).map_err(io)?;
    }
    progress("blocks", head.number + 1 - earliest);
    for (first, set) in view.validator_sets(earliest, head.number)? {
        let validators = set
            .into_iter()
            .map(|v| SnapValidator { address: v.address, public_key: v.public_key, power: v.power })
            .collect();
        w.push(FrameKind::ValidatorSets, &SnapSet { first, validators }).map_err(io)?;
    }
    let accounts = view.all_accounts()?;
    let mut codes = std::collections::BTreeSet::new();
    for (address, account) in &accounts {
        w.push(FrameKind::Accounts, &SnapAccount { address: *address, account: *account })
            .map_err(io)?;
        if account.code_hash != btcr_primitives::EMPTY_CODE_HASH {
            codes.insert(account.code_hash);
        }
    }
    progress("accounts", accounts.len() as u64);
    let mut slots = 0u64;
    for (address, _) in &accounts {
        for (slot, value) in view.all_storage(address)? {
            w.push(FrameKind::Storage, &SnapSlot { address: *address, slot, value }).map_err(io)?;
            slots += 1;
        }
    }
    progress("storage slots", slots);
    for hash in &codes {
        let code = btcr_primitives::StateReader::code(&*view, hash)
            .map_err(|e| missing(format!("code {hash}: {e}")))?
            .ok_or_else(|| missing(format!("code {hash}")))?;
        w.push(FrameKind::Code, &SnapCode { hash: *hash, code }).map_err(io)?;
    }
    progress("codes", codes.len() as u64);
    w.flush().map_err(io)?;
    let manifest = Manifest {
        format: SNAPSHOT_FORMAT,
        chain_id: genesis.chain_id,
        genesis_hash,
        height: head.number,
        block_hash: head.hash(),
        state_root: head.state_root,
        earliest,
        accounts: accounts.len() as u64,
        storage_slots: slots,
        codes: codes.len() as u64,
        frames: std::mem::take(&mut w.frames),
    };
    let offset = w.written;
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    w.raw(MANIFEST_FRAME, &json).map_err(io)?;
    w.out.write_all(&offset.to_be_bytes()).map_err(io)?;
    let file = w.out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    let bytes = w.written + 8;
    std::fs::rename(&partial, out).wrap_err_with(|| format!("renaming to {}", out.display()))?;
    Ok(Exported { manifest, bytes })
}

fn missing(what: String) -> crate::error::NodeError {
    crate::error::NodeError::Invalid(format!("the store lacks {what}"))
}

/// Reads the manifest of the snapshot at `path` (and checks the file's frame).
pub fn read_manifest(path: &Path) -> NodeResult<Manifest> {
    let mut file = File::open(path).wrap_err_with(|| format!("opening {}", path.display()))?;
    manifest_of(&mut file, path)
}

fn manifest_of(file: &mut File, path: &Path) -> NodeResult<Manifest> {
    let refuse = |why: &str| {
        crate::error::NodeError::Invalid(format!(
            "{} is not a BTCR snapshot: {why}",
            path.display()
        ))
    };
    let len = file.metadata().wrap_err("reading the snapshot's size")?.len();
    let mut magic = [0u8; 8];
    if len < 8 + 5 + 8 || file.read_exact(&mut magic).is_err() || &magic != MAGIC {
        return Err(refuse("it does not start with the snapshot mark"));
    }
    let mut offset = [0u8; 8];
    file.seek(SeekFrom::End(-8)).wrap_err("reading the snapshot")?;
    file.read_exact(&mut offset).wrap_err("reading the snapshot")?;
    let offset = u64::from_be_bytes(offset);
    if offset < 8 || offset + 5 > len - 8 {
        return Err(refuse("its manifest offset is outside the file"));
    }
    file.seek(SeekFrom::Start(offset)).wrap_err("reading the snapshot")?;
    let mut head = [0u8; 5];
    file.read_exact(&mut head).wrap_err("reading the snapshot")?;
    let size = u64::from(u32::from_be_bytes(head[1..].try_into().expect("4 bytes")));
    if head[0] != MANIFEST_FRAME || size > MAX_MANIFEST || offset + 5 + size != len - 8 {
        return Err(refuse("its manifest frame is malformed"));
    }
    let mut json = vec![0u8; size as usize];
    file.read_exact(&mut json).wrap_err("reading the snapshot")?;
    let manifest: Manifest = serde_json::from_slice(&json)
        .map_err(|e| refuse(&format!("its manifest does not parse: {e}")))?;
    if manifest.format != SNAPSHOT_FORMAT {
        return Err(refuse(&format!(
            "format {} (this node reads {SNAPSHOT_FORMAT})",
            manifest.format
        )));
    }
    let framed: u64 = manifest.frames.iter().map(|f| 5 + u64::from(f.bytes)).sum();
    if 8 + framed != offset {
        return Err(refuse("its frames do not add up to the manifest's offset"));
    }
    Ok(manifest)
}

/// What an import installed.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The manifest.
    pub manifest: Manifest,
    /// How the head's certificate was trusted.
    pub trusted_by: String,
}

/// Verifies the snapshot at `path` for the chain of `genesis` and installs it into `store`
/// (which must be empty); `trust_hash`, when given, must be the snapshot's head.
pub fn import_snapshot(
    store: &ChainStore,
    genesis: &Genesis,
    path: &Path,
    trust_hash: Option<B256>,
    mut progress: impl FnMut(&str, u64),
) -> NodeResult<Imported> {
    if let Some(head) = store.snapshot()?.head_number() {
        bail!("the data directory already holds blocks up to {head}: import into a new one");
    }
    let mut file = File::open(path).wrap_err_with(|| format!("opening {}", path.display()))?;
    let manifest = manifest_of(&mut file, path)?;
    let (genesis_block, _) =
        crate::genesis_block(genesis).map_err(crate::error::NodeError::Invalid)?;
    if manifest.chain_id != genesis.chain_id || manifest.genesis_hash != genesis_block.hash() {
        bail!(
            "the snapshot is of chain {} with genesis {}; this node's genesis file gives chain \
             {} with genesis {}",
            manifest.chain_id,
            manifest.genesis_hash,
            genesis.chain_id,
            genesis_block.hash()
        );
    }
    if manifest.height < manifest.earliest
        || manifest.earliest == 0
        || manifest.height - manifest.earliest >= MAX_BLOCKS
    {
        bail!(
            "the snapshot's blocks {}..={} are not a range it may carry",
            manifest.earliest,
            manifest.height
        );
    }
    file.seek(SeekFrom::Start(8)).wrap_err("reading the snapshot")?;
    let mut reader = BufReader::new(file);
    let mut contents = Contents::default();
    for (i, entry) in manifest.frames.iter().enumerate() {
        let mut head = [0u8; 5];
        reader.read_exact(&mut head).wrap_err("reading the snapshot")?;
        let size = u32::from_be_bytes(head[1..].try_into().expect("4 bytes"));
        if head[0] != entry.kind.code() || size != entry.bytes || size as usize > MAX_FRAME {
            bail!("frame {i} of the snapshot is not the one its manifest lists");
        }
        let mut payload = vec![0u8; size as usize];
        reader.read_exact(&mut payload).wrap_err("reading the snapshot")?;
        if keccak256(&payload) != entry.hash {
            bail!("frame {i} of the snapshot does not match its hash in the manifest");
        }
        contents.take(entry.kind, &payload).map_err(|e| {
            crate::error::NodeError::Invalid(format!("frame {i} of the snapshot: {e}"))
        })?;
    }
    progress("frames", manifest.frames.len() as u64);
    let checked = contents.verify(&manifest, genesis, trust_hash)?;
    progress("accounts", manifest.accounts);
    store.install_snapshot(SnapshotInstall {
        genesis: &genesis_block,
        blocks: &checked.blocks,
        changes: &checked.changes,
        node_writes: &checked.node_writes,
        validator_sets: &checked.sets,
    })?;
    Ok(Imported { manifest, trusted_by: checked.trusted_by })
}

/// What the frames held, gathered.
#[derive(Default)]
struct Contents {
    blocks: Vec<StoredBlock>,
    sets: Vec<(u64, Vec<GenesisValidator>)>,
    changes: StateChanges,
    slots: u64,
}

fn items<T: Decodable>(payload: &[u8]) -> Result<Vec<T>, String> {
    decode_all("the frame", payload)
}

fn decode_all<T: Decodable>(what: &str, bytes: &[u8]) -> Result<T, String> {
    let mut buf = bytes;
    let value = T::decode(&mut buf).map_err(|e| format!("{what}: {e}"))?;
    if !buf.is_empty() {
        return Err(format!("{what}: trailing bytes"));
    }
    Ok(value)
}

impl Contents {
    fn take(&mut self, kind: FrameKind, payload: &[u8]) -> Result<(), String> {
        match kind {
            FrameKind::Blocks => {
                for b in items::<SnapBlock>(payload)? {
                    let block: Block = decode_all("a block", &b.block)?;
                    let receipts: Vec<ReceiptEnvelope> = decode_all("receipts", &b.receipts)?;
                    let certificate = (!b.certificate.is_empty())
                        .then(|| decode_all::<CommitCertificate>("a certificate", &b.certificate))
                        .transpose()?;
                    let accounts = (!b.accounts.is_empty())
                        .then(|| decode_all::<BlockAccounts>("senders", &b.accounts))
                        .transpose()?;
                    if self.blocks.len() as u64 >= MAX_BLOCKS {
                        return Err(format!("more than {MAX_BLOCKS} blocks"));
                    }
                    self.blocks.push(StoredBlock { block, receipts, certificate, accounts });
                }
            }
            FrameKind::ValidatorSets => {
                for s in items::<SnapSet>(payload)? {
                    let set = s
                        .validators
                        .into_iter()
                        .map(|v| GenesisValidator {
                            address: v.address,
                            public_key: v.public_key,
                            power: v.power,
                        })
                        .collect();
                    self.sets.push((s.first, set));
                }
            }
            FrameKind::Accounts => {
                for a in items::<SnapAccount>(payload)? {
                    let change = AccountChange {
                        account: Some(Account { storage_root: B256::ZERO, ..a.account }),
                        storage_wiped: false,
                        storage: BTreeMap::new(),
                    };
                    if self.changes.accounts.insert(a.address, change).is_some() {
                        return Err(format!("account {} twice", a.address));
                    }
                }
            }
            FrameKind::Storage => {
                for s in items::<SnapSlot>(payload)? {
                    let Some(change) = self.changes.accounts.get_mut(&s.address) else {
                        return Err(format!("storage of {}, which has no account", s.address));
                    };
                    if s.value.is_zero() || change.storage.insert(s.slot, s.value).is_some() {
                        return Err(format!("slot {} of {} is zero or twice", s.slot, s.address));
                    }
                    self.slots += 1;
                }
            }
            FrameKind::Code => {
                for c in items::<SnapCode>(payload)? {
                    if keccak256(&c.code) != c.hash {
                        return Err(format!("code {} does not hash to its name", c.hash));
                    }
                    self.changes.codes.insert(c.hash, c.code);
                }
            }
        }
        Ok(())
    }

    fn verify(
        self,
        manifest: &Manifest,
        genesis: &Genesis,
        trust_hash: Option<B256>,
    ) -> NodeResult<Checked> {
        let Contents { blocks, mut sets, changes, slots } = self;
        // The blocks: from the manifest's earliest to its head, each on its parent, each
        // body and receipt list under its header's roots.
        let Some(last) = blocks.last() else { bail!("the snapshot carries no block") };
        let head = last.block.header.clone();
        if blocks.len() as u64 != manifest.height + 1 - manifest.earliest
            || blocks[0].block.header.number != manifest.earliest
            || head.number != manifest.height
            || head.hash() != manifest.block_hash
            || head.state_root != manifest.state_root
        {
            bail!("the snapshot's blocks are not the ones its manifest names");
        }
        for pair in blocks.windows(2) {
            let (parent, child) = (&pair[0].block.header, &pair[1].block.header);
            if child.number != parent.number + 1 || child.parent_hash != parent.hash() {
                bail!(
                    "block {} of the snapshot does not follow block {}",
                    child.number,
                    parent.number
                );
            }
        }
        for b in &blocks {
            let h = &b.block.header;
            let entries = &b.block.body.poh_entries;
            if calculate_transaction_root(&b.block.body.transactions) != h.transactions_root
                || calculate_receipt_root(&b.receipts) != h.receipts_root
                || h.poh_entries_root.is_some_and(|root| root != btcr_poh::entries_root(entries))
            {
                bail!(
                    "block {} of the snapshot has a body or receipts its header does not commit to",
                    h.number
                );
            }
        }
        if changes.accounts.len() as u64 != manifest.accounts
            || slots != manifest.storage_slots
            || changes.codes.len() as u64 != manifest.codes
        {
            bail!("the snapshot's counts differ from its manifest's");
        }
        for (address, change) in &changes.accounts {
            let code_hash = change.account.map(|a| a.code_hash).unwrap_or_default();
            if code_hash != btcr_primitives::EMPTY_CODE_HASH
                && !changes.codes.contains_key(&code_hash)
            {
                bail!("the snapshot lacks the code of {address}");
            }
        }
        // The state: its recomputed root is the head's.
        let root = compute_state_root(&EmptyState::default(), changes)
            .wrap_err("computing the snapshot's state root")?;
        if root.state_root != head.state_root {
            bail!(
                "the snapshot's state has root {}, not the head's {}",
                root.state_root,
                head.state_root
            );
        }
        // The head's certificate, by the set deciding it.
        let certificate = last.certificate.as_ref().ok_or_else(|| {
            crate::error::NodeError::Invalid("the snapshot's head has no certificate".into())
        })?;
        if certificate.height != head.number || certificate.block_hash != head.hash() {
            bail!("the snapshot's certificate is for another block");
        }
        sets.sort_by_key(|(first, _)| *first);
        sets.dedup_by_key(|(first, _)| *first);
        let Some((_, deciding)) = sets.iter().rev().find(|(first, _)| *first <= head.number) else {
            bail!("the snapshot carries no validator set deciding its head");
        };
        let set = btcr_consensus::bft::certificate::validator_set(deciding)
            .map_err(|e| crate::error::NodeError::Invalid(format!("the deciding set: {e}")))?;
        btcr_consensus::bft::certificate::verify_certificate(genesis.chain_id, certificate, &set)
            .map_err(|e| crate::error::NodeError::Invalid(format!("the head's certificate: {e}")))?;
        // Trust in that set.
        let state = StateOverlay { base: &EmptyState::default(), changes: &root.changes };
        let trusted_by = trust(genesis, &head, certificate, deciding, &state, trust_hash)?;
        // A head that ends an epoch elected the set that decides the next block.
        if genesis.consensus.mode == ConsensusMode::Pos
            && btcr_staking::is_epoch_end(genesis, head.number)
        {
            let next = btcr_staking::validator_set(&state, genesis)
                .map_err(|e| crate::error::NodeError::Invalid(format!("the next set: {e}")))?;
            sets.retain(|(first, _)| *first <= head.number);
            sets.push((head.number + 1, next));
        }
        Ok(Checked {
            blocks,
            sets,
            changes: root.changes,
            node_writes: root.node_writes,
            trusted_by,
        })
    }
}

/// The verified contents, ready to install.
struct Checked {
    blocks: Vec<StoredBlock>,
    sets: Vec<(u64, Vec<GenesisValidator>)>,
    changes: StateChanges,
    node_writes: btcr_trie::NodeWrites,
    trusted_by: String,
}

/// Why the set that signed the head is trusted (see the module's documentation).
fn trust<S: btcr_primitives::StateReader>(
    genesis: &Genesis,
    head: &btcr_primitives::Header,
    certificate: &CommitCertificate,
    deciding: &[GenesisValidator],
    state: &S,
    trust_hash: Option<B256>,
) -> NodeResult<String> {
    if let Some(hash) = trust_hash {
        if hash != head.hash() {
            bail!("the snapshot's head is {}, not the trusted {hash}", head.hash());
        }
        return Ok(format!("the trusted hash {hash}"));
    }
    if genesis.consensus.mode == ConsensusMode::Poa {
        if deciding != genesis.validators.as_slice() {
            bail!("on this proof-of-authority chain the deciding set must be the genesis set");
        }
        return Ok("the genesis validator set".into());
    }
    // Within an epoch, the state names the set deciding its blocks.
    if !btcr_staking::is_epoch_end(genesis, head.number) {
        let named = btcr_staking::validator_set(state, genesis)
            .map_err(|e| crate::error::NodeError::Invalid(format!("the state's set: {e}")))?;
        if named != deciding {
            bail!(
                "the snapshot's state names another validator set than the one deciding its head"
            );
        }
    }
    let total: u128 = genesis.validators.iter().map(|v| u128::from(v.power)).sum();
    let signed: u128 = certificate
        .signatures
        .iter()
        .filter_map(|s| genesis.validators.iter().find(|v| v.address == s.validator))
        .filter(|v| deciding.iter().any(|d| d.address == v.address && d.public_key == v.public_key))
        .map(|v| u128::from(v.power))
        .sum();
    if signed * 3 <= total {
        bail!(
            "validators of the genesis set holding {signed} of its {total} power signed the \
             head, not more than a third: pass --trust-hash with the head's hash from a source \
             you trust"
        );
    }
    Ok(format!("genesis validators holding {signed} of {total} power among its signers"))
}

/// Writes `manifest` as the JSON the commands print.
pub fn manifest_json(manifest: &Manifest) -> String {
    serde_json::to_string_pretty(manifest).expect("a manifest serializes")
}
