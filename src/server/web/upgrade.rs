//! The WebSocket handshake of `/ws` (RFC 6455, section 4.2): checking the request, its
//! origin included, and the 101 that answers it.

use async_tungstenite::tungstenite::handshake::derive_accept_key;

use super::http::{Request, Response, Status};
use super::origin;

/// The only WebSocket version there is.
const VERSION: &str = "13";

/// The length of a `Sec-WebSocket-Key`: sixteen bytes in base64.
const KEY_LEN: usize = 24;

/// Checks a request for `/ws` on a listener (over TLS if `secure`) that also lets pages of
/// `listed` origins in; returns the 101 to answer it with, or the refusal.
pub fn check(request: &Request, secure: bool, listed: &[String]) -> Result<Response, Response> {
    if !request.has_token("upgrade", "websocket") {
        let text = "this is a WebSocket endpoint: connect with a WebSocket client";
        return Err(Response::text(Status::UpgradeRequired, text).with("Upgrade", "websocket"));
    }
    if request.header("sec-websocket-version") != Some(VERSION) {
        let text = "only WebSocket version 13 is spoken here";
        let refusal = Response::text(Status::UpgradeRequired, text);
        return Err(refusal.with("Sec-WebSocket-Version", VERSION));
    }
    let key = request.header("sec-websocket-key").filter(|key| well_formed(key));
    let (Some(key), true) = (key, request.has_token("connection", "upgrade")) else {
        return Err(Response::text(Status::BadRequest, "not a WebSocket handshake"));
    };
    if !origin_allowed(request, secure, listed) {
        let text = "this page's origin may not connect here (see --web-origin)";
        return Err(Response::text(Status::Forbidden, text));
    }
    Ok(Response::switching_protocols(derive_accept_key(key.as_bytes())))
}

/// True when the page that asks (if a browser asks) may connect. Two `Origin` fields are
/// refused: no browser sends them.
fn origin_allowed(request: &Request, secure: bool, listed: &[String]) -> bool {
    if request.headers("origin").count() > 1 {
        return false;
    }
    origin::allowed(request.header("origin"), request.header("host"), secure, listed)
}

/// True for sixteen bytes in base64: 22 characters of the alphabet and `==`.
fn well_formed(key: &str) -> bool {
    let base64 = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    key.len() == KEY_LEN && key.ends_with("==") && key.bytes().take(KEY_LEN - 2).all(base64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request for `/ws` with the handshake's fields and `extra`.
    fn request(extra: &str) -> Request {
        let head = format!(
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
        );
        smol::block_on(super::super::http::read_request(&mut head.as_bytes())).expect("request")
    }

    fn status(result: Result<Response, Response>) -> Status {
        result.unwrap_or_else(|refusal| refusal).status
    }

    #[test]
    fn the_rfc_s_example_key_is_accepted() {
        let accepted = check(&request("Sec-WebSocket-Version: 13\r\n"), false, &[]);
        let bytes = accepted.expect("101").encode();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{text}");
    }

    #[test]
    fn a_bad_handshake_is_refused_with_the_right_status() {
        assert_eq!(status(check(&request(""), false, &[])), Status::UpgradeRequired);
        let v8 = request("Sec-WebSocket-Version: 8\r\n");
        assert_eq!(status(check(&v8, false, &[])), Status::UpgradeRequired);
        let foreign = request("Sec-WebSocket-Version: 13\r\nOrigin: https://evil.example\r\n");
        assert_eq!(status(check(&foreign, false, &[])), Status::Forbidden);
        let listed = ["https://evil.example".to_string()];
        assert_eq!(status(check(&foreign, false, &listed)), Status::SwitchingProtocols);
        let twice = request(
            "Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:8080\r\nOrigin: https://x\r\n",
        );
        assert_eq!(status(check(&twice, false, &[])), Status::Forbidden);
    }

    #[test]
    fn keys_are_sixteen_bytes_of_base64() {
        assert!(well_formed("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!well_formed("short==") && !well_formed("dGhlIHNhbXBsZSBub25jZ!=="));
    }
}
