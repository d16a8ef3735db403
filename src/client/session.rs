//! What the terminal and piped front ends share: their options, the errors a person sees,
//! connecting, and where the line history lives.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use futures_lite::future;
use smol::Timer;
use thiserror::Error;

use super::connection::{Client, ClientError};
use super::render::clean;
use super::target::Target;
use super::tls::{describe_tls, Trust};
use crate::proto::chat::ErrorCode;

/// How long connecting may take before the client gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server may take, once connected, to register us (and, for the terminal,
/// to say which room we are in): as long as a server gives a client to register by
/// default (`--handshake-timeout`). A server that goes quiet is given up on, not waited
/// for forever.
pub(super) const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the server is and how to trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Where the server listens: `host:port`, `chat://host:port` or `chats://host:port`.
    pub server: String,
    /// Speak TLS even to a bare `host:port`.
    pub tls: bool,
    /// Which certificates a TLS server may present.
    pub trust: Trust,
    /// The server's password, for a server that asks for one.
    pub password: Option<Secret>,
}

impl Destination {
    /// A plain `host:port`, trusting the system's authorities should it say `chats://`.
    pub fn plain(server: impl Into<String>) -> Destination {
        Destination { server: server.into(), tls: false, trust: Trust::System, password: None }
    }
}

/// A password, kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// The first line of `path`, without its line ending: what `--password-file` holds.
    pub fn read(path: &std::path::Path) -> Result<Secret, String> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            format!("cannot read the password file {}: {error}", path.display())
        })?;
        let line = text.lines().next().unwrap_or("");
        if line.is_empty() {
            return Err(format!("the password file {} is empty", path.display()));
        }
        Ok(Secret(line.to_string()))
    }
}

/// How the client was asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Where the server is.
    pub destination: Destination,
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
            ClientError::Refused { text, .. } => ChatError::Refused(clean(&text).into_owned()),
            ClientError::Bye(reason) => {
                ChatError::Lost(format!("the server closed the connection: {}", clean(&reason)))
            }
            ClientError::Closed => ChatError::Lost("the server closed the connection".into()),
            ClientError::Io(error) => {
                ChatError::Lost(format!("connection lost: {}", describe(&error)))
            }
            ClientError::Protocol(what) => {
                ChatError::Lost(format!("the server sent an unreadable line ({})", clean(&what)))
            }
        }
    }
}

/// `fut`, or [`ChatError::Lost`] saying the server did not finish `what` once `limit`
/// has passed.
pub(super) async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, ChatError>>,
) -> Result<T, ChatError> {
    let late = async {
        Timer::after(limit).await;
        let limit = humantime::format_duration(limit);
        Err(ChatError::Lost(format!("timed out: the server did not {what} within {limit}")))
    };
    future::or(fut, late).await
}

/// Connects to the server (over TLS if asked), gives its password if it asks for one, and
/// waits for its nickname request.
pub async fn connect(destination: &Destination) -> Result<Client, ChatError> {
    connect_asking(destination, |_| None).await
}

/// [`connect`], asking `ask` for the password when the server wants one the destination
/// does not have, or after a wrong one (whose refusal `ask` is shown); `ask` returning
/// `None` gives up.
pub async fn connect_asking(
    destination: &Destination,
    mut ask: impl FnMut(Option<&str>) -> Option<String>,
) -> Result<Client, ChatError> {
    let mut client = reach(destination).await?;
    let failed = |reason: String| ChatError::Connect { server: destination.server.clone(), reason };
    let mut given = destination.password.clone().map(|secret| secret.0);
    let mut wrong: Option<String> = None;
    while client.asks_password {
        let Some(password) = given.take().or_else(|| ask(wrong.as_deref())) else {
            let reason = wrong.unwrap_or_else(|| {
                "the server asks for a password: give --password-file FILE".to_string()
            });
            return Err(failed(reason));
        };
        match client.password(&password).await {
            Ok(()) => {}
            Err(ClientError::Refused { code: ErrorCode::BadPassword, text }) => {
                wrong = Some(clean(&text).into_owned());
            }
            Err(ClientError::Refused { text, .. }) => return Err(failed(clean(&text).into())),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(client)
}

/// Connects (over TLS if asked) and waits until the server asks for something.
async fn reach(destination: &Destination) -> Result<Client, ChatError> {
    let server = destination.server.as_str();
    let failed = |reason: String| ChatError::Connect { server: server.to_string(), reason };
    let target = Target::parse(server, destination.tls).map_err(failed)?;
    let connecting = async {
        match target.tls {
            false => Client::connect(target.addr.as_str()).await,
            true => {
                let connector = destination.trust.connector().map_err(tls_setup)?;
                Client::connect_tls(target.addr.as_str(), target.host(), &connector).await
            }
        }
    };
    let timeout = async {
        Timer::after(CONNECT_TIMEOUT).await;
        Err(ClientError::Io(io::ErrorKind::TimedOut.into()))
    };
    match future::or(connecting, timeout).await {
        Ok(client) => Ok(client),
        Err(ClientError::Io(error)) => Err(failed(describe(&error))),
        // Refused before any nickname: the server is full, or this address has too many.
        Err(ClientError::Refused { text, .. }) => Err(failed(clean(&text).into_owned())),
        Err(other) => Err(other.into()),
    }
}

/// A TLS set-up failure (an unreadable CA file, no system authorities) as a client error.
fn tls_setup(reason: String) -> ClientError {
    ClientError::Io(io::Error::new(io::ErrorKind::InvalidInput, reason))
}

/// A socket or TLS error in a few words, safe to show: a certificate's names are the
/// server's words.
pub fn describe(error: &io::Error) -> String {
    if let Some(tls) = describe_tls(error) {
        return clean(&tls).into_owned();
    }
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused (is the server running?)".into(),
        io::ErrorKind::ConnectionReset => "connection reset by the server".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        _ => clean(&error.to_string()).into_owned(),
    }
}

/// Where the history is kept unless told otherwise: `$XDG_DATA_HOME/smolchat/history`, or
/// `~/.local/share/smolchat/history`; `None` when there is no home directory.
pub fn default_history_path() -> Option<PathBuf> {
    Some(crate::paths::default_data_dir()?.join("history"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text from the server with a zero-width space, a right-to-left override and an
    /// escape: none of them may reach the terminal.
    const HOSTILE: &str = "a\u{200B}b\u{202E}c\u{1b}[2J";

    fn shown(error: ClientError) -> String {
        ChatError::from(error).to_string()
    }

    #[test]
    fn the_servers_words_in_an_error_are_cleaned_of_invisible_characters() {
        let refused = ClientError::Refused { code: ErrorCode::NickTaken, text: HOSTILE.into() };
        let said = [
            shown(refused),
            shown(ClientError::Bye(HOSTILE.into())),
            shown(ClientError::Protocol(HOSTILE.into())),
            shown(ClientError::Io(io::Error::other(HOSTILE))),
        ];
        for text in said {
            assert!(text.contains("a\u{FFFD}b\u{FFFD}c\u{FFFD}[2J"), "{text:?}");
        }
    }
}
