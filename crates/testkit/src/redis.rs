//! A Redis server of a test's own: no persistence, on a free local port, in a temporary
//! directory, killed and removed when dropped. It runs Debian's `redis-server`
//! (`scripts/services.sh` installs it when missing; `BTCR_REDIS_SERVER` names another).

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use eyre::{WrapErr, bail};

/// How long a server may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running Redis server.
#[derive(Debug)]
pub struct TempRedis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl TempRedis {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> eyre::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Self::start_on(port)
    }

    /// Starts a server on `port` (a restart where one was killed). The port may stay taken
    /// a moment after a kill, until the clients of the old server see it gone (the
    /// server's side of their connections holds it): it tries again for a while.
    pub fn start_on(port: u16) -> eyre::Result<Self> {
        let started = Instant::now();
        loop {
            match Self::try_start_on(port) {
                Err(e)
                    if e.to_string().contains("Address already in use")
                        && started.elapsed() < READY_WITHIN =>
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                outcome => return outcome,
            }
        }
    }

    fn try_start_on(port: u16) -> eyre::Result<Self> {
        let program =
            std::env::var_os("BTCR_REDIS_SERVER").unwrap_or_else(|| "redis-server".into());
        let dir = tempfile::Builder::new().prefix("btcr-redis-").tempdir()?.keep();
        let mut child = Command::new(&program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--protected-mode", "yes", "--dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .wrap_err_with(|| {
                format!(
                    "starting {program:?}: Redis is not installed (run scripts/services.sh: Debian's redis-server)"
                )
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let started = Instant::now();
        let mut lines = BufReader::new(stdout).lines();
        let mut said = Vec::new();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Ready to accept connections") => break,
                Some(Ok(line)) if started.elapsed() < READY_WITHIN => said.push(line),
                _ => {
                    let _ = child.kill();
                    bail!("redis-server on port {port} did not become ready:\n{}", said.join("\n"));
                }
            }
        }
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self { child, port, dir })
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server at once (as a crash would).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TempRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
