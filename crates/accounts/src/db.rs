//! The application database: SQLite (the embedded default, one file) or PostgreSQL (shared
//! by API replicas). Both run the same queries, written once: `on_backend!` expands a body
//! for each pool type, so every query is checked against both drivers when this compiles.
//! Parameters are `$1, $2, …`, which both backends read.

use std::{
    collections::HashMap,
    ops::{Deref, DerefMut},
    path::{Path, PathBuf},
    str::FromStr,
    sync::{Arc, LazyLock, Mutex},
    time::Duration,
};

use sqlx::{
    PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    migrate::Migrator,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::AccountsError;

// Other services keep their tables in this database too, each with migrations of its own
// numbered apart (the notifications' from 1001): each migrator leaves the others' alone.
static SQLITE_MIGRATIONS: Migrator =
    Migrator { ignore_missing: true, ..sqlx::migrate!("migrations/sqlite") };
static POSTGRES_MIGRATIONS: Migrator =
    Migrator { ignore_missing: true, ..sqlx::migrate!("migrations/postgres") };

/// How long a SQLite writer waits for another process's lock before it fails (writers of
/// one process queue on [`WriteTx`]'s turn instead). Each commit waits for its fsync, which
/// a busy disk can stretch to seconds.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections each pool keeps at most.
const MAX_CONNECTIONS: u32 = 16;
/// How long a request waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The pool of one backend.
#[derive(Clone, Debug)]
pub enum Backend {
    /// The embedded database.
    Sqlite(SqlitePool),
    /// A shared server.
    Postgres(PgPool),
}

/// A connection pool on one of the two backends, migrated to this build's schema.
#[derive(Clone, Debug)]
pub struct Database {
    pub(crate) backend: Backend,
}

/// Runs `$body` with `$pool` bound to whichever pool the [`Database`] `$db` holds, so that
/// one body is compiled for both drivers.
#[macro_export]
macro_rules! on_backend {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.backend() {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use crate::on_backend;

impl Database {
    /// Opens `url` (`sqlite:PATH`, created when missing, or `postgres://…`) and applies the
    /// migrations it lacks.
    pub async fn open(url: &str) -> Result<Self, AccountsError> {
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            return Self::open_sqlite(Path::new(path)).await;
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            return Ok(Self { backend: Backend::Postgres(pool) });
        }
        Err(AccountsError::UnsupportedDatabase(url.to_owned()))
    }

    /// Opens (or creates) the SQLite file at `path`: write-ahead log, a busy timeout, and
    /// foreign keys enforced.
    pub async fn open_sqlite(path: &Path) -> Result<Self, AccountsError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(Self { backend: Backend::Sqlite(pool) })
    }

    /// The pool.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Applies the migrations of another service that keeps its tables here (one migrator
    /// per backend, versions apart from this crate's).
    pub async fn migrate(
        &self,
        sqlite: &Migrator,
        postgres: &Migrator,
    ) -> Result<(), AccountsError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlite.run(pool).await?,
            Backend::Postgres(pool) => postgres.run(pool).await?,
        }
        Ok(())
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Asks the database for `SELECT 1`: whether it answers.
    pub async fn ping(&self) -> Result<(), AccountsError> {
        on_backend!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        on_backend!(self, pool => pool.close().await)
    }
}

/// A transaction that writes: on SQLite it takes the write lock when it begins (`BEGIN
/// IMMEDIATE`), so that two writers never both read and then fail to upgrade, and the
/// writers of one process take turns in the order they asked (SQLite's own busy wait polls,
/// and a writer can lose every poll to the others for as long as its timeout).
#[allow(async_fn_in_trait)]
pub trait BeginWrite {
    /// The driver.
    type Db: sqlx::Database;
    /// Begins a transaction that writes.
    async fn begin_write(&self) -> Result<WriteTx<Self::Db>, sqlx::Error>;
}

/// A write transaction (see [`BeginWrite`]): used as its connection (`&mut *tx`), ended by
/// [`WriteTx::commit`]; dropped, it rolls back.
pub struct WriteTx<DB: sqlx::Database> {
    // Declared first, so dropped (and its rollback queued) before the turn passes on.
    tx: Transaction<'static, DB>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<DB: sqlx::Database> WriteTx<DB> {
    /// Commits, then lets the next writer of this process begin.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl<DB: sqlx::Database> Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: sqlx::Database> DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}

/// The writers' turn of each SQLite file this process opened (every pool on one file
/// shares it).
fn sqlite_turn(file: &Path) -> Arc<tokio::sync::Mutex<()>> {
    static TURNS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    let mut turns = TURNS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(turn) = turns.get(file) {
        return turn.clone();
    }
    turns.entry(file.to_path_buf()).or_default().clone()
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;
    async fn begin_write(&self) -> Result<WriteTx<Sqlite>, sqlx::Error> {
        let turn = sqlite_turn(self.connect_options().get_filename()).lock_owned().await;
        let tx = self.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx { tx, _turn: Some(turn) })
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;
    async fn begin_write(&self) -> Result<WriteTx<Postgres>, sqlx::Error> {
        Ok(WriteTx { tx: self.begin().await?, _turn: None })
    }
}
