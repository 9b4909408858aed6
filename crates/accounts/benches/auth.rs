//! What signing in and being signed in cost: logins a second under the production argon2id
//! parameters (one at a time, and as many at once as the service lets run), and requests a
//! second on one endpoint over HTTP, anonymous and with an access token, measured side by
//! side in alternating rounds so that the machine's noise hits both alike.
//!
//! `cargo bench -p btcr-accounts --bench auth` (`-- --rounds N --seconds S` to change the
//! rounds and their length).

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    sync::Arc,
    time::{Duration, Instant},
};

use btcr_accounts::{
    Accounts, AccountsAuthenticator, AccountsConfig, Database, NodeClient, PasswordPolicy,
    RequestMeta,
};
use btcr_http::{HttpConfig, HttpServer};
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "correct horse battery staple";
/// Client connections sending requests at once.
const CLIENTS: usize = 4;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).find(|w| w[0] == name).and_then(|w| w[1].parse().ok()).unwrap_or(default)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Requests a second from `CLIENTS` keep-alive connections sending `GET path` for `seconds`.
fn requests_per_second(addr: SocketAddr, path: &str, token: Option<&str>, seconds: u64) -> f64 {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let request = request.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).expect("the server is up");
                stream.set_nodelay(true).expect("nodelay");
                let mut buffer = vec![0u8; 64 * 1024];
                let mut done = 0u64;
                while Instant::now() < deadline {
                    stream.write_all(request.as_bytes()).expect("sent");
                    // The answers are small: read until the head and its body are in.
                    let mut read = 0;
                    loop {
                        let n = stream.read(&mut buffer[read..]).expect("read");
                        assert!(n > 0, "the server closed the connection");
                        read += n;
                        let text = String::from_utf8_lossy(&buffer[..read]);
                        if let Some(head_end) = text.find("\r\n\r\n") {
                            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
                            let length = text[..head_end]
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if read >= head_end + 4 + length {
                                break;
                            }
                        }
                    }
                    done += 1;
                }
                done
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().expect("a client")).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

fn main() -> eyre::Result<()> {
    let rounds = arg("--rounds", 3) as usize;
    let seconds = arg("--seconds", 3);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let policy = PasswordPolicy::default();
    println!(
        "argon2id: memory {} KiB, {} passes, {} lane(s); {} hashed at once; {} cores",
        policy.memory_kib,
        policy.iterations,
        policy.parallelism,
        policy.concurrent,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let accounts = runtime.block_on(async {
        let db = Database::open_sqlite(&dir.path().join("accounts.db")).await?;
        let accounts = Accounts::open(db, AccountsConfig::default()).await?;
        accounts.register("bench@example.org", PASSWORD, &RequestMeta::default()).await?;
        eyre::Ok(accounts)
    })?;

    // Logins: one after another, then as many at once as there are cores times two.
    let login = |accounts: Accounts| async move {
        accounts.login("bench@example.org", PASSWORD, &RequestMeta::default()).await.map(|_| ())
    };
    let (serial, parallel) = runtime.block_on(async {
        let started = Instant::now();
        let mut n = 0u32;
        while started.elapsed() < Duration::from_secs(seconds) {
            login(accounts.clone()).await?;
            n += 1;
        }
        let serial = f64::from(n) / started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut n = 0u32;
        while started.elapsed() < Duration::from_secs(seconds) {
            let batch: Vec<_> =
                (0..2 * policy.concurrent).map(|_| tokio::spawn(login(accounts.clone()))).collect();
            for task in batch {
                task.await??;
                n += 1;
            }
        }
        let parallel = f64::from(n) / started.elapsed().as_secs_f64();
        eyre::Ok((serial, parallel))
    })?;
    println!(
        "logins/s: {serial:.1} one at a time, {parallel:.1} with {} at once",
        2 * policy.concurrent
    );

    // Requests on one endpoint, anonymous and authenticated, through the whole server.
    let shutdown = CancellationToken::new();
    let (addr, token) = runtime.block_on(async {
        let nowhere = Arc::new(NodeClient::new("http://127.0.0.1:9"));
        let server = HttpServer::new(HttpConfig {
            listen: "127.0.0.1:0".parse()?,
            max_body_bytes: 1 << 20,
            max_connections: 64,
            cors_origins: btcr_http::default_cors_origins(),
            workers: btcr_http::default_workers(),
        })
        .api(btcr_accounts::http::router(accounts.clone(), nowhere))
        .authenticator(Arc::new(AccountsAuthenticator::new(accounts.clone())))
        .start(shutdown.clone())
        .await?;
        let outcome =
            accounts.login("bench@example.org", PASSWORD, &RequestMeta::default()).await?;
        let (_, pair) = outcome.signed().ok_or_else(|| eyre::eyre!("no second factor expected"))?;
        eyre::Ok((server.local_addr, pair.access_token))
    })?;
    let path = "/api/v1/settings";
    let (mut anonymous, mut authenticated) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let a = requests_per_second(addr, path, None, seconds);
        let b = requests_per_second(addr, path, Some(&token), seconds);
        println!("round {round}: GET {path} anonymous {a:.0}/s, with an access token {b:.0}/s");
        anonymous.push(a);
        authenticated.push(b);
    }
    let (a, b) = (median(&mut anonymous), median(&mut authenticated));
    println!(
        "median: anonymous {a:.0}/s, authenticated {b:.0}/s, ratio {:.3} ({:+.1}% for the token)",
        b / a,
        (a / b - 1.0) * 100.0
    );
    shutdown.cancel();
    Ok(())
}
