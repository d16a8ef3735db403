//! The names the client has heard of, for Tab: who is in each of our rooms (from `NAMES`,
//! `JOIN`, `LEAVE`, `KICK`, `QUIT` and `RENAME` lines) and which rooms exist (from `/list`
//! and `JOIN` lines). It only ever knows what the server has told it, and keeps only what
//! is safe to put back on the line being edited (rustyline prints candidates as they are)
//! and as much as a person could ever want to Tab through.

use std::collections::HashMap;

use super::render::{clean, same_name};
use crate::core::{Nick, RoomName};
use crate::proto::chat::Line;
use crate::unicode;

/// The longest nickname kept, in characters: twice the servers' default limit. Longer
/// ones are not offered.
pub const LONGEST_NICK: usize = 64;

/// The most members kept per room; someone arriving in a fuller room is not offered.
pub const MAX_MEMBERS: usize = 2_000;

/// The most rooms whose members are kept (servers allow 20 per client by default).
pub const MAX_JOINED: usize = 64;

/// The most rooms heard of that `/join` completes.
pub const MAX_ROOMS: usize = 2_000;

/// Names by their fold key (see [`unicode::fold`]), each as the server wrote it: one
/// lookup finds a name however it is written.
type Names = HashMap<String, String>;

/// What Tab can complete, as learnt from the server's lines.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    /// Our own nickname, never offered: nobody addresses themselves.
    me: String,
    /// The room plain text goes to, whose members Tab offers.
    current: Option<String>,
    /// The members of each room we are in, by the room's fold key; only these rooms'
    /// `NAMES` are kept.
    members: HashMap<String, Names>,
    /// Rooms heard of, ours or not, for `/join`.
    rooms: Names,
}

impl Roster {
    /// An empty roster for the client registered as `me`.
    pub fn new(me: &str) -> Roster {
        Roster { me: me.to_string(), ..Roster::default() }
    }

    /// Forgets who is where, as after a reconnection, keeping the rooms heard of.
    pub fn restart(&mut self, me: &str) {
        self.me = me.to_string();
        self.current = None;
        self.members.clear();
    }

    /// Learns what `line` says about names.
    pub fn follow(&mut self, line: &Line) {
        match line {
            Line::Names { room, nicks } => {
                self.hear_room(room);
                if let Some(members) = self.members.get_mut(&key(room)) {
                    members.clear();
                    nicks.iter().for_each(|nick| add(members, nick));
                }
            }
            Line::Join { room, nick } => {
                self.hear_room(room);
                let room = key(room);
                if same_name(nick, &self.me) && self.members.len() < MAX_JOINED {
                    self.members.entry(room.clone()).or_default();
                }
                if let Some(members) = self.members.get_mut(&room) {
                    add(members, nick);
                }
            }
            Line::Leave { room, nick, .. } | Line::Kick { room, nick, .. } => self.part(room, nick),
            Line::Quit { nick, .. } => {
                let nick = key(nick);
                self.members.values_mut().for_each(|members| drop(members.remove(&nick)));
            }
            Line::Rename { old, new } => self.rename(old, new),
            Line::List { room, .. } => self.hear_room(room),
            Line::Room { room } => self.current = room.clone(),
            _ => {}
        }
    }

    /// The words Tab may put in place of `word`, which ends at the cursor in `line`: room
    /// names for `/join` and for a word starting with `#`, otherwise nicknames of the
    /// current room; commands are left alone.
    pub fn candidates(&self, line: &str, word: &str) -> Vec<String> {
        let first = line.split_whitespace().next().unwrap_or("");
        let joining = first.eq_ignore_ascii_case("/join") && line.trim_start() != first;
        let names: Vec<&String> = if joining || word.starts_with('#') {
            self.rooms.values().collect()
        } else if word.starts_with('/') {
            Vec::new()
        } else {
            let current = self.current.as_deref().and_then(|room| self.members.get(&key(room)));
            current
                .into_iter()
                .flat_map(Names::values)
                .filter(|n| !same_name(n, &self.me))
                .collect()
        };
        let mut found: Vec<String> =
            names.into_iter().filter(|name| starts_with(name, word)).cloned().collect();
        // The names come from hash maps: ties are broken so that the order is always one.
        found.sort_by_cached_key(|name| (name.to_lowercase(), name.clone()));
        found
    }

    /// Someone (or we) left `room`: forgetting our own membership forgets its members.
    fn part(&mut self, room: &str, nick: &str) {
        let room = key(room);
        if same_name(nick, &self.me) {
            self.members.remove(&room);
        } else if let Some(members) = self.members.get_mut(&room) {
            members.remove(&key(nick));
        }
    }

    fn rename(&mut self, old: &str, new: &str) {
        if same_name(old, &self.me) {
            self.me = new.to_string();
        }
        let old = key(old);
        for members in self.members.values_mut() {
            if members.remove(&old).is_some() {
                add(members, new);
            }
        }
    }

    /// Keeps `room` for `/join`, if it is a room name safe to show and there is room.
    fn hear_room(&mut self, room: &str) {
        if self.rooms.len() < MAX_ROOMS && shows_as_room(room) {
            self.rooms.entry(key(room)).or_insert_with(|| room.to_string());
        }
    }
}

/// Adds `nick` to `members`, if it is a nickname safe to show and the room is not full.
fn add(members: &mut Names, nick: &str) {
    if members.len() < MAX_MEMBERS && shows_as_nick(nick) {
        members.entry(key(nick)).or_insert_with(|| nick.to_string());
    }
}

/// The fold key of a nickname or room name: the same for every way of writing it.
fn key(name: &str) -> String {
    unicode::fold(name).into_owned()
}

/// Whether `nick` is a valid nickname exactly as written, with nothing [`clean`] would
/// change: the server's text goes onto the line being edited, where rustyline prints it
/// as it is, so escape sequences and invisible characters must never get that far.
fn shows_as_nick(nick: &str) -> bool {
    Nick::parse(nick, LONGEST_NICK).is_ok_and(|valid| valid.as_str() == nick) && clean(nick) == nick
}

/// [`shows_as_nick`] for a room name.
fn shows_as_room(room: &str) -> bool {
    RoomName::parse(room).is_ok_and(|valid| valid.as_str() == room) && clean(room) == room
}

/// Whether `name` starts with `prefix`, ignoring case as nicknames and rooms do.
fn starts_with(name: &str, prefix: &str) -> bool {
    name.to_lowercase().starts_with(&prefix.to_lowercase())
}

/// Where the word ending at `pos` in `line` starts: after the last space before it.
pub fn word_start(line: &str, pos: usize) -> usize {
    let before = line.get(..pos).unwrap_or(line);
    // After the whole space: a non-breaking or ideographic one is more than a byte.
    let space = before.char_indices().rev().find(|(_, c)| c.is_whitespace());
    space.map_or(0, |(at, c)| at + c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        text.to_string()
    }

    fn lobby() -> Roster {
        let mut roster = Roster::new("alice");
        roster.follow(&Line::Join { room: s("#lobby"), nick: s("alice") });
        roster.follow(&Line::Names {
            room: s("#lobby"),
            nicks: vec![s("alice"), s("bob"), s("Bella"), s("carol")],
        });
        roster.follow(&Line::Room { room: Some(s("#lobby")) });
        roster
    }

    #[test]
    fn nicknames_of_the_current_room_complete_ignoring_case() {
        let roster = lobby();
        assert_eq!(roster.candidates("hi b", "b"), [s("Bella"), s("bob")]);
        assert_eq!(roster.candidates("CA", "CA"), [s("carol")]);
        assert_eq!(roster.candidates("a", "a"), Vec::<String>::new(), "never ourselves");
        assert_eq!(roster.candidates("/frob", "/frob"), Vec::<String>::new());
    }

    #[test]
    fn joins_leaves_quits_and_renames_are_followed() {
        let mut roster = lobby();
        roster.follow(&Line::Join { room: s("#lobby"), nick: s("dave") });
        roster.follow(&Line::Quit { nick: s("bob"), reason: s("quit") });
        roster.follow(&Line::Leave { room: s("#lobby"), nick: s("carol"), reason: s("part") });
        roster.follow(&Line::Rename { old: s("bella"), new: s("belle") });
        assert_eq!(roster.candidates("", ""), [s("belle"), s("dave")]);
        roster.follow(&Line::Rename { old: s("alice"), new: s("ally") });
        roster.follow(&Line::Kick {
            room: s("#lobby"),
            nick: s("dave"),
            by: s("ally"),
            reason: s(""),
        });
        assert_eq!(roster.candidates("", ""), [s("belle")]);
    }

    #[test]
    fn only_the_current_room_is_offered() {
        let mut roster = lobby();
        roster.follow(&Line::Join { room: s("#rust"), nick: s("alice") });
        roster.follow(&Line::Names { room: s("#rust"), nicks: vec![s("alice"), s("bert")] });
        roster.follow(&Line::Room { room: Some(s("#rust")) });
        assert_eq!(roster.candidates("b", "b"), [s("bert")]);
        roster.follow(&Line::Leave { room: s("#rust"), nick: s("alice"), reason: s("part") });
        roster.follow(&Line::Room { room: Some(s("#lobby")) });
        assert_eq!(roster.candidates("b", "b"), [s("Bella"), s("bob")]);
    }

    #[test]
    fn rooms_complete_after_join_from_list_and_join_lines() {
        let mut roster = lobby();
        roster.follow(&Line::List { room: s("#rust"), members: 3, topic: s("") });
        roster.follow(&Line::List { room: s("#Random"), members: 1, topic: s("") });
        roster.follow(&Line::Join { room: s("#rumours"), nick: s("bob") });
        assert_eq!(roster.candidates("/join #r", "#r"), [s("#Random"), s("#rumours"), s("#rust")]);
        assert_eq!(
            roster.candidates("/JOIN ", ""),
            [s("#lobby"), s("#Random"), s("#rumours"), s("#rust")]
        );
        assert_eq!(roster.candidates("/msg #ru", "#ru"), [s("#rumours"), s("#rust")]);
        assert_eq!(roster.candidates("/join", "/join"), Vec::<String>::new());
    }

    #[test]
    fn the_word_is_what_precedes_the_cursor() {
        assert_eq!(word_start("hello bo", 8), 6);
        assert_eq!(word_start("bo", 2), 0);
        assert_eq!(word_start("/join #ru and", 9), 6);
        assert_eq!(word_start("x ", 2), 2);
    }

    #[test]
    fn a_word_starts_after_a_space_of_several_bytes() {
        let line = "hi\u{a0}an";
        assert_eq!(word_start(line, line.len()), "hi\u{a0}".len());
        assert_eq!(word_start("ab\u{3000}", "ab\u{3000}".len()), "ab\u{3000}".len());
    }

    #[test]
    fn names_that_are_not_valid_or_would_not_show_as_written_are_never_offered() {
        let mut roster = lobby();
        let hostile = [
            "e\x1b]0;PWNED\x07v\x1b[2J",
            "e\u{200B}ve",
            "e\u{202E}ve",
            "eve\u{7}",
            "eve bob",
            "ev\u{e9}",   // é as a letter: fine, shown below
            "eve\u{301}", // a combining accent that composes: not as written
            "",
        ];
        let mut nicks: Vec<String> = hostile.iter().map(|n| s(n)).collect();
        nicks.push(s("eve"));
        roster.follow(&Line::Names { room: s("#lobby"), nicks });
        roster.follow(&Line::Join { room: s("#lobby"), nick: s("e\x1b[31mred") });
        roster.follow(&Line::Rename { old: s("eve"), new: s("e\x1b[2Jx") });
        roster.follow(&Line::Join { room: s("#lobby"), nick: s("eve") });
        assert_eq!(roster.candidates("e", "e"), [s("eve"), s("ev\u{e9}")]);
        roster.follow(&Line::List { room: s("#e\x1b[2J"), members: 1, topic: s("") });
        roster.follow(&Line::List { room: s("#e\u{200B}x"), members: 1, topic: s("") });
        roster.follow(&Line::Join { room: s("#ok\x07"), nick: s("bob") });
        roster.follow(&Line::List { room: s("#ex"), members: 1, topic: s("") });
        assert_eq!(roster.candidates("/join #", "#"), [s("#ex"), s("#lobby")]);
    }

    #[test]
    fn the_roster_stays_under_its_caps() {
        let mut roster = Roster::new("alice");
        let many = |prefix: &str, count: usize| -> Vec<String> {
            (0..count).map(|n| format!("{prefix}{n}")).collect()
        };
        // NAMES of rooms we are not in are not kept at all.
        for room in many("#elsewhere", 50) {
            roster.follow(&Line::Names { room, nicks: many("x", 100) });
        }
        assert!(roster.members.is_empty());
        for room in many("#r", MAX_JOINED + 10) {
            roster.follow(&Line::Join { room: room.clone(), nick: s("alice") });
            roster.follow(&Line::Names { room: room.clone(), nicks: many("n", MAX_MEMBERS + 10) });
            roster.follow(&Line::Join { room, nick: s("latecomer") });
        }
        for room in many("#listed", MAX_ROOMS + 10) {
            roster.follow(&Line::List { room, members: 1, topic: s("") });
        }
        assert_eq!(roster.members.len(), MAX_JOINED);
        assert!(roster.members.values().all(|members| members.len() == MAX_MEMBERS));
        assert_eq!(roster.rooms.len(), MAX_ROOMS);
        // Leaving a room forgets its members, and lets another room be kept.
        roster.follow(&Line::Leave { room: s("#r0"), nick: s("ALICE"), reason: s("part") });
        roster.follow(&Line::Join { room: s("#new"), nick: s("alice") });
        roster.follow(&Line::Join { room: s("#new"), nick: s("bob") });
        roster.follow(&Line::Room { room: Some(s("#NEW")) });
        assert_eq!(roster.candidates("b", "b"), [s("bob")]);
        assert_eq!(roster.members.len(), MAX_JOINED);
    }
}
