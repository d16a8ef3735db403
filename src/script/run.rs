//! Playing a script against a server: one step at a time, printing everything received.

use std::io::Write;
use std::time::{Duration, Instant};

use futures_lite::future;
use smol::Timer;

use super::{Action, Script, ScriptOptions};
use crate::client::{connect, ChatError, ClientError, Echo, Incoming, Renderer, Sender, Style};
use crate::proto::chat::Line;

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
/// already). Before leaving it waits for the server to echo the last message it sent, so
/// nothing is lost by quitting early; after `/quit` it reads until the server closes the
/// connection. Everything received is written to `out` in plain form.
pub async fn run(
    script: &Script,
    options: &ScriptOptions,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let first_line = script.steps.first().map_or(1, |step| step.line);
    let at = |line| move |what: String| Failure { line, what };
    let mut bot = Bot::join(options, out).await.map_err(at(first_line))?;
    for step in &script.steps {
        bot.step(&step.action).await.map_err(at(step.line))?;
        if matches!(step.action, Action::Quit(_)) {
            return Ok(());
        }
    }
    bot.leave(None).await.map_err(at(script.last_line.max(1)))
}

/// A bot in the room.
struct Bot<'a> {
    /// What the server sends.
    incoming: Incoming,
    /// For the bot's lines.
    sender: Sender,
    /// The plain form that is printed and that `/expect` matches.
    renderer: Renderer,
    /// Where received lines are printed.
    out: &'a mut dyn Write,
    /// How long an `/expect` may wait.
    timeout: Duration,
    /// The echo of the last message sent that has not come back yet, and that message.
    pending: Option<(Echo, String)>,
}

/// What ends a wait besides its deadline.
#[derive(Debug, Clone, Copy)]
enum Until<'t> {
    /// Nothing: wait out the deadline (`/sleep`).
    Deadline,
    /// A line containing this text (`/expect`).
    Text(&'t str),
    /// The echo of the last message sent.
    Echo,
}

impl<'a> Bot<'a> {
    async fn join(options: &ScriptOptions, out: &'a mut dyn Write) -> Result<Bot<'a>, String> {
        let nick = options.nick.as_deref().filter(|nick| !nick.trim().is_empty());
        let nick = nick.ok_or("a bot needs a nickname (--nick)")?;
        let mut client = connect(&options.destination).await.map_err(|e| e.to_string())?;
        let welcome = client.register(nick).await.map_err(|e| ChatError::from(e).to_string())?;
        let (events, sender) = client.split();
        let renderer = Renderer::new(&welcome.nick, Style::PLAIN);
        let incoming = Incoming::spawn(events);
        let timeout = options.expect_timeout;
        let mut bot = Bot { incoming, sender, renderer, out, timeout, pending: None };
        bot.show(&welcome.line());
        Ok(bot)
    }

    async fn step(&mut self, action: &Action) -> Result<(), String> {
        match action {
            Action::Send(line) => self.send(line).await,
            Action::Sleep(pause) => self.listen(*pause, Until::Deadline).await.map(drop),
            Action::Expect(text) => match self.listen(self.timeout, Until::Text(text)).await? {
                true => Ok(()),
                false => Err(format!(
                    "no line containing {text:?} arrived within {}",
                    humantime::format_duration(self.timeout)
                )),
            },
            Action::Quit(reason) => self.leave(reason.as_deref()).await,
        }
    }

    async fn send(&mut self, line: &str) -> Result<(), String> {
        if let Some(echo) = Echo::of(line, self.renderer.me()) {
            self.pending = Some((echo, line.to_string()));
        }
        let Err(error) = self.sender.send_line(line).await else { return Ok(()) };
        // The reader knows better than the failed write why the connection ended.
        let fallback = ClientError::Io(error);
        let why = self.listen(Duration::from_secs(1), Until::Deadline).await.err();
        Err(why.unwrap_or_else(|| ChatError::from(fallback).to_string()))
    }

    /// Prints what arrives for up to `wait`; `true` as soon as the wait is over `until`.
    async fn listen(&mut self, wait: Duration, until: Until<'_>) -> Result<bool, String> {
        let deadline = timer(wait);
        futures_lite::pin!(deadline);
        loop {
            if matches!(until, Until::Echo) && self.pending.is_none() {
                return Ok(true);
            }
            let next = async { Some(self.incoming.next().await) };
            let expired = async {
                (&mut deadline).await;
                None
            };
            let Some(next) = future::or(next, expired).await else { return Ok(false) };
            let event = next.map_err(|error| ChatError::from(error).to_string())?;
            if self.pending.as_ref().is_some_and(|(echo, _)| echo.is_answered_by(&event)) {
                self.pending = None;
            }
            let line = self.show(&event);
            // A replayed line is printed but never answered: a bot that comes back to a room
            // would otherwise answer again what was answered before it left.
            let replayed = matches!(event, Line::History { .. });
            if let (Until::Text(text), Some(line), false) = (until, line, replayed) {
                if line.contains(text) {
                    return Ok(true);
                }
            }
        }
    }

    /// Waits for the echo of the last message, sends `/quit`, and reads until the server
    /// closes the connection.
    async fn leave(&mut self, reason: Option<&str>) -> Result<(), String> {
        if !self.listen(self.timeout, Until::Echo).await? {
            let line = self.pending.take().map(|(_, line)| line).unwrap_or_default();
            let wait = humantime::format_duration(self.timeout);
            return Err(format!("the server did not echo {line:?} within {wait}"));
        }
        let _ = self.sender.quit(reason).await;
        match self.listen(self.timeout, Until::Deadline).await {
            Ok(_) => Err("the server did not close the connection after /quit".into()),
            Err(_) => Ok(()),
        }
    }

    /// Prints the plain form of `event` and returns it.
    fn show(&mut self, event: &Line) -> Option<String> {
        let line = self.renderer.render(event)?;
        let _ = writeln!(self.out, "{line}").and_then(|()| self.out.flush());
        Some(line)
    }
}

/// A timer for `wait` from now; one that would overflow the clock never fires.
fn timer(wait: Duration) -> Timer {
    Instant::now().checked_add(wait).map_or_else(Timer::never, Timer::at)
}
