//! The accounts service's place in a process. Inside a node it runs on the data directory's
//! SQLite file unless told otherwise (`AccountsOptions`); as a process of its own (`btcr
//! api`, [`launch_api`]) it keeps no state: its data is in a shared PostgreSQL, its rate
//! limits in a shared Redis, and the chain's figures come from a node over HTTP, so that
//! any number of replicas serve the same users behind one address.

use std::{net::SocketAddr, path::Path, sync::Arc};

use btcr_accounts::{Accounts, AccountsConfig, Database, NodeClient};
use btcr_http::{HttpConfig, HttpServer};
use btcr_notify::{Notify, NotifyConfig};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{
    error::{Context as _, NodeResult},
    launch::shutdown_signal,
};

/// Where the accounts service keeps its data and counts its limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountsOptions {
    /// `sqlite:PATH` or `postgres://…`; a node without one uses `accounts.db` in its data
    /// directory.
    pub database_url: Option<String>,
    /// `redis://…` for rate limits shared by replicas; `None` counts in this process.
    pub redis_url: Option<String>,
}

impl AccountsOptions {
    /// Opens the database (`datadir`'s `accounts.db` when no URL is given) and starts the
    /// service on it.
    pub async fn open(&self, datadir: Option<&Path>) -> NodeResult<Accounts> {
        let url = match (&self.database_url, datadir) {
            (Some(url), _) => url.clone(),
            (None, Some(dir)) => format!("sqlite:{}", dir.join("accounts.db").display()),
            (None, None) => {
                return Err(crate::NodeError::Invalid(
                    "the accounts service needs a database: --accounts.database-url".into(),
                ));
            }
        };
        let db = Database::open(&url).await.wrap_err("opening the accounts database")?;
        let config = AccountsConfig { redis_url: self.redis_url.clone(), ..Default::default() };
        let accounts =
            Accounts::open(db, config).await.wrap_err("starting the accounts service")?;
        info!(
            target: "btcr::accounts",
            database = accounts.database().backend_name(),
            limits = accounts.limits_store(),
            "accounts service ready"
        );
        Ok(accounts)
    }
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyOptions {
    /// Let webhooks reach loopback and private addresses (an operator's own network).
    pub allow_private_targets: bool,
    /// The waits between attempts; `None`: the documented default.
    pub retry_delays: Option<Vec<std::time::Duration>>,
    /// RabbitMQ between the outbox and the delivery workers (`amqp://…`); `None`: the
    /// workers take from the outbox table.
    pub amqp_url: Option<String>,
    /// The SMTP server of the `email` channel; `None`: e-mail subscriptions are refused.
    pub smtp: Option<btcr_notify::SmtpConfig>,
}

/// `BTCR_FAULT_HOLD_DELIVERY=1` holds webhook delivery (messages are written and stay
/// pending): a fault the crash tests use to kill a node between the outbox write and the
/// delivery.
const HOLD_DELIVERY: &str = "BTCR_FAULT_HOLD_DELIVERY";

impl NotifyOptions {
    /// Opens the notifications service on the accounts' database.
    pub async fn open(&self, accounts: &Accounts) -> NodeResult<Notify> {
        let mut config = NotifyConfig {
            allow_private_targets: self.allow_private_targets,
            hold_delivery: std::env::var(HOLD_DELIVERY).is_ok_and(|v| v == "1"),
            amqp_url: self.amqp_url.clone(),
            smtp: self.smtp.clone(),
            ..Default::default()
        };
        if let Some(delays) = &self.retry_delays {
            config.retry_delays = delays.clone();
        }
        let notify = Notify::open(accounts.database().clone(), config)
            .await
            .wrap_err("starting the notifications")?;
        info!(
            target: "btcr::notify",
            private_targets = self.allow_private_targets,
            queue = if self.amqp_url.is_some() { "rabbitmq" } else { "outbox table" },
            email = self.smtp.is_some(),
            "notifications ready"
        );
        Ok(notify)
    }
}

/// What `btcr api` runs.
#[derive(Debug, Clone)]
pub struct ApiServiceConfig {
    /// The HTTP server's settings.
    pub http: HttpConfig,
    /// The shared database (required) and rate-limit store.
    pub accounts: AccountsOptions,
    /// Webhook delivery (its workers run here too, sharing the outbox with every replica).
    pub notify: NotifyOptions,
    /// The node whose chain the statistics show (`http://host:port`).
    pub node_url: String,
    /// Where to serve `/metrics`, `/health` and `/ready`; `None`: not served.
    pub metrics_addr: Option<SocketAddr>,
}

/// A running API service.
#[derive(Debug)]
pub struct ApiServiceHandle {
    /// Where it listens.
    pub local_addr: SocketAddr,
    /// Where its operations endpoints listen, when served.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    accounts: Accounts,
}

impl ApiServiceHandle {
    /// Stops it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.accounts.database().close().await;
    }

    /// Serves until Ctrl-C or SIGTERM, then stops.
    pub async fn wait(self) {
        shutdown_signal().await;
        info!(target: "btcr::accounts", "shutdown requested");
        self.stop().await;
    }
}

/// Starts the accounts routes on their own HTTP server.
pub async fn launch_api(config: ApiServiceConfig) -> NodeResult<ApiServiceHandle> {
    if config.accounts.database_url.is_none() {
        return Err(crate::NodeError::Invalid(
            "btcr api keeps no data of its own: name the database with --accounts.database-url"
                .into(),
        ));
    }
    let accounts = config.accounts.open(None).await?;
    let notify = config.notify.open(&accounts).await?;
    let chain = Arc::new(NodeClient::new(&config.node_url));
    let shutdown = CancellationToken::new();
    notify.spawn_workers(shutdown.clone());
    let metrics_addr = match config.metrics_addr {
        Some(addr) => {
            let probe = crate::operations::ServiceProbe {
                accounts: accounts.clone(),
                notify: notify.clone(),
            };
            let local = crate::operations::start(addr, Arc::new(probe), shutdown.clone())
                .await
                .wrap_err_with(|| format!("starting the metrics server on {addr}"))?;
            Some(local)
        }
        None => None,
    };
    let http = HttpServer::new(config.http.clone())
        .api(btcr_accounts::http::router(accounts.clone(), chain))
        .api(btcr_notify::http::router(notify, accounts.clone()))
        .api(btcr_http::docs_router(crate::accounts_document()))
        .authenticator(Arc::new(btcr_accounts::AccountsAuthenticator::new(accounts.clone())))
        .start(shutdown.clone())
        .await
        .wrap_err_with(|| format!("starting the HTTP server on {}", config.http.listen))?;
    info!(
        target: "btcr::accounts",
        listen = %http.local_addr,
        node = %config.node_url,
        "API service listening"
    );
    Ok(ApiServiceHandle { local_addr: http.local_addr, metrics_addr, shutdown, accounts })
}
