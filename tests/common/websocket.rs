//! A WebSocket client for tests of the web listener's `/ws`: async-tungstenite's client
//! side over a TCP (or TLS) stream, every wait within [`TIMEOUT`](super::TIMEOUT), and the
//! server's messages read as protocol lines.

use std::net::SocketAddr;

use async_net::TcpStream;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::{Error as WsError, Message};
use async_tungstenite::WebSocketStream;
use futures_lite::{AsyncRead, AsyncWrite, StreamExt};
use smolchat::proto::chat::Line;

use super::within;

/// One WebSocket connection to `/ws`.
pub struct Ws<S = TcpStream> {
    /// The connection.
    pub ws: WebSocketStream<S>,
}

/// How a connection ended, as the client saw it.
#[derive(Debug)]
pub enum End {
    /// The server sent a close frame (with its code and reason, if any).
    Closed(Option<CloseFrame>),
    /// The connection ended without one, or failed.
    Dropped(Option<WsError>),
}

/// Opens `ws://ADDR/ws` with `origin` (none for a client that is not a browser).
pub async fn connect(addr: SocketAddr, origin: Option<&str>) -> Result<Ws, WsError> {
    let tcp = within("connect", TcpStream::connect(addr)).await.expect("connect");
    connect_over(tcp, &format!("ws://{addr}/ws"), origin).await
}

/// Opens `url` over `stream` (TCP, or TLS for `wss://`) with `origin`.
pub async fn connect_over<S>(stream: S, url: &str, origin: Option<&str>) -> Result<Ws<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = url.into_client_request()?;
    if let Some(origin) = origin {
        let value = HeaderValue::from_str(origin).expect("an origin header");
        request.headers_mut().insert("Origin", value);
    }
    let (ws, _response) =
        within("WebSocket handshake", async_tungstenite::client_async(request, stream)).await?;
    Ok(Ws { ws })
}

/// Connects from the page's own origin and registers `nick`; returns the client once its
/// registration has ended (with its `ROOM` line).
pub async fn join(addr: SocketAddr, nick: &str) -> Ws {
    let origin = format!("http://{addr}");
    let mut ws = connect(addr, Some(&origin)).await.expect("WebSocket");
    ws.register(nick).await;
    ws
}

impl<S: AsyncRead + AsyncWrite + Unpin> Ws<S> {
    /// Sends `text` as one text message.
    pub async fn send(&mut self, text: &str) {
        within("send", self.ws.send(Message::text(text))).await.expect("send a message");
    }

    /// Sends `text` as one text message; false if the connection is gone.
    pub async fn try_send(&mut self, text: &str) -> bool {
        within("send", self.ws.send(Message::text(text))).await.is_ok()
    }

    /// Sends `bytes` as one binary message.
    pub async fn send_binary(&mut self, bytes: &[u8]) {
        let message = Message::binary(bytes.to_vec());
        within("send", self.ws.send(message)).await.expect("send a binary message");
    }

    /// Sends a ping with `payload` and waits for its pong (skipping any text before it).
    pub async fn ping(&mut self, payload: &[u8]) {
        let ping = Message::Ping(payload.to_vec().into());
        within("send a ping", self.ws.send(ping)).await.expect("send a ping");
        within("pong", async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Pong(got))) => return assert_eq!(&got[..], payload),
                    Some(Ok(_)) => {}
                    other => panic!("connection ended waiting for a pong: {other:?}"),
                }
            }
        })
        .await
    }

    /// The next text message, raw; `Err` with how the connection ended if it did.
    pub async fn next_text(&mut self) -> Result<String, End> {
        within("next message", async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
                    Some(Ok(Message::Close(frame))) => return Err(End::Closed(frame)),
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(End::Dropped(Some(error))),
                    None => return Err(End::Dropped(None)),
                }
            }
        })
        .await
    }

    /// The next line the server sent.
    pub async fn next(&mut self) -> Line {
        let text = self.next_text().await.expect("a message");
        Line::parse(&text).unwrap_or_else(|error| panic!("{text:?} is not a line: {error:?}"))
    }

    /// Skips lines until one matches `pred`, and returns it.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Line) -> bool) -> Line {
        within(what, async {
            loop {
                let line = self.next().await;
                if pred(&line) {
                    return line;
                }
            }
        })
        .await
    }

    /// Reads (and drops) messages until the connection ends, and says how.
    pub async fn end(&mut self) -> End {
        within("end of connection", async {
            loop {
                if let Err(end) = self.next_text().await {
                    return end;
                }
            }
        })
        .await
    }

    /// Answers `NICK` with `nick`, and reads up to the `ROOM` that ends registration.
    pub async fn register(&mut self, nick: &str) {
        self.wait_for("NICK", |line| matches!(line, Line::NickRequest)).await;
        self.send(nick).await;
        let welcome = self.wait_for("WELCOME", |line| matches!(line, Line::Welcome { .. })).await;
        assert!(matches!(welcome, Line::Welcome { nick: ref n, .. } if n == nick), "{welcome:?}");
        self.wait_for("ROOM", |line| matches!(line, Line::Room { .. })).await;
    }
}
