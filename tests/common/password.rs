//! For the server password's tests: password files that remove themselves, a raw chat
//! connection that shows the handshake's lines exactly as sent, and the server's log
//! lines captured in memory.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_net::TcpStream;
use futures_lite::io::BufReader;
use futures_lite::{AsyncBufReadExt, AsyncWriteExt};
use smolchat::proto::chat::Line;
use smolchat::server::Config;

use super::{quick, within};

/// Numbers that make each temporary path unique within the test binary.
static FILES: AtomicU64 = AtomicU64::new(0);

/// A path in the temporary directory no other test (or run) uses, named after `tag`.
pub fn unique_path(tag: &str) -> PathBuf {
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("smolchat-password-{}-{n}-{tag}", std::process::id()))
}

/// A file holding a password (or anything else), removed when dropped.
pub struct PasswordFile {
    /// Where it is.
    pub path: PathBuf,
}

impl PasswordFile {
    /// A new file holding `contents`, named after `tag`.
    pub fn new(tag: &str, contents: &[u8]) -> PasswordFile {
        let path = unique_path(tag);
        std::fs::write(&path, contents).expect("cannot write a temporary password file");
        PasswordFile { path }
    }

    /// A file holding `password` and a newline, as an editor leaves it.
    pub fn holding(tag: &str, password: &str) -> PasswordFile {
        PasswordFile::new(tag, format!("{password}\n").as_bytes())
    }

    /// The harness's quick configuration (flood control off), with this file's password.
    pub fn config(&self) -> Config {
        Config { password_file: Some(self.path.clone()), ..quick() }
    }
}

impl Drop for PasswordFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The server's request for its password, as a line.
pub fn pass_request() -> String {
    Line::PassRequest.to_string()
}

/// A chat connection that reads lines as text, without the client library's handling of
/// the handshake, every read under the harness's timeout.
pub struct RawChat {
    /// The server's lines, buffered.
    reader: BufReader<TcpStream>,
    /// The same socket, for writing.
    writer: TcpStream,
}

impl RawChat {
    /// Connects to a chat listener.
    pub async fn connect(addr: SocketAddr) -> RawChat {
        let stream = within("chat connect", TcpStream::connect(addr)).await.expect("connect");
        RawChat { reader: BufReader::new(stream.clone()), writer: stream }
    }

    /// Connects to a chat listener from the local address `from` (another host).
    pub fn connect_from(from: std::net::IpAddr, addr: SocketAddr) -> RawChat {
        let stream = super::connect_from(from, addr);
        RawChat { reader: BufReader::new(stream.clone()), writer: stream }
    }

    /// Connects and reads the first line, which must be the password request.
    pub async fn asked_for_password(addr: SocketAddr) -> RawChat {
        let mut chat = RawChat::connect(addr).await;
        assert_eq!(chat.next().await, pass_request());
        chat
    }

    /// Sends one line; `\n` is added.
    pub async fn send(&mut self, line: &str) {
        let bytes = format!("{line}\n");
        within("chat send", self.writer.write_all(bytes.as_bytes())).await.expect("send");
    }

    /// The next line without its `\n`, or `None` at the end of the connection.
    pub async fn next_or_end(&mut self) -> Option<String> {
        let mut line = String::new();
        let read = within("chat line", self.reader.read_line(&mut line)).await;
        // A reset after the server's last line is an end like any other.
        if read.unwrap_or(0) == 0 {
            return None;
        }
        let body = line.strip_suffix('\n');
        Some(body.unwrap_or_else(|| panic!("a server line without \\n: {line:?}")).to_string())
    }

    /// The next line; the connection must not end first.
    pub async fn next(&mut self) -> String {
        self.next_or_end().await.expect("the connection ended")
    }

    /// Reads until the server closes the connection; returns every line.
    pub async fn until_closed(&mut self) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(line) = self.next_or_end().await {
            seen.push(line);
        }
        seen
    }
}

/// What the server's log subscriber has written, shared with the writers it makes.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Everything logged so far, as text.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut logs = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        logs.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Captures every log line of this test binary from now on, at every level, in memory;
/// the server's tasks run on other threads, so the subscriber is the global one.
pub fn capture_logs() -> Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        logs
    })
    .clone()
}
