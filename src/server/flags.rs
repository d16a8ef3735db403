//! The command line of `smolchat-server`: where it listens, how it encrypts, and the
//! limits of [`Config`]. It lives in the library so that the configuration file can be
//! checked against it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::Parser;

use super::threads::MAX_THREADS;
use super::tls::{self_signed_in, CertFiles, Tls};
use super::{default_listeners, Config, ListenSpec, Scheme};
use crate::core::Recalled;
use crate::store::{Store, StoreError};

/// The smolchat server: chat rooms for everyone who connects, over a line protocol
/// anyone can speak with `nc`, and over IRC.
#[derive(Debug, Clone, Parser)]
#[command(name = "smolchat-server", version)]
pub struct ServerFlags {
    /// A TOML file of flags (`max-line = 1024`, `listen = ["chat://..."]`); flags given on
    /// the command line win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A listener, as SCHEME://HOST:PORT (repeatable): chat://, irc://, chats:// or ircs://
    /// (the last two over TLS), or http:// or https:// for the web page, its WebSocket
    /// (/ws), /metrics and /healthz; port 0 picks a free port. Given at least once, it
    /// replaces the defaults chat://127.0.0.1:55555, irc://127.0.0.1:6667 and
    /// http://127.0.0.1:8080.
    #[arg(long = "listen", value_name = "SCHEME://ADDR")]
    pub listen: Vec<ListenSpec>,

    /// Short for --listen chat://ADDR.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,

    /// Threads running the connections, 1 to 1024 [default: one per core, or SMOL_THREADS].
    /// With more than one, a flush to 16 or more members shares its writes with a fan-out
    /// thread for each core beyond the first (at most N - 1). On two cores, two threads lower a small room's
    /// fan-out latency by about a quarter and take a big room's join storm a little faster
    /// than one (docs/BENCHMARKS.md).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS).map(|v| v as usize))]
    pub threads: Option<usize>,

    /// The TLS certificate chain (PEM) for chats://, ircs:// and https:// listeners; reread
    /// on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert; reread on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// For development: use a self-signed certificate for this host's names, made once and
    /// kept in the data directory (tls-cert.pem, tls-key.pem); its fingerprint is logged.
    #[arg(long, conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,

    /// Where the server keeps what survives a restart (history, accounts, registered rooms,
    /// the self-signed certificate), or `none` to keep nothing; one server per directory
    /// [default: $XDG_DATA_HOME/smolchat, or ~/.local/share/smolchat].
    #[arg(long, value_name = "DIR|none")]
    // A path, not a string: a directory's name need not be UTF-8.
    pub data_dir: Option<PathBuf>,

    /// Join the cluster of servers that share this Redis (redis://HOST:PORT): the same
    /// rooms, one nickname namespace, one order per room; history, accounts and registered
    /// rooms live in Redis then, not in the data directory (docs/CLUSTER.md).
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,

    /// How long after its last heartbeat a server of the cluster is declared dead, and its
    /// people are announced as gone; it beats every third of this.
    #[arg(long, default_value = "10s", value_parser = super::config::parse_timeout, requires = "cluster")]
    pub cluster_lease: Duration,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub config_flags: Config,
}

impl ServerFlags {
    /// The listeners asked for: every `--listen` and `--bind`, or else the defaults.
    pub fn listeners(&self) -> Vec<ListenSpec> {
        let mut specs = self.listen.clone();
        if let Some(addr) = &self.bind {
            specs.push(ListenSpec { scheme: Scheme::Chat, addr: addr.clone() });
        }
        if specs.is_empty() {
            specs = default_listeners();
        }
        specs
    }
}

impl ServerFlags {
    /// The data directory, or `None` for `--data-dir none` (or no home to default to).
    pub fn data_dir(&self) -> Option<PathBuf> {
        match self.data_dir.as_deref() {
            Some(dir) if dir.as_os_str() == "none" => None,
            Some(dir) => Some(dir.to_path_buf()),
            None => crate::paths::default_data_dir(),
        }
    }

    /// The store in the data directory, opened (and locked against a second server) with
    /// what it recalls; `None` for `--data-dir none`, and in a cluster, which keeps all
    /// that in Redis.
    pub fn open_store(&self) -> Result<Option<(Store, Recalled)>, StoreError> {
        if self.cluster.is_some() {
            return Ok(None);
        }
        let Some(dir) = self.data_dir() else { return Ok(None) };
        Store::open(&dir, self.config_flags.retention()).map(Some)
    }

    /// The names a self-signed certificate is made for: the server's name, `localhost`,
    /// the loopback addresses, and every host a TLS listener names.
    pub fn certificate_names(&self) -> Vec<String> {
        let mut names = vec![
            self.config_flags.server_name.clone(),
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        for spec in self.listeners().iter().filter(|spec| spec.scheme.is_tls()) {
            let host = crate::tls::host_of(&spec.addr);
            let unspecified = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
            if !host.is_empty() && !unspecified && !names.iter().any(|name| name == host) {
                names.push(host.to_string());
            }
        }
        names
    }

    /// The certificate the TLS listeners present: from `--tls-cert`/`--tls-key`, or made
    /// self-signed (kept in the data directory, or in memory with `--data-dir none`);
    /// `None` when neither is asked for.
    pub fn tls(&self) -> Result<Option<Tls>, String> {
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            let files = CertFiles { cert: cert.clone(), key: key.clone() };
            return Tls::load(files).map(Some).map_err(|error| error.to_string());
        }
        if !self.tls_self_signed {
            return Ok(None);
        }
        let names = self.certificate_names();
        let tls = match self.data_dir() {
            Some(dir) => {
                let files = self_signed_in(&dir, &names).map_err(|error| {
                    format!("cannot keep a certificate in {}: {error}", dir.display())
                })?;
                Tls::load(files)
            }
            None => {
                let made = crate::tls::self_signed(&names).map_err(|error| error.to_string())?;
                Tls::in_memory(&made)
            }
        };
        tls.map(Some).map_err(|error| error.to_string())
    }
}
