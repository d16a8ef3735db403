//! What the terminal and piped front ends share: their options, the errors a person sees,
//! connecting, and where the line history lives.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use futures_lite::future;
use smol::Timer;
use thiserror::Error;

use super::connection::{Client, ClientError};
use crate::proto::chat::sanitize;

/// How long connecting may take before the client gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the client was asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Where the server listens, `host:port`.
    pub server: String,
    /// The nickname to try first; without one the client asks for it.
    pub nick: Option<String>,
    /// The file the line history is kept in across runs; `None` keeps none.
    pub history: Option<PathBuf>,
    /// Prefix each line with the local time.
    pub timestamps: bool,
}

/// Why the client stopped, in words a person can act on.
#[derive(Debug, Error)]
pub enum ChatError {
    /// The server could not be reached.
    #[error("cannot connect to {server}: {reason}")]
    Connect {
        /// The address tried.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// The server refused the nickname and there is no way to ask for another.
    #[error("nickname refused: {0}")]
    Refused(String),
    /// Standard input ended before any nickname was accepted.
    #[error("standard input ended before a nickname was accepted")]
    NoNickname,
    /// The connection ended: the server closed it, said goodbye, or it broke.
    #[error("{0}")]
    Lost(String),
    /// The terminal could not be used.
    #[error("terminal error: {0}")]
    Terminal(String),
}

impl From<ClientError> for ChatError {
    /// Describes an ended or refused connection, with the server's words made safe to show.
    fn from(error: ClientError) -> ChatError {
        match error {
            ClientError::Refused { text, .. } => ChatError::Refused(sanitize(&text).into_owned()),
            ClientError::Bye(reason) => {
                ChatError::Lost(format!("the server closed the connection: {}", sanitize(&reason)))
            }
            ClientError::Closed => ChatError::Lost("the server closed the connection".into()),
            ClientError::Io(error) => {
                ChatError::Lost(format!("connection lost: {}", describe(&error)))
            }
            ClientError::Protocol(what) => {
                ChatError::Lost(format!("the server sent an unreadable line ({})", sanitize(&what)))
            }
        }
    }
}

/// Connects to `server` and waits for its nickname request.
pub async fn connect(server: &str) -> Result<Client, ChatError> {
    let timeout = async {
        Timer::after(CONNECT_TIMEOUT).await;
        Err(ClientError::Io(io::ErrorKind::TimedOut.into()))
    };
    let failed = |reason: String| ChatError::Connect { server: server.to_string(), reason };
    match future::or(Client::connect(server), timeout).await {
        Ok(client) => Ok(client),
        Err(ClientError::Io(error)) => Err(failed(describe(&error))),
        // Refused before any nickname: the server is full, or this address has too many.
        Err(ClientError::Refused { text, .. }) => Err(failed(sanitize(&text).into_owned())),
        Err(other) => Err(other.into()),
    }
}

/// A socket error in a few words.
pub fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused (is the server running?)".into(),
        io::ErrorKind::ConnectionReset => "connection reset by the server".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        _ => error.to_string(),
    }
}

/// Where the history is kept unless told otherwise: `$XDG_DATA_HOME/smolchat/history`, or
/// `~/.local/share/smolchat/history`; `None` when there is no home directory.
pub fn default_history_path() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| home::home_dir().map(|home| home.join(".local").join("share")))?;
    Some(data.join("smolchat").join("history"))
}
