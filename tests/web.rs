//! The web listener, in process: the page with its security headers, `/healthz`,
//! `/metrics`, refusals of bad requests (each answered and closed), and the line protocol
//! over a WebSocket at `/ws` into the same rooms as chat://, with its origin check and the
//! same limits as over TCP. And the same over https://.

mod common;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_net::{TcpListener, TcpStream};
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::Error as WsError;
use common::tls::Pki;
use common::websocket::{self, End};
use common::*;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_rustls::rustls::pki_types::ServerName;
use smol::Task;
use smolchat::client::{Client, Trust};
use smolchat::proto::chat::{ErrorCode, Line};
use smolchat::server::{self, Config, Listener, Protocol, Tls};

/// A response as the client read it, up to the end of the connection.
#[derive(Debug)]
struct Answer {
    /// The status code.
    status: u16,
    /// The header fields, names in lower case.
    headers: Vec<(String, String)>,
    /// The body.
    body: String,
}

impl Answer {
    /// The value of the field `name` (lower case).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(field, _)| field == name).map(|(_, value)| value.as_str())
    }
}

/// Sends `request` over `stream` and reads until the server closes the connection.
async fn exchange_over<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &[u8]) -> Answer {
    within("send the request", stream.write_all(request)).await.expect("send");
    within("flush the request", stream.flush()).await.expect("flush");
    let mut bytes = Vec::new();
    // A TLS stream may end without close_notify once the TCP half-close arrives; what was
    // read up to then is the answer.
    let _ = within("the answer and the close", stream.read_to_end(&mut bytes)).await;
    parse_answer(&bytes)
}

/// Sends `request` to `addr` in plain HTTP and reads the whole answer.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Answer {
    let tcp = within("connect", TcpStream::connect(addr)).await.expect("connect");
    exchange_over(tcp, request).await
}

/// `GET path` to `addr`.
async fn get(addr: SocketAddr, path: &str) -> Answer {
    exchange(addr, format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await
}

fn parse_answer(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line.split(' ').nth(1).and_then(|code| code.parse().ok());
    let status = status.unwrap_or_else(|| panic!("no status: {status_line:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    Answer { status, headers, body: body.to_string() }
}

/// Asserts that `answer` is a `status` that closes, with the protective headers.
fn assert_refused(answer: &Answer, status: u16) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.header("connection"), Some("close"), "{answer:?}");
    assert_eq!(answer.header("content-length"), Some(answer.body.len().to_string().as_str()));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"), "{answer:?}");
}

/// How a WebSocket's opening was refused: the HTTP status.
fn refused_status(result: Result<websocket::Ws, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("refused without an HTTP answer: {other}"),
        Ok(_) => panic!("the WebSocket should have been refused"),
    }
}

/// The close code of a connection's end.
fn close_code(end: End) -> CloseCode {
    match end {
        End::Closed(Some(frame)) => frame.code,
        other => panic!("expected a close frame with a code, got {other:?}"),
    }
}

#[test]
fn the_page_is_served_with_its_policy_and_without_inline_script() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let page = get(server.web, "/").await;
        assert_eq!(page.status, 200, "{page:?}");
        assert!(page.header("content-type").is_some_and(|t| t.starts_with("text/html")));
        let policy = page.header("content-security-policy").expect("a CSP");
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"));
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("connection"), Some("close"));
        assert_eq!(page.header("content-length"), Some(page.body.len().to_string().as_str()));
        // Every script is a file of the page's own: `<script src=...></script>`, empty.
        for script in page.body.split("<script").skip(1) {
            let (tag, after) = script.split_once('>').expect("a whole tag");
            assert!(tag.contains("src="), "inline script: <script{script}");
            assert!(after.trim_start().starts_with("</script>"), "inline script: {script}");
        }
        let script = get(server.web, "/app.js").await;
        assert_eq!(script.status, 200);
        assert!(script.header("content-type").is_some_and(|t| t.starts_with("text/javascript")));
        let style = get(server.web, "/style.css").await;
        assert!(style.header("content-type").is_some_and(|t| t.starts_with("text/css")));
        server.stop().await;
    });
}

#[test]
fn healthz_says_ok_and_metrics_answers_in_a_format_prometheus_reads() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let health = get(server.web, "/healthz").await;
        assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
        let metrics = get(server.web, "/metrics?x=1").await;
        assert_eq!(metrics.status, 200, "{metrics:?}");
        let kind = metrics.header("content-type").expect("a content type");
        let known = ["application/openmetrics-text;", "text/plain; version=0.0.4"];
        assert!(known.iter().any(|known| kind.starts_with(known)), "{kind}");
        server.stop().await;
    });
}

#[test]
fn unknown_paths_other_methods_and_garbage_are_refused_and_closed() {
    smol::block_on(async {
        let server = TestServer::default().await;
        assert_refused(&get(server.web, "/nothing-here").await, 404);
        let post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        let answer = exchange(server.web, post).await;
        assert_refused(&answer, 405);
        assert_eq!(answer.header("allow"), Some("GET"));
        assert_refused(&exchange(server.web, b"\x16\x03\x01 hello\r\n\r\n").await, 400);
        assert_refused(&exchange(server.web, b"GET http://x/ HTTP/1.1\r\n\r\n").await, 400);
        // A WebSocket endpoint asked for a page.
        assert_refused(&get(server.web, "/ws").await, 426);
        server.stop().await;
    });
}

#[test]
fn a_head_over_the_limit_is_refused_431_and_closed() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let huge = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(9000));
        assert_refused(&exchange(server.web, huge.as_bytes()).await, 431);
        let many: String = (0..40).map(|i| format!("X-{i}: 1\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_refused(&exchange(server.web, many.as_bytes()).await, 431);
        server.stop().await;
    });
}

#[test]
fn slow_headers_are_timed_out_with_408_and_closed() {
    smol::block_on(async {
        let config = Config { handshake_timeout: Duration::from_millis(300), ..quick() };
        let server = TestServer::start(config).await;
        let started = Instant::now();
        let answer = exchange(server.web, b"GET / HTTP/1.1\r\nHost: x\r\n").await;
        assert_refused(&answer, 408);
        assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        server.stop().await;
    });
}

#[test]
fn a_websocket_client_registers_and_talks_with_a_chat_client() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut bob = server.join("bob").await;
        let mut web = websocket::join(server.web, "alice").await;
        assert_eq!(next(&mut bob).await, lobby_join("alice"));
        web.send("hello from the browser").await;
        wait_message(&mut bob, "alice", "hello from the browser").await;
        let echo = web.wait_for("own MSG", |line| matches!(line, Line::Message { .. })).await;
        assert_eq!(echo, lobby_message("alice", "hello from the browser"));
        // Whatever the text, it arrives as it was sent: markup, quotes, any script.
        let text = "hello <b>from</b> the \"terminal\" &amp; é 日本語";
        bob.say(text).await.expect("say");
        let heard = web.wait_for("bob's MSG", |line| matches!(line, Line::Message { .. })).await;
        assert_eq!(heard, lobby_message("bob", text));
        // The browser's pings are answered by the WebSocket itself.
        web.ping(b"are you there").await;
        // A message of two lines is two lines, as the same bytes would be over TCP.
        web.send("first\r\nsecond").await;
        wait_message(&mut bob, "alice", "first").await;
        wait_message(&mut bob, "alice", "second").await;
        web.send("/quit bye").await;
        assert_eq!(close_code(web.end().await), CloseCode::Normal);
        assert_eq!(next(&mut bob).await, quit("alice", "quit: bye"));
        server.stop().await;
    });
}

#[test]
fn a_binary_message_is_refused_with_close_1003() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut bob = server.join("bob").await;
        let mut web = websocket::join(server.web, "alice").await;
        web.send_binary(b"\x00\x01").await;
        assert_eq!(close_code(web.end().await), CloseCode::Unsupported);
        wait_for(&mut bob, "alice's QUIT", |line| *line == quit("alice", "connection closed"))
            .await;
        server.stop().await;
    });
}

#[test]
fn a_huge_frame_is_refused_from_its_header_with_close_1009() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut web = websocket::connect(server.web, None).await.expect("WebSocket");
        assert_eq!(web.next().await, Line::NickRequest);
        // The header of a masked text frame of 1 MiB, and only the first bytes of it: a
        // server that waited for the payload would never answer.
        let mut frame = vec![0x81, 0x80 | 127];
        frame.extend_from_slice(&(1u64 << 20).to_be_bytes());
        frame.extend_from_slice(&[1, 2, 3, 4]);
        frame.extend_from_slice(b"abcd");
        let started = Instant::now();
        let tcp = web.ws.get_mut();
        within("send the header", tcp.write_all(&frame)).await.expect("write");
        assert_eq!(close_code(web.end().await), CloseCode::Size);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        // And the connection is gone.
        let mut rest = Vec::new();
        let read = within("the end", web.ws.get_mut().read_to_end(&mut rest)).await;
        assert!(read.is_err() || rest.is_empty(), "{read:?} {rest:?}");
        server.stop().await;
    });
}

#[test]
fn text_that_is_not_utf8_is_refused_with_close_1007() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut web = websocket::connect(server.web, None).await.expect("WebSocket");
        assert_eq!(web.next().await, Line::NickRequest);
        // A masked text frame (with a mask of zeros) holding the byte 0xff.
        let frame = [0x81, 0x80 | 1, 0, 0, 0, 0, 0xff];
        within("send the frame", web.ws.get_mut().write_all(&frame)).await.expect("write");
        assert_eq!(close_code(web.end().await), CloseCode::Invalid);
        server.stop().await;
    });
}

#[test]
fn a_page_of_another_origin_is_refused_403_unless_listed() {
    smol::block_on(async {
        let listed = "https://chat.example.org";
        let config = Config { web_origin: vec![listed.into()], ..quick() };
        let server = TestServer::start(config).await;
        let foreign = websocket::connect(server.web, Some("https://evil.example")).await;
        assert_eq!(refused_status(foreign), 403);
        let insecure_twin = format!("https://{}", server.web);
        let twin = websocket::connect(server.web, Some(&insecure_twin)).await;
        assert_eq!(refused_status(twin), 403);
        let mut allowed = websocket::connect(server.web, Some(listed)).await.expect("allowed");
        allowed.register("carol").await;
        // A program that is no browser sends no origin, and could send any.
        let mut bot = websocket::connect(server.web, None).await.expect("no origin");
        bot.register("bot").await;
        server.stop().await;
    });
}

#[test]
fn a_line_over_the_limit_is_refused_as_over_tcp_and_the_client_stays() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_line: 64, ..quick() }).await;
        let mut web = websocket::join(server.web, "alice").await;
        web.send(&"x".repeat(100)).await;
        let error = web.wait_for("ERROR", |line| matches!(line, Line::Error { .. })).await;
        assert!(matches!(error, Line::Error { code: ErrorCode::LineTooLong, .. }), "{error:?}");
        web.send("\u{1b}[31mred").await;
        let error = web.wait_for("ERROR", |line| matches!(line, Line::Error { .. })).await;
        assert!(matches!(error, Line::Error { code: ErrorCode::ControlChar, .. }), "{error:?}");
        web.send("still here").await;
        let echo = web.wait_for("MSG", |line| matches!(line, Line::Message { .. })).await;
        assert_eq!(echo, lobby_message("alice", "still here"));
        server.stop().await;
    });
}

/// A client's masked frame (mask 0): FIN or not, `opcode`, and `payload` (under 126 bytes).
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![u8::from(fin) << 7 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn a_message_left_unfinished_in_fragments_is_closed_after_the_line_timeout() {
    smol::block_on(async {
        let config = Config { line_timeout: Duration::from_millis(300), ..quick() };
        let server = TestServer::start(config).await;
        let mut bob = server.join("bob").await;
        let mut web = websocket::join(server.web, "alice").await;
        assert_eq!(next(&mut bob).await, lobby_join("alice"));
        // A message in fragments is one line, with a ping between them answered.
        let fragments = [frame(false, 1, b"hel"), frame(true, 9, b"?"), frame(true, 0, b"lo")];
        let tcp = web.ws.get_mut();
        within("send", tcp.write_all(&fragments.concat())).await.expect("write");
        assert_eq!(next(&mut bob).await, lobby_message("alice", "hello"));
        // One whose last fragment never comes times out as a line without its end does.
        let tcp = web.ws.get_mut();
        within("send", tcp.write_all(&frame(false, 1, b"and then"))).await.expect("write");
        let error = web.wait_for("ERROR", |line| matches!(line, Line::Error { .. })).await;
        assert!(matches!(error, Line::Error { code: ErrorCode::LineTimeout, .. }), "{error:?}");
        assert_eq!(next(&mut bob).await, quit("alice", "line timeout"));
        server.stop().await;
    });
}

#[test]
fn flood_control_applies_over_websocket() {
    smol::block_on(async {
        let server = TestServer::start(Config { flood_rate: 1, flood_burst: 3, ..quick() }).await;
        let mut web = websocket::join(server.web, "flooder").await;
        for n in 0..20 {
            if !web.try_send(&format!("m{n}")).await {
                break;
            }
        }
        let mut codes = Vec::new();
        let end = within("the flood's end", async {
            loop {
                match web.next_text().await {
                    Ok(text) => {
                        if let Ok(Line::Error { code, .. }) = Line::parse(&text) {
                            codes.push(code);
                        }
                    }
                    Err(end) => return end,
                }
            }
        })
        .await;
        assert_eq!(codes, [ErrorCode::RateLimited, ErrorCode::Flood]);
        assert!(matches!(end, End::Closed(_)), "{end:?}");
        server.stop().await;
    });
}

#[test]
fn every_http_connection_is_admitted_against_the_limits() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_clients: 1, ..quick() }).await;
        let web = websocket::join(server.web, "alice").await;
        let answer = get(server.web, "/healthz").await;
        assert_refused(&answer, 503);
        assert!(answer.body.contains("server is full"), "{answer:?}");
        drop(web);
        server.stop().await;
    });
}

/// A server with an `https://` listener (and a plain `chat://` one) in process.
struct HttpsServer {
    /// The web listener over TLS.
    https: SocketAddr,
    /// The line protocol in plain TCP, into the same rooms.
    chat: SocketAddr,
    stop: async_channel::Sender<()>,
    task: Task<io::Result<()>>,
}

impl HttpsServer {
    async fn start(pki: &Pki) -> HttpsServer {
        let tls = Tls::load(pki.localhost()).expect("load the certificate");
        let https = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let chat = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addrs = [&https, &chat].map(|l| l.local_addr().expect("local address"));
        let listeners = vec![Listener::tls(Protocol::Web, https, tls), Listener::chat(chat)];
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let shutdown = async move {
            let _ = stopped.recv().await;
        };
        let task = smol::spawn(server::run(listeners, quick(), shutdown));
        HttpsServer { https: addrs[0], chat: addrs[1], stop, task }
    }

    async fn stop(self) {
        drop(self.stop);
        within("server shutdown", self.task).await.expect("server run");
    }
}

/// A TLS connection to `addr`, trusting `pki`'s authority.
async fn tls_connect(addr: SocketAddr, pki: &Pki) -> futures_rustls::client::TlsStream<TcpStream> {
    let connector = Trust::CaFile(pki.ca_file.clone()).connector().expect("connector");
    let tcp = within("connect", TcpStream::connect(addr)).await.expect("connect");
    let name = ServerName::try_from("127.0.0.1").expect("a name");
    within("TLS handshake", connector.connect(name, tcp)).await.expect("TLS")
}

#[test]
fn over_https_the_page_and_a_secure_websocket_work_and_plain_http_is_told() {
    let pki = Pki::new("web");
    smol::block_on(async {
        let server = HttpsServer::start(&pki).await;
        let request = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", server.https);
        let page = exchange_over(tls_connect(server.https, &pki).await, request.as_bytes()).await;
        assert_eq!(page.status, 200, "{page:?}");
        assert!(page.header("content-security-policy").is_some());

        let (mut bob, _) = within("join", Client::join(server.chat, "bob")).await.expect("join");
        settle(&mut bob).await;
        let tls = tls_connect(server.https, &pki).await;
        let url = format!("wss://{}/ws", server.https);
        let origin = format!("https://{}", server.https);
        let mut web = websocket::connect_over(tls, &url, Some(&origin)).await.expect("wss");
        web.register("alice").await;
        web.send("over wss").await;
        wait_message(&mut bob, "alice", "over wss").await;

        let plain = get(server.https, "/").await;
        assert_refused(&plain, 400);
        assert!(plain.body.contains("https://"), "{plain:?}");
        server.stop().await;
    });
}

#[test]
fn a_stream_of_empty_fragments_holds_no_thread_and_times_out_as_a_line() {
    smol::block_on(async {
        let config = Config { line_timeout: Duration::from_secs(1), ..quick() };
        let server = TestServer::start(config).await;
        let mut bob = server.join("bob").await;
        let mut web = websocket::join(server.web, "alice").await;
        assert_eq!(next(&mut bob).await, lobby_join("alice"));
        // A message begun and then continued with empty fragments, as fast as the socket
        // takes them: it never grows, and never ends.
        let mut tcp = web.ws.get_mut().clone();
        let flood_until = Instant::now() + Duration::from_secs(8);
        let flood = async {
            let mut burst = frame(false, 1, b"a");
            burst.extend(frame(false, 0, b"").repeat(10_000));
            while Instant::now() < flood_until {
                if tcp.write_all(&burst).await.is_err() {
                    return Some(Instant::now());
                }
                burst = frame(false, 0, b"").repeat(10_000);
            }
            None
        };
        // Meanwhile bob is answered as promptly as ever, and hears alice go.
        let talk = async {
            let (mut slowest, mut quit) = (Duration::ZERO, None);
            for n in 0..10 {
                smol::Timer::after(Duration::from_millis(100)).await;
                let (sent, text) = (Instant::now(), format!("still here {n}"));
                bob.say(&text).await.expect("say");
                loop {
                    match next(&mut bob).await {
                        Line::Quit { nick, reason } => quit = Some((nick, reason)),
                        line if line == lobby_message("bob", &text) => break,
                        _ => {}
                    }
                }
                slowest = slowest.max(sent.elapsed());
            }
            (slowest, quit)
        };
        let started = Instant::now();
        let (closed, (slowest, quit)) = futures_lite::future::zip(flood, talk).await;
        assert!(slowest < Duration::from_secs(1), "bob waited {slowest:?} behind the flood");
        let closed = closed.expect("the flooder is closed, not left to flood");
        assert!(closed - started < Duration::from_secs(5), "closed after {:?}", closed - started);
        let quit = match quit {
            Some(quit) => quit,
            None => loop {
                if let Line::Quit { nick, reason } = next(&mut bob).await {
                    break (nick, reason);
                }
            },
        };
        assert_eq!(quit, (s("alice"), s("line timeout")));
        server.stop().await;
    });
}
