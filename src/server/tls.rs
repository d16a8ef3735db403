//! The server's certificate: loaded from PEM files (or made self-signed), shared by every
//! TLS listener, and swapped on reload without touching connections already made.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use futures_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use futures_rustls::rustls::sign::CertifiedKey;
use futures_rustls::rustls::ServerConfig;
use futures_rustls::TlsAcceptor;
use thiserror::Error;

use futures_rustls::rustls::pki_types::pem::PemObject;
use futures_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use futures_rustls::rustls::client::danger::ServerCertVerifier as _;
use futures_rustls::rustls::client::WebPkiServerVerifier;
use futures_rustls::rustls::pki_types::{ServerName, UnixTime};
use futures_rustls::rustls::{CertificateError, Error, RootCertStore};

use crate::tls::{
    fingerprint, provider, read_certificates, read_private_key, utc, PemError, SelfSigned,
};

/// Why a certificate could not be used.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A file could not be read, or held no certificate or key.
    #[error("{0}")]
    Pem(#[from] PemError),
    /// rustls refused the pair (the key does not match the certificate, or is of a kind
    /// it cannot sign with).
    #[error("{cert} and {key}: {reason}")]
    Refused {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// rustls' reason.
        reason: String,
    },
}

/// Where the certificate and key are read from, and read again on reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    /// The certificate chain, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM.
    pub key: PathBuf,
}

impl CertFiles {
    /// Reads both files into a key rustls can serve.
    fn load(&self) -> Result<Arc<CertifiedKey>, TlsError> {
        let chain = read_certificates(&self.cert)?;
        let key = read_private_key(&self.key)?;
        let refused = |error: futures_rustls::rustls::Error| TlsError::Refused {
            cert: self.cert.display().to_string(),
            key: self.key.display().to_string(),
            reason: refusal_reason(error),
        };
        let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(refused)?;
        Ok(Arc::new(certified))
    }
}

/// rustls' refusal of a certificate and key in words a person can act on: its own for a
/// mismatch is `keys may not be consistent: KeyMismatch`.
fn refusal_reason(error: futures_rustls::rustls::Error) -> String {
    use futures_rustls::rustls::{Error, InconsistentKeys};
    match error {
        Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => "the key does not belong to \
            the certificate (the first in its file, which must be the server's own)"
            .to_string(),
        other => other.to_string(),
    }
}

/// The certificate every TLS listener presents, swappable while the server runs.
#[derive(Clone)]
pub struct Tls {
    /// What new handshakes are answered with.
    current: Arc<Current>,
    /// The configuration every acceptor shares; it asks `current` for the certificate.
    config: Arc<ServerConfig>,
    /// The files to reread on reload; `None` for a certificate made in memory.
    files: Option<CertFiles>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads the certificate and key from `files`.
    pub fn load(files: CertFiles) -> Result<Tls, TlsError> {
        let key = files.load()?;
        Ok(Tls::serving(key, Some(files)))
    }

    /// A certificate made in memory (`--tls-self-signed --data-dir none`); reloading it
    /// keeps it.
    pub fn in_memory(made: &SelfSigned) -> Result<Tls, TlsError> {
        let refused = |reason: String| TlsError::Refused {
            cert: "the self-signed certificate".into(),
            key: "its key".into(),
            reason,
        };
        let chain = CertificateDer::pem_slice_iter(made.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| refused(error.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(made.key_pem.as_bytes())
            .map_err(|error| refused(error.to_string()))?;
        let key = CertifiedKey::from_der(chain, key, &provider())
            .map_err(|error| refused(error.to_string()))?;
        Ok(Tls::serving(Arc::new(key), None))
    }

    fn serving(key: Arc<CertifiedKey>, files: Option<CertFiles>) -> Tls {
        let current = Arc::new(Current(RwLock::new(key)));
        // The provider's defaults: TLS 1.2 and 1.3, its safe cipher suites.
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        Tls { current, config: Arc::new(config), files }
    }

    /// Reads the files again; new connections get the new certificate. On an error the
    /// old certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let Some(files) = &self.files else { return Ok(()) };
        let fresh = files.load()?;
        *self.current.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    /// The SHA-256 fingerprint of the certificate now presented.
    pub fn fingerprint(&self) -> String {
        let key = self.current.get();
        key.cert.first().map(fingerprint).unwrap_or_default()
    }

    /// Why clients refuse the certificate now presented by its dates (`expired at ...`, `not
    /// valid before ...`), or `None` while they are fine. The server serves it all the same:
    /// it is the operator's to renew, and a renewal is taken up on SIGHUP.
    pub fn out_of_date(&self) -> Option<String> {
        let key = self.current.get();
        let leaf = key.cert.first()?;
        // The leaf is made its own authority only to have the certificate checker read its
        // dates, which it does first: whatever it says after that is not about them.
        let mut roots = RootCertStore::empty();
        roots.add(leaf.clone()).ok()?;
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .ok()?;
        let name = ServerName::try_from("localhost").ok()?;
        match verifier.verify_server_cert(leaf, &[], &name, &[], UnixTime::now()) {
            Err(Error::InvalidCertificate(CertificateError::ExpiredContext {
                not_after, ..
            })) => Some(format!("expired at {}", utc(not_after))),
            Err(Error::InvalidCertificate(CertificateError::NotValidYetContext {
                not_before,
                ..
            })) => Some(format!("not valid before {}", utc(not_before))),
            _ => None,
        }
    }

    /// The files it is read from, if any.
    pub fn files(&self) -> Option<&CertFiles> {
        self.files.as_ref()
    }

    /// What accepts TLS connections with it.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }
}

/// The certificate new handshakes get.
struct Current(RwLock<Arc<CertifiedKey>>);

impl Current {
    fn get(&self) -> Arc<CertifiedKey> {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

impl fmt::Debug for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Current")
    }
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// Makes a self-signed certificate for `names` in `dir` (`tls-cert.pem`, `tls-key.pem`),
/// unless one is already there: a development server keeps its fingerprint across
/// restarts, so that clients pinning it keep connecting.
pub fn self_signed_in(dir: &Path, names: &[String]) -> std::io::Result<CertFiles> {
    let files = CertFiles { cert: dir.join("tls-cert.pem"), key: dir.join("tls-key.pem") };
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    std::fs::create_dir_all(dir)?;
    let made = crate::tls::self_signed(names)?;
    write_private(&files.key, made.key_pem.as_bytes())?;
    std::fs::write(&files.cert, made.cert_pem)?;
    Ok(files)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
