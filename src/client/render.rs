//! How each server line looks on screen: one plain form for pipes and bots, the same form
//! with colours for a terminal. Network text is always stripped of control characters.

use std::borrow::Cow;
use std::io::IsTerminal;

use crate::proto::chat::{sanitize, Line};
use crate::unicode;

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

/// Turns server lines into display lines (without the trailing `\n`).
#[derive(Debug, Clone)]
pub struct Renderer {
    /// Our own nickname, to mark our messages; follows our `RENAME`s.
    me: String,
    /// The room plain text goes to, as the server last said; lines from other rooms are
    /// prefixed with their room's name.
    current: Option<String>,
    /// The room of our own `JOIN` just shown, whose `ROOM` line would say it again.
    just_joined: Option<String>,
    /// Colours and timestamps.
    style: Style,
}

impl Renderer {
    /// A renderer for the client registered as `me`.
    pub fn new(me: &str, style: Style) -> Renderer {
        Renderer { me: me.to_string(), current: None, just_joined: None, style }
    }

    /// Our nickname as of the last line seen.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// Our current room as of the last line seen.
    pub fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }

    /// The line to show for `line`, or `None` for lines that show nothing (`PING`, and a
    /// `ROOM` right after our own `JOIN` of that room). A `RENAME` of ourselves and a
    /// `ROOM` update what later lines are shown against.
    pub fn render(&mut self, line: &Line) -> Option<String> {
        let just_joined = self.just_joined.take();
        match line {
            Line::Rename { old, new } if same_name(old, &self.me) => self.me = new.clone(),
            Line::Room { room } => {
                self.current = room.clone();
                if room.is_some() && *room == just_joined {
                    return None;
                }
            }
            Line::Join { room, nick } if same_name(nick, &self.me) => {
                self.just_joined = Some(room.clone());
            }
            _ => {}
        }
        let body = self.body(line)?;
        Some(match self.style.timestamps {
            true => format!("{} {body}", self.paint(&clock(), DIM)),
            false => body,
        })
    }

    /// The line without its timestamp.
    fn body(&self, line: &Line) -> Option<String> {
        let text = match line {
            Line::Message { room, from, text } => self.in_room(room, self.message(from, text)),
            Line::Action { room, from, text } => {
                self.in_room(room, format!("* {} {}", self.nick(from), clean(text)))
            }
            Line::Notice { room, from, text } => {
                self.in_room(room, format!("-{}- {}", self.nick(from), clean(text)))
            }
            Line::Private { from, to, text } => self.private(from, to, text),
            Line::PrivateAction { from, to, text } => {
                self.private(from, to, &format!("* {} {}", from, text))
            }
            Line::PrivateNotice { from, to, text } => {
                self.private(from, to, &format!("-{from}- {text}"))
            }
            Line::Join { room, nick } => self.join(room, nick),
            Line::Leave { room, nick, reason } => self.leave(room, nick, reason),
            Line::Quit { nick, reason } => self.dim(left(nick, reason)),
            Line::Rename { old, new } => {
                self.dim(format!("--- {} is now {}", clean(old), clean(new)))
            }
            Line::Topic { room, by, text } => self.in_room(room, self.topic(by, text)),
            Line::Names { room, nicks } => self.names(room, nicks),
            Line::List { room, members, topic } => self.list(room, *members, topic),
            Line::ListEnd { rooms } => format!("--- {rooms} room{}", plural(*rooms)),
            Line::Room { room: Some(room) } => format!("*** talking in {}", clean(room)),
            Line::Room { room: None } => "*** you are in no room; /join #room".to_string(),
            Line::Welcome { nick, online, .. } => {
                format!("*** you joined as {}; {online} online", self.nick(nick))
            }
            Line::Info { text } => format!("*** {}", clean(text)),
            Line::Error { text, .. } => self.paint(&format!("!!! {}", clean(text)), RED),
            Line::PassRequest => "*** the server asks for its password".to_string(),
            Line::NickRequest => "*** choose a nickname".to_string(),
            Line::Bye { reason } => format!("*** the server is closing: {}", clean(reason)),
            Line::Ping { .. } => return None,
        };
        Some(text)
    }

    /// `line` as it is for the current room, or prefixed with its room's name.
    fn in_room(&self, room: &str, line: String) -> String {
        if self.current.as_deref().is_some_and(|current| same_name(current, room)) {
            line
        } else {
            format!("{} {line}", self.paint(&clean(room), DIM))
        }
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

    fn join(&self, room: &str, nick: &str) -> String {
        if self.is_me(nick) {
            return format!("*** you joined {}", clean(room));
        }
        self.in_room(room, self.dim(format!("--> {} joined", clean(nick))))
    }

    fn leave(&self, room: &str, nick: &str, reason: &str) -> String {
        if self.is_me(nick) {
            return format!("*** you left {}", clean(room));
        }
        self.in_room(room, self.dim(left(nick, reason)))
    }

    fn topic(&self, by: &str, text: &str) -> String {
        if text.is_empty() {
            return self.dim(format!("--- topic cleared by {}", clean(by)));
        }
        self.dim(format!("--- topic: {} (set by {})", clean(text), clean(by)))
    }

    fn names(&self, room: &str, nicks: &[String]) -> String {
        let names: Vec<String> = nicks.iter().map(|nick| self.nick(nick)).collect();
        format!("--- in {} ({}): {}", clean(room), nicks.len(), names.join(" "))
    }

    fn list(&self, room: &str, members: usize, topic: &str) -> String {
        let people = format!("{members} {}", if members == 1 { "person" } else { "people" });
        match topic.is_empty() {
            true => format!("--- {} ({people})", clean(room)),
            false => format!("--- {} ({people}): {}", clean(room), clean(topic)),
        }
    }

    fn is_me(&self, nick: &str) -> bool {
        same_name(nick, &self.me)
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

/// `<-- nick left (reason)`, or without the brackets when no reason was given.
fn left(nick: &str, reason: &str) -> String {
    match reason.is_empty() {
        true => format!("<-- {} left", clean(nick)),
        false => format!("<-- {} left ({})", clean(nick), clean(reason)),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// Whether two nicknames (or two room names) are the same name, under the server's
/// folding. Names usually come back spelled as they were, which needs no folding.
pub fn same_name(a: &str, b: &str) -> bool {
    a == b || unicode::fold(a) == unicode::fold(b)
}

/// Network text made safe for a terminal: no control character, and nothing invisible or
/// reordering, each shown as U+FFFD instead.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unicode::is_invisible) {
        return sanitize(text);
    }
    let visible: String =
        text.chars().map(|c| if unicode::is_invisible(c) { '\u{FFFD}' } else { c }).collect();
    Cow::Owned(sanitize(&visible).into_owned())
}

/// A stable colour per nickname, the same whatever its letter case.
fn nick_colour(nick: &str) -> u8 {
    // FNV-1a: tiny, and stable across runs and platforms (unlike the std hasher).
    let hash = unicode::fold(nick)
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
    use crate::proto::chat::{ErrorCode, PROTOCOL_VERSION};

    fn s(text: &str) -> String {
        text.to_string()
    }

    /// A plain renderer for alice, in #lobby.
    fn alice() -> Renderer {
        let mut renderer = Renderer::new("alice", Style::PLAIN);
        renderer.render(&Line::Room { room: Some(s("#lobby")) });
        renderer
    }

    fn plain(line: Line) -> Option<String> {
        alice().render(&line)
    }

    fn lobby() -> String {
        s("#lobby")
    }

    #[test]
    fn every_kind_has_its_plain_form() {
        let cases = [
            (
                Line::Message { room: lobby(), from: s("bob"), text: s("hi  there") },
                "<bob> hi  there",
            ),
            (Line::Message { room: lobby(), from: s("Alice"), text: s("mine") }, "[Alice] mine"),
            (Line::Message { room: s("#rust"), from: s("bob"), text: s("hi") }, "#rust <bob> hi"),
            (Line::Private { from: s("bob"), to: s("alice"), text: s("psst") }, "*bob* psst"),
            (Line::Private { from: s("alice"), to: s("bob"), text: s("psst") }, "-> *bob* psst"),
            (
                Line::PrivateAction { from: s("bob"), to: s("alice"), text: s("nods") },
                "*bob* * bob nods",
            ),
            (
                Line::PrivateNotice { from: s("bob"), to: s("alice"), text: s("fyi") },
                "*bob* -bob- fyi",
            ),
            (Line::Notice { room: lobby(), from: s("bob"), text: s("heads up") }, "-bob- heads up"),
            (Line::Notice { room: s("#a"), from: s("bob"), text: s("up") }, "#a -bob- up"),
            (Line::Action { room: lobby(), from: s("bob"), text: s("waves") }, "* bob waves"),
            (Line::Action { room: s("#a"), from: s("bob"), text: s("waves") }, "#a * bob waves"),
            (Line::Join { room: lobby(), nick: s("carol") }, "--> carol joined"),
            (Line::Join { room: s("#a"), nick: s("carol") }, "#a --> carol joined"),
            (Line::Join { room: s("#a"), nick: s("Alice") }, "*** you joined #a"),
            (
                Line::Leave { room: lobby(), nick: s("carol"), reason: s("part: bye") },
                "<-- carol left (part: bye)",
            ),
            (Line::Leave { room: s("#a"), nick: s("alice"), reason: s("part") }, "*** you left #a"),
            (Line::Quit { nick: s("carol"), reason: s("quit: bye") }, "<-- carol left (quit: bye)"),
            (Line::Quit { nick: s("carol"), reason: s("") }, "<-- carol left"),
            (Line::Rename { old: s("bob"), new: s("rob") }, "--- bob is now rob"),
            (
                Line::Topic { room: lobby(), by: s("bob"), text: s("hello") },
                "--- topic: hello (set by bob)",
            ),
            (
                Line::Topic { room: s("#a"), by: s("bob"), text: s("") },
                "#a --- topic cleared by bob",
            ),
            (
                Line::Names { room: lobby(), nicks: vec![s("alice"), s("bob")] },
                "--- in #lobby (2): alice bob",
            ),
            (Line::List { room: lobby(), members: 1, topic: s("") }, "--- #lobby (1 person)"),
            (Line::List { room: s("#a"), members: 2, topic: s("t") }, "--- #a (2 people): t"),
            (Line::ListEnd { rooms: 2 }, "--- 2 rooms"),
            (Line::Room { room: Some(s("#a")) }, "*** talking in #a"),
            (Line::Room { room: None }, "*** you are in no room; /join #room"),
            (
                Line::Welcome { nick: s("alice"), online: 3, protocol: PROTOCOL_VERSION },
                "*** you joined as alice; 3 online",
            ),
            (Line::Info { text: s("/who lists") }, "*** /who lists"),
            (
                Line::Error { code: ErrorCode::NoSuchNick, text: s("x is not online") },
                "!!! x is not online",
            ),
            (Line::PassRequest, "*** the server asks for its password"),
            (Line::NickRequest, "*** choose a nickname"),
            (
                Line::Bye { reason: s("server shutting down") },
                "*** the server is closing: server shutting down",
            ),
        ];
        for (line, want) in cases {
            assert_eq!(plain(line.clone()).as_deref(), Some(want), "{line:?}");
        }
        assert_eq!(plain(Line::Ping { token: s("1") }), None);
    }

    #[test]
    fn the_current_room_follows_room_lines_and_an_own_join_says_it_once() {
        let mut renderer = alice();
        let join = renderer.render(&Line::Join { room: s("#rust"), nick: s("alice") });
        assert_eq!(join.as_deref(), Some("*** you joined #rust"));
        assert_eq!(renderer.render(&Line::Room { room: Some(s("#rust")) }), None);
        assert_eq!(renderer.current(), Some("#rust"));
        let line = renderer.render(&Line::Message { room: lobby(), from: s("bob"), text: s("hi") });
        assert_eq!(line.as_deref(), Some("#lobby <bob> hi"));
        let line = renderer.render(&Line::Room { room: Some(lobby()) });
        assert_eq!(line.as_deref(), Some("*** talking in #lobby"));
    }

    #[test]
    fn control_characters_never_get_through() {
        let nasty = s("\x1b[2J\x07boom\u{9b}31m\r");
        let lines = [
            Line::Message { room: nasty.clone(), from: nasty.clone(), text: nasty.clone() },
            Line::Private { from: nasty.clone(), to: s("alice"), text: nasty.clone() },
            Line::Action { room: lobby(), from: nasty.clone(), text: nasty.clone() },
            Line::Join { room: nasty.clone(), nick: nasty.clone() },
            Line::Leave { room: lobby(), nick: nasty.clone(), reason: nasty.clone() },
            Line::Quit { nick: nasty.clone(), reason: nasty.clone() },
            Line::Rename { old: nasty.clone(), new: nasty.clone() },
            Line::Topic { room: nasty.clone(), by: nasty.clone(), text: nasty.clone() },
            Line::Names { room: lobby(), nicks: vec![nasty.clone()] },
            Line::List { room: nasty.clone(), members: 1, topic: nasty.clone() },
            Line::Info { text: nasty.clone() },
            Line::Error { code: ErrorCode::Other(nasty.clone()), text: nasty.clone() },
            Line::Bye { reason: nasty.clone() },
        ];
        for colour in [false, true] {
            let mut renderer = Renderer::new("alice", Style { colour, timestamps: true });
            for line in &lines {
                let shown = renderer.render(line).unwrap_or_default();
                let without_ours = strip_sgr(&shown);
                assert!(!without_ours.chars().any(char::is_control), "{shown:?}");
                assert!(shown.contains("\u{FFFD}[2J"), "{shown:?}");
            }
        }
    }

    #[test]
    fn bidi_controls_and_zero_width_characters_are_shown_as_placeholders() {
        let sneaky = ["\u{202E}", "\u{2066}", "\u{200B}", "\u{200D}", "\u{200E}", "\u{FEFF}"];
        for hidden in sneaky {
            let text = format!("pay{hidden}me");
            let line = Line::Message { room: lobby(), from: format!("b{hidden}ob"), text };
            let shown = plain(line).unwrap_or_default();
            assert_eq!(shown, "<b\u{FFFD}ob> pay\u{FFFD}me", "{hidden:?}");
        }
    }

    #[test]
    fn colours_only_when_asked_and_stable_per_nick() {
        let mut colour = Renderer::new("alice", Style { colour: true, timestamps: false });
        colour.render(&Line::Room { room: Some(lobby()) });
        let line = colour.render(&Line::Message { room: lobby(), from: s("bob"), text: s("hi") });
        let code = nick_colour("bob");
        assert_eq!(line, Some(format!("<\x1b[{code}mbob\x1b[0m> hi")));
        assert_eq!(nick_colour("BOB"), code);
        let error = colour.render(&Line::Error { code: ErrorCode::Usage, text: s("no") });
        assert_eq!(error.as_deref(), Some("\x1b[31m!!! no\x1b[0m"));
        assert!(!colour_allowed(false));
    }

    #[test]
    fn renaming_ourselves_moves_the_mark() {
        let mut renderer = alice();
        renderer.render(&Line::Rename { old: s("alice"), new: s("ally") });
        assert_eq!(renderer.me(), "ally");
        let line =
            renderer.render(&Line::Message { room: lobby(), from: s("ally"), text: s("hi") });
        assert_eq!(line.as_deref(), Some("[ally] hi"));
    }

    #[test]
    fn timestamps_prefix_the_line() {
        let mut renderer = Renderer::new("alice", Style { colour: false, timestamps: true });
        renderer.render(&Line::Room { room: Some(lobby()) });
        let line =
            renderer.render(&Line::Join { room: lobby(), nick: s("bob") }).unwrap_or_default();
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
