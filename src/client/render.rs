//! How each server line looks on screen: one plain form for pipes and bots, the same form
//! with colours for a terminal. Network text is always stripped of control characters.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::time::SystemTime;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::proto::chat::{is_room_name, sanitize, Line};
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
    /// The room of our own `JOIN` just shown, while the rest of its landing (its topic, its
    /// replayed history) arrives: those lines belong to the room about to be current, and
    /// the `ROOM` line that ends the landing would only say the join again.
    landing: Option<String>,
    /// Colours and timestamps.
    style: Style,
    /// The time zone replayed lines are dated in: the system's, looked up once.
    zone: TimeZone,
}

impl Renderer {
    /// A renderer for the client registered as `me`.
    pub fn new(me: &str, style: Style) -> Renderer {
        let zone = TimeZone::system();
        Renderer { me: me.to_string(), current: None, landing: None, style, zone }
    }

    /// Our nickname as of the last line seen.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// Our current room as of the last line seen.
    pub fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }

    /// The line to show for `line`, or `None` for lines that show nothing (`PING`, and the
    /// `ROOM` that ends our own `JOIN` of that room). A `RENAME` of ourselves and a `ROOM`
    /// update what later lines are shown against.
    pub fn render(&mut self, line: &Line) -> Option<String> {
        if !self.follow(line) {
            return None;
        }
        let body = self.body(line)?;
        // A replayed line carries its own date; the clock of now would contradict it.
        Some(match self.style.timestamps && !matches!(line, Line::History { .. }) {
            true => format!("{} {body}", self.paint(&clock(), DIM)),
            false => body,
        })
    }

    /// Notes what `line` changes for the lines after it; `false` for the `ROOM` that ends
    /// the landing of our own join, which would only repeat it.
    fn follow(&mut self, line: &Line) -> bool {
        let landing = self.landing.take();
        match line {
            Line::Rename { old, new } if same_name(old, &self.me) => self.me = new.clone(),
            Line::Room { room } => {
                self.current = room.clone();
                return room.is_none() || *room != landing;
            }
            Line::Join { room, nick } if same_name(nick, &self.me) => {
                self.landing = Some(room.clone());
            }
            // The server sends a landing in one piece: these lines are still part of it.
            Line::Topic { .. } | Line::History { .. } | Line::HistoryEnd { .. } => {
                self.landing = landing;
            }
            _ => {}
        }
        true
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
            Line::Online { nicks } if nicks.is_empty() => "--- none of them is online".to_string(),
            Line::Online { nicks } => {
                let names: Vec<String> = nicks.iter().map(|nick| self.nick(nick)).collect();
                format!("--- online: {}", names.join(" "))
            }
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
            Line::Ping { .. } | Line::Limits { .. } => return None,
            Line::History { at, line } => self.replayed(*at, line)?,
            Line::HistoryEnd { of, count } => self.history_end(of, *count),
            Line::Kick { room, nick, by, reason } => self.kick(room, nick, by, reason),
            Line::Identify { nick, seconds } => self.paint(
                &format!(
                    "*** {} is registered: type /identify PASSWORD within {seconds} s, \
                     or you will be renamed",
                    clean(nick)
                ),
                BOLD,
            ),
            Line::Account { nick: Some(nick) } => {
                format!("*** you are identified as {}", self.nick(nick))
            }
            Line::Account { nick: None } => "*** you are no longer identified".to_string(),
        };
        Some(text)
    }

    /// `line` as it is for the current room (or the one being joined), or prefixed with
    /// its room's name.
    fn in_room(&self, room: &str, line: String) -> String {
        let here = |name: &Option<String>| name.as_deref().is_some_and(|n| same_name(n, room));
        if here(&self.current) || here(&self.landing) {
            line
        } else {
            format!("{} {line}", self.paint(&clean(room), DIM))
        }
    }

    /// A line said before, replayed: its live form after its local date and time, all
    /// dimmed, so it reads as the past. Only talk is replayed; anything else shows nothing.
    fn replayed(&self, at: SystemTime, line: &Line) -> Option<String> {
        let talk = matches!(
            line,
            Line::Message { .. }
                | Line::Action { .. }
                | Line::Notice { .. }
                | Line::Private { .. }
                | Line::PrivateAction { .. }
                | Line::PrivateNotice { .. }
        );
        if !talk {
            return None;
        }
        // Uncoloured inside: each colour's reset would end the dimming part way.
        let uncoloured = Renderer { style: Style { colour: false, ..self.style }, ..self.clone() };
        let body = uncoloured.body(line)?;
        let when = stamp(at, Timestamp::now(), &self.zone);
        Some(self.dim(format!("[{when}] {body}")))
    }

    /// The end of a replay: a rule between the past and what is live, or, for a
    /// `/history` that found nothing, a line saying so.
    fn history_end(&self, of: &str, count: usize) -> String {
        let whose = match is_room_name(of) {
            true => format!("in {}", clean(of)),
            false => format!("with {}", clean(of)),
        };
        if count == 0 {
            return self.dim(format!("--- no earlier messages {whose}"));
        }
        self.dim(format!("── {count} earlier message{} {whose}; new below ──", plural(count)))
    }

    /// `<-- nick was removed from #room by owner (reason)`; in bold, and addressed to
    /// us, when we are the one removed. Not `* nick ...`: that is how an action looks,
    /// and anyone can `/me` one.
    fn kick(&self, room: &str, nick: &str, by: &str, reason: &str) -> String {
        let why = match reason.is_empty() {
            true => String::new(),
            false => format!(" ({})", clean(reason)),
        };
        let (room, by) = (clean(room), clean(by));
        if self.is_me(nick) {
            return self.paint(&format!("*** you were removed from {room} by {by}{why}"), BOLD);
        }
        self.dim(format!("<-- {} was removed from {room} by {by}{why}", clean(nick)))
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

/// When a replayed line was said, in `zone`: `MM-DD HH:MM`, with the year in front when
/// it is not the year of `now`.
fn stamp(at: SystemTime, now: Timestamp, zone: &TimeZone) -> String {
    // A time jiff cannot hold is a server's nonsense; say so rather than guess.
    let Ok(at) = Timestamp::try_from(at) else { return "?".to_string() };
    let at = at.to_zoned(zone.clone());
    let format = match at.year() == now.to_zoned(zone.clone()).year() {
        true => "%m-%d %H:%M",
        false => "%Y-%m-%d %H:%M",
    };
    at.strftime(format).to_string()
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
            Line::History {
                at: SystemTime::UNIX_EPOCH,
                line: Box::new(Line::Action {
                    room: nasty.clone(),
                    from: nasty.clone(),
                    text: nasty.clone(),
                }),
            },
            Line::HistoryEnd { of: nasty.clone(), count: 2 },
            Line::Kick {
                room: nasty.clone(),
                nick: nasty.clone(),
                by: nasty.clone(),
                reason: s(""),
            },
            Line::Identify { nick: nasty.clone(), seconds: 30 },
            Line::Account { nick: Some(nasty.clone()) },
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

    /// Alice in #lobby, showing replayed lines in UTC.
    fn alice_in_utc(style: Style) -> Renderer {
        let mut renderer = Renderer::new("alice", style);
        renderer.zone = TimeZone::UTC;
        renderer.render(&Line::Room { room: Some(lobby()) });
        renderer
    }

    /// `MM-DDTHH:MM:SSZ` of this year (UTC), so that its date is shown without the year.
    fn this_year(rest: &str) -> SystemTime {
        let year = Timestamp::now().to_zoned(TimeZone::UTC).year();
        let at: Timestamp = format!("{year}-{rest}").parse().expect("a valid time");
        SystemTime::from(at)
    }

    fn replay(line: Line) -> Line {
        Line::History { at: this_year("11-30T07:30:38.123Z"), line: Box::new(line) }
    }

    #[test]
    fn replayed_lines_look_like_live_ones_after_their_date() {
        let cases = [
            (Line::Message { room: lobby(), from: s("ann"), text: s("hello") }, "<ann> hello"),
            (Line::Message { room: s("#a"), from: s("ann"), text: s("hi") }, "#a <ann> hi"),
            (Line::Message { room: lobby(), from: s("alice"), text: s("mine") }, "[alice] mine"),
            (Line::Action { room: lobby(), from: s("ann"), text: s("waves") }, "* ann waves"),
            (Line::Private { from: s("bob"), to: s("alice"), text: s("psst") }, "*bob* psst"),
            (Line::Private { from: s("alice"), to: s("bob"), text: s("psst") }, "-> *bob* psst"),
            (
                Line::PrivateAction { from: s("bob"), to: s("alice"), text: s("nods") },
                "*bob* * bob nods",
            ),
        ];
        // With timestamps on too: the date replaces the clock of now rather than follow it.
        for timestamps in [false, true] {
            let mut renderer = alice_in_utc(Style { colour: false, timestamps });
            for (line, live) in &cases {
                let shown = renderer.render(&replay(line.clone()));
                assert_eq!(shown, Some(format!("[11-30 07:30] {live}")), "{line:?}");
            }
        }
        // Only talk is replayed: anything else in a HISTORY line shows nothing.
        let odd = replay(Line::Join { room: lobby(), nick: s("ann") });
        assert_eq!(alice_in_utc(Style::PLAIN).render(&odd), None);
    }

    #[test]
    fn a_replayed_line_is_dimmed_as_a_whole() {
        let mut renderer = alice_in_utc(Style { colour: true, timestamps: false });
        let line = replay(Line::Message { room: lobby(), from: s("ann"), text: s("hello") });
        let shown = renderer.render(&line);
        // One dim span: a nick colour inside would end the dimming at its reset.
        assert_eq!(shown.as_deref(), Some("\x1b[2m[11-30 07:30] <ann> hello\x1b[0m"));
    }

    #[test]
    fn dates_are_local_and_name_the_year_only_when_it_is_not_this_one() {
        let at = |text: &str| SystemTime::from(text.parse::<Timestamp>().expect("a time"));
        let now: Timestamp = "2026-11-30T08:00:00Z".parse().expect("a time");
        let utc = TimeZone::UTC;
        assert_eq!(stamp(at("2026-11-30T07:30:38Z"), now, &utc), "11-30 07:30");
        assert_eq!(stamp(at("2025-12-31T23:59:00Z"), now, &utc), "2025-12-31 23:59");
        let east = TimeZone::fixed(jiff::tz::offset(2));
        assert_eq!(stamp(at("2026-11-30T23:30:00Z"), now, &east), "12-01 01:30");
    }

    #[test]
    fn the_end_of_a_replay_is_a_rule_and_an_empty_one_says_so() {
        let end = |of: &str, count| plain(Line::HistoryEnd { of: s(of), count });
        let rule = "── 3 earlier messages in #lobby; new below ──";
        assert_eq!(end("#lobby", 3).as_deref(), Some(rule));
        let one = "── 1 earlier message with bob; new below ──";
        assert_eq!(end("bob", 1).as_deref(), Some(one));
        assert_eq!(end("#a", 0).as_deref(), Some("--- no earlier messages in #a"));
    }

    #[test]
    fn kicks_name_the_room_the_owner_and_the_reason() {
        let kick = |nick: &str, reason: &str| Line::Kick {
            room: s("#a"),
            nick: s(nick),
            by: s("ann"),
            reason: s(reason),
        };
        let cases = [
            (kick("bob", "be nice"), "<-- bob was removed from #a by ann (be nice)"),
            (kick("bob", ""), "<-- bob was removed from #a by ann"),
            (kick("Alice", "spam"), "*** you were removed from #a by ann (spam)"),
            (kick("alice", ""), "*** you were removed from #a by ann"),
        ];
        for (line, want) in cases {
            assert_eq!(plain(line.clone()).as_deref(), Some(want), "{line:?}");
        }
    }

    #[test]
    fn account_lines_speak_to_us() {
        let cases = [
            (
                Line::Identify { nick: s("alice"), seconds: 30 },
                "*** alice is registered: type /identify PASSWORD within 30 s, \
                 or you will be renamed",
            ),
            (Line::Account { nick: Some(s("alice")) }, "*** you are identified as alice"),
            (Line::Account { nick: None }, "*** you are no longer identified"),
        ];
        for (line, want) in cases {
            assert_eq!(plain(line.clone()).as_deref(), Some(want), "{line:?}");
        }
    }

    #[test]
    fn a_landing_belongs_to_the_room_joined_and_its_room_line_says_nothing() {
        let mut renderer = alice_in_utc(Style::PLAIN);
        let landing = [
            (Line::Join { room: s("#rust"), nick: s("alice") }, Some("*** you joined #rust")),
            (
                Line::Topic { room: s("#rust"), by: s("bob"), text: s("async") },
                Some("--- topic: async (set by bob)"),
            ),
            (
                replay(Line::Message { room: s("#rust"), from: s("bob"), text: s("hi") }),
                Some("[11-30 07:30] <bob> hi"),
            ),
            (
                Line::HistoryEnd { of: s("#rust"), count: 1 },
                Some("── 1 earlier message in #rust; new below ──"),
            ),
            (Line::Room { room: Some(s("#rust")) }, None),
            (Line::Message { room: lobby(), from: s("bob"), text: s("x") }, Some("#lobby <bob> x")),
        ];
        for (line, want) in landing {
            assert_eq!(renderer.render(&line).as_deref(), want, "{line:?}");
        }
        assert_eq!(renderer.current(), Some("#rust"));
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
