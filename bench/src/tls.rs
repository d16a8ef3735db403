//! `--tls`: what the clients trust, and the connector and server name made of it. The
//! certificate checks are smolchat's own client's ([`smolchat::client::Trust`]), so the
//! bench trusts exactly what `smolchat` would.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use futures_rustls::pki_types::ServerName;
use futures_rustls::TlsConnector;
use serde::Serialize;
use smolchat::client::Trust;

/// What the clients trust when they speak TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsTrust {
    /// The `--spawn`ed server's certificate, made for the run and pinned by fingerprint.
    Spawned,
    /// Exactly the certificate with this SHA-256 fingerprint (`--tls-fingerprint`).
    Fingerprint(String),
    /// Certificates signed by an authority in this PEM file (`--tls-ca`).
    CaFile(PathBuf),
    /// Certificates signed by an authority the system trusts.
    System,
}

/// How a client opens its TLS session.
#[derive(Clone)]
pub struct TlsClient {
    /// What the server's certificate is checked against.
    pub connector: TlsConnector,
    /// The name the certificate must be for (the host of `--addr`); a pinned fingerprint
    /// ignores it.
    pub name: ServerName<'static>,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient").field("name", &self.name).finish_non_exhaustive()
    }
}

impl TlsClient {
    /// The client for a server found at `host` (`--addr`'s host, or the spawned server's
    /// address), trusting `trust`; `spawned` is the spawned server's fingerprint, if one
    /// was started. `Err` says in words what is wrong.
    pub fn new(trust: &TlsTrust, host: &str, spawned: Option<&str>) -> Result<TlsClient, String> {
        let trust = match (trust, spawned) {
            (TlsTrust::Spawned, Some(fingerprint)) => Trust::pinned(fingerprint)?,
            (TlsTrust::Spawned, None) => return Err("no server was started to trust".into()),
            (TlsTrust::Fingerprint(fingerprint), _) => Trust::pinned(fingerprint)?,
            (TlsTrust::CaFile(path), _) => Trust::CaFile(path.clone()),
            (TlsTrust::System, _) => Trust::System,
        };
        Ok(TlsClient { connector: trust.connector()?, name: server_name(host)? })
    }
}

/// The name to check the certificate against: an IP address or a DNS name.
fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ServerName::from(ip));
    }
    ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host:?} is neither an IP address nor a host name"))
}

/// The host part of `HOST:PORT` or `[IPV6]:PORT`.
pub fn host_of(addr: &str) -> &str {
    if let Some(bracketed) = addr.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or(bracketed);
    }
    addr.rsplit_once(':').map_or(addr, |(host, _port)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_what_comes_before_the_port() {
        assert_eq!(host_of("127.0.0.1:6697"), "127.0.0.1");
        assert_eq!(host_of("chat.example.org:7000"), "chat.example.org");
        assert_eq!(host_of("[::1]:7000"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }

    #[test]
    fn names_are_addresses_or_host_names() {
        assert!(matches!(server_name("127.0.0.1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("::1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("localhost"), Ok(ServerName::DnsName(_))));
        assert!(server_name("not a name").is_err());
    }

    #[test]
    fn a_spawned_server_is_trusted_by_its_fingerprint_only_once_it_exists() {
        let fingerprint = ["AB"; 32].join(":");
        assert!(TlsClient::new(&TlsTrust::Spawned, "127.0.0.1", Some(&fingerprint)).is_ok());
        assert!(TlsClient::new(&TlsTrust::Spawned, "127.0.0.1", None).is_err());
        let bad = TlsTrust::Fingerprint("AB:CD".into());
        assert!(TlsClient::new(&bad, "127.0.0.1", None).is_err());
    }
}
