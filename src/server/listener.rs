//! Listeners, named by URL-like specs (`chat://127.0.0.1:55555`, `http://127.0.0.1:8080`):
//! which protocol a port speaks, and binding it with a backlog deep enough for a join storm.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;

use async_net::TcpListener;
use socket2::{Domain, Socket, Type};
use thiserror::Error;

use super::tls::Tls;

/// Why a TLS listener could not start.
const NO_CERTIFICATE: &str =
    "a TLS listener needs a certificate: give --tls-cert FILE and --tls-key FILE, or --tls-self-signed";

/// Connections the kernel may hold completed but not yet accepted. The standard library
/// asks for 128, after which every further simultaneous connect waits a whole second for
/// a SYN retry; the kernel caps this at `net.core.somaxconn` anyway.
pub const LISTEN_BACKLOG: i32 = 4096;

/// Where IRC clients connect unless told otherwise: IRC's registered port.
pub const DEFAULT_IRC: &str = "127.0.0.1:6667";

/// Where the web page is served unless told otherwise, so that `cargo run` is one click
/// away from a browser.
pub const DEFAULT_WEB: &str = "127.0.0.1:8080";

/// The listeners a server has when none is asked for: the chat protocol on its port, IRC
/// on 6667, and the web page on 8080.
pub fn default_listeners() -> Vec<ListenSpec> {
    vec![
        ListenSpec { scheme: Scheme::Chat, addr: crate::client::DEFAULT_SERVER.to_string() },
        ListenSpec { scheme: Scheme::Irc, addr: DEFAULT_IRC.to_string() },
        ListenSpec { scheme: Scheme::Http, addr: DEFAULT_WEB.to_string() },
    ]
}

/// What a listener speaks, and whether over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// The smolchat line protocol over plain TCP.
    Chat,
    /// IRC (RFC 1459/2812 as modern clients speak it) over plain TCP.
    Irc,
    /// The line protocol over TLS.
    Chats,
    /// IRC over TLS (conventionally port 6697).
    Ircs,
    /// HTTP: the web page, `/metrics`, `/healthz`, and the line protocol over a WebSocket.
    Http,
    /// The same over TLS.
    Https,
}

/// The protocols a session can speak, whatever carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The smolchat line protocol.
    Chat,
    /// IRC.
    Irc,
    /// HTTP, whose `/ws` carries the line protocol over a WebSocket.
    Web,
}

impl Scheme {
    /// The scheme as written in a spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Chat => "chat",
            Scheme::Irc => "irc",
            Scheme::Chats => "chats",
            Scheme::Ircs => "ircs",
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The protocol its sessions speak.
    pub fn protocol(self) -> Protocol {
        match self {
            Scheme::Chat | Scheme::Chats => Protocol::Chat,
            Scheme::Irc | Scheme::Ircs => Protocol::Irc,
            Scheme::Http | Scheme::Https => Protocol::Web,
        }
    }

    /// True when connections are encrypted.
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Chats | Scheme::Ircs | Scheme::Https)
    }
}

/// A listener as asked for on the command line: `SCHEME://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenSpec {
    /// The protocol.
    pub scheme: Scheme,
    /// Where: `host:port`, resolved when bound; port 0 picks a free port.
    pub addr: String,
}

/// Why a listener spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpecError {
    /// No `://`.
    #[error("{0:?} is not SCHEME://HOST:PORT (for example chat://127.0.0.1:55555)")]
    NoScheme(String),
    /// A scheme this server does not speak.
    #[error(
        "unknown scheme {0:?}: this server listens on chat://, irc://, chats://, ircs://, \
         http:// and https://"
    )]
    UnknownScheme(String),
    /// Nothing after the `://`.
    #[error("{0:?} has no address after the scheme")]
    NoAddress(String),
}

impl FromStr for ListenSpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<ListenSpec, SpecError> {
        let (scheme, addr) = spec.split_once("://").ok_or(SpecError::NoScheme(spec.into()))?;
        let scheme = match scheme {
            "chat" => Scheme::Chat,
            "irc" => Scheme::Irc,
            "chats" => Scheme::Chats,
            "ircs" => Scheme::Ircs,
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(SpecError::UnknownScheme(other.into())),
        };
        if addr.is_empty() {
            return Err(SpecError::NoAddress(spec.into()));
        }
        Ok(ListenSpec { scheme, addr: addr.to_string() })
    }
}

impl fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.addr)
    }
}

/// A bound listener, ready for [`run`](super::run).
pub struct Listener {
    /// What it speaks.
    pub scheme: Scheme,
    /// The socket.
    pub tcp: TcpListener,
    /// The certificate of a TLS listener.
    pub tls: Option<Tls>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener").field("scheme", &self.scheme).field("tcp", &self.tcp).finish()
    }
}

impl Listener {
    /// A chat listener on a socket bound by the caller (a test on `127.0.0.1:0`).
    pub fn chat(tcp: TcpListener) -> Listener {
        Listener { scheme: Scheme::Chat, tcp, tls: None }
    }

    /// An IRC listener on a socket bound by the caller.
    pub fn irc(tcp: TcpListener) -> Listener {
        Listener { scheme: Scheme::Irc, tcp, tls: None }
    }

    /// A web listener (the page, `/metrics`, `/healthz`, `/ws`) on a socket bound by the
    /// caller.
    pub fn web(tcp: TcpListener) -> Listener {
        Listener { scheme: Scheme::Http, tcp, tls: None }
    }

    /// A TLS listener (`chats://`, `ircs://` or `https://` by `protocol`) on a socket bound
    /// by the caller, presenting `tls`.
    pub fn tls(protocol: Protocol, tcp: TcpListener, tls: Tls) -> Listener {
        let scheme = match protocol {
            Protocol::Chat => Scheme::Chats,
            Protocol::Irc => Scheme::Ircs,
            Protocol::Web => Scheme::Https,
        };
        Listener { scheme, tcp, tls: Some(tls) }
    }

    /// Binds `spec`; a TLS scheme needs the certificate `tls`, and is refused without one
    /// before anything is bound.
    pub fn bind(spec: &ListenSpec, tls: Option<&Tls>) -> io::Result<Listener> {
        let tls = match (spec.scheme.is_tls(), tls) {
            (false, _) => None,
            (true, Some(tls)) => Some(tls.clone()),
            (true, None) => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, NO_CERTIFICATE))
            }
        };
        Ok(Listener { scheme: spec.scheme, tcp: bind(&spec.addr)?, tls })
    }

    /// Where it listens, as a spec with the port it got.
    pub fn local_spec(&self) -> io::Result<ListenSpec> {
        Ok(ListenSpec { scheme: self.scheme, addr: self.tcp.local_addr()?.to_string() })
    }
}

/// Binds `addr` (a `host:port`, resolved once) for the server.
pub fn bind(addr: &str) -> io::Result<TcpListener> {
    let mut last_error = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind");
    for addr in resolve(addr)? {
        match bind_one(addr) {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

/// The addresses `addr` names. The standard library's word for one without a port or with
/// a bad one is only `invalid socket address` or `invalid port value`: it is told how to
/// write one.
fn resolve(addr: &str) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    addr.to_socket_addrs().map_err(|error| match error.kind() {
        io::ErrorKind::InvalidInput => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{error}: write HOST:PORT, as 127.0.0.1:55555, 0.0.0.0:55555 or [::1]:55555"),
        ),
        _ => error,
    })
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(socket2::Protocol::TCP))?;
    // A restarted server can take its port back while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::try_from(std::net::TcpListener::from(socket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_is_scheme_and_address() {
        let spec: Result<ListenSpec, _> = "chat://127.0.0.1:55555".parse();
        assert_eq!(spec, Ok(ListenSpec { scheme: Scheme::Chat, addr: "127.0.0.1:55555".into() }));
        assert_eq!(spec.map(|s| s.to_string()), Ok("chat://127.0.0.1:55555".to_string()));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let parse = |spec: &str| spec.parse::<ListenSpec>();
        assert_eq!(parse("127.0.0.1:1"), Err(SpecError::NoScheme("127.0.0.1:1".into())));
        assert_eq!(parse("gopher://:70"), Err(SpecError::UnknownScheme("gopher".into())));
        assert_eq!(parse("chat://"), Err(SpecError::NoAddress("chat://".into())));
        let unknown = SpecError::UnknownScheme("ws".into()).to_string();
        assert!(unknown.contains("http:// and https://"), "{unknown}");
    }

    #[test]
    fn web_schemes_speak_the_web_protocol_and_https_is_tls() {
        let parse = |spec: &str| spec.parse::<ListenSpec>().map(|spec| spec.scheme);
        assert_eq!(parse("http://127.0.0.1:8080"), Ok(Scheme::Http));
        assert_eq!(parse("https://[::1]:8443"), Ok(Scheme::Https));
        assert_eq!(
            (Scheme::Http.protocol(), Scheme::Https.protocol()),
            (Protocol::Web, Protocol::Web)
        );
        assert!(!Scheme::Http.is_tls() && Scheme::Https.is_tls());
        let spec = ListenSpec { scheme: Scheme::Https, addr: "0.0.0.0:443".into() };
        assert_eq!(spec.to_string(), "https://0.0.0.0:443");
    }

    #[test]
    fn the_defaults_serve_the_page_on_8080() {
        let defaults: Vec<String> = default_listeners().iter().map(ToString::to_string).collect();
        assert_eq!(
            defaults,
            ["chat://127.0.0.1:55555", "irc://127.0.0.1:6667", "http://127.0.0.1:8080"]
        );
    }

    #[test]
    fn an_address_without_a_port_is_told_how_to_write_one() {
        for addr in ["127.0.0.1", "[::1]", "localhost:abc", "0.0.0.0:99999"] {
            let error = bind(addr).map(drop).err().map(|error| error.to_string());
            assert!(error.as_deref().is_some_and(|e| e.contains("write HOST:PORT")), "{error:?}");
        }
    }

    #[test]
    fn an_https_listener_without_a_certificate_is_refused_before_binding() {
        let spec = ListenSpec { scheme: Scheme::Https, addr: "127.0.0.1:0".into() };
        let refused = Listener::bind(&spec, None).map(|_| ());
        assert!(refused.is_err_and(|error| error.to_string().contains("--tls-cert")));
    }
}
