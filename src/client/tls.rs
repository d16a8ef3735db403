//! The client's side of TLS: which certificates it trusts (the system's, a CA file, or one
//! pinned fingerprint), and a failed verification told in one line.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use futures_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use futures_rustls::rustls::crypto::{verify_tls12_signature, verify_tls13_signature};
use futures_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use futures_rustls::rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, OtherError, RootCertStore,
    SignatureScheme,
};
use futures_rustls::TlsConnector;

use crate::tls::{fingerprint, parse_fingerprint, provider, read_certificates, utc};

/// How the client checks the server's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Trust {
    /// Signed by an authority the system trusts, for the host connected to.
    #[default]
    System,
    /// Signed by an authority in this PEM file, for the host connected to.
    CaFile(PathBuf),
    /// Exactly the certificate with this SHA-256 fingerprint, whatever its names and
    /// dates: for a self-signed server whose fingerprint was given out of band.
    Fingerprint(String),
}

impl Trust {
    /// Reads `--tls-fingerprint`; `Err` says what a fingerprint looks like.
    pub fn pinned(text: &str) -> Result<Trust, String> {
        parse_fingerprint(text).map(Trust::Fingerprint).ok_or_else(|| {
            format!("{text:?} is not a SHA-256 fingerprint (32 hex bytes, e.g. AB:CD:...)")
        })
    }

    /// The connector that checks certificates this way.
    pub fn connector(&self) -> Result<TlsConnector, String> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?;
        let config = match self {
            Trust::System => builder.with_root_certificates(system_roots()?),
            Trust::CaFile(path) => {
                let mut roots = RootCertStore::empty();
                for cert in read_certificates(path).map_err(|error| error.to_string())? {
                    roots.add(cert).map_err(|error| format!("{}: {error}", path.display()))?;
                }
                builder.with_root_certificates(roots)
            }
            Trust::Fingerprint(pinned) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned { pinned: pinned.clone() })),
        };
        Ok(TlsConnector::from(Arc::new(config.with_no_client_auth())))
    }
}

/// The system's trusted authorities (`rustls-native-certs`: the operating system's store,
/// so that authorities an administrator added are trusted, and removals apply at once).
fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (_added, _unusable) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err("no trusted certificate authorities found on this system \
                    (install ca-certificates, or give --ca-file or --tls-fingerprint)"
            .into());
    }
    Ok(roots)
}

/// Accepts exactly one certificate, by fingerprint; the handshake's signatures are still
/// checked, so only the holder of its key can present it.
#[derive(Debug)]
struct Pinned {
    /// The fingerprint, as [`fingerprint`] writes it.
    pinned: String,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let presented = fingerprint(end_entity);
        if presented == self.pinned {
            return Ok(ServerCertVerified::assertion());
        }
        let mismatch = NotPinned { presented, pinned: self.pinned.clone() };
        Err(Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(mismatch)))))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algorithms = provider().signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, &algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algorithms = provider().signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, &algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}

/// A certificate that is not the pinned one.
#[derive(Debug, thiserror::Error)]
#[error("the server's certificate has fingerprint {presented}, not the pinned {pinned}")]
struct NotPinned {
    presented: String,
    pinned: String,
}

/// A failed TLS handshake in one line a person can act on; `None` when `error` is not
/// about TLS.
pub fn describe_tls(error: &io::Error) -> Option<String> {
    let tls = error.get_ref()?.downcast_ref::<Error>()?;
    Some(match tls {
        Error::InvalidCertificate(why) => describe_certificate(why),
        Error::AlertReceived(alert) => format!("the server refused the TLS handshake ({alert:?})"),
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => {
            "the server does not speak TLS here (a plain chat:// port?)".to_string()
        }
        other => format!("TLS failed: {other}"),
    })
}

/// What was wrong with the server's certificate.
fn describe_certificate(why: &CertificateError) -> String {
    let certificate = "the server's certificate";
    match why {
        CertificateError::UnknownIssuer => format!(
            "{certificate} is not signed by an authority this client trusts \
             (give --ca-file FILE, or pin it with --tls-fingerprint)"
        ),
        CertificateError::NotValidForName => format!("{certificate} is not for this host name"),
        CertificateError::NotValidForNameContext { expected, presented } => {
            let names: Vec<&str> = presented.iter().map(|name| unquoted(name)).collect();
            format!("{certificate} is for {}, not for {}", names.join(", "), expected.to_str())
        }
        CertificateError::BadSignature => format!(
            "{certificate} is not signed by the authority this client trusts under that name"
        ),
        CertificateError::Expired => format!("{certificate} has expired"),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("{certificate} expired at {}", utc(*not_after))
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("{certificate} is not valid yet")
        }
        CertificateError::Other(other) => describe_other(&other.0),
        other => format!("{certificate} was refused: {other}"),
    }
}

/// What was wrong with the certificate, where rustls passes on another's reason: our own
/// pinning's, or the certificate checker's (named by its variant only).
fn describe_other(why: &(dyn std::error::Error + Send + Sync + 'static)) -> String {
    if let Some(not_pinned) = why.downcast_ref::<NotPinned>() {
        return not_pinned.to_string();
    }
    match why.to_string().as_str() {
        "CaUsedAsEndEntity" => "the server's certificate is an authority's (a CA's), not a \
            server's: serve one that authority signed, or pin it with --tls-fingerprint"
            .to_string(),
        other => format!("the server's certificate was refused: {other}"),
    }
}

/// A name as rustls presents it (`DnsName("chat.example.org")`), without the wrapping.
fn unquoted(name: &str) -> &str {
    match (name.find('"'), name.rfind('"')) {
        (Some(start), Some(end)) if start < end => &name[start + 1..end],
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that reads as the certificate checker's do.
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Checker(&'static str);

    #[test]
    fn a_checkers_reason_is_said_in_words() {
        let said = |why: &'static str| describe_other(&Checker(why));
        assert!(said("CaUsedAsEndEntity").contains("an authority's (a CA's), not a server's"));
        assert_eq!(said("Weird"), "the server's certificate was refused: Weird");
        let pinned = NotPinned { presented: "AB".into(), pinned: "CD".into() };
        assert_eq!(describe_other(&pinned), pinned.to_string());
    }
}
