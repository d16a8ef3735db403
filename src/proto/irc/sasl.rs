//! SASL as IRCv3 carries it (`AUTHENTICATE`, sasl-3.1), pure: a client's response arriving
//! in chunks of base64, and the `PLAIN` mechanism's three fields (RFC 4616).

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use thiserror::Error;

/// The only mechanism offered.
pub const MECHANISMS: &str = "PLAIN";

/// The longest `AUTHENTICATE` parameter: a response longer than this comes in several,
/// each of exactly this length but the last.
pub const MAX_CHUNK: usize = 400;

/// The longest response, in base64 characters, all chunks together: a `PLAIN` response
/// holds two nicknames and a password, which fit well within it.
const MAX_RESPONSE: usize = 3 * MAX_CHUNK;

/// Why a SASL exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SaslError {
    /// A chunk over 400 bytes, or a response over the whole limit (`905`).
    #[error("SASL message too long")]
    TooLong,
    /// Not base64, or not `authzid NUL authcid NUL password` in UTF-8 (`904`).
    #[error("the SASL response is not PLAIN's authzid, authcid and password in base64")]
    Malformed,
}

/// A client's response being received, chunk by chunk.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Response {
    /// The base64 received so far.
    base64: String,
}

impl Response {
    /// Takes one `AUTHENTICATE` parameter: `Ok(None)` while more is to come (a chunk of
    /// exactly 400 bytes), then the decoded response. `+` ends it (alone, it is empty).
    pub fn push(&mut self, chunk: &str) -> Result<Option<Vec<u8>>, SaslError> {
        if chunk.len() > MAX_CHUNK || self.base64.len() + chunk.len() > MAX_RESPONSE {
            return Err(SaslError::TooLong);
        }
        if chunk != "+" {
            self.base64.push_str(chunk);
            if chunk.len() == MAX_CHUNK {
                return Ok(None);
            }
        }
        decode_base64(&self.base64).map(Some).ok_or(SaslError::Malformed)
    }
}

/// The three fields of a `PLAIN` response.
#[derive(Clone, PartialEq, Eq)]
pub struct Plain<'a> {
    /// Who to act as; empty for the same as `authcid`.
    pub authzid: &'a str,
    /// Whose password this is: the account's nickname.
    pub authcid: &'a str,
    /// The password.
    pub password: &'a str,
}

impl std::fmt::Debug for Plain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, wherever a response is printed.
        let (authzid, authcid) = (self.authzid, self.authcid);
        f.debug_struct("Plain").field("authzid", &authzid).field("authcid", &authcid).finish()
    }
}

impl<'a> Plain<'a> {
    /// Reads `authzid NUL authcid NUL password`.
    pub fn parse(response: &'a [u8]) -> Result<Plain<'a>, SaslError> {
        let text = std::str::from_utf8(response).map_err(|_| SaslError::Malformed)?;
        let mut fields = text.split('\0');
        match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some(authzid), Some(authcid), Some(password), None) if !authcid.is_empty() => {
                Ok(Plain { authzid, authcid, password })
            }
            _ => Err(SaslError::Malformed),
        }
    }
}

/// Standard base64 (RFC 4648, `+` and `/`), with or without its `=` padding, as
/// clients send it.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const STANDARD_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    STANDARD_ANY_PADDING.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_or_without_padding() {
        assert_eq!(decode_base64("").as_deref(), Some(&b""[..]));
        assert_eq!(decode_base64("Zg==").as_deref(), Some(&b"f"[..]));
        assert_eq!(decode_base64("Zm8").as_deref(), Some(&b"fo"[..]));
        assert_eq!(decode_base64("Zm9v").as_deref(), Some(&b"foo"[..]));
        assert_eq!(
            decode_base64("AGFsaWNlAHNlY3JldCsv").as_deref(),
            Some(&b"\0alice\0secret+/"[..])
        );
        assert_eq!(decode_base64("+/+/").as_deref(), Some(&[0xfb, 0xff, 0xbf][..]));
        for bad in ["Z", "Zm9v=", "Zg===", "Zm 9", "Zm9v!"] {
            assert_eq!(decode_base64(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_response_comes_in_chunks_of_400() {
        let mut response = Response::default();
        let full = "QUFB".repeat(100);
        assert_eq!(response.push(&full), Ok(None));
        assert_eq!(response.push("+").map(|r| r.map(|bytes| bytes.len())), Ok(Some(300)));
        let mut short = Response::default();
        assert_eq!(short.push("Zm9v"), Ok(Some(b"foo".to_vec())));
        assert_eq!(Response::default().push("+"), Ok(Some(Vec::new())));
        assert_eq!(Response::default().push(&"A".repeat(401)), Err(SaslError::TooLong));
        let mut long = Response::default();
        for _ in 0..3 {
            assert_eq!(long.push(&full), Ok(None));
        }
        assert_eq!(long.push("QUFB"), Err(SaslError::TooLong));
        assert_eq!(Response::default().push("***"), Err(SaslError::Malformed));
    }

    #[test]
    fn plain_has_three_fields_and_an_authcid() {
        let plain = Plain::parse(b"\0alice\0pass word").expect("three fields");
        assert_eq!((plain.authzid, plain.authcid, plain.password), ("", "alice", "pass word"));
        assert!(!format!("{plain:?}").contains("pass"));
        assert_eq!(Plain::parse(b"alice\0alice\0pw").map(|p| p.authzid), Ok("alice"));
        for bad in [&b"alice\0pw"[..], b"\0\0pw", b"a\0b\0c\0d", b"\0a\0\xff"] {
            assert_eq!(Plain::parse(bad), Err(SaslError::Malformed));
        }
    }
}
