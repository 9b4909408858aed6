//! A RabbitMQ node of a test's own: its own node name, AMQP and distribution ports, data and
//! logs in a temporary directory, no plugins; killed (the whole process group) and removed
//! when dropped. It runs Debian's `rabbitmq-server` (`scripts/services.sh` installs it when
//! missing; `BTCR_RABBITMQ_SERVER` names another start script), as the current user, so that
//! nothing of the system's own broker is touched.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use eyre::{WrapErr, bail};

/// How long a node may take to say it has started (the first start of a cluster makes its
/// schema; a loaded machine is slow).
const READY_WITHIN: Duration = Duration::from_secs(90);
/// Debian's start script that runs the broker as the calling user (the one on `PATH`
/// switches to the `rabbitmq` user).
const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// A running RabbitMQ node.
#[derive(Debug)]
pub struct TempRabbit {
    child: Option<Child>,
    port: u16,
    dist_port: u16,
    name: String,
    dir: PathBuf,
}

fn free_port() -> eyre::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl TempRabbit {
    /// Starts a node on free ports and waits until it has started.
    pub fn start() -> eyre::Result<Self> {
        let dir = tempfile::Builder::new().prefix("btcr-rabbitmq-").tempdir()?.keep();
        std::fs::write(dir.join("enabled_plugins"), "[].\n")?;
        let port = free_port()?;
        let name = format!("btcr{}@localhost", port);
        let mut rabbit = Self { child: None, port, dist_port: free_port()?, name, dir };
        rabbit.launch()?;
        Ok(rabbit)
    }

    /// Starts the node again after [`TempRabbit::stop`], on the same ports and data: what
    /// it had stored (durable queues, persistent messages) comes back.
    pub fn restart(&mut self) -> eyre::Result<()> {
        self.stop();
        let started = Instant::now();
        loop {
            match self.launch() {
                // The old node's ports may stay taken a moment.
                Err(e)
                    if started.elapsed() < READY_WITHIN && e.to_string().contains("eaddrinuse") =>
                {
                    std::thread::sleep(Duration::from_millis(500));
                }
                outcome => return outcome,
            }
        }
    }

    fn launch(&mut self) -> eyre::Result<()> {
        let dir = &self.dir;
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.default = 127.0.0.1:{}\nloopback_users = none\n\
                 log.console = true\nlog.console.level = info\nlog.file = false\n",
                self.port
            ),
        )?;
        let program = std::env::var_os("BTCR_RABBITMQ_SERVER").unwrap_or_else(|| SERVER.into());
        let mut command = Command::new(&program);
        command
            .env("HOME", dir)
            .env("RABBITMQ_NODENAME", &self.name)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_PLUGINS_EXPAND_DIR", dir.join("plugins"))
            .env("RABBITMQ_PID_FILE", dir.join("rabbitmq.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own group: the start script, the Erlang VM and its helpers die together.
            .process_group(0);
        let mut child = command.spawn().wrap_err_with(|| {
            format!(
                "starting {program:?}: RabbitMQ is not installed (run scripts/services.sh: Debian's rabbitmq-server)"
            )
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let said = Arc::new(Mutex::new(Vec::<String>::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let lines_said = said.clone();
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Starting broker... completed")
                    || line.contains("Server startup complete")
                {
                    let _ = ready_tx.send(true);
                }
                let mut said = lines_said.lock().unwrap_or_else(|e| e.into_inner());
                if said.len() < 400 {
                    said.push(line);
                }
            }
            let _ = ready_tx.send(false);
        });
        self.child = Some(child);
        match ready_rx.recv_timeout(READY_WITHIN) {
            Ok(true) => Ok(()),
            outcome => {
                self.kill();
                let said = said.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
                let why = if outcome.is_err() { "did not start in time" } else { "stopped" };
                bail!("rabbitmq-server on port {} {why}:\n{said}", self.port)
            }
        }
    }

    /// `amqp://guest:guest@127.0.0.1:PORT/%2f`.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Its AMQP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the node the way an operator does (SIGTERM: connections are closed, queues
    /// written out), waiting until it has exited.
    ///
    /// A SIGKILL ([`TempRabbit::kill`]) is not a stop to restart from: the single-node
    /// quorum queues of this broker version can come back without a leader after it, and
    /// stay so until an operator triggers an election.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.signal_group(&child, "-TERM");
            let deadline = Instant::now() + READY_WITHIN;
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) && !self.group_alive(&child) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            self.child = Some(child);
            self.kill();
        }
    }

    /// Stops the node at once (as a crash would): SIGKILL to its whole process group.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.signal_group(&child, "-KILL");
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal_group(&self, child: &Child, signal: &str) {
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args([signal, "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Whether a process of `child`'s group is still running (the Erlang VM outlives the
    /// start script for a moment).
    fn group_alive(&self, child: &Child) -> bool {
        let group = format!("-{}", child.id());
        Command::new("kill")
            .args(["-0", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for TempRabbit {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
