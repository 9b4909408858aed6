//! The audit log: every security event and administrator action, append-only (the database
//! refuses updates and deletes) and hash-chained: each record's hash covers the one before
//! it, so that a record changed or removed behind the service's back breaks the chain at
//! that record, which [`crate::Accounts::verify_audit`] finds.

use crate::{AccountsError, Database, db::on_backend};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The longest user agent kept.
const MAX_USER_AGENT_CHARS: usize = 256;

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Who acted: a user id, or `None` for someone not signed in.
    pub actor: Option<i64>,
    /// What happened (`user.registered`, `session.refresh-reused`, …).
    pub action: &'static str,
    /// What it happened to (a user id, a session), if anything.
    pub subject: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's user agent, cut to 256 characters.
    pub user_agent: Option<String>,
    /// More, as a JSON object.
    pub detail: serde_json::Value,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Its place in the chain, from 1.
    pub seq: i64,
    /// When (Unix ms).
    pub at_ms: i64,
    /// Who acted.
    pub actor: Option<i64>,
    /// What happened.
    pub action: String,
    /// To what.
    pub subject: Option<String>,
    /// From where.
    pub ip: Option<String>,
    /// With what client.
    pub user_agent: Option<String>,
    /// More, as JSON text.
    pub detail: String,
    /// The previous record's hash (zeros for the first).
    #[serde(with = "hex_bytes")]
    #[schema(value_type = String)]
    pub prev_hash: Vec<u8>,
    /// This record's hash.
    #[serde(with = "hex_bytes")]
    #[schema(value_type = String)]
    pub hash: Vec<u8>,
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&text)
    }
}

/// The outcome of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    /// Records checked.
    pub records: i64,
    /// The last record's hash.
    pub head: Vec<u8>,
}

/// The hash of a record: SHA-256 over the previous hash and every field, each
/// length-prefixed so that no two records encode alike.
fn record_hash(
    prev: &[u8],
    seq: i64,
    at_ms: i64,
    actor: Option<i64>,
    texts: [Option<&str>; 5],
) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"btcr-audit-v1");
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(at_ms.to_be_bytes());
    match actor {
        Some(a) => {
            h.update([1]);
            h.update(a.to_be_bytes());
        }
        None => h.update([0]),
    }
    for text in texts {
        match text {
            Some(t) => {
                h.update([1]);
                h.update((t.len() as u64).to_be_bytes());
                h.update(t.as_bytes());
            }
            None => h.update([0]),
        }
    }
    h.finalize().to_vec()
}

/// Appends `event` within the caller's write transaction `$tx` (so that it lands with what
/// it records, or not at all).
macro_rules! append_in {
    ($tx:expr, $event:expr, $now:expr) => {{
        let event: &$crate::AuditEvent = $event;
        let now: i64 = $now;
        let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut *$tx)
            .await?;
        let seq: i64 = sqlx::Row::try_get(&head, 0)?;
        let prev: Vec<u8> = sqlx::Row::try_get(&head, 1)?;
        let detail = event.detail.to_string();
        let user_agent = $crate::audit::clip_user_agent(event.user_agent.as_deref());
        let hash = $crate::audit::hash_of(&prev, seq, now, event.actor, event.action, event.subject.as_deref(), event.ip.as_deref(), user_agent.as_deref(), &detail);
        sqlx::query(
            "INSERT INTO audit_log (seq, at_ms, actor, action, subject, ip, user_agent, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(seq)
        .bind(now)
        .bind(event.actor)
        .bind(event.action)
        .bind(event.subject.as_deref())
        .bind(event.ip.as_deref())
        .bind(user_agent.as_deref())
        .bind(&detail)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *$tx)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&hash).execute(&mut *$tx).await?;
    }};
}
pub(crate) use append_in;

#[allow(clippy::too_many_arguments)]
pub(crate) fn hash_of(
    prev: &[u8],
    seq: i64,
    at_ms: i64,
    actor: Option<i64>,
    action: &str,
    subject: Option<&str>,
    ip: Option<&str>,
    user_agent: Option<&str>,
    detail: &str,
) -> Vec<u8> {
    record_hash(prev, seq, at_ms, actor, [Some(action), subject, ip, user_agent, Some(detail)])
}

pub(crate) fn clip_user_agent(agent: Option<&str>) -> Option<String> {
    agent.map(|a| a.chars().take(MAX_USER_AGENT_CHARS).collect())
}

/// A record's columns, in `SELECT_RECORDS`'s order.
type RecordRow = (
    i64,
    i64,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Vec<u8>,
    Vec<u8>,
);

fn record_of(row: RecordRow) -> AuditRecord {
    let (seq, at_ms, actor, action, subject, ip, user_agent, detail, prev_hash, hash) = row;
    AuditRecord { seq, at_ms, actor, action, subject, ip, user_agent, detail, prev_hash, hash }
}

const SELECT_RECORDS: &str = "SELECT seq, at_ms, actor, action, subject, ip, user_agent, detail, prev_hash, hash FROM audit_log";

/// How many records one read of the chain takes.
const PAGE: i64 = 1000;

/// Reads records after `after`, oldest first, at most `limit`.
pub(crate) async fn records(
    db: &Database,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditRecord>, AccountsError> {
    let sql = format!("{SELECT_RECORDS} WHERE seq > $1 ORDER BY seq LIMIT $2");
    on_backend!(db, pool => {
        let rows: Vec<RecordRow> =
            sqlx::query_as(&sql).bind(after).bind(limit).fetch_all(pool).await?;
        Ok(rows.into_iter().map(record_of).collect())
    })
}

/// Walks the whole chain, page by page.
pub(crate) async fn verify(db: &Database) -> Result<AuditCheck, AccountsError> {
    let mut prev = vec![0u8; 32];
    let mut last = 0i64;
    loop {
        let page = records(db, last, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            let broken =
                |reason: &str| AccountsError::AuditBroken { seq: r.seq, reason: reason.to_owned() };
            if r.seq != last + 1 {
                return Err(AccountsError::AuditBroken {
                    seq: last + 1,
                    reason: "the record is missing".into(),
                });
            }
            if r.prev_hash != prev {
                return Err(broken("it does not follow the record before it"));
            }
            let hash = hash_of(
                &prev,
                r.seq,
                r.at_ms,
                r.actor,
                &r.action,
                r.subject.as_deref(),
                r.ip.as_deref(),
                r.user_agent.as_deref(),
                &r.detail,
            );
            if hash != r.hash {
                return Err(broken("its contents do not match its hash"));
            }
            prev = hash;
            last = r.seq;
        }
    }
    let (head_seq, head_hash): (i64, Vec<u8>) = on_backend!(db, pool => {
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(pool).await?
    });
    if head_seq != last || head_hash != prev {
        return Err(AccountsError::AuditBroken {
            seq: last + 1,
            reason: format!("the chain ends at {last} but its head says {head_seq}"),
        });
    }
    Ok(AuditCheck { records: last, head: prev })
}
