//! A webhook receiver of a test's own: a real HTTP/1.1 server on a local port, on a thread,
//! that records every request, answers with the status the test sets, and can go down
//! (connections refused) and come back on the same port.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU16, Ordering},
    },
    thread,
    time::Duration,
};

/// Largest body the receiver reads.
const MAX_BODY: usize = 1 << 20;

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: u64,
    /// `webhook-signature`.
    pub signature: String,
    /// The body.
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    status: AtomicU16,
}

/// The receiver.
pub struct WebhookReceiver {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    running: Option<Arc<AtomicBool>>,
}

impl WebhookReceiver {
    /// Starts on a free local port, answering 200.
    pub fn start() -> eyre::Result<Self> {
        let shared = Arc::new(Shared::default());
        shared.status.store(200, Ordering::SeqCst);
        let mut r = Self { addr: "127.0.0.1:0".parse()?, shared, running: None };
        r.up()?;
        Ok(r)
    }

    /// Where to post.
    pub fn url(&self) -> String {
        format!("http://{}/hooks/btcr", self.addr)
    }

    /// Answers `status` from now on (a 3xx with a `Location`; every answer has a 64 KiB
    /// body, which a client should not read whole).
    pub fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Stops listening: connections are refused until [`WebhookReceiver::up`].
    pub fn down(&mut self) {
        if let Some(running) = self.running.take() {
            running.store(false, Ordering::SeqCst);
            // Wake the accepting thread so that it drops the listener now.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Listens again, on the same port.
    pub fn up(&mut self) -> eyre::Result<()> {
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    thread::sleep(Duration::from_millis(20))
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.addr = listener.local_addr()?;
        let running = Arc::new(AtomicBool::new(true));
        self.running = Some(running.clone());
        let shared = self.shared.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if !running.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let shared = shared.clone();
                    thread::spawn(move || {
                        let _ = serve(stream, &shared);
                    });
                }
            }
        });
        Ok(())
    }

    /// What it received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("not poisoned").clone()
    }

    /// What it received and answered 2xx, in order.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| (200..300).contains(&r.status)).collect()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.down();
    }
}

fn serve(stream: TcpStream, shared: &Shared) -> eyre::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        eyre::bail!("a connection closed before its request line");
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        // A request cut before the blank line that ends its headers (a sender that gave
        // up mid-request) is not a request: nothing is recorded or answered.
        if reader.read_line(&mut line)? == 0 {
            eyre::bail!("a request cut in its headers");
        }
        let Some((name, value)) = line.trim_end().split_once(':') else { break };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |name: &str| {
        headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    let mut body = vec![0; length.min(MAX_BODY)];
    reader.read_exact(&mut body)?;
    let status = shared.status.load(Ordering::SeqCst);
    shared.received.lock().expect("not poisoned").push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
        signature: header("webhook-signature"),
        body,
        status,
    });
    let filler = "x".repeat(64 * 1024);
    let location = if (300..400).contains(&status) {
        "Location: http://127.0.0.1:9/elsewhere\r\n"
    } else {
        ""
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} Answer\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{filler}",
        filler.len()
    )?;
    Ok(())
}
