//! An SMTP server of a test's own: Debian's `aiosmtpd` (`python3-aiosmtpd`, run by Debian's
//! own Python; `scripts/services.sh` installs it when missing, `BTCR_SMTP_PYTHON` names
//! another interpreter) on a free local port, keeping every mail it accepts in a Maildir of
//! a temporary directory. It can go down (connections refused) and come back on its port.

use std::{
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant, SystemTime},
};

use eyre::{WrapErr, bail};

/// How long the server may take to listen.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// Debian's Python, which sees Debian's `python3-aiosmtpd`.
const PYTHON: &str = "/usr/bin/python3";

/// One mail the server accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope's recipients (`X-RcptTo`, which the server adds).
    pub to: String,
    /// `Subject`.
    pub subject: String,
    /// `Message-ID`.
    pub message_id: String,
    /// The body, with quoted-printable undone.
    pub body: String,
    /// When it was written to the Maildir.
    pub received: SystemTime,
}

/// A running SMTP sink.
#[derive(Debug)]
pub struct TempSmtp {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl TempSmtp {
    /// Starts on a free port and waits until it accepts connections.
    pub fn start() -> eyre::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = tempfile::Builder::new().prefix("btcr-smtp-").tempdir()?.keep();
        let mut smtp = Self { child: None, port, dir };
        smtp.up()?;
        Ok(smtp)
    }

    /// Listens again on the same port, keeping what it received.
    pub fn up(&mut self) -> eyre::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let python = std::env::var_os("BTCR_SMTP_PYTHON").unwrap_or_else(|| PYTHON.into());
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.port)])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.dir.join("maildir"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .wrap_err_with(|| {
                format!("starting {python:?} -m aiosmtpd (run scripts/services.sh: Debian's python3-aiosmtpd)")
            })?;
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < READY_WITHIN {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                bail!(
                    "aiosmtpd on port {} exited: {status} (is python3-aiosmtpd installed?)",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.down();
        bail!("aiosmtpd on port {} did not listen within {READY_WITHIN:?}", self.port)
    }

    /// Stops listening: connections are refused until [`TempSmtp::up`].
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `smtp://127.0.0.1:PORT` (plain SMTP, no authentication).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every mail accepted so far, in the order written.
    pub fn mails(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("maildir").join("new")) else {
            return Vec::new();
        };
        let mut mails: Vec<Mail> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let received = entry.metadata().ok()?.modified().ok()?;
                let text = std::fs::read_to_string(entry.path()).ok()?;
                Some(parse(&text, received))
            })
            .collect();
        mails.sort_by_key(|m| m.received);
        mails
    }
}

/// The headers a test reads, and the body decoded.
fn parse(text: &str, received: SystemTime) -> Mail {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    // Unfold continued header lines.
    let head = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let quoted = header("Content-Transfer-Encoding").eq_ignore_ascii_case("quoted-printable");
    let body = if quoted { unquote(body) } else { body.to_owned() };
    Mail {
        to: header("X-RcptTo"),
        subject: header("Subject"),
        message_id: header("Message-ID"),
        body,
        received,
    }
}

/// Quoted-printable undone: soft line breaks joined, `=XX` turned back into its byte.
fn unquote(body: &str) -> String {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Drop for TempSmtp {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_printable_mail_reads_back_whole() {
        let text = "X-RcptTo: a@example.com\nSubject: BTCR\n transfer.out\nMessage-ID: <m@x>\n\
                    Content-Transfer-Encoding: quoted-printable\n\nvalue=3D7 and a long=\n line\n";
        let mail = parse(text, SystemTime::UNIX_EPOCH);
        assert_eq!(mail.to, "a@example.com");
        assert_eq!(mail.subject, "BTCR transfer.out");
        assert_eq!(mail.message_id, "<m@x>");
        assert_eq!(mail.body, "value=7 and a long line\n");
    }
}
