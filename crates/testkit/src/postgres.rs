//! A PostgreSQL server of a test's own: a fresh cluster in a temporary directory on a free
//! local port, stopped and removed when dropped. It runs Debian's `postgresql` binaries
//! (`scripts/services.sh` installs them when missing; `BTCR_PG_BIN` names another
//! directory). Run as root, the server runs as the `postgres` user, as `initdb` demands.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
};

use eyre::{WrapErr, bail, eyre};

/// A running PostgreSQL cluster.
#[derive(Debug)]
pub struct TempPostgres {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

/// The directory of the newest installed PostgreSQL's binaries.
fn find_bin() -> eyre::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("BTCR_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        eyre!("PostgreSQL is not installed: run scripts/services.sh (Debian's postgresql) or set BTCR_PG_BIN")
    })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl TempPostgres {
    /// Makes and starts a cluster whose superuser `btcr` connects without a password.
    pub fn start() -> eyre::Result<Self> {
        Self::start_with(&[])
    }

    /// Like [`TempPostgres::start`], with server settings that replace the test defaults
    /// (`fsync=on` for a benchmark that should pay for durability, say).
    pub fn start_with(settings: &[(&str, &str)]) -> eyre::Result<Self> {
        let bin = find_bin()?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new().prefix("btcr-pg-").tempdir()?.keep();
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let server = Self { dir, port, bin, as_postgres };
        if as_postgres {
            server.run(Command::new("chown").args(["postgres:postgres"]).arg(&server.dir))?;
        }
        let data = server.dir.join("data");
        server.run(server.tool("initdb").arg("-D").arg(&data).args([
            "-U",
            "btcr",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]))?;
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            server.dir.display()
        );
        for (name, value) in settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        server.run(
            server
                .tool("pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-o", &options, "-w", "-t", "60", "-l"])
                .arg(server.dir.join("server.log"))
                .arg("start"),
        )?;
        Ok(server)
    }

    /// The URL of database `name` (made by [`TempPostgres::create_database`], or `postgres`).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://btcr@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> eyre::Result<String> {
        self.run(self.tool("createdb").args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "btcr",
            name,
        ]))?;
        Ok(self.url(name))
    }

    /// The server's directory (data, socket, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, command: &mut Command) -> eyre::Result<()> {
        let out = command.output().wrap_err_with(|| format!("running {command:?}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            bail!(
                "{command:?} failed: {}\n{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An empty app database of a test's own, on either backend the app database supports: a
/// SQLite file in a temporary directory, or a database on a [`TempPostgres`]. It lives until
/// dropped.
#[derive(Debug)]
pub enum TempAppDatabase {
    /// A SQLite file.
    Sqlite(tempfile::TempDir),
    /// A PostgreSQL database named `app`.
    Postgres(TempPostgres),
}

impl TempAppDatabase {
    /// A SQLite file in a fresh directory.
    pub fn sqlite() -> eyre::Result<Self> {
        Ok(Self::Sqlite(tempfile::tempdir()?))
    }

    /// A database on a fresh PostgreSQL server.
    pub fn postgres() -> eyre::Result<Self> {
        let server = TempPostgres::start()?;
        server.create_database("app")?;
        Ok(Self::Postgres(server))
    }

    /// The URL that `Database::open` takes.
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("sqlite:{}", dir.path().join("app.db").display()),
            Self::Postgres(server) => server.url("app"),
        }
    }
}

/// Runs each named scenario once on SQLite and once on PostgreSQL: for each `name`, tests
/// `sqlite::name` and `postgres::name` call `super::name($open(database).await?)`, where
/// `$open` makes the scenario's argument from a [`TempAppDatabase`].
#[macro_export]
macro_rules! on_both_databases {
    ($open:path; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> eyre::Result<()> {
                    super::$name($open($crate::TempAppDatabase::sqlite()?).await?).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> eyre::Result<()> {
                    super::$name($open($crate::TempAppDatabase::postgres()?).await?).await
                }
            )*
        }
    };
}
