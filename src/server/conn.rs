//! One client connection: the nickname handshake, then the reader loop that turns its lines
//! into room events. Its writer task lives in `outbox`.

use std::future::Future;
use std::io;
use std::net::TcpStream;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::{future, AsyncRead};
use smol::{Async, Task, Timer};
use tracing::{debug, info};

use super::flood::{FloodGate, Verdict};
use super::outbox::{Outbox, PushError};
use super::room::{encode, ClientId, RoomError};
use super::Ticket;
use crate::framed::{LineReader, LineTooLong};
use crate::protocol::{
    decode_line, Command, CommandError, ErrorCode, Event, Nick, NickError, TextError, HELP,
};

/// After our last line, how long we keep reading (and discarding) the peer's input so that
/// closing the socket does not reset the connection and destroy lines still in flight.
/// Never longer than the configured shutdown grace.
const LINGER: Duration = Duration::from_secs(1);

/// What the reader got when it waited for input.
enum Input {
    /// A line of valid text (possibly empty).
    Line(String),
    /// A line that was refused before it became text; the client is told, nothing else.
    Refused(ErrorCode, String),
    /// The peer closed the connection or it failed.
    Closed,
    /// The server is shutting down.
    Stopped,
    /// The deadline passed.
    TimedOut,
}

/// How the chat loop ended, which decides the reason the room hears.
enum Ending {
    /// The client said `/quit`, with its reason.
    Quit(String),
    /// The connection closed without a `/quit`.
    Closed,
    /// Its own queue overflowed: it is not reading.
    QueueFull,
    /// The server is shutting down (the room already said goodbye).
    Stopped,
    /// It stayed over the flood rate.
    Flood,
    /// It started a line and stalled.
    LineTimeout,
    /// It did not answer a `PING`.
    PingTimeout,
}

impl Ending {
    /// What the room hears in `LEAVE nick <reason>`.
    fn reason(self) -> String {
        match self {
            Ending::Quit(reason) => reason,
            Ending::Closed => "connection closed".into(),
            Ending::QueueFull => "send queue full".into(),
            Ending::Stopped => "server shutting down".into(),
            Ending::Flood => "flooding".into(),
            Ending::LineTimeout => "line timeout".into(),
            Ending::PingTimeout => "ping timeout".into(),
        }
    }
}

/// One connection's reading side and what it needs to act on the room.
///
/// It lives in the connection's task for as long as the client is connected, and the
/// task mostly waits in [`Connection::next_input`], which keeps its state here rather
/// than in a future of its own: ten thousand idle clients are ten thousand of these.
struct Connection {
    /// Tells this connection's room membership from a later holder of the same nick.
    id: ClientId,
    /// Counts the connection as open, and holds the server state and the peer's address.
    ticket: Ticket,
    /// The client's lines, framed and bounded.
    reader: LineReader<Socket>,
    /// The client's queue; its writer task is the only one writing the socket.
    outbox: Outbox,
    /// The next deadline of [`Connection::next_input`], reset for every wait.
    timer: Timer,
    /// Set when a reply could not be queued: `Full` means the client stopped reading,
    /// `Closed` that the connection is already ending (peer gone, or server shutdown).
    push_failed: Option<PushError>,
    /// Flood control for this client's lines.
    gate: FloodGate,
    /// When the client last sent a whole line; silence past `ping_interval` earns a `PING`.
    last_heard: Instant,
    /// When the outstanding `PING` was sent, if one is.
    ping_sent: Option<Instant>,
}

/// The reading side of a client's socket. It reads through `&Async`, which waits in the
/// reactor's own waker slot, where `async_net::TcpStream` would keep a readiness future
/// (and a waker list entry) for every idle reader.
struct Socket(Arc<Async<TcpStream>>);

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

/// Sets up one client (its queue and writer task are started at once) and returns the
/// task that serves it from handshake to goodbye. Everything the task keeps is built
/// here, so its future holds the [`Connection`] once rather than also the arguments it
/// was made from.
pub(super) fn serve(
    stream: async_net::TcpStream,
    id: ClientId,
    ticket: Ticket,
) -> impl Future<Output = ()> + Send + 'static {
    let stream: Arc<Async<TcpStream>> = stream.into();
    let config = &ticket.shared.config;
    let (outbox, writer) = Outbox::spawn(stream.clone(), config.queue_len, config.queue_bytes);
    let reader = LineReader::new(Socket(stream), config.max_line);
    let now = Instant::now();
    let gate = FloodGate::new(config.flood_rate, config.flood_burst, now);
    debug!(peer = %ticket.peer, id, "connected");
    let mut conn = Connection {
        id,
        ticket,
        reader,
        outbox,
        timer: Timer::never(),
        push_failed: None,
        gate,
        last_heard: now,
        ping_sent: None,
    };
    async move {
        conn.run().await;
        // Boxed: it runs once, at the end, and would otherwise size the task for its life.
        Box::pin(conn.close(writer)).await;
    }
}

impl Connection {
    /// Lets the writer send what is queued (within the shutdown grace), then lingers.
    async fn close(&mut self, writer: Task<()>) {
        self.outbox.finish();
        let grace = self.ticket.shared.config.shutdown_grace;
        let flushed = future::or(
            async {
                writer.await;
                true
            },
            async {
                Timer::after(grace).await;
                false
            },
        );
        if flushed.await {
            self.linger().await;
        } else {
            self.outbox.abort();
        }
    }

    async fn run(&mut self) {
        // Boxed, like the line handling below, so that the connection's task, which waits
        // for input most of its life, is only as large as that wait.
        let Some(mut nick) = Box::pin(self.handshake()).await else { return };
        let ending = self.chat(&mut nick).await;
        if !matches!(ending, Ending::Stopped) {
            self.ticket.shared.room.leave(self.id, &nick, &ending.reason()).await;
        }
    }

    /// Asks for a nickname until a valid, free one is given; `None` if the client never
    /// gives one (it left, timed out, or the server stopped).
    async fn handshake(&mut self) -> Option<Nick> {
        let deadline = Instant::now() + self.ticket.shared.config.handshake_timeout;
        loop {
            self.reply(&Event::NickRequest);
            if self.push_failed.is_some() {
                return None;
            }
            let line = match self.next_input(deadline).await {
                Input::Line(line) => line,
                Input::Refused(code, text) => {
                    self.reply_error(code, text);
                    if self.flood_check(Instant::now()) == Verdict::Disconnect {
                        return None;
                    }
                    future::yield_now().await;
                    continue;
                }
                Input::TimedOut => {
                    info!(peer = %self.ticket.peer, "disconnected: no nickname in time");
                    self.reply_error(
                        ErrorCode::HandshakeTimeout,
                        "no nickname chosen in time; goodbye".into(),
                    );
                    return None;
                }
                Input::Stopped => {
                    self.reply(&Event::Bye { reason: "server shutting down".into() });
                    return None;
                }
                Input::Closed => return None,
            };
            if matches!(Command::parse(&line), Ok(Some(Command::Quit(_)))) {
                return None;
            }
            // Nickname attempts are lines too: a client cannot spin the server on them.
            match self.flood_check(Instant::now()) {
                Verdict::Accept => {}
                Verdict::Drop { .. } => continue,
                Verdict::Disconnect => return None,
            }
            if let Some(nick) = self.try_register(line.trim()).await {
                return Some(nick);
            }
            // Lines pipelined in one packet would otherwise all be answered before the
            // writer task got to send any of the answers.
            future::yield_now().await;
        }
    }

    /// Validates and claims one proposed nickname, telling the client why if it fails.
    async fn try_register(&mut self, proposed: &str) -> Option<Nick> {
        let nick = match Nick::parse(proposed, self.ticket.shared.config.max_nick) {
            Ok(nick) => nick,
            Err(error) => {
                self.reply_nick_error(&error);
                return None;
            }
        };
        match self.ticket.shared.room.join(self.id, &nick, &self.outbox).await {
            Ok(_) => Some(nick),
            Err(RoomError::Closed) => {
                self.reply(&Event::Bye { reason: "server shutting down".into() });
                None
            }
            Err(RoomError::Unreachable) => {
                self.push_failed = Some(PushError::Full);
                None
            }
            Err(_) => {
                self.reply_error(ErrorCode::NickTaken, format!("nickname {nick} is taken"));
                None
            }
        }
    }

    /// Reads the member's lines and acts on them until it leaves.
    async fn chat(&mut self, nick: &mut Nick) -> Ending {
        loop {
            let ending = match self.next_input(self.next_deadline()).await {
                Input::Line(line) => Box::pin(self.admit_line(nick, &line)).await,
                Input::Refused(code, text) => {
                    self.heard();
                    self.reply_error(code, text);
                    let verdict = self.flood_check(Instant::now());
                    (verdict == Verdict::Disconnect).then_some(Ending::Flood)
                }
                Input::Closed => Some(Ending::Closed),
                Input::Stopped => Some(Ending::Stopped),
                Input::TimedOut => self.check_timers(nick, Instant::now()),
            };
            match self.push_failed {
                Some(PushError::Full) => {
                    self.outbox.abort();
                    return Ending::QueueFull;
                }
                Some(PushError::Closed) => return Ending::Closed,
                None => {}
            }
            if let Some(ending) = ending {
                return ending;
            }
            // A burst of lines already buffered would otherwise be broadcast without a
            // pause, filling every queue before any writer task got to run.
            future::yield_now().await;
        }
    }

    /// Notes that the client is alive: any whole line answers a `PING`.
    fn heard(&mut self) {
        self.last_heard = Instant::now();
        self.ping_sent = None;
    }

    /// Passes a line through flood control, then acts on it.
    async fn admit_line(&mut self, nick: &mut Nick, line: &str) -> Option<Ending> {
        self.heard();
        let parsed = Command::parse(line);
        // Answers to our own pings never count against the client.
        if let Ok(Some(Command::Pong(_))) = parsed {
            return None;
        }
        match self.flood_check(self.last_heard) {
            Verdict::Accept => self.handle(nick, parsed).await,
            Verdict::Drop { .. } => None,
            Verdict::Disconnect => Some(Ending::Flood),
        }
    }

    /// Runs flood control for one line, warning or logging as it decides.
    fn flood_check(&mut self, now: Instant) -> Verdict {
        let verdict = self.gate.check(now);
        match verdict {
            Verdict::Accept | Verdict::Drop { warn: false } => {}
            Verdict::Drop { warn: true } => {
                let rate = self.ticket.shared.config.flood_rate;
                let text =
                    format!("slow down: over {rate} lines per second; lines are being dropped");
                self.reply_error(ErrorCode::RateLimited, text);
            }
            Verdict::Disconnect => {
                info!(peer = %self.ticket.peer, "disconnected: flooding");
                self.reply_error(ErrorCode::Flood, "disconnected for flooding".into());
            }
        }
        verdict
    }

    /// The earliest moment a timer (stalled line, unanswered ping, due ping) needs a look.
    fn next_deadline(&self) -> Instant {
        let config = &self.ticket.shared.config;
        let now = Instant::now();
        // A line that starts while we wait is noticed at the latest one timeout from now.
        let line = self.reader.partial_since().unwrap_or(now) + config.line_timeout;
        let ping = match self.ping_sent {
            Some(sent) => sent + config.ping_timeout,
            None => self.last_heard + config.ping_interval,
        };
        line.min(ping)
    }

    /// Acts on whichever timer has expired.
    fn check_timers(&mut self, nick: &Nick, now: Instant) -> Option<Ending> {
        let config = &self.ticket.shared.config;
        if self.reader.partial_since().is_some_and(|since| now >= since + config.line_timeout) {
            info!(nick = %nick, "disconnected: line not finished in time");
            self.reply_error(ErrorCode::LineTimeout, "line not finished in time; goodbye".into());
            return Some(Ending::LineTimeout);
        }
        match self.ping_sent {
            Some(sent) if now >= sent + config.ping_timeout => {
                info!(nick = %nick, "disconnected: no answer to PING");
                self.reply_error(ErrorCode::PingTimeout, "no answer to PING; goodbye".into());
                Some(Ending::PingTimeout)
            }
            None if now >= self.last_heard + config.ping_interval => {
                self.ping_sent = Some(now);
                let token = now.duration_since(self.last_heard).as_millis().to_string();
                self.reply(&Event::Ping { token });
                None
            }
            _ => None,
        }
    }

    /// Acts on one parsed line from a member; `Some` when it ends the session.
    async fn handle(
        &mut self,
        nick: &mut Nick,
        parsed: Result<Option<Command>, CommandError>,
    ) -> Option<Ending> {
        match parsed {
            Ok(None) => None,
            Ok(Some(command)) => self.execute(nick, command).await,
            Err(error @ CommandError::Unknown(_)) => {
                self.reply_error(ErrorCode::UnknownCommand, error.to_string());
                None
            }
            Err(error @ CommandError::Usage(_)) => {
                self.reply_error(ErrorCode::Usage, error.to_string());
                None
            }
        }
    }

    async fn execute(&mut self, nick: &mut Nick, command: Command) -> Option<Ending> {
        let room = &self.ticket.shared.room;
        match command {
            Command::Say(text) => {
                debug!(nick = %nick, text = %text.escape_debug(), "message");
                room.broadcast(&Event::Message { from: nick.to_string(), text }).await;
            }
            Command::Me(text) => {
                debug!(nick = %nick, text = %text.escape_debug(), "action");
                room.broadcast(&Event::Action { from: nick.to_string(), text }).await;
            }
            Command::Msg { to, text } => {
                if room.whisper(self.id, nick, &self.outbox, &to, &text).await.is_err() {
                    self.reply_error(ErrorCode::NoSuchNick, format!("{to} is not online"));
                }
            }
            Command::Nick(new) => self.rename(nick, &new).await,
            Command::Who => {
                if let Err(error) = room.who(&self.outbox).await {
                    self.push_failed = Some(error);
                }
            }
            Command::Help => {
                for text in HELP {
                    self.reply(&Event::Info { text: (*text).to_string() });
                }
            }
            Command::Pong(_) => {}
            Command::Quit(reason) => {
                return Some(Ending::Quit(
                    reason.map_or_else(|| "quit".to_string(), |r| format!("quit: {r}")),
                ));
            }
        }
        None
    }

    async fn rename(&mut self, nick: &mut Nick, proposed: &str) {
        let new = match Nick::parse(proposed, self.ticket.shared.config.max_nick) {
            Ok(new) => new,
            Err(error) => return self.reply_nick_error(&error),
        };
        match self.ticket.shared.room.rename(self.id, nick, &new).await {
            Ok(()) => *nick = new,
            Err(_) => self.reply_error(ErrorCode::NickTaken, format!("nickname {new} is taken")),
        }
    }

    /// Waits for the next line, the server's stop, or `deadline`, whichever comes first.
    async fn next_input(&mut self, deadline: Instant) -> Input {
        self.timer.set_at(deadline);
        let Connection { ticket, reader, timer, .. } = self;
        let mut stop = pin!(ticket.shared.stop.recv());
        future::poll_fn(|cx| {
            // The stop is polled first, so a peer with lines always ready cannot hide it.
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Input::Stopped);
            }
            if let Poll::Ready(read) = reader.poll_next_line(cx) {
                return Poll::Ready(match read {
                    Ok(Some(Ok(bytes))) => match decode_line(bytes) {
                        Ok(text) => Input::Line(text.to_string()),
                        Err(error) => refused_text(error),
                    },
                    Ok(Some(Err(LineTooLong))) => Input::Refused(
                        ErrorCode::LineTooLong,
                        format!(
                            "line longer than {} bytes was dropped",
                            ticket.shared.config.max_line
                        ),
                    ),
                    Ok(None) | Err(_) => Input::Closed,
                });
            }
            if Pin::new(&mut *timer).poll(cx).is_ready() {
                return Poll::Ready(Input::TimedOut);
            }
            Poll::Pending
        })
        .await
    }

    /// Queues a line for this client alone; a failure is remembered and ends the session.
    fn reply(&mut self, event: &Event) {
        if let Err(error) = self.outbox.push_reply(encode(event)) {
            self.push_failed.get_or_insert(error);
        }
    }

    fn reply_error(&mut self, code: ErrorCode, text: String) {
        self.reply(&Event::Error { code, text });
    }

    fn reply_nick_error(&mut self, error: &NickError) {
        let code = match error {
            NickError::TooLong { .. } => ErrorCode::NickTooLong,
            NickError::Empty | NickError::Invalid { .. } => ErrorCode::NickInvalid,
        };
        self.reply_error(code, error.to_string());
    }

    /// Reads and discards until the peer closes or [`LINGER`] passes.
    async fn linger(&mut self) {
        let linger = LINGER.min(self.ticket.shared.config.shutdown_grace);
        let drain = async {
            while let Ok(Some(_)) = self.reader.next_line().await {
                future::yield_now().await;
            }
        };
        future::or(drain, async {
            Timer::after(linger).await;
        })
        .await;
    }
}

fn refused_text(error: TextError) -> Input {
    let code = match error {
        TextError::InvalidUtf8 => ErrorCode::InvalidUtf8,
        TextError::ControlChar(_) => ErrorCode::ControlChar,
    };
    Input::Refused(code, format!("{error}; the line was dropped"))
}
