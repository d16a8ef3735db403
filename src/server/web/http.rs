//! HTTP/1.1, as much as the web listener needs: reading one request head within bounds, and
//! writing a response that closes the connection.

use std::borrow::Cow;

use futures_lite::{AsyncRead, AsyncReadExt};
use thiserror::Error;

/// The most bytes a request head may take, request line and headers together; a browser's
/// request is well under 2 KiB. Past it the request is refused with 431, having cost at
/// most this much memory.
pub const MAX_HEAD: usize = 8 * 1024;

/// The most header fields a request may have; a browser sends about fifteen.
pub const MAX_HEADERS: usize = 32;

/// How much is read from the connection at a time while the head arrives.
const READ_CHUNK: usize = 1024;

/// A request head, parsed.
#[derive(Debug)]
pub struct Request {
    /// `GET`, or whatever else the client asked.
    pub method: String,
    /// The path of the target, without its query.
    pub path: String,
    /// The header fields in order, names as sent; values that are not UTF-8 are read lossily.
    headers: Vec<(String, String)>,
    /// What the client sent after the head (a WebSocket's first frames, or a body).
    rest: Vec<u8>,
}

/// Why no request came of a connection.
#[derive(Debug, Error)]
pub enum BadRequest {
    /// The connection ended, or failed, before a whole head arrived.
    #[error("connection closed before the request was complete")]
    Closed,
    /// Not HTTP/1.x, or a target that is not a path.
    #[error("malformed request")]
    Malformed,
    /// More than [`MAX_HEAD`] bytes or [`MAX_HEADERS`] header fields.
    #[error("request head too large")]
    TooLarge,
}

impl Request {
    /// The values of every header field called `name` (case-insensitive), in order.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
    }

    /// The value of the header field `name` when it is there exactly once.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self
            .headers
            .iter()
            .filter(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim());
        match (values.next(), values.next()) {
            (Some(value), None) => Some(value),
            _ => None,
        }
    }

    /// What the client sent after the head; the rest of the request is let go.
    pub fn into_rest(self) -> Vec<u8> {
        self.rest
    }

    /// True when a field `name` lists `token` among its comma-separated values, ignoring
    /// case (`Connection: keep-alive, Upgrade` has `upgrade`).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers(name)
            .flat_map(|value| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    }
}

/// Reads one request head from `reader`, holding at most [`MAX_HEAD`] bytes.
pub async fn read_request<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Request, BadRequest> {
    let mut buf = Vec::with_capacity(READ_CHUNK);
    loop {
        if buf.len() >= MAX_HEAD {
            return Err(BadRequest::TooLarge);
        }
        let start = buf.len();
        buf.resize((start + READ_CHUNK).min(MAX_HEAD), 0);
        let read = reader.read(&mut buf[start..]).await;
        let n = match read {
            Ok(0) | Err(_) => return Err(BadRequest::Closed),
            Ok(n) => n,
        };
        buf.truncate(start + n);
        if let Some(request) = parse(&buf)? {
            return Ok(request);
        }
    }
}

/// Parses the head at the start of `buf`: `None` while it is incomplete.
fn parse(buf: &[u8]) -> Result<Option<Request>, BadRequest> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut fields);
    let len = match head.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(BadRequest::TooLarge),
        Err(_) => return Err(BadRequest::Malformed),
    };
    let (Some(method), Some(target)) = (head.method, head.path) else {
        return Err(BadRequest::Malformed);
    };
    // Only the origin form (`/path?query`) names something this server has.
    if !target.starts_with('/') {
        return Err(BadRequest::Malformed);
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    let headers = head
        .headers
        .iter()
        .map(|field| (field.name.to_string(), String::from_utf8_lossy(field.value).into_owned()))
        .collect();
    let (method, path, rest) = (method.to_string(), path.to_string(), buf[len..].to_vec());
    Ok(Some(Request { method, path, headers, rest }))
}

/// The statuses this server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 101: the WebSocket handshake succeeded.
    SwitchingProtocols,
    /// 200.
    Ok,
    /// 400: not a request we can read (or plain HTTP at a TLS port).
    BadRequest,
    /// 403: a WebSocket from a page of another origin.
    Forbidden,
    /// 404.
    NotFound,
    /// 405: anything but `GET`.
    MethodNotAllowed,
    /// 408: the head did not arrive in time.
    RequestTimeout,
    /// 426: `/ws` without a WebSocket handshake, or with another version of it.
    UpgradeRequired,
    /// 431: a head over [`MAX_HEAD`] or [`MAX_HEADERS`].
    HeadTooLarge,
    /// 503: the server is full.
    Unavailable,
}

impl Status {
    /// The code and reason phrase of the status line.
    pub fn line(self) -> (u16, &'static str) {
        match self {
            Status::SwitchingProtocols => (101, "Switching Protocols"),
            Status::Ok => (200, "OK"),
            Status::BadRequest => (400, "Bad Request"),
            Status::Forbidden => (403, "Forbidden"),
            Status::NotFound => (404, "Not Found"),
            Status::MethodNotAllowed => (405, "Method Not Allowed"),
            Status::RequestTimeout => (408, "Request Timeout"),
            Status::UpgradeRequired => (426, "Upgrade Required"),
            Status::HeadTooLarge => (431, "Request Header Fields Too Large"),
            Status::Unavailable => (503, "Service Unavailable"),
        }
    }
}

/// A response, written whole and followed by the end of the connection (except a 101's,
/// after which the connection belongs to the WebSocket).
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: Status,
    /// Header fields besides `Content-Length` and `Connection`, which are written for it.
    headers: Vec<(&'static str, Cow<'static, str>)>,
    /// The body.
    body: Cow<'static, [u8]>,
}

impl Response {
    /// A response with `body` of `content_type`.
    pub fn new(status: Status, content_type: &'static str, body: Cow<'static, [u8]>) -> Response {
        Response { status, headers: vec![("Content-Type", content_type.into())], body }
    }

    /// A plain-text response: `text` and a line end.
    pub fn text(status: Status, text: &str) -> Response {
        let body = format!("{text}\n").into_bytes();
        Response::new(status, "text/plain; charset=utf-8", body.into())
    }

    /// A plain-text response whose text is the status's reason.
    pub fn status(status: Status) -> Response {
        Response::text(status, status.line().1)
    }

    /// The 101 that hands the connection to a WebSocket, with its accept key.
    pub fn switching_protocols(accept: String) -> Response {
        let headers = vec![
            ("Upgrade", "websocket".into()),
            ("Connection", "Upgrade".into()),
            ("Sec-WebSocket-Accept", accept.into()),
        ];
        Response { status: Status::SwitchingProtocols, headers, body: Cow::Borrowed(b"") }
    }

    /// Adds a header field.
    pub fn with(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// The response as bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let (code, reason) = self.status.line();
        let mut head = format!("HTTP/1.1 {code} {reason}\r\n");
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.status != Status::SwitchingProtocols {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
            // One request per connection: nothing to keep alive, nothing to get wrong.
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Request, BadRequest> {
        smol::block_on(read_request(&mut &bytes[..]))
    }

    #[test]
    fn a_head_gives_method_path_headers_and_what_came_after() {
        let request =
            read(b"GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n\r\nrest")
                .expect("a request");
        assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", "/ws"));
        assert_eq!(request.header("host"), Some("a"));
        assert!(request.has_token("connection", "upgrade"));
        assert_eq!(request.into_rest(), b"rest");
    }

    #[test]
    fn a_field_given_twice_has_no_single_value() {
        let request = read(b"GET / HTTP/1.1\r\nOrigin: a\r\nOrigin: b\r\n\r\n").expect("a request");
        assert_eq!(request.header("origin"), None);
        assert_eq!(request.headers("origin").count(), 2);
    }

    #[test]
    fn garbage_a_short_head_and_a_huge_one_are_refused() {
        assert!(matches!(read(b"hello there\r\n\r\n"), Err(BadRequest::Malformed)));
        assert!(matches!(read(b"GET * HTTP/1.1\r\n\r\n"), Err(BadRequest::Malformed)));
        assert!(matches!(read(b"GET / HTTP/1.1\r\nHost: a\r\n"), Err(BadRequest::Closed)));
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(read(huge.as_bytes()), Err(BadRequest::TooLarge)));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert!(matches!(read(many.as_bytes()), Err(BadRequest::TooLarge)));
    }

    #[test]
    fn a_response_says_its_length_and_closes() {
        let bytes = Response::text(Status::NotFound, "no").with("X-A", "b").encode();
        let text = String::from_utf8(bytes).expect("text");
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(text.contains("\r\nContent-Length: 3\r\nConnection: close\r\n"), "{text}");
        assert!(text.contains("\r\nX-A: b\r\n") && text.ends_with("\r\n\r\nno\n"), "{text}");
        let upgrade = Response::switching_protocols("k".into()).encode();
        let upgrade = String::from_utf8(upgrade).expect("text");
        assert!(!upgrade.contains("Content-Length") && upgrade.ends_with("Accept: k\r\n\r\n"));
    }
}
