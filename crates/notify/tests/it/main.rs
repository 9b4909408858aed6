//! The notifications service on each backend: blocks applied as the node's consumer thread
//! applies them, deliveries to a real HTTP receiver of the test's own.

mod amqp;
mod chain;
mod delivery;
mod email;
mod http;

use std::{sync::Arc, time::Duration};

use btcr_accounts::{Accounts, AccountsConfig, Clock, Database, PasswordPolicy, RequestMeta};
use btcr_interfaces::CommittedBlock;
use btcr_notify::{Notify, NotifyConfig};
use btcr_testkit::TempAppDatabase;

/// One backend under test.
pub(crate) struct Backend {
    pub(crate) accounts: Accounts,
    pub(crate) notify: Notify,
    pub(crate) clock: Clock,
    pub(crate) url: String,
    _database: TempAppDatabase,
}

pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) fn meta() -> RequestMeta {
    RequestMeta { ip: None, user_agent: Some("notify-tests".into()) }
}

/// Local receivers, short retries.
pub(crate) fn config(clock: &Clock) -> NotifyConfig {
    NotifyConfig {
        allow_private_targets: true,
        retry_delays: vec![Duration::from_secs(10), Duration::from_secs(60)],
        request_timeout: Duration::from_secs(5),
        clock: clock.clone(),
        ..Default::default()
    }
}

impl Backend {
    /// Another service on the same database (a replica, or a restart), with `config`.
    pub(crate) async fn reopen(&self, config: NotifyConfig) -> eyre::Result<Notify> {
        Ok(Notify::open(Database::open(&self.url).await?, config).await?)
    }

    /// A user who watches `addresses`; their id.
    pub(crate) async fn user(
        &self,
        email: &str,
        addresses: &[alloy_primitives::Address],
    ) -> eyre::Result<i64> {
        let user = self.accounts.register(email, PASSWORD, &meta()).await?;
        for a in addresses {
            self.accounts.watch(user.id, &format!("{a:#x}"), "", &meta()).await?;
        }
        Ok(user.id)
    }

    /// Applies `blocks` as the consumer does.
    pub(crate) async fn apply(&self, blocks: &[CommittedBlock]) -> eyre::Result<()> {
        let blocks: Vec<Arc<CommittedBlock>> = blocks.iter().cloned().map(Arc::new).collect();
        Ok(self.notify.apply(&blocks).await?)
    }

    /// Runs delivery passes until one attempts nothing; how many were attempted.
    pub(crate) async fn deliver(&self) -> eyre::Result<usize> {
        let mut total = 0;
        loop {
            let n = self.notify.deliver_due().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }
}

/// A backend on `database`: the scenarios' argument.
pub(crate) async fn open(database: TempAppDatabase) -> eyre::Result<Backend> {
    let clock = Clock::manual(1_800_000_000_000);
    let accounts_config = AccountsConfig {
        passwords: PasswordPolicy { memory_kib: 1024, iterations: 1, ..Default::default() },
        clock: clock.clone(),
        ..Default::default()
    };
    let url = database.url();
    let db = Database::open(&url).await?;
    let accounts = Accounts::open(db.clone(), accounts_config).await?;
    let notify = Notify::open(db, config(&clock)).await?;
    Ok(Backend { accounts, notify, clock, url, _database: database })
}
