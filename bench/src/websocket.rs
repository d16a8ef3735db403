//! `--websocket`: the bench's own RFC 6455 framing, just what a chat client over `/ws`
//! needs. The upgrade request and the check of the server's `101` answer; client frames
//! out (one masked text frame per line); server frames in, unframed into the line stream
//! the receive path already parses (each text message's payload, then `\n`), with pings
//! answered and a close noted. Pure: the socket work is in [`super::connection`].
//!
//! The bench does not take a WebSocket crate: the framing is a page of code, and written
//! here it unframes straight into the generator thread's read buffer, with no allocation
//! or copy per frame beyond the payload's one move.

use thiserror::Error;

/// The `Sec-WebSocket-Key` every client sends: RFC 6455's own example (§1.3). The key
/// only proves that the server speaks WebSocket; a fixed one lets the expected answer be
/// a constant, so the bench needs no SHA-1 and no random numbers.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The `Sec-WebSocket-Accept` a server must answer [`KEY`] with (RFC 6455 §1.3).
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The masking key of every client frame: the RFC's example key (§5.7). The RFC wants an
/// unpredictable key per frame, to keep a browser's script from steering what a proxy
/// sees; the bench has no script and no proxy, and the server unmasks with whatever key
/// the frame carries, so a fixed key costs the server the same XOR. It is not zero, so a
/// server that forgot to unmask would read garbage and fail the smoke test.
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The longest header of a server frame: 2 bytes, 8 of extended length, no mask.
const MAX_HEADER: usize = 10;

/// The longest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL: u64 = 125;

/// Opcodes (RFC 6455 §5.2).
const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// The `FIN` bit of a header's first byte, and the `MASK` bit of its second.
const FIN: u8 = 0x80;
const MASKED: u8 = 0x80;

/// Why the server's answer to the upgrade, or a frame of its, was refused.
#[derive(Debug, Error)]
pub enum WebSocketError {
    /// The connection failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The server answered with something else than `101 Switching Protocols` (a `403`
    /// for an origin it does not allow, a `404` for a path it does not serve).
    #[error("the server answered {0:?}, not 101 Switching Protocols")]
    NotSwitching(String),
    /// The server's `Sec-WebSocket-Accept` was missing or wrong.
    #[error("Sec-WebSocket-Accept is {0:?}, not {ACCEPT:?}")]
    BadAccept(String),
    /// The answer's header did not end within the bytes the bench allows.
    #[error("no end of the HTTP answer in {0} bytes")]
    AnswerTooLong(usize),
    /// The server closed the connection before answering.
    #[error("closed before answering the upgrade")]
    Closed,
    /// The server masked a frame, which only clients do.
    #[error("the server masked a frame")]
    Masked,
    /// A reserved bit was set, though no extension was agreed.
    #[error("reserved bits {0:#x} set in a frame")]
    Reserved(u8),
    /// An opcode RFC 6455 does not define.
    #[error("unknown opcode {0:#x}")]
    Opcode(u8),
    /// A control frame longer than 125 bytes, or in fragments.
    #[error("a control frame longer than 125 bytes or in fragments")]
    BadControl,
    /// A continuation with no message to continue, or a new message inside another.
    #[error("fragments out of order")]
    Fragments,
    /// A 64-bit length with its top bit set.
    #[error("a frame length with its top bit set")]
    Length,
    /// A read unframed to more bytes than the buffer holds: the caller's buffers are
    /// sized wrong.
    #[error("the unframed bytes do not fit the read buffer")]
    Overflow,
}

impl From<WebSocketError> for std::io::Error {
    fn from(error: WebSocketError) -> std::io::Error {
        match error {
            WebSocketError::Io(error) => error,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

/// The upgrade request for `/ws` on `host` (`HOST:PORT`), with an `Origin` of the same
/// host, which a same-origin check lets through.
pub fn request(host: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n\r\n"
    )
}

/// Checks the server's answer (its status line and headers, up to the blank line).
pub fn check_answer(head: &[u8]) -> Result<(), WebSocketError> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("101") {
        return Err(WebSocketError::NotSwitching(status.to_string()));
    }
    let accept = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|(_, value)| value.trim());
    match accept {
        Some(ACCEPT) => Ok(()),
        other => Err(WebSocketError::BadAccept(other.unwrap_or_default().to_string())),
    }
}

/// Whether what the server has answered so far cannot be HTTP (a port that speaks the
/// chat protocol greets with `NICK`), so that the upgrade fails at once rather than when
/// the handshake times out.
pub fn not_http(answer: &[u8]) -> Option<WebSocketError> {
    let start = &answer[..answer.len().min(5)];
    if b"HTTP/".starts_with(start) {
        return None;
    }
    let line = answer.split(|&b| b == b'\n').next().unwrap_or_default();
    Some(WebSocketError::NotSwitching(String::from_utf8_lossy(line).trim_end().to_string()))
}

/// Frames each line of `lines` (ending in `\n`, which is not sent) as a masked text frame
/// and appends them to `out`; a last piece without its `\n` is framed too.
pub fn put_lines(out: &mut Vec<u8>, lines: &[u8]) {
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', lines) {
        put_frame(out, TEXT, &lines[start..end]);
        start = end + 1;
    }
    if start < lines.len() {
        put_frame(out, TEXT, &lines[start..]);
    }
}

/// Appends one whole (`FIN`) masked frame.
fn put_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(FIN | opcode);
    let len = payload.len();
    match (u8::try_from(len), u16::try_from(len)) {
        (Ok(short), _) if short < 126 => out.push(MASKED | short),
        (_, Ok(medium)) => {
            out.push(MASKED | 126);
            out.extend_from_slice(&medium.to_be_bytes());
        }
        _ => {
            out.push(MASKED | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    let start = out.len();
    out.extend_from_slice(payload);
    for (byte, key) in out[start..].iter_mut().zip(MASK.iter().cycle()) {
        *byte ^= key;
    }
}

/// The frame being read, once its header is in.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// What it carries.
    opcode: u8,
    /// Whether it ends its message.
    fin: bool,
    /// Payload bytes still to come.
    left: u64,
}

/// The server's side of a WebSocket, unframed read by read. A frame may be split across
/// reads anywhere, header included; a data frame's payload is handed on as it arrives,
/// so only a split header (at most 10 bytes) and a control frame's payload (at most 125)
/// are kept between reads.
#[derive(Debug, Default)]
pub struct Deframer {
    /// The start of a header the last read cut off.
    header: [u8; MAX_HEADER],
    /// How much of `header` is filled.
    header_len: usize,
    /// The frame whose payload is being read; `None` between frames.
    frame: Option<Frame>,
    /// Whether a fragmented message is open: its next data frame must be a continuation.
    in_message: bool,
    /// The payload of the control frame being read.
    control: Vec<u8>,
    /// Control frames owed to the server (pongs, the reply to its close), already framed:
    /// the receive loop writes them, under the socket's one writer at a time.
    pub owed: Vec<u8>,
    /// The server's close frame came: nothing more will.
    pub closed: bool,
}

/// An upper bound of what one read unframes to: the bytes read, and a `\n` for the frame
/// an earlier read began. Every frame whose header ends in this read gives no more than
/// it took: its header (2 bytes or more, at least one of them in this read) becomes one
/// `\n`, and its payload is moved as it is.
pub fn unframed_bound(read: usize) -> usize {
    read + 1
}

impl Deframer {
    /// Unframes `input`, the next bytes from the server, into `out`, and returns how many
    /// bytes were written: data payloads, each message followed by `\n`. `out` must hold
    /// [`unframed_bound`] of `input`. Pings queue a pong in `owed`; a close queues the
    /// reply, sets `closed` and ends the reading.
    pub fn unframe(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize, WebSocketError> {
        let mut rest = input;
        let mut written = 0;
        while !rest.is_empty() && !self.closed {
            let Some(frame) = &mut self.frame else {
                let taken = self.take_header(rest)?;
                rest = &rest[taken..];
                // An empty frame ends as it begins (an empty line still ends in `\n`).
                if let Some(empty) = self.frame.filter(|frame| frame.left == 0) {
                    self.finish(empty, out, &mut written)?;
                }
                continue;
            };
            let take = usize::try_from(frame.left).map_or(rest.len(), |left| left.min(rest.len()));
            let (payload, after) = rest.split_at(take);
            rest = after;
            frame.left -= take as u64;
            if frame.opcode & 0x8 == 0 {
                put(out, &mut written, payload)?;
            } else {
                self.control.extend_from_slice(payload);
            }
            if frame.left == 0 {
                let frame = *frame;
                self.finish(frame, out, &mut written)?;
            }
        }
        Ok(written)
    }

    /// Takes what it can of a header from the start of `input`; returns the bytes taken.
    /// A header wholly in `input` is parsed in place; a split one is gathered first.
    fn take_header(&mut self, input: &[u8]) -> Result<usize, WebSocketError> {
        let have = self.header_len;
        let size = if have == 0 { header_size(input) } else { None };
        if let Some(size) = size.filter(|&size| size <= input.len()) {
            self.start(&input[..size])?;
            return Ok(size);
        }
        let copied = (MAX_HEADER - have).min(input.len());
        self.header[have..have + copied].copy_from_slice(&input[..copied]);
        let gathered = have + copied;
        match header_size(&self.header[..gathered]) {
            Some(size) if size <= gathered => {
                self.header_len = 0;
                let header = self.header;
                self.start(&header[..size])?;
                Ok(size - have)
            }
            _ => {
                self.header_len = gathered;
                Ok(copied)
            }
        }
    }

    /// Checks a whole header and begins its frame.
    fn start(&mut self, header: &[u8]) -> Result<(), WebSocketError> {
        let frame = parse_header(header)?;
        let control = frame.opcode & 0x8 != 0;
        if control && (!frame.fin || frame.left > MAX_CONTROL) {
            return Err(WebSocketError::BadControl);
        }
        if !control {
            // A continuation continues an open message; a text or binary frame opens one.
            if (frame.opcode == CONTINUATION) != self.in_message {
                return Err(WebSocketError::Fragments);
            }
            self.in_message = !frame.fin;
        }
        self.control.clear();
        self.frame = Some(frame);
        Ok(())
    }

    /// Ends a frame whose payload is all in.
    fn finish(
        &mut self,
        frame: Frame,
        out: &mut [u8],
        written: &mut usize,
    ) -> Result<(), WebSocketError> {
        self.frame = None;
        match frame.opcode {
            PING => put_frame(&mut self.owed, PONG, &self.control),
            CLOSE => {
                // The reply echoes the status code, as RFC 6455 §5.5.1 asks.
                let code = self.control.get(..2).unwrap_or_default();
                put_frame(&mut self.owed, CLOSE, code);
                self.closed = true;
            }
            PONG => {}
            _ if frame.fin => put(out, written, b"\n")?,
            _ => {}
        }
        Ok(())
    }
}

/// Copies `bytes` into `out` at `written`, if they fit.
fn put(out: &mut [u8], written: &mut usize, bytes: &[u8]) -> Result<(), WebSocketError> {
    let end = *written + bytes.len();
    out.get_mut(*written..end).ok_or(WebSocketError::Overflow)?.copy_from_slice(bytes);
    *written = end;
    Ok(())
}

/// The size of the header that starts `bytes`, once its first two bytes are there.
fn header_size(bytes: &[u8]) -> Option<usize> {
    let extended = match bytes.get(1)? & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    Some(2 + extended)
}

/// Parses a whole server frame header.
fn parse_header(header: &[u8]) -> Result<Frame, WebSocketError> {
    let [first, second, ref extended @ ..] = *header else {
        return Err(WebSocketError::Length);
    };
    if first & 0x70 != 0 {
        return Err(WebSocketError::Reserved(first & 0x70));
    }
    if second & MASKED != 0 {
        return Err(WebSocketError::Masked);
    }
    let opcode = first & 0x0f;
    if !matches!(opcode, CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG) {
        return Err(WebSocketError::Opcode(opcode));
    }
    let left = match *extended {
        [] => u64::from(second & 0x7f),
        [a, b] => u64::from(u16::from_be_bytes([a, b])),
        [a, b, c, d, e, f, g, h] => u64::from_be_bytes([a, b, c, d, e, f, g, h]),
        _ => return Err(WebSocketError::Length),
    };
    if left >> 63 != 0 {
        return Err(WebSocketError::Length);
    }
    Ok(Frame { opcode, fin: first & FIN != 0, left })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame as a server sends it: unmasked.
    fn server_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![if fin { FIN | opcode } else { opcode }];
        match payload.len() {
            len if len < 126 => frame.push(len as u8),
            len if len <= 0xffff => {
                frame.push(126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(payload);
        frame
    }

    /// Unframes `input` in reads of `step` bytes, each into a buffer of exactly the bound.
    fn unframe_in_steps(deframer: &mut Deframer, input: &[u8], step: usize) -> Vec<u8> {
        let mut lines = Vec::new();
        for read in input.chunks(step) {
            let mut out = vec![0; unframed_bound(read.len())];
            let n = deframer.unframe(read, &mut out).expect("valid frames");
            lines.extend_from_slice(&out[..n]);
        }
        lines
    }

    /// Reads back client frames: (opcode, unmasked payload) for each.
    fn client_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while let [first, second, rest @ ..] = bytes {
            assert_eq!(first & FIN, FIN, "every client frame is whole");
            assert_eq!(second & MASKED, MASKED, "every client frame is masked");
            let (len, rest) = match second & 0x7f {
                126 => (usize::from(u16::from_be_bytes([rest[0], rest[1]])), &rest[2..]),
                127 => {
                    let len = u64::from_be_bytes(rest[..8].try_into().expect("8 bytes"));
                    (len as usize, &rest[8..])
                }
                len => (usize::from(len), rest),
            };
            assert_eq!(rest[..4], MASK);
            let payload = rest[4..4 + len].iter().zip(MASK.iter().cycle()).map(|(b, k)| b ^ k);
            frames.push((first & 0x0f, payload.collect()));
            bytes = &rest[4 + len..];
        }
        assert!(bytes.is_empty(), "no bytes after the last frame");
        frames
    }

    #[test]
    fn the_upgrade_asks_for_ws_from_its_own_origin() {
        let request = request("127.0.0.1:8080");
        assert!(request.starts_with("GET /ws HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("\r\nHost: 127.0.0.1:8080\r\n"), "{request}");
        assert!(request.contains("\r\nOrigin: http://127.0.0.1:8080\r\n"), "{request}");
        assert!(request.contains(&format!("\r\nSec-WebSocket-Key: {KEY}\r\n")), "{request}");
        assert!(request.ends_with("\r\n\r\n"), "{request}");
    }

    #[test]
    fn only_a_101_with_the_right_accept_is_taken() {
        let good = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nConnection: Upgrade\r\n\
             sec-websocket-accept:  {ACCEPT}\r\n\r\n"
        );
        assert!(check_answer(good.as_bytes()).is_ok());
        let forbidden = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n";
        let error = check_answer(forbidden).expect_err("refused").to_string();
        assert!(error.contains("403 Forbidden"), "{error}");
        let wrong = b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: abc=\r\n\r\n";
        assert!(matches!(check_answer(wrong), Err(WebSocketError::BadAccept(v)) if v == "abc="));
        let none = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";
        assert!(matches!(check_answer(none), Err(WebSocketError::BadAccept(_))));
    }

    #[test]
    fn a_port_that_does_not_speak_http_is_told_apart_from_its_first_bytes() {
        assert!(not_http(b"").is_none());
        assert!(not_http(b"HTT").is_none());
        assert!(not_http(b"HTTP/1.1 403").is_none());
        let error = not_http(b"NICK\nmore").expect("not HTTP").to_string();
        assert!(error.contains("\"NICK\""), "{error}");
    }

    #[test]
    fn each_line_is_one_masked_text_frame_without_its_line_end() {
        let mut out = Vec::new();
        put_lines(&mut out, b"hello\n\n/msg #r1 hi\nno end");
        let frames = client_frames(&out);
        let text = |s: &str| (TEXT, s.as_bytes().to_vec());
        assert_eq!(frames, [text("hello"), text(""), text("/msg #r1 hi"), text("no end")]);
        // The mask is applied: the payload is not on the wire as it is.
        assert!(!out.windows(5).any(|w| w == b"hello"));
    }

    #[test]
    fn long_lines_take_the_longer_length_forms() {
        for len in [125, 126, 65_535, 65_536] {
            let mut line = vec![b'x'; len];
            line.push(b'\n');
            let mut out = Vec::new();
            put_lines(&mut out, &line);
            let frames = client_frames(&out);
            assert_eq!(frames.len(), 1);
            assert_eq!(frames[0].1.len(), len);
            let header = match len {
                0..=125 => 6,
                126..=65_535 => 8,
                _ => 14,
            };
            assert_eq!(out.len(), header + len, "{len}");
        }
    }

    #[test]
    fn text_frames_become_lines_however_the_reads_cut_them() {
        let mut input = server_frame(TEXT, true, b"MSG #lobby b1 hi");
        input.extend(server_frame(TEXT, true, b""));
        input.extend(server_frame(TEXT, true, &[b'y'; 300]));
        input.extend(server_frame(TEXT, true, &[b'z'; 70_000]));
        input.extend(server_frame(TEXT, true, b"JOIN #lobby b2"));
        let mut expected = b"MSG #lobby b1 hi\n\n".to_vec();
        expected.extend([b'y'; 300]);
        expected.push(b'\n');
        expected.extend([b'z'; 70_000]);
        expected.extend(b"\nJOIN #lobby b2\n");
        for step in [1, 2, 3, 7, 11, 127, 4096, input.len()] {
            let mut deframer = Deframer::default();
            assert_eq!(unframe_in_steps(&mut deframer, &input, step), expected, "step {step}");
            assert!(deframer.owed.is_empty() && !deframer.closed);
        }
    }

    #[test]
    fn a_fragmented_message_is_one_line_and_a_ping_between_is_answered() {
        let mut input = server_frame(TEXT, false, b"hel");
        input.extend(server_frame(PING, true, b"token"));
        input.extend(server_frame(CONTINUATION, false, b"l"));
        input.extend(server_frame(CONTINUATION, true, b"o"));
        for step in [1, 5, input.len()] {
            let mut deframer = Deframer::default();
            assert_eq!(unframe_in_steps(&mut deframer, &input, step), b"hello\n");
            assert_eq!(client_frames(&deframer.owed), [(PONG, b"token".to_vec())]);
        }
    }

    #[test]
    fn a_close_is_answered_with_its_code_and_ends_the_stream() {
        let mut input = server_frame(TEXT, true, b"bye");
        input.extend(server_frame(CLOSE, true, &[0x03, 0xe8, b'o', b'k']));
        input.extend(server_frame(TEXT, true, b"never read"));
        let mut deframer = Deframer::default();
        assert_eq!(unframe_in_steps(&mut deframer, &input, input.len()), b"bye\n");
        assert!(deframer.closed);
        assert_eq!(client_frames(&deframer.owed), [(CLOSE, vec![0x03, 0xe8])]);
        // Pongs the bench never asked for are ignored.
        let mut deframer = Deframer::default();
        let pong = server_frame(PONG, true, b"x");
        assert_eq!(unframe_in_steps(&mut deframer, &pong, 1), b"");
        assert!(deframer.owed.is_empty());
    }

    #[test]
    fn frames_a_server_must_not_send_are_refused() {
        let refused = |bytes: &[u8]| {
            let mut out = vec![0; unframed_bound(bytes.len())];
            Deframer::default().unframe(bytes, &mut out).expect_err("refused")
        };
        let masked = [FIN | TEXT, MASKED | 1, 1, 2, 3, 4, b'x'];
        assert!(matches!(refused(&masked), WebSocketError::Masked));
        assert!(matches!(refused(&[FIN | 0x40 | TEXT, 0]), WebSocketError::Reserved(0x40)));
        assert!(matches!(refused(&[FIN | 0x3, 0]), WebSocketError::Opcode(0x3)));
        assert!(matches!(
            refused(&server_frame(CONTINUATION, true, b"x")),
            WebSocketError::Fragments
        ));
        let mut twice = server_frame(TEXT, false, b"a");
        twice.extend(server_frame(TEXT, true, b"b"));
        assert!(matches!(refused(&twice), WebSocketError::Fragments));
        assert!(matches!(refused(&server_frame(PING, false, b"")), WebSocketError::BadControl));
        assert!(matches!(
            refused(&server_frame(PING, true, &[0; 126])),
            WebSocketError::BadControl
        ));
        let huge = [FIN | TEXT, 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(refused(&huge), WebSocketError::Length));
    }

    #[test]
    fn a_buffer_below_the_bound_is_an_error_not_a_panic() {
        let input = server_frame(TEXT, true, b"abc");
        let mut out = [0; 3];
        let error = Deframer::default().unframe(&input, &mut out).expect_err("no room for the end");
        assert!(matches!(error, WebSocketError::Overflow));
    }
}
