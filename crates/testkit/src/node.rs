//! A `btcr dev` or `btcr node` process that tests start, kill with SIGKILL and restart on the
//! same data.

use std::{
    ffi::OsStr,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use eyre::{WrapErr, bail, eyre};

use crate::RpcClient;

/// A running `btcr dev` or `btcr node` child process.
#[derive(Debug)]
pub struct DevProcess {
    child: Child,
    /// Client for its JSON-RPC server.
    pub rpc: RpcClient,
    /// Its data directory.
    pub datadir: PathBuf,
    /// What it printed on its standard output so far (the first [`MAX_KEPT_LINES`]).
    printed: Printed,
}

/// Lines of a child's standard output kept for [`DevProcess::announced`].
const MAX_KEPT_LINES: usize = 1_000;

type Printed = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

impl DevProcess {
    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `binary dev --datadir DATADIR --rpc.addr 127.0.0.1:0 ARGS…` and waits until it
    /// prints its JSON-RPC address.
    pub fn start(binary: &Path, datadir: &Path, args: &[&str]) -> eyre::Result<Self> {
        Self::start_with_env(binary, datadir, args, &[])
    }

    /// Like [`DevProcess::start`], with environment variables `env` set for the process
    /// (the fault-injection hooks, say).
    pub fn start_with_env(
        binary: &Path,
        datadir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> eyre::Result<Self> {
        let mut dev_args: Vec<&OsStr> =
            vec!["dev".as_ref(), "--datadir".as_ref(), datadir.as_ref()];
        dev_args.extend(args.iter().map(|a| OsStr::new(*a)));
        Self::spawn(binary, datadir, &dev_args, env)
    }

    /// Starts `binary node --home HOME --rpc.addr 127.0.0.1:0`, a node of a multi-validator
    /// network, and waits until it prints its JSON-RPC address. Its log goes to
    /// `HOME/node.log`.
    pub fn start_node(binary: &Path, home: &Path) -> eyre::Result<Self> {
        Self::start_node_with(binary, home, &[])
    }

    /// Like [`DevProcess::start_node`], with more arguments.
    pub fn start_node_with(binary: &Path, home: &Path, args: &[&str]) -> eyre::Result<Self> {
        Self::start_node_with_env(binary, home, args, &[])
    }

    /// Like [`DevProcess::start_node_with`], with environment variables `env` set (the
    /// fault hooks, say).
    pub fn start_node_with_env(
        binary: &Path,
        home: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> eyre::Result<Self> {
        let mut node_args: Vec<&OsStr> = vec!["node".as_ref(), "--home".as_ref(), home.as_ref()];
        node_args.extend(args.iter().map(|a| OsStr::new(*a)));
        Self::spawn(binary, home, &node_args, env)
    }

    /// Sends the process `signal` (`STOP`, `CONT`, …).
    pub fn signal(&self, signal: &str) -> eyre::Result<()> {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .wrap_err("running kill")?;
        if !status.success() {
            bail!("kill -{signal} {} failed", self.child.id());
        }
        Ok(())
    }

    fn spawn(
        binary: &Path,
        datadir: &Path,
        args: &[&OsStr],
        env: &[(&str, &str)],
    ) -> eyre::Result<Self> {
        let node = args.first().is_some_and(|a| *a == "node");
        let stderr = if node {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(datadir.join("node.log"))
                .wrap_err("opening node.log")?;
            Stdio::from(log)
        } else {
            Stdio::inherit()
        };
        let mut command = Command::new(binary);
        command
            .args(args)
            .args(["--rpc.addr", "127.0.0.1:0"])
            .env("BTCR_LOG", if node { "info" } else { "warn" })
            .envs(env.iter().copied())
            .stderr(stderr);
        let (child, url, printed) = start_announcing(command, "JSON-RPC", "its JSON-RPC address")?;
        Ok(Self { child, rpc: RpcClient::new(url), datadir: datadir.to_path_buf(), printed })
    }

    /// The rest of the first line the process printed that starts with `marker` (a banner
    /// line such as `Metrics`), waiting up to 10 s for it.
    pub fn announced(&self, marker: &str) -> eyre::Result<String> {
        announced(&self.printed, marker)
    }

    /// Kills the process with SIGKILL, as a power cut would, and waits for it to go.
    pub fn kill(mut self) -> eyre::Result<()> {
        self.child.kill().wrap_err("killing btcr")?;
        self.child.wait().wrap_err("waiting for btcr")?;
        Ok(())
    }

    /// Asks the process to stop (SIGTERM) and waits for it.
    pub fn terminate(mut self) -> eyre::Result<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().wrap_err("sending SIGTERM")?;
        self.child.wait().wrap_err("waiting for btcr")
    }
}

/// The rest of the first line in `printed` that starts with `marker`, waiting up to 10 s.
fn announced(printed: &Printed, marker: &str) -> eyre::Result<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = printed
            .lock()
            .map_err(|_| eyre!("the output reader panicked"))?
            .iter()
            .find_map(|line| line.strip_prefix(marker).map(|rest| rest.trim().to_owned()));
        if let Some(found) = found {
            return Ok(found);
        }
        if std::time::Instant::now() > deadline {
            bail!("btcr printed no line starting with {marker:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Spawns `command` (stdin closed, stdout read) and waits for the line that starts with
/// `marker`: answers the child, the rest of that line and the lines it prints.
fn start_announcing(
    mut command: Command,
    marker: &'static str,
    what: &str,
) -> eyre::Result<(Child, String, Printed)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .wrap_err_with(|| format!("starting {:?}", command.get_program()))?;
    let stdout = child.stdout.take().ok_or_else(|| eyre!("no stdout"))?;
    let (tx, rx) = mpsc::channel();
    let printed = Printed::default();
    let kept = printed.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(marker) {
                let _ = tx.send(rest.trim().to_owned());
            }
            if let Ok(mut kept) = kept.lock()
                && kept.len() < MAX_KEPT_LINES
            {
                kept.push(line);
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(announced) => Ok((child, announced, printed)),
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().ok();
            bail!("btcr did not print {what} (exit status {status:?})");
        }
    }
}

/// A running `btcr api` child process (the accounts service on its own).
#[derive(Debug)]
pub struct ApiProcess {
    child: Child,
    /// `http://ADDR`, where it serves `/api/v1/…`.
    pub url: String,
    printed: Printed,
}

impl ApiProcess {
    /// Starts `binary api --api.addr 127.0.0.1:0 ARGS…` and waits until it prints where it
    /// listens.
    pub fn start(binary: &Path, args: &[&str]) -> eyre::Result<Self> {
        let mut command = Command::new(binary);
        command
            .args(["api", "--api.addr", "127.0.0.1:0"])
            .args(args)
            .env("BTCR_LOG", "warn")
            .env_remove("BTCR_ACCOUNTS_DATABASE_URL")
            .env_remove("BTCR_REDIS_URL")
            .stderr(Stdio::inherit());
        let (child, listening, printed) =
            start_announcing(command, "Listening", "where it listens")?;
        let url = listening.trim_end_matches("/api/v1").to_owned();
        Ok(Self { child, url, printed })
    }

    /// See [`DevProcess::announced`].
    pub fn announced(&self, marker: &str) -> eyre::Result<String> {
        announced(&self.printed, marker)
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free run of `n` consecutive ports on 127.0.0.1, below the range the kernel hands out
/// for port 0 (where the proxies and the nodes' RPC servers go), so that none takes them
/// before the nodes listen.
pub fn free_ports(n: u16) -> eyre::Result<u16> {
    for _ in 0..200 {
        let base: u16 = 10_000 + (rand::random::<u16>() % 20_000);
        if (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return Ok(base);
        }
    }
    bail!("no run of {n} free ports")
}
