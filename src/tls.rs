//! TLS as both ends use it: the one crypto provider, PEM files, fingerprints, and
//! self-signed certificates for development.
//!
//! rustls is built with the `ring` provider only (no `aws-lc-rs`, which needs cmake and a
//! longer build), and every configuration is made from [`provider`] explicitly, so there
//! is never a second provider nor a process-wide default to race for.

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::sync::Arc;

use futures_rustls::rustls::crypto::CryptoProvider;
use futures_rustls::rustls::pki_types::pem::PemObject;
use futures_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use ring::digest::{digest, SHA256};
use thiserror::Error;

/// The crypto provider of every TLS configuration, server's and client's.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(futures_rustls::rustls::crypto::ring::default_provider())
}

/// Why certificate or key files could not be used.
#[derive(Debug, Error)]
pub enum PemError {
    /// The file could not be read or holds no valid PEM of the kind wanted.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl PemError {
    fn new(path: &Path, reason: impl ToString) -> PemError {
        PemError::Unreadable { path: path.display().to_string(), reason: reason.to_string() }
    }
}

/// Every certificate in a PEM file, in order; at least one.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|error| PemError::new(path, pem_reason(error)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| PemError::new(path, pem_reason(error)))?;
    if certs.is_empty() {
        return Err(PemError::new(path, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

/// What is wrong with a key kept under a passphrase, and what to do about it.
const ENCRYPTED_KEY: &str = "the private key is encrypted, and the server cannot ask for its \
     passphrase: give it the key without one (openssl pkey -in KEY -out PLAIN-KEY)";

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PemError> {
    let pem = std::fs::read(path).map_err(|error| PemError::new(path, error))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|error| match is_encrypted(&pem) {
        // Otherwise it reads as no key at all, or as bad base64 (the legacy headers).
        true => PemError::new(path, ENCRYPTED_KEY),
        false => PemError::new(path, pem_reason(error)),
    })
}

/// Whether PEM text holds a key under a passphrase: PKCS#8's `ENCRYPTED PRIVATE KEY`, or
/// the legacy `Proc-Type: 4,ENCRYPTED` header of `RSA` and `EC PRIVATE KEY`.
fn is_encrypted(pem: &[u8]) -> bool {
    let has = |marker: &[u8]| pem.windows(marker.len()).any(|window| window == marker);
    has(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || has(b"Proc-Type: 4,ENCRYPTED")
}

/// A PEM error in words, with "no private key" and "cannot open" spelled out.
fn pem_reason(error: futures_rustls::rustls::pki_types::pem::Error) -> String {
    use futures_rustls::rustls::pki_types::pem::Error;
    match error {
        Error::NoItemsFound => "no PRIVATE KEY in the file".to_string(),
        Error::Io(error) => error.to_string(),
        other => format!("not a valid PEM file ({other})"),
    }
}

/// The SHA-256 fingerprint of a certificate, as `openssl x509 -fingerprint -sha256`
/// prints it: upper-case hex pairs joined by colons.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let hash = digest(&SHA256, cert.as_ref());
    let mut text = String::with_capacity(hash.as_ref().len() * 3);
    for (i, byte) in hash.as_ref().iter().enumerate() {
        if i > 0 {
            text.push(':');
        }
        let _ = write!(text, "{byte:02X}");
    }
    text
}

/// A certificate's time in UTC, to the second.
pub fn utc(time: UnixTime) -> String {
    let seconds = i64::try_from(time.as_secs()).unwrap_or(i64::MAX);
    match jiff::Timestamp::from_second(seconds) {
        Ok(stamp) => stamp.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => format!("{seconds} (Unix time)"),
    }
}

/// A fingerprint as a person may write it (`AB:CD:..`, `abcd..`, with an optional
/// `sha256:` prefix) in the canonical form of [`fingerprint`]; `None` when it is not 32
/// hexadecimal bytes.
pub fn parse_fingerprint(text: &str) -> Option<String> {
    let text = text.trim();
    let text = text
        .strip_prefix("sha256:")
        .or_else(|| text.strip_prefix("SHA256:"))
        .or_else(|| text.strip_prefix("sha256//"))
        .unwrap_or(text);
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let upper = hex.to_ascii_uppercase();
    let pairs: Vec<&str> = (0..32).map(|i| &upper[2 * i..2 * i + 2]).collect();
    Some(pairs.join(":"))
}

/// The host part of `host:port`, as a certificate names it: without the port, and an IPv6
/// address without its brackets (`[::1]:55555` is `::1`).
pub fn host_of(addr: &str) -> &str {
    let host = match addr.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => host,
        _ => addr,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

/// A self-signed certificate and its key, both PEM.
#[derive(Clone)]
pub struct SelfSigned {
    /// The certificate.
    pub cert_pem: String,
    /// The private key; never logged.
    pub key_pem: String,
}

impl std::fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSigned").finish_non_exhaustive()
    }
}

/// Makes a self-signed certificate for `names` (host names or IP addresses).
pub fn self_signed(names: &[String]) -> io::Result<SelfSigned> {
    let made = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|error| io::Error::other(format!("cannot make a certificate: {error}")))?;
    Ok(SelfSigned { cert_pem: made.cert.pem(), key_pem: made.signing_key.serialize_pem() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_what_a_certificate_names() {
        assert_eq!(host_of("chat.example.org:6697"), "chat.example.org");
        assert_eq!(host_of("[::1]:55555"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }

    #[test]
    fn fingerprints_are_colon_separated_upper_case_sha256() {
        let cert = CertificateDer::from(vec![1u8, 2, 3]);
        let print = fingerprint(&cert);
        assert_eq!(print.len(), 32 * 3 - 1);
        assert!(print.starts_with("03:90:58:C6:F2:C0:CB:49"), "{print}");
        assert_eq!(parse_fingerprint(&print).as_deref(), Some(print.as_str()));
        let bare = print.replace(':', "").to_lowercase();
        assert_eq!(parse_fingerprint(&format!("sha256:{bare}")), Some(print));
        assert_eq!(parse_fingerprint("AB:CD"), None);
        assert_eq!(parse_fingerprint(&"zz".repeat(32)), None);
    }
}
