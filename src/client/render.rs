//! How each server line looks on screen: one plain form for pipes and bots, the same form
//! with colours for a terminal. Network text is always stripped of control characters.

use std::borrow::Cow;
use std::io::IsTerminal;

use crate::protocol::{nick_key, sanitize, Event};

/// Colours a nickname can get: everything but red (errors) and the greys.
const NICK_COLOURS: &[u8] = &[32, 33, 34, 35, 36, 92, 93, 94, 95, 96];

/// SGR codes used for the kinds of line.
const DIM: &str = "2";
const BOLD: &str = "1";
const RED: &str = "31";

/// How lines are decorated beyond their plain text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// Emit ANSI colours (only ever true for a terminal without `NO_COLOR`).
    pub colour: bool,
    /// Prefix every line with the local time, `HH:MM`.
    pub timestamps: bool,
}

impl Style {
    /// No colour, no timestamp: the form bots match against and pipes receive.
    pub const PLAIN: Style = Style { colour: false, timestamps: false };

    /// The style for standard output: colours only if it is a terminal and `NO_COLOR` is
    /// unset or empty.
    pub fn for_stdout(timestamps: bool) -> Style {
        Style { colour: colour_allowed(std::io::stdout().is_terminal()), timestamps }
    }
}

/// Whether colours may be used on an output that is (or is not) a terminal, honouring
/// `NO_COLOR` (<https://no-color.org>).
pub fn colour_allowed(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// Turns server events into display lines (without the trailing `\n`).
#[derive(Debug, Clone)]
pub struct Renderer {
    /// Our own nickname, to mark our messages; follows our `RENAME`s.
    me: String,
    /// Colours and timestamps.
    style: Style,
}

impl Renderer {
    /// A renderer for the client registered as `me`.
    pub fn new(me: &str, style: Style) -> Renderer {
        Renderer { me: me.to_string(), style }
    }

    /// Our nickname as of the last event seen.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The line to show for `event`, or `None` for events that show nothing (`PING`).
    /// A `RENAME` of ourselves updates the nickname used from then on.
    pub fn render(&mut self, event: &Event) -> Option<String> {
        if let Event::Rename { old, new } = event {
            if nick_key(old) == nick_key(&self.me) {
                self.me = new.clone();
            }
        }
        let body = self.body(event)?;
        Some(match self.style.timestamps {
            true => format!("{} {body}", self.paint(&clock(), DIM)),
            false => body,
        })
    }

    /// The line without its timestamp.
    fn body(&self, event: &Event) -> Option<String> {
        let line = match event {
            Event::Message { from, text } => self.message(from, text),
            Event::Private { from, to, text } => self.private(from, to, text),
            Event::Action { from, text } => format!("* {} {}", self.nick(from), clean(text)),
            Event::Join { nick } => self.dim(format!("--> {} joined", clean(nick))),
            Event::Leave { nick, reason } if reason.is_empty() => {
                self.dim(format!("<-- {} left", clean(nick)))
            }
            Event::Leave { nick, reason } => {
                self.dim(format!("<-- {} left ({})", clean(nick), clean(reason)))
            }
            Event::Rename { old, new } => {
                self.dim(format!("--- {} is now {}", clean(old), clean(new)))
            }
            Event::Who { nicks } => self.who(nicks),
            Event::Welcome { nick, online } => {
                format!("*** you joined as {}; {online} online", self.nick(nick))
            }
            Event::Info { text } => format!("*** {}", clean(text)),
            Event::Error { text, .. } => self.paint(&format!("!!! {}", clean(text)), RED),
            Event::NickRequest => "*** choose a nickname".to_string(),
            Event::Bye { reason } => format!("*** the server is closing: {}", clean(reason)),
            Event::Ping { .. } => return None,
        };
        Some(line)
    }

    /// `<nick> text` for others, `[nick] text` for our own.
    fn message(&self, from: &str, text: &str) -> String {
        if self.is_me(from) {
            let nick = self.paint(&format!("[{}]", clean(from)), BOLD);
            format!("{nick} {}", clean(text))
        } else {
            format!("<{}> {}", self.nick(from), clean(text))
        }
    }

    /// `*from* text` when received, `-> *to* text` when we sent it.
    fn private(&self, from: &str, to: &str, text: &str) -> String {
        let text = self.paint(&clean(text), BOLD);
        if self.is_me(from) {
            format!("-> *{}* {text}", self.nick(to))
        } else {
            format!("*{}* {text}", self.nick(from))
        }
    }

    fn who(&self, nicks: &[String]) -> String {
        let names: Vec<String> = nicks.iter().map(|nick| self.nick(nick)).collect();
        format!("--- online ({}): {}", nicks.len(), names.join(" "))
    }

    fn is_me(&self, nick: &str) -> bool {
        nick_key(nick) == nick_key(&self.me)
    }

    /// A nickname in its own colour.
    fn nick(&self, nick: &str) -> String {
        self.paint(&clean(nick), &nick_colour(nick).to_string())
    }

    fn dim(&self, line: String) -> String {
        self.paint(&line, DIM)
    }

    /// Wraps `text` in an SGR sequence when colours are on.
    fn paint(&self, text: &str, sgr: &str) -> String {
        match self.style.colour {
            true => format!("\x1b[{sgr}m{text}\x1b[0m"),
            false => text.to_string(),
        }
    }
}

/// Network text made safe for a terminal.
fn clean(text: &str) -> Cow<'_, str> {
    sanitize(text)
}

/// A stable colour per nickname, the same whatever its letter case.
fn nick_colour(nick: &str) -> u8 {
    // FNV-1a: tiny, and stable across runs and platforms (unlike the std hasher).
    let hash = nick_key(nick)
        .bytes()
        .fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193));
    NICK_COLOURS[hash as usize % NICK_COLOURS.len()]
}

/// The local time as `HH:MM` (UTC if the time zone is unknown).
fn clock() -> String {
    jiff::Zoned::now().strftime("%H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    fn s(text: &str) -> String {
        text.to_string()
    }

    fn plain(event: Event) -> Option<String> {
        Renderer::new("alice", Style::PLAIN).render(&event)
    }

    #[test]
    fn every_kind_has_its_plain_form() {
        let cases = [
            (Event::Message { from: s("bob"), text: s("hi  there") }, "<bob> hi  there"),
            (Event::Message { from: s("Alice"), text: s("mine") }, "[Alice] mine"),
            (Event::Private { from: s("bob"), to: s("alice"), text: s("psst") }, "*bob* psst"),
            (Event::Private { from: s("alice"), to: s("bob"), text: s("psst") }, "-> *bob* psst"),
            (Event::Action { from: s("bob"), text: s("waves") }, "* bob waves"),
            (Event::Join { nick: s("carol") }, "--> carol joined"),
            (
                Event::Leave { nick: s("carol"), reason: s("quit: bye") },
                "<-- carol left (quit: bye)",
            ),
            (Event::Leave { nick: s("carol"), reason: s("") }, "<-- carol left"),
            (Event::Rename { old: s("bob"), new: s("rob") }, "--- bob is now rob"),
            (Event::Who { nicks: vec![s("alice"), s("bob")] }, "--- online (2): alice bob"),
            (Event::Welcome { nick: s("alice"), online: 3 }, "*** you joined as alice; 3 online"),
            (Event::Info { text: s("/who lists") }, "*** /who lists"),
            (
                Event::Error { code: ErrorCode::NoSuchNick, text: s("x is not online") },
                "!!! x is not online",
            ),
            (Event::NickRequest, "*** choose a nickname"),
            (
                Event::Bye { reason: s("server shutting down") },
                "*** the server is closing: server shutting down",
            ),
        ];
        for (event, want) in cases {
            assert_eq!(plain(event.clone()).as_deref(), Some(want), "{event:?}");
        }
        assert_eq!(plain(Event::Ping { token: s("1") }), None);
    }

    #[test]
    fn control_characters_never_get_through() {
        let nasty = s("\x1b[2J\x07boom\u{9b}31m\r");
        let events = [
            Event::Message { from: nasty.clone(), text: nasty.clone() },
            Event::Private { from: nasty.clone(), to: s("alice"), text: nasty.clone() },
            Event::Action { from: nasty.clone(), text: nasty.clone() },
            Event::Join { nick: nasty.clone() },
            Event::Leave { nick: nasty.clone(), reason: nasty.clone() },
            Event::Rename { old: nasty.clone(), new: nasty.clone() },
            Event::Who { nicks: vec![nasty.clone()] },
            Event::Info { text: nasty.clone() },
            Event::Error { code: ErrorCode::Other(nasty.clone()), text: nasty.clone() },
            Event::Bye { reason: nasty.clone() },
        ];
        for colour in [false, true] {
            let mut renderer = Renderer::new("alice", Style { colour, timestamps: true });
            for event in &events {
                let line = renderer.render(event).unwrap_or_default();
                let without_ours = strip_sgr(&line);
                assert!(!without_ours.chars().any(char::is_control), "{line:?}");
                assert!(line.contains("\u{FFFD}[2J"), "{line:?}");
            }
        }
    }

    #[test]
    fn colours_only_when_asked_and_stable_per_nick() {
        let mut colour = Renderer::new("alice", Style { colour: true, timestamps: false });
        let line = colour.render(&Event::Message { from: s("bob"), text: s("hi") });
        let code = nick_colour("bob");
        assert_eq!(line, Some(format!("<\x1b[{code}mbob\x1b[0m> hi")));
        assert_eq!(nick_colour("BOB"), code);
        let error = colour.render(&Event::Error { code: ErrorCode::Usage, text: s("no") });
        assert_eq!(error.as_deref(), Some("\x1b[31m!!! no\x1b[0m"));
        assert!(!colour_allowed(false));
    }

    #[test]
    fn renaming_ourselves_moves_the_mark() {
        let mut renderer = Renderer::new("alice", Style::PLAIN);
        renderer.render(&Event::Rename { old: s("alice"), new: s("ally") });
        assert_eq!(renderer.me(), "ally");
        let line = renderer.render(&Event::Message { from: s("ally"), text: s("hi") });
        assert_eq!(line.as_deref(), Some("[ally] hi"));
    }

    #[test]
    fn timestamps_prefix_the_line() {
        let mut renderer = Renderer::new("alice", Style { colour: false, timestamps: true });
        let line = renderer.render(&Event::Join { nick: s("bob") }).unwrap_or_default();
        let (time, rest) = line.split_once(' ').unwrap_or_default();
        assert_eq!(rest, "--> bob joined");
        assert!(time.len() == 5 && time.as_bytes()[2] == b':', "{line:?}");
    }

    /// Removes the SGR sequences the renderer itself adds.
    fn strip_sgr(line: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(start) = rest.find("\x1b[") {
            out.push_str(&rest[..start]);
            let after = &rest[start..];
            let end = after.find('m').map_or(after.len(), |m| m + 1);
            rest = &after[end..];
        }
        out.push_str(rest);
        out
    }
}
