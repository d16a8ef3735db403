//! TLS in the real binaries: a TLS listener without a certificate is a start-up error, a
//! self-signed certificate is kept in the data directory and pinned by the client binary,
//! SIGHUP reloads the certificate (keeping the old one when the new files are bad), and
//! hostile handshakes leave no file descriptor and no memory behind.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command as Process;
use std::time::{Duration, Instant};

use common::binary::{server_binary, server_binary_in, start_up_failure, Server};
use common::tls::Pki;
use common::*;
use smolchat::client::{connect, Destination, Trust};

/// A TLS destination at `addr` that trusts exactly the certificate `fingerprint`.
fn pinned(addr: SocketAddr, fingerprint: &str) -> Destination {
    let trust = Trust::pinned(fingerprint).expect("a fingerprint");
    Destination { server: format!("chats://{addr}"), tls: false, trust, password: None }
}

/// Whether a client pinning `fingerprint` gets as far as the nickname request.
fn connects(addr: SocketAddr, fingerprint: &str) -> Result<(), String> {
    smol::block_on(within("connect", connect(&pinned(addr, fingerprint))))
        .map(drop)
        .map_err(|error| error.to_string())
}

/// The fingerprint in a `TLS certificate ... fingerprint=AB:..` log line.
fn fingerprint_in(line: &str) -> String {
    let print = line.split("fingerprint=").nth(1).expect("a fingerprint in the line");
    print.split_whitespace().next().expect("a fingerprint").to_string()
}

#[test]
fn a_tls_listener_without_a_certificate_is_a_start_up_error() {
    let output = server_binary()
        .args(["--listen", "chats://127.0.0.1:0"])
        .output()
        .expect("run the server binary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on chats://127.0.0.1:0"), "{stderr}");
    assert!(
        stderr.contains("give --tls-cert FILE and --tls-key FILE, or --tls-self-signed"),
        "{stderr}"
    );
}

#[test]
fn a_certificate_no_listener_uses_is_warned_of() {
    let mut command = server_binary();
    command.args(["--listen", "chat://127.0.0.1:0", "--tls-self-signed"]).env("RUST_LOG", "info");
    let server = Server::start(command, 1);
    let unused = server.before.iter().any(|line| line.contains("no listener speaks TLS"));
    assert!(unused, "{:?}", server.before);
    let mut command = server_binary();
    command.args(["--listen", "chats://127.0.0.1:0", "--tls-self-signed"]).env("RUST_LOG", "info");
    let server = Server::start(command, 1);
    let unused = server.before.iter().any(|line| line.contains("no listener speaks TLS"));
    assert!(!unused, "{:?}", server.before);
}

/// Starts the binary with a self-signed certificate kept in `data`; returns it and the
/// fingerprint it logged.
fn self_signed_server(data: &TempDir) -> (Server, String) {
    let mut command = server_binary_in(data.path());
    command.args(["--listen", "chats://127.0.0.1:0", "--tls-self-signed"]);
    command.env("RUST_LOG", "info");
    let server = Server::start(command, 1);
    let loaded = server.before.iter().find(|line| line.contains("TLS certificate loaded"));
    let print = fingerprint_in(loaded.expect("the fingerprint logged at start"));
    (server, print)
}

#[test]
fn a_self_signed_certificate_is_kept_and_the_client_binary_pins_it() {
    let data = TempDir::new("self-signed");
    let (server, print) = self_signed_server(&data);
    assert!(data.path().join("tls-cert.pem").exists() && data.path().join("tls-key.pem").exists());
    let address = format!("chats://{}", server.addrs[0]);
    let output = Process::new(env!("CARGO_BIN_EXE_smolchat"))
        .args(["--server", &address, "--tls-fingerprint", &print, "--nick", "pinner"])
        .args(["--no-history"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("*** you joined as pinner; 1 online"), "{stdout}");
    drop(server);
    // A restart keeps the certificate, so pinned clients keep connecting.
    let (_again, again) = self_signed_server(&data);
    assert_eq!(again, print);
}

/// Copies the certificate and key of `from` over the files the server reads.
fn install(from: &smolchat::server::CertFiles, cert: &Path, key: &Path) {
    std::fs::copy(&from.cert, cert).expect("copy the certificate");
    std::fs::copy(&from.key, key).expect("copy the key");
}

#[test]
fn sighup_reloads_the_certificate_and_keeps_the_old_one_when_the_new_is_bad() {
    let pki = Pki::new("sighup");
    let (first, second) = (pki.localhost(), pki.issue("second", &["127.0.0.1"], false));
    let (cert, key) = (pki.path("served-cert.pem"), pki.path("served-key.pem"));
    install(&first, &cert, &key);
    let mut command = server_binary();
    command.args(["--listen", "chats://127.0.0.1:0"]).env("RUST_LOG", "info");
    command.args(["--tls-cert".as_ref(), cert.as_os_str(), "--tls-key".as_ref(), key.as_os_str()]);
    let mut server = Server::start(command, 1);
    let addr = server.addrs[0];
    let old =
        fingerprint_in(server.before.iter().find(|l| l.contains("fingerprint=")).expect("logged"));
    connects(addr, &old).expect("the first certificate is served");

    install(&second, &cert, &key);
    server.signal("HUP");
    let new = fingerprint_in(&server.wait_log("TLS certificate reloaded"));
    assert_ne!(new, old);
    connects(addr, &new).expect("the new certificate is served after SIGHUP");
    let refused = connects(addr, &old).expect_err("the old certificate is gone");
    assert!(refused.contains("not the pinned"), "{refused}");

    std::fs::write(&cert, "not a certificate").expect("spoil the certificate");
    server.signal("HUP");
    let kept = server.wait_log("not reloaded");
    assert!(kept.contains("keeping the old one"), "{kept}");
    connects(addr, &new).expect("the last good certificate is still served");
}

/// Open file descriptors of process `pid`.
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|dir| dir.count()).unwrap_or(0)
}

/// Resident memory of process `pid`, in kB.
fn resident_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap_or("");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse().ok()).unwrap_or(0)
}

/// The first bytes of a TLS ClientHello record that promises more than ever comes.
const HALF_A_HELLO: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];

/// One hostile connection of each kind, `each` times over: silence, half a ClientHello,
/// and plain text; returns once the server has closed every one of them.
fn hostile_round(addr: SocketAddr, each: usize) {
    let mut crowd = Vec::new();
    for _ in 0..each {
        for opening in [&b""[..], HALF_A_HELLO, b"alice\n"] {
            let mut stream = TcpStream::connect(addr).expect("connect");
            stream.write_all(opening).expect("send");
            stream.set_read_timeout(Some(TIMEOUT)).expect("a read timeout");
            crowd.push(stream);
        }
    }
    for mut stream in crowd {
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    }
}

/// Waits until `pid` has `want` open files, failing after the harness's timeout.
fn wait_open_files(pid: u32, want: usize) {
    let start = Instant::now();
    while open_files(pid) != want {
        assert!(start.elapsed() < TIMEOUT, "{} open files, not {want}", open_files(pid));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hostile_handshakes_leave_no_descriptor_and_no_memory_behind() {
    if !Path::new("/proc/self/fd").exists() {
        eprintln!("skipped: no /proc to count a process's files and memory");
        return;
    }
    let mut command = server_binary();
    command.args(["--listen", "chats://127.0.0.1:0", "--tls-self-signed"]);
    command.args(["--handshake-timeout", "200ms", "--max-per-ip", "1000"]);
    // One malloc arena: what is freed on one thread is reused on the other, so a
    // steady state shows as one.
    command.env("MALLOC_ARENA_MAX", "1");
    let server = Server::start(command, 1);
    let (addr, pid) = (server.addrs[0], server.pid());
    let files = open_files(pid);
    // The first rounds grow the allocator's pools to what such a crowd needs.
    for _ in 0..2 {
        hostile_round(addr, 100);
        wait_open_files(pid, files);
    }
    let warm = resident_kb(pid);
    for _ in 0..5 {
        hostile_round(addr, 100);
        wait_open_files(pid, files);
    }
    let grown = resident_kb(pid).saturating_sub(warm);
    // 1,500 more connections: a leak of 200 bytes each would show (steady, it grows
    // by about 20 kB).
    assert!(grown < 300, "resident memory grew by {grown} kB over 1,500 hostile connections");
}

/// A key kept under a passphrase, as `openssl pkey -aes256` writes it (the body is not
/// read: the label says it all).
const ENCRYPTED_PKCS8: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIIFLTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQIU5z7qXO5jyMCAggA
-----END ENCRYPTED PRIVATE KEY-----
";

/// The same in the legacy form of `openssl genrsa -traditional -aes256`.
const ENCRYPTED_LEGACY: &str = "-----BEGIN RSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-256-CBC,17F73C92AE5B384AED94464268D08B21

MIIFLTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQIU5z7qXO5jyMCAggA
-----END RSA PRIVATE KEY-----
";

/// The start-up error of the binary serving `cert` with `key`.
fn certificate_refusal(cert: &Path, key: &Path) -> String {
    let mut command = server_binary();
    command.args(["--listen", "chats://127.0.0.1:0"]).env("RUST_LOG", "off");
    command.args(["--tls-cert".as_ref(), cert.as_os_str(), "--tls-key".as_ref(), key.as_os_str()]);
    let (code, stderr) = start_up_failure(command);
    assert_eq!(code, Some(1), "{stderr}");
    stderr
}

/// A key that is another certificate's, or under a passphrase, is named as such: rustls
/// says `KeyMismatch`, and an encrypted key read as no key at all or as bad base64.
#[test]
fn a_key_of_another_certificate_or_under_a_passphrase_is_refused_saying_so() {
    let pki = Pki::new("key-errors");
    let (served, other) = (pki.localhost(), pki.issue("other", &["localhost"], false));
    let stderr = certificate_refusal(&served.cert, &other.key);
    assert!(stderr.contains("the key does not belong to the certificate"), "{stderr}");
    for (name, pem) in [("pkcs8", ENCRYPTED_PKCS8), ("legacy", ENCRYPTED_LEGACY)] {
        let key = pki.path(&format!("{name}-key.pem"));
        std::fs::write(&key, pem).expect("write the key");
        let stderr = certificate_refusal(&served.cert, &key);
        let said = format!("{}: the private key is encrypted", key.display());
        assert!(stderr.contains(&said) && stderr.contains("openssl pkey"), "{name}: {stderr}");
    }
}

/// The log lines of the binary serving `files` before it listened.
fn start_up_log(files: &smolchat::server::CertFiles) -> Vec<String> {
    let mut command = server_binary();
    command.args(["--listen", "chats://127.0.0.1:0"]).env("RUST_LOG", "info");
    let (cert, key) = (files.cert.as_os_str(), files.key.as_os_str());
    command.args(["--tls-cert".as_ref(), cert, "--tls-key".as_ref(), key]);
    Server::start(command, 1).before.clone()
}

/// A certificate out of date is served (renewing it is the operator's, and SIGHUP takes
/// the new one up), but the log says so at once, rather than each client later.
#[test]
fn a_certificate_expired_or_not_valid_yet_is_warned_of_at_start() {
    let pki = Pki::new("dates");
    let log = start_up_log(&pki.issue("expired", &["localhost"], true));
    let warned = log.iter().any(|line| {
        line.contains("WARN") && line.contains("certificate is expired at 2020-01-01 00:00:00 UTC")
    });
    assert!(warned, "{log:?}");

    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params.not_before = rcgen::date_time_ymd(2100, 1, 1);
    params.not_after = rcgen::date_time_ymd(2101, 1, 1);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    let future = smolchat::server::CertFiles {
        cert: pki.path("future-cert.pem"),
        key: pki.path("future-key.pem"),
    };
    std::fs::write(&future.cert, cert.pem()).expect("write certificate");
    std::fs::write(&future.key, key.serialize_pem()).expect("write key");
    let log = start_up_log(&future);
    assert!(log.iter().any(|line| line.contains("not valid before 2100-01-01")), "{log:?}");

    let log = start_up_log(&pki.localhost());
    assert!(!log.iter().any(|line| line.contains("WARN") && line.contains("TLS")), "{log:?}");
}
