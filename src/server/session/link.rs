//! A client's connection as every protocol's session sees it: lines in (bounded, checked
//! text), the queue out, and the limits that do not depend on the protocol: flood control,
//! stalled lines, keep-alive pings, the server's stop, and a gentle close. It also counts
//! the connection for `/metrics`: open while the link lives, its lines, and why it ended.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::{future, AsyncRead};
use smol::{Task, Timer};

use super::super::admission::Ticket;
use super::super::flood::{FloodGate, Verdict};
use super::super::metrics::{Dialect, Disconnect};
use super::super::stop::Place;
use super::super::transport::Held;
use crate::core::{Chunk, Outbox};
use crate::framed::{LineReader, LineTooLong};
use crate::proto::chat::TextError;

/// How a protocol frames its lines: the longest one, and what text it accepts.
#[derive(Clone, Copy)]
pub struct Framing {
    /// The protocol, as the connection's counts are labelled.
    pub dialect: Dialect,
    /// The longest line, in bytes, without its `\n`.
    pub max_line: usize,
    /// Checks a line's bytes and returns its text.
    pub decode: fn(&[u8]) -> Result<&str, TextError>,
}

/// After our last line, how long we keep reading (and discarding) the peer's input so that
/// closing the socket does not reset the connection and destroy lines still in flight.
/// Never longer than the configured shutdown grace.
const LINGER: Duration = Duration::from_secs(1);

/// What the session got when it waited for input.
pub enum Input {
    /// A line of valid text (possibly empty).
    Line(String),
    /// A line that was refused before it became text; the client is told, nothing else.
    Refused(Refusal),
    /// The peer closed the connection, it failed, or it was cut off.
    Closed,
    /// The server is shutting down.
    Stopped,
    /// A deadline passed (see [`Link::next`] for which ones).
    Alarm(Alarm),
}

/// Why a line was refused.
pub enum Refusal {
    /// Longer than the line limit; its bytes were skipped.
    TooLong,
    /// Not UTF-8, or holding a control character.
    Text(TextError),
}

/// How often [`Link::room`] looks at the queue again while it waits for room.
const ROOM_CHECK: Duration = Duration::from_millis(5);

/// A deadline that passed.
pub enum Alarm {
    /// The deadline the session asked for (registration, for instance).
    Deadline,
    /// A line was started and not finished within the line timeout.
    LineTimeout,
    /// The client has been silent for the ping interval: send this token in a ping.
    PingDue(String),
    /// The ping went unanswered for the ping timeout.
    PingTimeout,
}

/// One connection's reading side and its queue.
///
/// It lives in the connection's task for as long as the client is connected, and the
/// task mostly waits in [`Link::next`], which keeps its state here rather than in a future
/// of its own: ten thousand idle clients are ten thousand of these.
pub struct Link<R> {
    /// Counts the connection as open, and holds the server state and the peer's address.
    pub ticket: Ticket,
    /// The client's lines, framed and bounded.
    reader: LineReader<R>,
    /// The client's queue; whoever holds its turn (its writer task, or a flush) writes it.
    pub outbox: Outbox,
    /// Wakes the connection for its next deadline; see [`Link::arm`].
    timer: Timer,
    /// The deadline the timer was last set for, or `None` if none is set or its firing
    /// has been seen.
    armed: Option<Instant>,
    /// Flood control for this client's lines.
    gate: FloodGate,
    /// When the client last sent a whole line, or, until its first, when it connected;
    /// silence past `ping_interval` earns a ping.
    last_heard: Instant,
    /// When the outstanding ping was sent, if one is.
    ping_sent: Option<Instant>,
    /// What text the protocol accepts.
    decode: fn(&[u8]) -> Result<&str, TextError>,
    /// The protocol, as the connection's counts are labelled.
    dialect: Dialect,
    /// Why the connection is ending, once the session has said.
    ending: Option<Disconnect>,
    /// Where the server's stop keeps this connection's waker.
    stop: Place,
    /// Input the transport holds back until it is whole (a WebSocket message in
    /// fragments), which the line timer counts as a line begun.
    held: Option<Arc<Held>>,
}

impl<R: AsyncRead + Unpin> Link<R> {
    /// The link for a connection accepted at `accepted` that reads lines framed as
    /// `framing` says from `reader` and queues into `outbox`; it counts as open until
    /// dropped.
    pub fn new(
        ticket: Ticket,
        reader: R,
        outbox: Outbox,
        framing: Framing,
        accepted: Instant,
    ) -> Link<R> {
        let config = &ticket.shared.config;
        let reader = LineReader::new(reader, framing.max_line);
        let now = Instant::now();
        let gate = FloodGate::new(config.flood_rate, config.flood_burst, now);
        let (timer, decode, dialect) = (Timer::never(), framing.decode, framing.dialect);
        ticket.shared.metrics.opened(dialect);
        let (last_heard, ping_sent, ending, stop) = (accepted, None, None, Place::default());
        Link {
            ticket,
            reader,
            outbox,
            timer,
            armed: None,
            gate,
            last_heard,
            ping_sent,
            decode,
            dialect,
            ending,
            stop,
            held: None,
        }
    }

    /// Times out input held back below the reader (`held`) as an unfinished line.
    pub fn time_held(&mut self, held: Arc<Held>) {
        self.held = Some(held);
    }

    /// When the unfinished line now held began to arrive, whether the line reader or the
    /// transport under it holds it; `None` between lines.
    fn partial_since(&self) -> Option<Instant> {
        let held = self.held.as_ref().and_then(|held| held.since());
        self.reader.partial_since().into_iter().chain(held).min()
    }

    /// When the client must have registered (TLS handshake, password and nickname, all in
    /// one): `--handshake-timeout` after it connected. Asked before its first line, while
    /// `last_heard` is still the moment it connected; the link keeps no other
    /// copy of it, as every idle connection would pay for one.
    pub fn registration_deadline(&self) -> Instant {
        self.last_heard + self.ticket.shared.config.handshake_timeout
    }

    /// Notes why the connection is ending, for `/metrics`; the first reason given stands
    /// (a flood noticed in the handshake stays a flood, whatever follows).
    pub fn ending(&mut self, why: Disconnect) {
        self.ending.get_or_insert(why);
    }

    /// Queues bytes for this client alone. A failure needs no handling here: a full queue
    /// cuts the connection off, and the next wait for input sees it closed.
    pub fn reply(&self, bytes: impl Into<Chunk>) {
        let _ = self.outbox.push_reply(bytes.into());
    }

    /// Runs flood control for one line arriving now.
    pub fn flood_check(&mut self) -> Verdict {
        self.gate.check(Instant::now())
    }

    /// Waits for the next line of a registered client, the server's stop, or one of the
    /// connection's deadlines: a stalled line, a ping that is due, a ping unanswered.
    pub async fn next(&mut self) -> Input {
        loop {
            let due = self.next_deadline();
            if self.armed.is_none_or(|armed| armed > due) {
                self.arm(due);
            }
            let input = future::poll_fn(|cx| self.poll_input(cx)).await;
            match input {
                Input::Alarm(Alarm::Deadline) => {
                    if let Some(alarm) = self.check_timers(Instant::now()) {
                        return Input::Alarm(alarm);
                    }
                }
                Input::Line(_) | Input::Refused(_) => {
                    // Any line, good or bad, answers a ping.
                    self.last_heard = Instant::now();
                    self.ping_sent = None;
                    return input;
                }
                other => return other,
            }
        }
    }

    /// The earliest moment a timer (stalled line, unanswered ping, due ping) needs a look.
    fn next_deadline(&self) -> Instant {
        let config = &self.ticket.shared.config;
        let now = Instant::now();
        // A line that starts while we wait is noticed at the latest one timeout from now.
        let line = self.partial_since().unwrap_or(now) + config.line_timeout;
        let ping = match self.ping_sent {
            Some(sent) => sent + config.ping_timeout,
            None => self.last_heard + config.ping_interval,
        };
        line.min(ping)
    }

    /// Which timer has expired, if any.
    fn check_timers(&mut self, now: Instant) -> Option<Alarm> {
        let config = &self.ticket.shared.config;
        if self.partial_since().is_some_and(|since| now >= since + config.line_timeout) {
            return Some(Alarm::LineTimeout);
        }
        match self.ping_sent {
            Some(sent) if now >= sent + config.ping_timeout => Some(Alarm::PingTimeout),
            None if now >= self.last_heard + config.ping_interval => {
                self.ping_sent = Some(now);
                let token = now.duration_since(self.last_heard).as_millis().to_string();
                Some(Alarm::PingDue(token))
            }
            _ => None,
        }
    }

    /// Waits for the next line, the server's stop, or `deadline`, whichever comes first.
    pub async fn next_input(&mut self, deadline: Instant) -> Input {
        if self.armed != Some(deadline) {
            self.arm(deadline);
        }
        // Everything the wait needs is in the link: its future is one reference.
        future::poll_fn(|cx| self.poll_input(cx)).await
    }

    /// Waits until the client's queue has room for the answers to one more target of a
    /// command (`JOIN #a,#b,...` answers each channel in an entry of its own, queued under
    /// that room's lock), the server stops, or the ping timeout passes: a client that has
    /// read nothing for that long is not reading, and is cut off by whatever overflows its
    /// queue next, as anyone's would be.
    ///
    /// The queue is looked at again every few milliseconds rather than waking this task
    /// when it drains: the wait is rare (a client naming many channels at once), and a
    /// waker kept for it would cost every idle connection.
    ///
    /// True once there is room; false if the server stops or the client read nothing for
    /// the whole wait, when an answer in parts had better stop than go on.
    pub async fn room(&mut self) -> bool {
        let give_up = Instant::now() + self.ticket.shared.config.ping_timeout;
        let Link { ticket, outbox, stop, .. } = self;
        while !outbox.has_room() {
            if Instant::now() >= give_up {
                return false;
            }
            let mut look_again = Timer::after(ROOM_CHECK);
            let stopped = future::poll_fn(|cx| {
                if ticket.shared.stop.poll(stop, cx).is_ready() {
                    return Poll::Ready(true);
                }
                Pin::new(&mut look_again).poll(cx).map(|_| false)
            })
            .await;
            if stopped {
                return false;
            }
        }
        true
    }

    /// Sets the timer for `deadline`.
    ///
    /// Every change of a timer's deadline interrupts the reactor's wait, a system call and
    /// often a wake-up of another thread; a deadline reset for every line would cost one
    /// per message. So [`Link::next`] only moves it earlier: a deadline that has since
    /// moved later (the client spoke, so its ping is later) fires early once, finds nothing
    /// due, and is set again.
    fn arm(&mut self, deadline: Instant) {
        self.timer.set_at(deadline);
        self.armed = Some(deadline);
    }

    /// One look at the stop, the connection and the timer, in that order.
    fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<Input> {
        let Link { ticket, reader, timer, armed, decode, dialect, stop, .. } = self;
        // The stop is polled first, so a peer with lines always ready cannot hide it.
        if ticket.shared.stop.poll(stop, cx).is_ready() {
            return Poll::Ready(Input::Stopped);
        }
        if let Poll::Ready(read) = reader.poll_next_line(cx) {
            if matches!(read, Ok(Some(_))) {
                ticket.shared.metrics.line_in(*dialect);
            }
            return Poll::Ready(match read {
                Ok(Some(Ok(bytes))) => match decode(bytes) {
                    Ok(text) => Input::Line(text.to_string()),
                    Err(error) => Input::Refused(Refusal::Text(error)),
                },
                Ok(Some(Err(LineTooLong))) => Input::Refused(Refusal::TooLong),
                Ok(None) | Err(_) => Input::Closed,
            });
        }
        if Pin::new(&mut *timer).poll(cx).is_ready() {
            *armed = None;
            return Poll::Ready(Input::Alarm(Alarm::Deadline));
        }
        Poll::Pending
    }

    /// Lets the writer send what is queued (within the shutdown grace), then lingers.
    pub async fn close(&mut self, mut writer: Task<()>) {
        self.outbox.finish();
        let grace = self.ticket.shared.config.shutdown_grace;
        let flushed = future::or(
            async {
                (&mut writer).await;
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
            // Cut before the writer is dropped, which gives its turn back mid-line.
            self.outbox.abort();
            drop(writer);
        }
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

/// The end is counted here rather than at the end of a session, so that a connection is
/// counted as ended exactly once, even if its task is dropped mid-way. Without a reason
/// from the session it closed, which was the queue overflowing if it did.
impl<R> Drop for Link<R> {
    fn drop(&mut self) {
        let why = match self.ending {
            Some(Disconnect::Closed) | None if self.outbox.overflowed() => {
                Disconnect::SendQueueFull
            }
            Some(why) => why,
            None => Disconnect::Closed,
        };
        self.ticket.shared.metrics.closed(self.dialect, why);
        self.ticket.shared.stop.leave(&mut self.stop);
    }
}
