//! Joining the room the cheap way: connect, answer `NICK`, wait for the `ROOM` line that ends
//! registration, and keep the raw socket, with any bytes that arrived after it, for the
//! receive path.

use std::io;
use std::net::{SocketAddr, TcpStream};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use smol::Async;
use thiserror::Error;

/// The most handshake bytes accepted before the welcome; the real handshake is a few lines.
const MAX_HANDSHAKE_BYTES: usize = 64 * 1024;

/// A client in the room, its socket ready for raw reads.
#[derive(Debug)]
pub struct Joined {
    /// The connection, non-blocking and registered with the reactor.
    pub stream: Async<TcpStream>,
    /// Bytes that followed the `ROOM` line in the same read: the start of the room's traffic.
    pub leftover: Vec<u8>,
}

/// Why a client did not get into the room.
#[derive(Debug, Error)]
pub enum JoinError {
    /// The TCP connection could not be made.
    #[error("connect failed: {0}")]
    Connect(io::Error),
    /// The connection failed during the handshake.
    #[error("handshake failed: {0}")]
    Io(io::Error),
    /// The server sent `ERROR code text` instead of a welcome.
    #[error("refused: {0}")]
    Refused(String),
    /// The server closed the connection before the welcome.
    #[error("closed before the welcome")]
    Closed,
    /// The server sent more than a handshake's worth of bytes without a welcome.
    #[error("no welcome in the first {MAX_HANDSHAKE_BYTES} bytes")]
    Protocol,
    /// The handshake took longer than the bench allows.
    #[error("handshake timed out")]
    TimedOut,
}

/// Connects to `addr` and registers `nick`.
pub async fn join(addr: SocketAddr, nick: &str) -> Result<Joined, JoinError> {
    let stream = Async::<TcpStream>::connect(addr).await.map_err(JoinError::Connect)?;
    // Like the real client: a small line goes out at once, not after a delayed ACK.
    let _ = stream.get_ref().set_nodelay(true);
    let mut pending = Vec::with_capacity(256);
    wait_for(&stream, &mut pending, b"NICK").await?;
    let answer = format!("{nick}\n");
    (&stream).write_all(answer.as_bytes()).await.map_err(JoinError::Io)?;
    // `WELCOME`, our own `JOIN` of the default room, then `ROOM`.
    wait_for(&stream, &mut pending, b"ROOM").await?;
    Ok(Joined { stream, leftover: pending })
}

/// Reads until a line starting with `keyword` arrives, consuming it and every line before;
/// `pending` keeps whatever follows it.
async fn wait_for(
    stream: &Async<TcpStream>,
    pending: &mut Vec<u8>,
    keyword: &[u8],
) -> Result<(), JoinError> {
    loop {
        while let Some(end) = memchr::memchr(b'\n', pending) {
            let line: Vec<u8> = pending.drain(..=end).take(end).collect();
            if let Some(text) = line.strip_prefix(b"ERROR ") {
                return Err(JoinError::Refused(String::from_utf8_lossy(text).into_owned()));
            }
            if line.split(|&b| b == b' ').next() == Some(keyword) {
                return Ok(());
            }
        }
        if pending.len() > MAX_HANDSHAKE_BYTES {
            return Err(JoinError::Protocol);
        }
        let mut chunk = [0u8; 1024];
        let n = (&*stream).read(&mut chunk).await.map_err(JoinError::Io)?;
        if n == 0 {
            return Err(JoinError::Closed);
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}
