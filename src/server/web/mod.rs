//! The web listener (`http://`, `https://`): one HTTP/1.1 request per connection, routed to
//! the page, `/healthz`, `/metrics`, or `/ws`, whose WebSocket carries the line protocol to
//! the same chat session as `chat://`.
//!
//! - `http`: reading a request head within bounds, writing a response.
//! - `assets`: the page's files, built in, and the headers that protect it.
//! - `upgrade` and `origin`: the WebSocket handshake, and which pages may make it.
//! - `websocket`: a WebSocket as the halves a session reads lines from and writes lines to;
//!   `progress` follows its frames, so that a message left unfinished times out.

mod assets;
mod http;
mod origin;
mod progress;
mod upgrade;
mod websocket;

use std::future::Future;
use std::time::{Duration, Instant};

use futures_lite::{future, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::Timer;
use tracing::debug;

use super::admission::{Full, Shared, Ticket};
use super::transport::Halves;
use super::Config;
use http::{BadRequest, Request, Response, Status};
pub use origin::parse_origin;

/// The longest a client may take to send its request head (after the TLS handshake, which
/// has as long again), unless `--handshake-timeout` is shorter: a browser sends it at
/// once, and a connection that trickles it holds a slot of `--max-clients`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest an answer may take to be written: a client that does not read it does not
/// keep its connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// After the answer, how long the client's unread input is drained so that closing does
/// not reset the connection and destroy the answer in flight.
const LINGER: Duration = Duration::from_secs(1);

/// The most of the client's unread input drained after the answer.
const LINGER_BYTES: usize = 64 * 1024;

/// The type of `/metrics`: `prometheus-client` writes OpenMetrics text (`# EOF` at the
/// end, counters named without `_total` in `# TYPE`), which Prometheus parses as such only
/// when told so.
const METRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Where a request goes.
enum Route {
    /// An answer, after which the connection closes.
    Answer(Response),
    /// The WebSocket: this 101, then the chat session.
    Upgrade(Response),
}

/// How long a connection has for its TLS handshake, and then for its request head.
pub fn request_timeout(config: &Config) -> Duration {
    config.handshake_timeout.min(REQUEST_TIMEOUT)
}

/// Serves one connection of a web listener (over TLS if `secure`), accepted at `accepted`:
/// reads its request and answers it, or hands it to the chat session as a WebSocket.
pub async fn serve<R, W>(halves: Halves<R, W>, ticket: Ticket, secure: bool, accepted: Instant)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Halves { mut reader, mut writer, cut, .. } = halves;
    let timeout = request_timeout(&ticket.shared.config);
    let reading = within(timeout, http::read_request(&mut reader));
    // A request still arriving when the server stops is not waited for: nothing has been
    // asked yet, and the shutdown would otherwise wait its whole grace for it.
    let Some(request) = ticket.shared.stop.unless_raised(reading).await else {
        return;
    };
    let route = match request {
        Some(Ok(request)) => route(&request, &ticket.shared, secure).map(|route| (route, request)),
        Some(Err(BadRequest::Closed)) => return,
        Some(Err(BadRequest::Malformed)) => Err(Response::status(Status::BadRequest)),
        Some(Err(BadRequest::TooLarge)) => Err(Response::status(Status::HeadTooLarge)),
        None => Err(Response::status(Status::RequestTimeout)),
    };
    match route {
        Ok((Route::Upgrade(switching), request)) => {
            let halves = Halves { reader, writer, cut, direct: None, held: None };
            // Boxed: a connection that only fetches a page need not be sized for a session.
            let rest = request.into_rest();
            Box::pin(open_socket(halves, switching, rest, ticket, accepted)).await;
        }
        Ok((Route::Answer(response), _)) | Err(response) => {
            if write(&mut writer, &assets::harden(response)).await {
                let _ = writer.close().await;
                linger(&mut reader).await;
            }
            cut.cut();
        }
    }
}

/// Answers `101` and serves the chat session over the WebSocket, `rest` being what the
/// client sent after its request; its registration time runs from `accepted`.
async fn open_socket<R, W>(
    halves: Halves<R, W>,
    switching: Response,
    rest: Vec<u8>,
    ticket: Ticket,
    accepted: Instant,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Halves { reader, mut writer, cut, .. } = halves;
    if !write(&mut writer, &switching).await {
        return;
    }
    debug!(peer = %ticket.peer, "WebSocket opened");
    let max_line = ticket.shared.config.max_line;
    let (stream, cut) = Halves { reader, writer, cut, direct: None, held: None }.join();
    let halves = websocket::halves(stream, rest, cut, max_line).await;
    super::session::chat::serve(halves, ticket, accepted).await;
}

/// Where `request` goes: a GET of a known path, or a refusal.
fn route(request: &Request, shared: &Shared, secure: bool) -> Result<Route, Response> {
    if request.method != "GET" {
        return Err(Response::status(Status::MethodNotAllowed).with("Allow", "GET"));
    }
    let answer = match request.path.as_str() {
        "/healthz" => Response::text(Status::Ok, "ok"),
        "/metrics" => {
            let body = super::metrics::render(shared).into_bytes();
            Response::new(Status::Ok, METRICS_TYPE, body.into())
        }
        "/ws" => {
            let allowed = &shared.config.web_origin;
            return upgrade::check(request, secure, allowed).map(Route::Upgrade);
        }
        path => assets::asset(path).ok_or_else(|| Response::status(Status::NotFound))?,
    };
    Ok(Route::Answer(answer))
}

/// Writes `response` whole, within [`WRITE_TIMEOUT`]; false if it could not be.
async fn write<W: AsyncWrite + Unpin>(writer: &mut W, response: &Response) -> bool {
    let bytes = response.encode();
    let written = async {
        writer.write_all(&bytes).await?;
        writer.flush().await
    };
    matches!(within(WRITE_TIMEOUT, written).await, Some(Ok(())))
}

/// Reads and discards the client's input until it closes, for at most [`LINGER`] and
/// [`LINGER_BYTES`].
async fn linger<R: AsyncRead + Unpin>(reader: &mut R) {
    let drain = async {
        let (mut buf, mut left) = ([0u8; 1024], LINGER_BYTES);
        while left > 0 {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    within(LINGER, drain).await;
}

/// Awaits `task` for at most `timeout`; `None` if it took longer.
async fn within<T>(timeout: Duration, task: impl Future<Output = T>) -> Option<T> {
    future::or(async { Some(task.await) }, async {
        Timer::after(timeout).await;
        None
    })
    .await
}

/// The answer, in plain HTTP, to a client that speaks plain HTTP to an `https://` port.
pub fn tls_required() -> Vec<u8> {
    let text = "this port speaks TLS: use https://";
    assets::harden(Response::text(Status::BadRequest, text)).encode()
}

/// The answer to a connection that is not admitted.
pub fn refusal(full: Full) -> Vec<u8> {
    let text = match full {
        Full::Server { max } => format!("server is full ({max} clients); try again later"),
        Full::Address { max } => format!("too many connections from your address (at most {max})"),
    };
    let response = Response::text(Status::Unavailable, &text).with("Retry-After", "10");
    assets::harden(response).encode()
}
