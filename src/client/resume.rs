//! Taking our place again after a lost connection: what the client must remember (its
//! nickname, its rooms, the password it identified with), and reconnecting with backoff.
//!
//! The terminal client uses it; so can any other front end that holds a [`Destination`]:
//! feed [`Resume::follow`] every server line and [`Resume::typed`] every line sent, and
//! when the connection is lost call [`reconnect`].

use std::future::Future;
use std::time::{Duration, Instant};

use super::connection::{Client, ClientError, Welcome};
use super::render::{clean, same_name};
use super::session::{connect, within, ChatError, Destination, Secret, REGISTER_TIMEOUT};
use crate::core::is_guest;
use crate::proto::chat::{Command, ErrorCode, Line};
use crate::unicode;

/// Whether an `ERROR` with `code` may be the answer to an `/identify` or `/register`: an
/// error of a room, or of a message, arriving meanwhile leaves the password offered.
fn may_refuse_a_password(code: &ErrorCode) -> bool {
    !matches!(
        code,
        ErrorCode::NotInRoom
            | ErrorCode::NoSuchRoom
            | ErrorCode::RoomInvalid
            | ErrorCode::RoomConfusable
            | ErrorCode::TooManyRooms
            | ErrorCode::ServerRoomsFull
            | ErrorCode::TopicTooLong
            | ErrorCode::NoSuchNick
            | ErrorCode::NotOwner
            | ErrorCode::NotMember
            | ErrorCode::RoomRegistered
            | ErrorCode::TooManyOwnedRooms
    )
}

/// The first wait before reconnecting: long enough for a restarting server to listen.
const FIRST_DELAY: Duration = Duration::from_secs(1);

/// The longest wait between two attempts, so a server back after an hour is found soon.
const MAX_DELAY: Duration = Duration::from_secs(30);

/// How long a connection must have stayed up for its loss to start the waits over: a
/// server that welcomes and then drops us at once is not tried again every second.
const STABLE: Duration = Duration::from_secs(60);

/// What the client needs to take its place again, learnt from what it sent and heard.
#[derive(Debug, Clone)]
pub struct Resume {
    /// The nickname to take again: the last one the server granted us that was not a
    /// guest name, which only the server gives and nobody may ask for.
    nick: String,
    /// Our nickname now, as the server last named us (a guest name, perhaps).
    named: String,
    /// The rooms we are in, the current one last (so rejoining them in order leaves it
    /// current).
    rooms: Vec<String>,
    /// The password we identified with; in memory only, never written anywhere.
    identified: Option<Secret>,
    /// A password sent with `/identify` or `/register`, until the server accepts it.
    offered: Option<Secret>,
}

impl Resume {
    /// Nothing to take again yet but `nick`.
    pub fn new(nick: &str) -> Resume {
        let (nick, named) = (nick.to_string(), nick.to_string());
        Resume { nick, named, rooms: Vec::new(), identified: None, offered: None }
    }

    /// The nickname to register again.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// The rooms to rejoin, the current one last.
    pub fn rooms(&self) -> &[String] {
        &self.rooms
    }

    /// Notes a line we sent: the password of an `/identify` or `/register`, kept until the
    /// server says whether it was right.
    pub fn typed(&mut self, line: &str) {
        self.offered = match Command::parse(line) {
            Ok(Some(Command::Identify { password, .. } | Command::Register(password))) => {
                Some(Secret(password))
            }
            _ => return,
        };
    }

    /// Learns from a server line who we are, where we are, and whether we identified.
    pub fn follow(&mut self, line: &Line) {
        match line {
            Line::Welcome { nick, .. } => self.renamed(nick),
            Line::Rename { old, new } if same_name(old, &self.named) => self.renamed(new),
            Line::Join { room, nick } if same_name(nick, &self.named) => self.enter(room),
            Line::Leave { room, nick, .. } | Line::Kick { room, nick, .. }
                if same_name(nick, &self.named) =>
            {
                self.rooms.retain(|known| !same_name(known, room));
            }
            Line::Room { room: Some(room) } => self.enter(room),
            Line::Account { nick: Some(_) } => {
                if let Some(password) = self.offered.take() {
                    self.identified = Some(password);
                }
            }
            Line::Account { nick: None } => self.identified = None,
            Line::Error { code, .. } if may_refuse_a_password(code) => self.offered = None,
            _ => {}
        }
    }

    /// What to send once registered again: `/identify` if we had, then a `/join` per room.
    pub fn commands(&self) -> Vec<Command> {
        let identify = self
            .identified
            .iter()
            .map(|secret| Command::Identify { nick: None, password: secret.0.clone() });
        identify.chain(self.rooms.iter().cloned().map(Command::Join)).collect()
    }

    /// Notes our new nickname. A guest name (given when we did not identify in time) is
    /// not one to ask for again: the server would refuse it as taken at every attempt.
    fn renamed(&mut self, nick: &str) {
        self.named = nick.to_string();
        if !is_guest(&unicode::fold(nick)) {
            self.nick = nick.to_string();
        }
    }

    /// Puts `room` last, where the current room goes.
    fn enter(&mut self, room: &str) {
        self.rooms.retain(|known| !same_name(known, room));
        self.rooms.push(room.to_string());
    }
}

/// Waits that double after each failed attempt, up to [`MAX_DELAY`], and go on doubling
/// across connections lost soon after they were made; only a connection that stayed up
/// [`STABLE`] starts them over. Keep one for the life of the client.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The wait before the next attempt.
    next: Duration,
    /// When the connection of the moment was made, if one is up.
    up_since: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { next: FIRST_DELAY, up_since: None }
    }
}

impl Backoff {
    /// The wait before the next attempt; the one after it is twice as long.
    pub fn delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        delay
    }

    /// Notes that a connection was made (registered) at `now`.
    pub fn connected(&mut self, now: Instant) {
        self.up_since = Some(now);
    }

    /// Notes that the connection was lost at `now`: if it had stayed up [`STABLE`], the
    /// waits start over from the first; otherwise they carry on growing.
    pub fn lost(&mut self, now: Instant) {
        let up = self.up_since.take().map(|since| now.saturating_duration_since(since));
        if up.is_some_and(|up| up >= STABLE) {
            self.next = FIRST_DELAY;
        }
    }
}

/// Reconnects to `destination` after losing the connection because of `lost`, until it
/// works: registers [`Resume::nick`] and sends [`Resume::commands`]. Before each attempt it
/// awaits `wait(attempt, delay, why)` (attempt 1 is after the loss itself), which should
/// say so and sleep `delay`, and may return `false` to give up; then the error is `why`.
/// A refusal that would only be repeated (an invalid nickname) also ends it. The delays
/// come from `backoff`, which the caller keeps from one loss to the next and tells when
/// its first connection was made ([`Backoff::connected`]).
pub async fn reconnect<F>(
    destination: &Destination,
    resume: &Resume,
    lost: ChatError,
    backoff: &mut Backoff,
    mut wait: impl FnMut(u32, Duration, &ChatError) -> F,
) -> Result<(Client, Welcome), ChatError>
where
    F: Future<Output = bool>,
{
    backoff.lost(Instant::now());
    let mut why = lost;
    for attempt in 1.. {
        if !wait(attempt, backoff.delay(), &why).await {
            break;
        }
        match take_place(destination, resume, REGISTER_TIMEOUT).await {
            Ok(place) => {
                backoff.connected(Instant::now());
                return Ok(place);
            }
            Err(error @ ChatError::Refused(_)) => return Err(error),
            Err(error) => why = error,
        }
    }
    Err(why)
}

/// One attempt: connect, register our nickname, identify and rejoin, all within `limit`
/// (a server that accepts and then says nothing would otherwise stop reconnecting).
async fn take_place(
    destination: &Destination,
    resume: &Resume,
    limit: Duration,
) -> Result<(Client, Welcome), ChatError> {
    let attempt = async {
        let mut client = connect(destination).await?;
        let welcome = match client.register(resume.nick()).await {
            Ok(welcome) => welcome,
            // Most likely our old connection, which the server has not yet seen die.
            Err(ClientError::Refused { code: ErrorCode::NickTaken, text }) => {
                return Err(ChatError::Lost(clean(&text).into_owned()))
            }
            Err(error) => return Err(error.into()),
        };
        for command in resume.commands() {
            client.send(&command).await.map_err(ClientError::from)?;
        }
        Ok((client, welcome))
    };
    within(limit, "register us again", attempt).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_net::TcpListener;
    use futures_lite::io::BufReader;
    use futures_lite::{future, AsyncBufReadExt, AsyncWriteExt, StreamExt};
    use smol::Timer;
    use std::time::Instant;

    fn s(text: &str) -> String {
        text.to_string()
    }

    fn joined(resume: &mut Resume, room: &str) {
        resume.follow(&Line::Join { room: s(room), nick: s("alice") });
        resume.follow(&Line::Room { room: Some(s(room)) });
    }

    #[test]
    fn rooms_are_rejoined_with_the_current_one_last() {
        let mut resume = Resume::new("alice");
        joined(&mut resume, "#lobby");
        joined(&mut resume, "#rust");
        joined(&mut resume, "#go");
        resume.follow(&Line::Join { room: s("#go"), nick: s("bob") });
        resume.follow(&Line::Leave { room: s("#go"), nick: s("alice"), reason: s("part") });
        resume.follow(&Line::Room { room: Some(s("#rust")) });
        assert_eq!(resume.rooms(), [s("#lobby"), s("#rust")]);
        let joins = [Command::Join(s("#lobby")), Command::Join(s("#rust"))];
        assert_eq!(resume.commands(), joins);
    }

    #[test]
    fn the_nickname_follows_renames() {
        let mut resume = Resume::new("alice");
        resume.follow(&Line::Rename { old: s("bob"), new: s("robert") });
        resume.follow(&Line::Rename { old: s("Alice"), new: s("ally") });
        assert_eq!(resume.nick(), "ally");
    }

    #[test]
    fn a_guest_name_given_by_the_server_is_not_asked_for_again() {
        // Nobody may take a guest name, not even whoever the server gave it to: asking for
        // it again would be refused as taken at every attempt, for ever.
        let mut resume = Resume::new("alice");
        resume.follow(&Line::Rename { old: s("alice"), new: s("Guest4821") });
        assert_eq!(resume.nick(), "alice");
        joined(&mut resume, "#rust");
        resume.follow(&Line::Join { room: s("#go"), nick: s("Guest4821") });
        assert_eq!(resume.rooms(), [s("#rust"), s("#go")], "the guest is still us");
        resume.follow(&Line::Rename { old: s("guest4821"), new: s("ally") });
        assert_eq!(resume.nick(), "ally");
    }

    #[test]
    fn a_room_refused_meanwhile_does_not_forget_the_password_offered() {
        let mut resume = Resume::new("alice");
        resume.typed("/identify sekrit-pass");
        let refused = Line::Error { code: ErrorCode::TooManyRooms, text: s("too many") };
        resume.follow(&refused);
        resume.follow(&Line::Account { nick: Some(s("alice")) });
        let again = resume.commands();
        assert!(matches!(again.first(), Some(Command::Identify { .. })), "{again:?}");
    }

    #[test]
    fn a_password_is_kept_only_once_the_server_accepted_it() {
        let mut resume = Resume::new("alice");
        resume.typed("/identify wrong");
        resume.follow(&Line::Error { code: ErrorCode::WrongPassword, text: s("wrong") });
        resume.follow(&Line::Account { nick: Some(s("alice")) });
        assert_eq!(resume.commands(), [], "a refused password is not kept");
        resume.typed("/identify hunter2");
        resume.follow(&Line::Account { nick: Some(s("alice")) });
        let identify = Command::Identify { nick: None, password: s("hunter2") };
        assert_eq!(resume.commands(), [identify]);
        resume.follow(&Line::Account { nick: None });
        assert_eq!(resume.commands(), []);
    }

    #[test]
    fn waits_double_up_to_a_limit() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..7).map(|_| backoff.delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
    }

    /// Awaits `fut`, failing the test if it takes more than ten seconds.
    async fn in_time<T>(what: &str, fut: impl Future<Output = T>) -> T {
        let late = async {
            Timer::after(Duration::from_secs(10)).await;
            panic!("timed out waiting for {what}");
        };
        future::or(fut, late).await
    }

    /// A server on a free port that asks every connection for a nickname, reads it, and
    /// then welcomes it and hangs up at once (`welcome`) or says nothing more.
    async fn fake_server(welcome: bool) -> (String, smol::Task<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address").to_string();
        let task = smol::spawn(async move {
            let mut kept = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                let mut lines = BufReader::new(stream.clone()).lines();
                let mut writer = stream;
                if writer.write_all(b"NICK choose a nickname\n").await.is_err() {
                    continue;
                }
                let Some(Ok(nick)) = lines.next().await else { continue };
                if welcome {
                    let line = format!("WELCOME {nick} 1 online smolchat/2\n");
                    let _ = writer.write_all(line.as_bytes()).await;
                } else {
                    kept.push(writer);
                }
            }
        });
        (addr, task)
    }

    #[test]
    fn a_server_that_drops_us_at_once_gets_ever_longer_waits() {
        smol::block_on(async {
            let (addr, _server) = fake_server(true).await;
            let destination = Destination::plain(addr);
            let resume = Resume::new("alice");
            let mut backoff = Backoff::default();
            backoff.connected(Instant::now());
            let mut waits = Vec::new();
            for _ in 0..3 {
                let lost = ChatError::Lost(s("the server closed the connection"));
                let wait = |_: u32, delay: Duration, _: &ChatError| {
                    waits.push(delay.as_secs());
                    future::ready(true)
                };
                let reconnecting = reconnect(&destination, &resume, lost, &mut backoff, wait);
                in_time("a reconnection", reconnecting).await.expect("welcomed again");
            }
            assert_eq!(waits, [1, 2, 4]);
        });
    }

    #[test]
    fn a_connection_that_stayed_up_a_while_starts_the_waits_over() {
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        let mut backoff = Backoff::default();
        backoff.connected(at(0));
        backoff.lost(at(5));
        assert_eq!(backoff.delay().as_secs(), 1);
        backoff.connected(at(6));
        backoff.lost(at(7));
        assert_eq!(backoff.delay().as_secs(), 2);
        backoff.connected(at(9));
        backoff.lost(at(9) + STABLE);
        assert_eq!(backoff.delay().as_secs(), 1);
    }

    #[test]
    fn a_server_that_never_welcomes_us_again_is_given_up_on_in_time() {
        smol::block_on(async {
            let (addr, _server) = fake_server(false).await;
            let destination = Destination::plain(addr);
            let resume = Resume::new("alice");
            let limit = Duration::from_millis(200);
            let attempt = take_place(&destination, &resume, limit);
            match in_time("the attempt to give up", attempt).await {
                Err(ChatError::Lost(why)) => assert!(why.starts_with("timed out"), "{why}"),
                other => panic!("expected a time-out, got {other:?}"),
            }
        });
    }
}
