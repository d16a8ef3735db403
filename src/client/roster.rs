//! The names the client has heard of, for Tab: who is in each of our rooms (from `NAMES`,
//! `JOIN`, `LEAVE`, `KICK`, `QUIT` and `RENAME` lines) and which rooms exist (from `/list`
//! and `JOIN` lines). It only ever knows what the server has told it.

use std::collections::BTreeMap;

use super::render::same_name;
use crate::proto::chat::Line;

/// What Tab can complete, as learnt from the server's lines.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    /// Our own nickname, never offered: nobody addresses themselves.
    me: String,
    /// The room plain text goes to, whose members Tab offers.
    current: Option<String>,
    /// The members of each room we are in, by the room's name as the server wrote it.
    members: BTreeMap<String, Vec<String>>,
    /// Every room heard of, ours or not, for `/join`.
    rooms: Vec<String>,
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
                *self.room_mut(room) = nicks.clone();
            }
            Line::Join { room, nick } => {
                self.hear_room(room);
                let members = self.room_mut(room);
                if !members.iter().any(|known| same_name(known, nick)) {
                    members.push(nick.clone());
                }
            }
            Line::Leave { room, nick, .. } | Line::Kick { room, nick, .. } => self.part(room, nick),
            Line::Quit { nick, .. } => {
                self.members.values_mut().for_each(|members| remove(members, nick));
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
            self.rooms.iter().collect()
        } else if word.starts_with('/') {
            Vec::new()
        } else {
            let current = self.current.as_deref().and_then(|room| self.room(room));
            current.into_iter().flatten().filter(|nick| !same_name(nick, &self.me)).collect()
        };
        let mut found: Vec<String> =
            names.into_iter().filter(|name| starts_with(name, word)).cloned().collect();
        found.sort_by_key(|name| name.to_lowercase());
        found
    }

    /// Someone (or we) left `room`: forgetting our own membership forgets its members.
    fn part(&mut self, room: &str, nick: &str) {
        if same_name(nick, &self.me) {
            self.members.retain(|known, _| !same_name(known, room));
        } else if let Some(members) = self.room_mut_if_known(room) {
            remove(members, nick);
        }
    }

    fn rename(&mut self, old: &str, new: &str) {
        if same_name(old, &self.me) {
            self.me = new.to_string();
        }
        for members in self.members.values_mut() {
            if let Some(known) = members.iter_mut().find(|known| same_name(known, old)) {
                *known = new.to_string();
            }
        }
    }

    fn hear_room(&mut self, room: &str) {
        if !self.rooms.iter().any(|known| same_name(known, room)) {
            self.rooms.push(room.to_string());
        }
    }

    fn room(&self, room: &str) -> Option<&Vec<String>> {
        self.members.iter().find(|(known, _)| same_name(known, room)).map(|(_, members)| members)
    }

    fn room_mut_if_known(&mut self, room: &str) -> Option<&mut Vec<String>> {
        let members = self.members.iter_mut().find(|(known, _)| same_name(known, room));
        members.map(|(_, members)| members)
    }

    fn room_mut(&mut self, room: &str) -> &mut Vec<String> {
        let key = match self.members.keys().find(|known| same_name(known, room)) {
            Some(known) => known.clone(),
            None => room.to_string(),
        };
        self.members.entry(key).or_default()
    }
}

fn remove(members: &mut Vec<String>, nick: &str) {
    members.retain(|known| !same_name(known, nick));
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
}
