//! Certificates made at test time: a CA, server certificates it signs (right name, wrong
//! name, expired), written as PEM into a temporary directory; and servers with TLS
//! listeners in process.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use async_net::TcpListener;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use smol::Task;
use smolchat::client::{connect, Client, Destination, Trust};
use smolchat::server::{self, CertFiles, Config, Listener, Protocol, Tls};

use super::{settle, within};

/// A throw-away certificate authority and the directory its files go to.
pub struct Pki {
    /// Where every file is written; removed on drop.
    pub dir: PathBuf,
    /// The CA certificate, PEM, for `--ca-file`.
    pub ca_file: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    /// A new CA in a fresh temporary directory named after `test`.
    pub fn new(test: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("smolchat-tls-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let mut params = CertificateParams::new(Vec::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Authorities of different tests must differ by name, as real ones do.
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("smolchat test CA {test}"));
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, cert.pem()).expect("write CA");
        Pki { dir, ca_file, issuer: Issuer::new(params, key) }
    }

    /// A server certificate for `names`, signed by this CA, written as `NAME-cert.pem`
    /// and `NAME-key.pem`; `expired` makes one that ended in 2020.
    pub fn issue(&self, file: &str, names: &[&str], expired: bool) -> CertFiles {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let files = CertFiles {
            cert: self.dir.join(format!("{file}-cert.pem")),
            key: self.dir.join(format!("{file}-key.pem")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("write certificate");
        std::fs::write(&files.key, key.serialize_pem()).expect("write key");
        files
    }

    /// The usual server certificate: for 127.0.0.1 and localhost.
    pub fn localhost(&self) -> CertFiles {
        self.issue("localhost", &["127.0.0.1", "localhost"], false)
    }

    /// A path in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server with `chats://`, `ircs://` and plain `chat://` and `http://` listeners, in
/// process.
pub struct TlsServer {
    /// The line protocol over TLS.
    pub chats: SocketAddr,
    /// IRC over TLS.
    pub ircs: SocketAddr,
    /// The plain line protocol, into the same rooms.
    pub chat: SocketAddr,
    /// The web listener, in plain HTTP.
    pub http: SocketAddr,
    /// The certificate it presents.
    pub tls: Tls,
    stop: async_channel::Sender<()>,
    task: Task<io::Result<()>>,
}

impl TlsServer {
    /// Starts one presenting the certificate in `files`.
    pub async fn start(config: Config, files: CertFiles) -> TlsServer {
        let tls = Tls::load(files).expect("load the certificate");
        let bind = || async { TcpListener::bind("127.0.0.1:0").await.expect("bind") };
        let (chats, ircs, chat, http) = (bind().await, bind().await, bind().await, bind().await);
        let addrs = [&chats, &ircs, &chat, &http].map(|l| l.local_addr().expect("local address"));
        let listeners = vec![
            Listener::tls(Protocol::Chat, chats, tls.clone()),
            Listener::tls(Protocol::Irc, ircs, tls.clone()),
            Listener::chat(chat),
            Listener::web(http),
        ];
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let shutdown = async move {
            let _ = stopped.recv().await;
        };
        let task = smol::spawn(server::run(listeners, config, shutdown));
        let [chats, ircs, chat, http] = addrs;
        TlsServer { chats, ircs, chat, http, tls, stop, task }
    }

    /// Stops it and waits until it has.
    pub async fn stop(self) {
        drop(self.stop);
        within("server shutdown", self.task).await.expect("server run");
    }
}

/// Connects to the `chats://` listener at `addr` trusting `trust`, registers `nick`, and
/// reads up to the `ROOM` that puts it in the lobby.
pub async fn join_chats(addr: SocketAddr, trust: Trust, nick: &str) -> Client {
    let connected = within("connect over TLS", connect(&chats(addr, trust))).await;
    let mut client = connected.expect("connect over TLS");
    within("register", client.register(nick)).await.expect("register");
    settle(&mut client).await;
    client
}

/// The `chats://` listener at `addr`, trusting `trust`, without a password.
pub fn chats(addr: SocketAddr, trust: Trust) -> Destination {
    Destination { server: format!("chats://{addr}"), tls: false, trust, password: None }
}
