//! A TCP proxy per directed link between two nodes, which the harness can cut (existing
//! connections are closed, new ones refused) or slow (each chunk forwarded late), and heal.

use std::{
    io::{ErrorKind, Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

/// What a link does to its traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMode {
    /// Forwards at once.
    Up,
    /// Closes its connections and refuses new ones.
    Down,
    /// Forwards each chunk after this delay.
    Delayed(Duration),
}

#[derive(Debug)]
struct LinkState {
    /// The mode, encoded: 0 up, `u64::MAX` down, else a delay in milliseconds.
    mode: AtomicU64,
    /// Bumped when the link goes down: connections of an older generation close.
    generation: AtomicU64,
    stop: AtomicBool,
}

/// A proxy listening on 127.0.0.1 and forwarding to one node's port.
#[derive(Debug)]
pub struct Link {
    /// Where the proxy listens.
    pub addr: SocketAddr,
    state: Arc<LinkState>,
    accept: Option<JoinHandle<()>>,
}

/// How often idle pumps look at the link's state.
const POLL: Duration = Duration::from_millis(50);

impl Link {
    /// A proxy on a free port of 127.0.0.1 forwarding to `target`.
    pub fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(LinkState {
            mode: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let shared = state.clone();
        let accept = std::thread::Builder::new()
            .name(format!("proxy-{}", addr.port()))
            .spawn(move || accept_loop(&listener, target, &shared))?;
        Ok(Self { addr, state, accept: Some(accept) })
    }

    /// Sets what the link does from now on; going down closes its connections.
    pub fn set(&self, mode: LinkMode) {
        let encoded = match mode {
            LinkMode::Up => 0,
            LinkMode::Down => u64::MAX,
            LinkMode::Delayed(delay) => (delay.as_millis() as u64).clamp(1, u64::MAX - 1),
        };
        let previous = self.state.mode.swap(encoded, Ordering::SeqCst);
        if mode == LinkMode::Down && previous != u64::MAX {
            self.state.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl LinkState {
    fn mode(&self) -> LinkMode {
        match self.mode.load(Ordering::SeqCst) {
            0 => LinkMode::Up,
            u64::MAX => LinkMode::Down,
            ms => LinkMode::Delayed(Duration::from_millis(ms)),
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.state.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, target: SocketAddr, state: &Arc<LinkState>) {
    while !state.stop.load(Ordering::SeqCst) {
        let incoming = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(_) => continue,
        };
        if state.mode() == LinkMode::Down {
            drop(incoming);
            continue;
        }
        let Ok(outgoing) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
            continue;
        };
        let generation = state.generation.load(Ordering::SeqCst);
        for (from, to) in [(&incoming, &outgoing), (&outgoing, &incoming)] {
            let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else { continue };
            let state = state.clone();
            let _ = std::thread::Builder::new()
                .name("proxy-pump".into())
                .spawn(move || pump(from, to, &state, generation));
        }
    }
}

/// Copies `from` to `to` until either closes or the link goes down.
fn pump(mut from: TcpStream, mut to: TcpStream, state: &LinkState, generation: u64) {
    let _ = from.set_read_timeout(Some(POLL));
    let _ = from.set_nonblocking(false);
    let _ = to.set_nodelay(true);
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        if state.generation.load(Ordering::SeqCst) != generation {
            break;
        }
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        match state.mode() {
            LinkMode::Down => break,
            LinkMode::Delayed(delay) => std::thread::sleep(delay),
            LinkMode::Up => {}
        }
        if state.generation.load(Ordering::SeqCst) != generation
            || to.write_all(&buffer[..n]).is_err()
        {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
