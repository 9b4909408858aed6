//! The chain-event consumer: each run of committed blocks becomes the portal's
//! notifications and the webhook messages of the subscriptions it matches, written with the
//! consumer's checkpoint in one transaction of the application database.

use std::{collections::BTreeSet, sync::Arc};

use alloy_primitives::Address;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::SolCall as _;
use btcr_accounts::{BeginWrite as _, on_backend};
use btcr_execution::{CallBudget, CallOutcome};
use btcr_interfaces::{ChainReader, CommittedBlock, Consumer, ConsumerError};
use btcr_staking::{STAKING_ADDRESS, Staking};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::runtime::Handle;

use crate::{
    Notify, NotifyError,
    events::{Notice, notices, rewards_notice},
    service::parse_kinds,
};

/// The consumer's name (in the node's status, and its checkpoint's key).
pub const CONSUMER_NAME: &str = "notifications";
/// Addresses matched against the subscriptions per query.
const ADDRESSES_PER_QUERY: usize = 500;
/// Addresses whose pending rewards are read at an epoch's end (a view call each).
pub const MAX_REWARD_WATCHERS: usize = 10_000;
/// Gas of one `pendingRewards` view.
const REWARDS_CALL_GAS: u64 = 1_000_000;

/// Follows the chain for a [`Notify`].
pub struct NotifyConsumer {
    notify: Notify,
    runtime: Handle,
    /// The chain whose staking contract says what rewards wait to be claimed.
    chain: Option<Arc<dyn ChainReader>>,
}

impl std::fmt::Debug for NotifyConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConsumer").field("rewards", &self.chain.is_some()).finish()
    }
}

impl NotifyConsumer {
    /// Writes through `notify`, running its queries on `runtime`.
    pub fn new(notify: Notify, runtime: Handle) -> Self {
        Self { notify, runtime, chain: None }
    }

    /// Also tells of staking rewards to claim at each epoch's end (`rewards.claimable`),
    /// reading each subscribed address's pending rewards from `chain`'s head.
    pub fn with_rewards(mut self, chain: Arc<dyn ChainReader>) -> Self {
        self.chain = Some(chain);
        self
    }

    /// The `rewards.claimable` notices of the last epoch end in `blocks`: one per address a
    /// subscription follows for it that has rewards waiting.
    fn rewards(&self, blocks: &[Arc<CommittedBlock>]) -> Result<Vec<(u64, Notice)>, ConsumerError> {
        let (Some(chain), Some(end)) =
            (&self.chain, blocks.iter().rev().find(|b| b.next_validators.is_some()))
        else {
            return Ok(Vec::new());
        };
        let watched = self.runtime.block_on(self.notify.reward_watchers()).map_err(write_error)?;
        if watched.is_empty() {
            return Ok(Vec::new());
        }
        let view = chain.view().map_err(|e| ConsumerError::Write {
            context: "reading the staking rewards".into(),
            source: Box::new(e),
        })?;
        let hash = end.hash.to_string();
        let mut out = Vec::new();
        for address in watched {
            let call = Staking::pendingRewardsCall { delegator: address };
            let request = TransactionRequest::default()
                .to(STAKING_ADDRESS)
                .input(alloy_primitives::Bytes::from(call.abi_encode()).into());
            let outcome = view.call(&request, None, &CallBudget::new(REWARDS_CALL_GAS));
            let Ok(CallOutcome::Success { output, .. }) = outcome else { continue };
            let Ok(amount) = Staking::pendingRewardsCall::abi_decode_returns(&output) else {
                continue;
            };
            if !amount.is_zero() {
                out.push((end.number(), rewards_notice(end.number(), &hash, address, amount)));
            }
        }
        Ok(out)
    }
}

fn write_error(e: NotifyError) -> ConsumerError {
    ConsumerError::Write { context: "the notifications".into(), source: Box::new(e) }
}

impl Consumer for NotifyConsumer {
    fn name(&self) -> &'static str {
        CONSUMER_NAME
    }

    fn start(&mut self, head: u64) -> Result<Option<u64>, ConsumerError> {
        // A new service follows the chain from now on; its first checkpoint is the head.
        self.runtime.block_on(self.notify.start_from(head)).map(Some).map_err(write_error)
    }

    fn apply(&mut self, blocks: &[Arc<CommittedBlock>]) -> Result<(), ConsumerError> {
        let rewards = self.rewards(blocks)?;
        self.runtime.block_on(self.notify.apply_with(blocks, rewards)).map_err(write_error)
    }
}

/// A subscription that matched an address: (subscription, user, kinds, channel,
/// endpoint, address).
type Match = (i64, i64, String, String, Option<i64>, String);

/// An event's id for one recipient (the portal of a user, or an endpoint): the same each
/// time the block is applied, so that a replay writes nothing twice.
fn message_id(recipient: &str, number: u64, notice: &Notice) -> String {
    let mut hash = Sha256::new();
    hash.update(recipient.as_bytes());
    hash.update(number.to_be_bytes());
    hash.update(notice.position.0.to_be_bytes());
    hash.update(notice.position.1.map_or(u64::MAX, |i| i).to_be_bytes());
    hash.update(notice.kind.as_str().as_bytes());
    hash.update(notice.address.as_bytes());
    format!("msg_{}", hex::encode(&hash.finalize()[..16]))
}

impl Notify {
    /// The watched addresses a subscription follows for `rewards.claimable`, at most
    /// [`MAX_REWARD_WATCHERS`].
    pub async fn reward_watchers(&self) -> Result<Vec<Address>, NotifyError> {
        let rows: Vec<(String,)> = on_backend!(self.inner.db, pool => {
            sqlx::query_as(
                "SELECT DISTINCT w.address FROM notify_subscriptions s \
                 JOIN watchlist w ON w.user_id = s.user_id \
                      AND (s.address IS NULL OR s.address = w.address) \
                 JOIN users u ON u.id = s.user_id \
                 WHERE NOT u.disabled AND s.kinds LIKE '%rewards.claimable%' \
                 ORDER BY w.address LIMIT $1",
            )
            .bind(MAX_REWARD_WATCHERS as i64)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().filter_map(|(a,)| a.parse().ok()).collect())
    }

    /// The checkpoint, written as `head` when there is none yet.
    pub async fn start_from(&self, head: u64) -> Result<u64, NotifyError> {
        on_backend!(self.inner.db, pool => {
            sqlx::query(
                "INSERT INTO notify_checkpoint (consumer, height) VALUES ($1, $2) \
                 ON CONFLICT (consumer) DO NOTHING",
            )
            .bind(CONSUMER_NAME)
            .bind(head as i64)
            .execute(pool)
            .await?;
        });
        self.checkpoint().await?.ok_or_else(|| NotifyError::Invalid("no checkpoint".into()))
    }

    /// The last height the consumer applied.
    pub async fn checkpoint(&self) -> Result<Option<u64>, NotifyError> {
        let row: Option<(i64,)> = on_backend!(self.inner.db, pool => {
            sqlx::query_as("SELECT height FROM notify_checkpoint WHERE consumer = $1")
                .bind(CONSUMER_NAME)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(h,)| h as u64))
    }

    /// Writes what `blocks` mean to the subscriptions, and the checkpoint at the last of
    /// them, in one transaction.
    pub async fn apply(&self, blocks: &[Arc<CommittedBlock>]) -> Result<(), NotifyError> {
        self.apply_with(blocks, Vec::new()).await
    }

    /// [`Notify::apply`], with `extra` notices (each with the height of its block) that
    /// the blocks themselves do not show: the rewards to claim at an epoch's end.
    pub async fn apply_with(
        &self,
        blocks: &[Arc<CommittedBlock>],
        extra: Vec<(u64, Notice)>,
    ) -> Result<(), NotifyError> {
        let Some(last) = blocks.last() else { return Ok(()) };
        let found: Vec<(u64, u64, Vec<Notice>)> = blocks
            .iter()
            .map(|b| {
                let mut found = notices(b);
                found
                    .extend(extra.iter().filter(|(n, _)| *n == b.number()).map(|(_, n)| n.clone()));
                (b.number(), b.block.header.timestamp_ms, found)
            })
            .filter(|(_, _, n)| !n.is_empty())
            .collect();
        let addresses: BTreeSet<&str> =
            found.iter().flat_map(|(_, _, n)| n.iter().map(|n| n.address.as_str())).collect();
        let addresses: Vec<&str> = addresses.into_iter().collect();
        let now = self.now();
        let mut wrote = false;
        let mut portal_users = BTreeSet::new();
        on_backend!(self.inner.db, pool => {
            let mut tx = pool.begin_write().await?;
            let mut matches: Vec<Match> = Vec::new();
            for chunk in addresses.chunks(ADDRESSES_PER_QUERY) {
                let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "SELECT s.id, s.user_id, s.kinds, s.channel, s.endpoint_id, w.address \
                     FROM notify_subscriptions s \
                     JOIN watchlist w ON w.user_id = s.user_id \
                          AND (s.address IS NULL OR s.address = w.address) \
                     JOIN users u ON u.id = s.user_id \
                     WHERE NOT u.disabled AND w.address IN ({}) ORDER BY s.id",
                    marks.join(", ")
                );
                let mut query = sqlx::query_as::<_, Match>(&sql);
                for address in chunk {
                    query = query.bind(*address);
                }
                matches.extend(query.fetch_all(&mut *tx).await?);
            }
            for (number, timestamp_ms, block_notices) in &found {
                for notice in block_notices {
                    for m in matches.iter().filter(|m| m.5 == notice.address) {
                        if !parse_kinds(&m.2).contains(&notice.kind) {
                            continue;
                        }
                        let mut data = notice.data.clone();
                        if let serde_json::Value::Object(fields) = &mut data {
                            fields.insert("address".into(), json!(notice.address));
                            fields.insert("subscriptionId".into(), json!(m.0));
                        }
                        let payload = json!({
                            "type": notice.kind.as_str(),
                            "timestamp": crate::delivery::rfc3339(*timestamp_ms as i64),
                            "data": data,
                        })
                        .to_string();
                        match (m.3.as_str(), m.4) {
                            ("webhook", Some(endpoint)) => {
                                let id = message_id(&format!("webhook:{endpoint}"), *number, notice);
                                sqlx::query(
                                    "INSERT INTO notify_outbox (message_id, user_id, queue, \
                                     endpoint_id, subscription_id, kind, payload, created_ms, \
                                     state, next_attempt_ms) \
                                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $8) \
                                     ON CONFLICT (message_id) DO NOTHING",
                                )
                                .bind(&id)
                                .bind(m.1)
                                .bind(format!("webhook:{endpoint}"))
                                .bind(endpoint)
                                .bind(m.0)
                                .bind(notice.kind.as_str())
                                .bind(&payload)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            }
                            _ => {
                                let id = message_id(&format!("portal:{}", m.1), *number, notice);
                                sqlx::query(
                                    "INSERT INTO notifications (user_id, message_id, kind, \
                                     payload, created_ms) VALUES ($1, $2, $3, $4, $5) \
                                     ON CONFLICT (message_id) DO NOTHING",
                                )
                                .bind(m.1)
                                .bind(&id)
                                .bind(notice.kind.as_str())
                                .bind(&payload)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                                portal_users.insert(m.1);
                            }
                        }
                        wrote = true;
                    }
                }
            }
            sqlx::query(
                "INSERT INTO notify_checkpoint (consumer, height) VALUES ($1, $2) \
                 ON CONFLICT (consumer) DO UPDATE SET height = excluded.height",
            )
            .bind(CONSUMER_NAME)
            .bind(last.number() as i64)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        if wrote {
            self.inner.wake.notify_one();
        }
        for user in portal_users {
            // Nobody live is no error.
            let _ = self.inner.live.send(user);
        }
        Ok(())
    }
}
