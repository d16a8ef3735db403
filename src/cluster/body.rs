//! What a log entry's body says: its first byte names its kind, the rest is the kind's
//! payload. The log ([`super::log`]) carries bodies as bytes; this is the one place that
//! tells a heartbeat from an operation, so that every reader of the log tells them apart
//! the same way.

use thiserror::Error;

/// The kind byte of a heartbeat: a server saying it is alive.
const HEARTBEAT: u8 = b'h';

/// The kind byte of an operation: something a session did, for the replica to apply.
const OPERATION: u8 = b'o';

/// An entry's body, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// Its server is alive. Carries nothing.
    Heartbeat,
    /// An operation, in the replica's encoding (not this file's business).
    Operation(&'a [u8]),
}

/// Why a body could not be read. A body from a newer or broken server is an error for
/// the caller to weigh, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BodyError {
    /// The body has no kind byte.
    #[error("an entry's body is empty")]
    Empty,
    /// The kind byte is none this server knows.
    #[error("an entry's body has an unknown kind {0:#04x}")]
    UnknownKind(u8),
    /// A heartbeat carries nothing, yet this one carries bytes.
    #[error("a heartbeat carries {0} bytes, and should carry none")]
    HeartbeatWithPayload(usize),
}

impl<'a> Body<'a> {
    /// Reads `bytes`.
    pub fn decode(bytes: &'a [u8]) -> Result<Body<'a>, BodyError> {
        let (&kind, payload) = bytes.split_first().ok_or(BodyError::Empty)?;
        match kind {
            HEARTBEAT if payload.is_empty() => Ok(Body::Heartbeat),
            HEARTBEAT => Err(BodyError::HeartbeatWithPayload(payload.len())),
            OPERATION => Ok(Body::Operation(payload)),
            other => Err(BodyError::UnknownKind(other)),
        }
    }

    /// The bytes to append.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Body::Heartbeat => vec![HEARTBEAT],
            Body::Operation(payload) => {
                let mut bytes = Vec::with_capacity(1 + payload.len());
                bytes.push(OPERATION);
                bytes.extend_from_slice(payload);
                bytes
            }
        }
    }

    /// Whether `bytes` is a heartbeat's body; false for anything else, unreadable included.
    pub fn is_heartbeat(bytes: &[u8]) -> bool {
        matches!(Body::decode(bytes), Ok(Body::Heartbeat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_read_back_as_written() {
        for body in [Body::Heartbeat, Body::Operation(b""), Body::Operation(b"join #rust")] {
            assert_eq!(Body::decode(&body.encode()), Ok(body));
        }
        assert_eq!(Body::Heartbeat.encode(), b"h");
        assert_eq!(Body::Operation(b"x").encode(), b"ox");
    }

    #[test]
    fn a_body_that_does_not_parse_is_an_error() {
        assert_eq!(Body::decode(b""), Err(BodyError::Empty));
        assert_eq!(Body::decode(b"z123"), Err(BodyError::UnknownKind(b'z')));
        assert_eq!(Body::decode(b"hx"), Err(BodyError::HeartbeatWithPayload(1)));
        assert!(!Body::is_heartbeat(b"hx"));
        assert!(Body::is_heartbeat(b"h"));
    }
}
