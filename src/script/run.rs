//! Playing a script against a server: the main steps one at a time, printing everything
//! received, answering it with the rules and running the timers on the way.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use futures_lite::future;
use smol::Timer;

use super::pace::{Pace, ASSUMED_BURST, ASSUMED_RATE};
use super::pattern::Captures;
use super::vars::{self, Piece};
use super::{Action, Pattern, Script, ScriptOptions, Step};
use crate::client::{
    connect, reconnect, same_name, Backoff, ChatError, ClientError, Destination, Echo, Incoming,
    Renderer, Resume, Sender, Style, Welcome,
};
use crate::proto::chat::{sanitize, Command, Line};

/// Where and why a script stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The line of the step that failed (the first step for connecting and registering,
    /// the last line for the final leave).
    pub line: usize,
    /// What went wrong.
    pub what: String,
}

/// Connects, registers `options.nick`, runs every step, then leaves (if the script did not
/// already). A script with rules or timers stays instead, answering, until a `/quit` or
/// the end of the connection. Before leaving it waits for the server to echo the last
/// message it sent, so nothing is lost by quitting early; after `/quit` it reads until the
/// server closes the connection. Everything received is written to `out` in plain form.
pub async fn run(
    script: &Script,
    options: &ScriptOptions,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let first_line = script.steps.first().map_or(1, |step| step.line);
    let at = |line| move |what: String| Failure { line, what };
    let mut bot = Bot::join(script, options, out).await.map_err(at(first_line))?;
    for step in &script.steps {
        bot.step(&step.action).await.map_err(at(step.line))?;
        if bot.quit.is_some() {
            break;
        }
    }
    let last = at(script.last_line.max(1));
    if script.stays() && bot.quit.is_none() {
        // Answering until the server closes the connection, which ends the bot well;
        // anything else that ends it is a failure.
        match bot.listen(Duration::MAX, Until::Deadline).await {
            Err(_) if bot.closed => return Ok(()),
            Err(what) => return Err(last(what)),
            Ok(_) => {}
        }
    }
    let reason = bot.quit.take().flatten();
    bot.leave(reason.as_deref()).await.map_err(last)
}

/// A bot in its rooms.
struct Bot<'a> {
    /// The script, for its rules and timers.
    script: &'a Script,
    /// What the server sends.
    incoming: Incoming,
    /// For the bot's lines.
    sender: Sender,
    /// The plain form that is printed and that patterns match.
    renderer: Renderer,
    /// Where received lines are printed.
    out: &'a mut dyn Write,
    /// How long an `/expect` may wait.
    timeout: Duration,
    /// The echo of the last message sent that has not come back yet, and that message.
    pending: Option<(Echo, String)>,
    /// Keeps the bot under the server's flood limit.
    pace: Pace,
    /// The variables: `/set` ones and named captures.
    vars: HashMap<String, String>,
    /// `$0`..`$9` of the last match.
    numbered: Vec<String>,
    /// The room `$room` names while a rule answers a line of that room.
    answering_in: Option<String>,
    /// For `/pick`.
    rng: fastrand::Rng,
    /// When each timer runs next (by its index in the script); `None` once an `/after` ran.
    due: Vec<Option<Instant>>,
    /// When each block last let each `/once-per` key through, by the block's line.
    once: HashMap<(usize, String), Instant>,
    /// Set by a `/quit` in a block (with its reason): the bot leaves.
    quit: Option<Option<String>>,
    /// The server closed the connection (with or without a goodbye), as opposed to a
    /// connection that broke.
    closed: bool,
    /// Where the server is, and what to take up again after a lost connection: `None`
    /// unless the bot was asked to (`--reconnect`).
    resume: Option<(Destination, Resume)>,
    /// The waits between attempts to reconnect, kept from one loss to the next.
    backoff: Backoff,
}

/// What ends a wait besides its deadline.
#[derive(Debug, Clone, Copy)]
enum Until<'t> {
    /// Nothing: wait out the deadline (`/sleep`, or answering forever).
    Deadline,
    /// A line matching this pattern (`/expect`).
    Pattern(&'t Pattern),
    /// The echo of the last message sent.
    Echo,
    /// The `ROOM` line that ends registration or a `/join`, or an error.
    Room,
    /// The bot's own `LEAVE` of a room that is not its current one, or an error.
    Left,
    /// This nickname in a `NAMES` reply or a `JOIN` (`/await`).
    Present(&'t str),
}

impl<'a> Bot<'a> {
    async fn join(
        script: &'a Script,
        options: &ScriptOptions,
        out: &'a mut dyn Write,
    ) -> Result<Bot<'a>, String> {
        let nick = options.nick.as_deref().filter(|nick| !nick.trim().is_empty());
        let nick = nick.ok_or("a bot needs a nickname (--nick)")?;
        let mut client = connect(&options.destination).await.map_err(|e| e.to_string())?;
        let welcome = client.register(nick).await.map_err(|e| ChatError::from(e).to_string())?;
        let (events, sender) = client.split();
        let now = Instant::now();
        let mut bot = Bot {
            script,
            incoming: Incoming::spawn(events),
            sender,
            renderer: Renderer::new(&welcome.nick, Style::PLAIN),
            out,
            timeout: options.expect_timeout,
            pending: None,
            pace: Pace::new(ASSUMED_RATE, ASSUMED_BURST, now),
            vars: HashMap::new(),
            numbered: Vec::new(),
            answering_in: None,
            rng: options.seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
            due: script.timers.iter().map(|timed| now.checked_add(timed.period)).collect(),
            once: HashMap::new(),
            quit: None,
            closed: false,
            resume: options
                .reconnect
                .then(|| (options.destination.clone(), Resume::new(&welcome.nick))),
            backoff: Backoff::default(),
        };
        bot.backoff.connected(now);
        bot.show(&welcome.line());
        // The rest of registration (the limits, the default room) comes in one piece.
        bot.listen(bot.timeout, Until::Room).await?;
        Ok(bot)
    }

    async fn step(&mut self, action: &Action) -> Result<(), String> {
        match action {
            Action::Send(line) => self.send_and_follow(line).await,
            Action::Sleep(pause) => self.listen(*pause, Until::Deadline).await.map(drop),
            Action::Expect(pattern) => {
                let found = self.listen(self.timeout, Until::Pattern(pattern)).await?;
                match found || self.quit.is_some() {
                    true => Ok(()),
                    false => Err(format!(
                        "no line {} arrived within {}",
                        describe(pattern),
                        humantime::format_duration(self.timeout)
                    )),
                }
            }
            Action::Await(nick) => self.await_nick(&self.fill(nick)).await,
            Action::Quit(reason) => {
                self.quit = Some(reason.as_ref().map(|reason| self.fill(reason)));
                Ok(())
            }
            other => self.instant(0, other).await.map(drop),
        }
    }

    /// Sends a main step's line; after a `/join` or `/part`, waits until the server has
    /// said which room is current, so that `$room` follows.
    async fn send_and_follow(&mut self, line: &str) -> Result<(), String> {
        let line = self.fill_line(line);
        self.send(&line).await?;
        let until = match Command::parse(&line) {
            Ok(Some(Command::Join(_))) => Until::Room,
            Ok(Some(Command::Part { room: Some(room), .. }))
                if !self.renderer.current().is_some_and(|current| same_name(current, &room)) =>
            {
                Until::Left
            }
            Ok(Some(Command::Part { .. })) => Until::Room,
            _ => return Ok(()),
        };
        self.listen(self.timeout, until).await.map(drop)
    }

    /// `/await NICK`: asks the server whether NICK is online, then waits for that answer
    /// to name NICK, or for NICK to join one of the bot's rooms (or take that name).
    async fn await_nick(&mut self, nick: &str) -> Result<(), String> {
        self.send(&format!("/ison {nick}")).await?;
        match self.listen(self.timeout, Until::Present(nick)).await? || self.quit.is_some() {
            true => Ok(()),
            false => Err(format!(
                "{nick} did not come within {}",
                humantime::format_duration(self.timeout)
            )),
        }
    }

    /// Runs a step that does not wait, from a block (`block` is its line) or the main
    /// steps (0); `false` when a `/once-per` stops the block.
    async fn instant(&mut self, block: usize, action: &Action) -> Result<bool, String> {
        match action {
            Action::Send(line) => self.send(&self.fill_line(line)).await?,
            Action::Set { name, value } => {
                let value = self.fill(value);
                self.vars.insert(name.clone(), value);
            }
            Action::Pick(choices) => {
                let choice = &choices[self.rng.usize(..choices.len())];
                self.send(&self.fill_line(choice)).await?;
            }
            Action::OncePer { period, key } => {
                // Without case, as nicknames and rooms compare.
                let key = (block, self.fill(key).to_lowercase());
                let now = Instant::now();
                let seen = self.once.get(&key).is_some_and(|at| now.duration_since(*at) < *period);
                if seen {
                    return Ok(false);
                }
                self.once.insert(key, now);
            }
            Action::Quit(reason) => {
                self.quit = Some(reason.as_ref().map(|reason| self.fill(reason)));
                return Ok(false);
            }
            // A block never holds a waiting step (the parser refuses them).
            Action::Sleep(_) | Action::Expect(_) | Action::Await(_) => {}
        }
        Ok(true)
    }

    /// Runs a block's steps until its end, a `/once-per` that stops it, or a `/quit`.
    async fn block(&mut self, line: usize, body: &[Step]) -> Result<(), String> {
        for step in body {
            if !self.instant(line, &step.action).await? {
                break;
            }
        }
        Ok(())
    }

    /// `text` with its variables filled in, without characters the server refuses.
    fn fill(&self, text: &str) -> String {
        let filled = vars::expand(text, |piece| match piece {
            Piece::Numbered(n) => self.numbered.get(n).cloned().unwrap_or_default(),
            Piece::Named("nick") => self.renderer.me().to_string(),
            Piece::Named("room") => self.room().to_string(),
            Piece::Named("time") => jiff::Timestamp::now().strftime("%H:%M UTC").to_string(),
            Piece::Named(name) => self.vars.get(name).cloned().unwrap_or_default(),
            Piece::Text(text) => text.to_string(),
        });
        sanitize(&filled).replace('\u{FFFD}', " ")
    }

    /// `$room`: the room of the line a rule answers, or else the current room.
    fn room(&self) -> &str {
        self.answering_in.as_deref().or(self.renderer.current()).unwrap_or("")
    }

    /// `template` filled in, to be sent. What the variables bring in is said, never run:
    /// a line that is not a command does not become one because a capture (someone
    /// else's words) starts with `/`; it is sent as `//...`, a literal `/`.
    fn fill_line(&self, template: &str) -> String {
        let line = self.fill(template);
        match !template.starts_with('/') && line.starts_with('/') {
            true => format!("/{line}"),
            false => line,
        }
    }

    /// Notes what a match captured.
    fn remember(&mut self, captures: Captures) {
        self.numbered = captures.numbered;
        self.vars.extend(captures.named);
    }

    /// Sends `line`, paced. A bot told to reconnect that finds the connection lost while
    /// writing takes it up again and sends the line over the new one; any other bot stops.
    async fn send(&mut self, line: &str) -> Result<(), String> {
        loop {
            let wait = self.pace.delay(Instant::now());
            if !wait.is_zero() {
                Timer::after(wait).await;
            }
            if let Some(echo) = Echo::of(line, self.renderer.me()) {
                self.pending = Some((echo, line.to_string()));
            }
            if let Some((_, resume)) = &mut self.resume {
                resume.typed(line);
            }
            let Err(error) = self.sender.send_line(line).await else { return Ok(()) };
            let lost = self.why_lost(error).await;
            if self.resume.is_none() {
                return Err(ChatError::from(lost).to_string());
            }
            self.take_up(lost).await?;
        }
    }

    /// Why the connection ended, once writing to it failed with `error`: the reader
    /// knows better (a goodbye, a close) if it finds out soon.
    async fn why_lost(&mut self, error: std::io::Error) -> ClientError {
        let why = async {
            loop {
                if let Err(error) = self.incoming.next().await {
                    return error;
                }
            }
        };
        let late = async {
            Timer::after(Duration::from_secs(1)).await;
            ClientError::Io(error)
        };
        future::or(why, late).await
    }

    /// Prints what arrives for up to `wait`, answering it and running the timers that
    /// fall due; `true` as soon as the wait is over `until`, `false` when a `/quit` in a
    /// block or the deadline ends it.
    async fn listen(&mut self, wait: Duration, until: Until<'_>) -> Result<bool, String> {
        let deadline = timer(wait);
        futures_lite::pin!(deadline);
        loop {
            if self.quit.is_some() {
                return Ok(false);
            }
            if matches!(until, Until::Echo) && self.pending.is_none() {
                return Ok(true);
            }
            let next_due = self.due.iter().flatten().min().copied();
            let next = async { Heard::Line(self.incoming.next().await) };
            let clock = async {
                next_due.map_or_else(Timer::never, Timer::at).await;
                Heard::Clock
            };
            let expired = async {
                (&mut deadline).await;
                Heard::Deadline
            };
            match future::or(next, future::or(clock, expired)).await {
                Heard::Deadline => return Ok(false),
                Heard::Clock => self.ring().await?,
                Heard::Line(Err(lost)) if self.resume.is_some() => self.take_up(lost).await?,
                Heard::Line(Err(error)) => {
                    self.closed = matches!(error, ClientError::Closed | ClientError::Bye(_));
                    return Err(ChatError::from(error).to_string());
                }
                Heard::Line(Ok(event)) => {
                    if self.hear(&event, until).await? {
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// Connects again after `lost`, with a growing pause between tries (printed), and
    /// takes the bot's nickname, identity and rooms up again; what was waited for is
    /// still waited for.
    async fn take_up(&mut self, lost: ClientError) -> Result<(), String> {
        let mut lost = lost;
        loop {
            let Some((destination, resume)) = &self.resume else { return Ok(()) };
            let out = &mut *self.out;
            let waited = |_: u32, delay: Duration, why: &ChatError| {
                let wait = humantime::format_duration(delay);
                let _ =
                    writeln!(out, "*** {why}; reconnecting in {wait}").and_then(|()| out.flush());
                let pause = Timer::after(delay);
                async move {
                    pause.await;
                    true
                }
            };
            let why = ChatError::from(lost);
            let (client, welcome) = reconnect(destination, resume, why, &mut self.backoff, waited)
                .await
                .map_err(|error| error.to_string())?;
            self.adopt(client, &welcome);
            match self.settle().await {
                Ok(()) => return Ok(()),
                Err(again) => lost = again,
            }
        }
    }

    /// Prints and follows what the server sends up to the `ROOM` line that ends
    /// registration (or for the `/expect` timeout at most), so that what the bot sends
    /// next is paced by the new connection's `LIMITS`: a bot that was sending when the
    /// connection broke would otherwise flood a server with a small burst. Nothing is
    /// answered meanwhile; a connection lost again is the error.
    async fn settle(&mut self) -> Result<(), ClientError> {
        let deadline = timer(self.timeout);
        futures_lite::pin!(deadline);
        loop {
            match self.next_before(deadline.as_mut()).await {
                None => return Ok(()),
                Some(Err(lost)) => return Err(lost),
                Some(Ok(event)) => {
                    self.note(&event);
                    if matches!(event, Line::Room { .. }) {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Goes on over `client`, just registered again as `welcome` says.
    fn adopt(&mut self, client: crate::client::Client, welcome: &Welcome) {
        let (events, sender) = client.split();
        self.incoming = Incoming::spawn(events);
        self.sender = sender;
        self.renderer = Renderer::new(&welcome.nick, Style::PLAIN);
        // What was sent before the loss will not be echoed by the new connection.
        self.pending = None;
        self.pace = Pace::new(ASSUMED_RATE, ASSUMED_BURST, Instant::now());
        self.show(&welcome.line());
    }

    /// Acts on one received line: prints it, answers it; whether it ends the wait.
    async fn hear(&mut self, event: &Line, until: Until<'_>) -> Result<bool, String> {
        let own = author(event).is_some_and(|author| same_name(author, self.renderer.me()));
        // Some lines print nothing (the `ROOM` that ends a join) but still end a wait.
        let line = self.note(event);
        // A replayed line is printed but never answered: a bot that comes back to a room
        // would otherwise answer again what was answered before it left.
        if matches!(event, Line::History { .. }) {
            return Ok(false);
        }
        let done = self.ends(event, line.as_deref(), until, own);
        if let (false, Some(line)) = (own, line) {
            self.answer(event, &line).await?;
        }
        Ok(done)
    }

    /// Learns from one received line (where we are, the echo awaited, the server's flood
    /// limit) and prints it; returns what was printed.
    fn note(&mut self, event: &Line) -> Option<String> {
        if let Some((_, resume)) = &mut self.resume {
            resume.follow(event);
        }
        if self.pending.as_ref().is_some_and(|(echo, _)| echo.is_answered_by(event)) {
            self.pending = None;
        }
        if let Line::Limits { flood_rate, flood_burst } = event {
            self.pace = Pace::new(*flood_rate, *flood_burst, Instant::now());
        }
        self.show(event)
    }

    /// Whether `event` (printed as `line`, if at all) ends the wait for `until`.
    fn ends(&mut self, event: &Line, line: Option<&str>, until: Until<'_>, own: bool) -> bool {
        match (until, event) {
            (Until::Pattern(pattern), _) => match line.and_then(|line| pattern.find(line)) {
                Some(captures) => {
                    self.remember(captures);
                    true
                }
                None => false,
            },
            (Until::Room, Line::Room { .. } | Line::Error { .. }) => true,
            (Until::Left, Line::Leave { .. }) => own,
            (Until::Left, Line::Error { .. }) => true,
            (Until::Present(nick), Line::Names { nicks, .. }) => {
                nicks.iter().any(|name| same_name(name, nick))
            }
            (Until::Present(nick), Line::Online { nicks }) => {
                nicks.iter().any(|name| same_name(name, nick))
            }
            (Until::Present(nick), Line::Join { nick: joined, .. }) => same_name(joined, nick),
            (Until::Present(nick), Line::Rename { new, .. }) => same_name(new, nick),
            _ => false,
        }
    }

    /// Runs every rule that `event` (printed as `line`) matches, in the order written.
    async fn answer(&mut self, event: &Line, line: &str) -> Result<(), String> {
        let script = self.script;
        for rule in &script.rules {
            let room = room_of(event);
            let wanted = rule.room.as_deref();
            if wanted.is_some_and(|want| !room.is_some_and(|room| same_name(room, want))) {
                continue;
            }
            let Some(captures) = rule.pattern.find(line) else { continue };
            // The rule's captures are its own: the main steps keep the last /expect's.
            let outer = std::mem::take(&mut self.numbered);
            self.remember(captures);
            self.answering_in = room.map(String::from);
            let ran = self.block(rule.line, &rule.body).await;
            self.answering_in = None;
            self.numbered = outer;
            ran?;
            if self.quit.is_some() {
                break;
            }
        }
        Ok(())
    }

    /// Runs the timers that are due, and sets when they run next.
    async fn ring(&mut self) -> Result<(), String> {
        let script = self.script;
        let now = Instant::now();
        for (index, timed) in script.timers.iter().enumerate() {
            if self.due[index].is_none_or(|due| due > now) {
                continue;
            }
            self.due[index] = match timed.repeat {
                true => now.checked_add(timed.period),
                false => None,
            };
            self.block(timed.line, &timed.body).await?;
        }
        Ok(())
    }

    /// Waits for the echo of the last message, sends `/quit`, and reads until the server
    /// closes the connection.
    async fn leave(&mut self, reason: Option<&str>) -> Result<(), String> {
        if !self.listen(self.timeout, Until::Echo).await? && self.pending.is_some() {
            let line = self.pending.take().map(|(_, line)| line).unwrap_or_default();
            let wait = humantime::format_duration(self.timeout);
            return Err(format!("the server did not echo {line:?} within {wait}"));
        }
        let _ = self.sender.quit(reason).await;
        match self.drain().await {
            true => Ok(()),
            false => Err("the server did not close the connection after /quit".into()),
        }
    }

    /// What the server sends next, or `None` once `deadline` has passed.
    async fn next_before(
        &mut self,
        deadline: std::pin::Pin<&mut Timer>,
    ) -> Option<Result<Line, ClientError>> {
        let next = async { Some(self.incoming.next().await) };
        let expired = async {
            deadline.await;
            None
        };
        future::or(next, expired).await
    }

    /// Prints what arrives, answering nothing, until the connection ends (`true`) or the
    /// timeout passes.
    async fn drain(&mut self) -> bool {
        let deadline = timer(self.timeout);
        futures_lite::pin!(deadline);
        loop {
            match self.next_before(deadline.as_mut()).await {
                None => return false,
                Some(Err(_)) => return true,
                Some(Ok(event)) => drop(self.show(&event)),
            }
        }
    }

    /// Prints the plain form of `event` and returns it.
    fn show(&mut self, event: &Line) -> Option<String> {
        let line = self.renderer.render(event)?;
        let _ = writeln!(self.out, "{line}").and_then(|()| self.out.flush());
        Some(line)
    }
}

/// What ended one turn of a wait.
enum Heard {
    /// A line from the server, or the end of the connection.
    Line(Result<Line, ClientError>),
    /// A timer is due.
    Clock,
    /// The wait is over.
    Deadline,
}

/// How an `/expect` that timed out names what it waited for.
fn describe(pattern: &Pattern) -> String {
    match pattern {
        Pattern::Text(text) => format!("containing {text:?}"),
        Pattern::Regex(regex) => format!("matching /{}/", regex.as_str()),
    }
}

/// Who a line is from or about, to tell the bot's own lines from others'.
fn author(line: &Line) -> Option<&str> {
    match line {
        Line::Message { from, .. }
        | Line::Action { from, .. }
        | Line::Notice { from, .. }
        | Line::Private { from, .. }
        | Line::PrivateAction { from, .. }
        | Line::PrivateNotice { from, .. } => Some(from),
        Line::Join { nick, .. } | Line::Leave { nick, .. } | Line::Quit { nick, .. } => Some(nick),
        Line::Rename { old, .. } => Some(old),
        Line::Topic { by, .. } | Line::Kick { by, .. } => Some(by),
        _ => None,
    }
}

/// The room a line belongs to, if any.
fn room_of(line: &Line) -> Option<&str> {
    match line {
        Line::Message { room, .. }
        | Line::Action { room, .. }
        | Line::Notice { room, .. }
        | Line::Join { room, .. }
        | Line::Leave { room, .. }
        | Line::Topic { room, .. }
        | Line::Names { room, .. }
        | Line::Kick { room, .. } => Some(room),
        _ => None,
    }
}

/// A timer for `wait` from now; one that would overflow the clock never fires.
fn timer(wait: Duration) -> Timer {
    Instant::now().checked_add(wait).map_or_else(Timer::never, Timer::at)
}
