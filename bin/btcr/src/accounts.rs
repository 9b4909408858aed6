//! `btcr accounts`: administration of the accounts service from the command line, on the
//! database the node uses (the data directory's `accounts.db`, or PostgreSQL).

use std::path::PathBuf;

use btcr_accounts::{Accounts, AccountsConfig, Database, RequestMeta};
use clap::{Args, Subcommand};
use eyre::{WrapErr, bail};

use crate::wallet::new_secret;

/// Options of `btcr accounts`.
#[derive(Debug, Args)]
pub struct AccountsArgs {
    #[command(subcommand)]
    command: AccountsCommand,
    /// The accounts database: `sqlite:PATH` or `postgres://user@host/db`.
    #[arg(long = "accounts.database-url", global = true, env = "BTCR_ACCOUNTS_DATABASE_URL")]
    database_url: Option<String>,
    /// The node's data directory, whose `accounts.db` is the embedded database (used when
    /// no database URL is given).
    #[arg(long, global = true)]
    datadir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum AccountsCommand {
    /// Create an administrator; the password is typed twice, or read from --password-file.
    CreateAdmin {
        /// Its e-mail address.
        #[arg(long)]
        email: String,
        /// Read the password from the first line of this file instead of a prompt.
        #[arg(long = "password-file")]
        password_file: Option<PathBuf>,
    },
    /// Walk the audit log's hash chain, from its first record to its head, and say whether
    /// it holds (exit status 1 when it does not).
    AuditVerify,
}

/// The URL of the database these options name.
fn database_url(args: &AccountsArgs) -> eyre::Result<String> {
    match (&args.database_url, &args.datadir) {
        (Some(url), _) => Ok(url.clone()),
        (None, Some(dir)) => {
            if !dir.is_dir() {
                bail!("no data directory at {}", dir.display());
            }
            Ok(format!("sqlite:{}", dir.join("accounts.db").display()))
        }
        (None, None) => bail!("name the database: --datadir DIR or --accounts.database-url URL"),
    }
}

pub async fn run(args: AccountsArgs) -> eyre::Result<()> {
    let url = database_url(&args)?;
    let db = Database::open(&url).await.wrap_err("opening the accounts database")?;
    let accounts = Accounts::open(db, AccountsConfig::default()).await?;
    let meta = RequestMeta { ip: None, user_agent: Some("btcr accounts (command line)".into()) };
    match args.command {
        AccountsCommand::CreateAdmin { email, password_file } => {
            let password = new_secret(password_file.as_deref())?;
            let user = accounts.create_admin(&email, &password, &meta).await?;
            println!("created administrator {} (id {})", user.email, user.id);
        }
        AccountsCommand::AuditVerify => match accounts.verify_audit().await {
            Ok(check) => {
                let head: String = check.head.iter().map(|b| format!("{b:02x}")).collect();
                println!("the audit log holds: {} records, head {head}", check.records);
            }
            Err(e) => bail!("{e}"),
        },
    }
    accounts.database().close().await;
    Ok(())
}
