//! Questions about the server and the people on it: the welcome burst, `LUSERS`, `MOTD`,
//! `VERSION`, `TIME`, `WHO`, `WHOIS`, `WHOWAS`, `ISON`, `USERHOST`, and user modes.

use std::sync::{Arc, Weak};

use futures_lite::AsyncRead;

use super::Session;
use crate::core::{Person, MAX_ROOM_NAME};
use crate::proto::irc::{numeric::*, pack, Message, Replies, HOST, MAX_LINE, USER};
use crate::server::Config;

/// The server's version, as `002`, `004` and `VERSION` give it.
const VERSION: &str = concat!("smolchat-", env!("CARGO_PKG_VERSION"));

/// The most people a `WHO` with a mask lists, as ergo does: `WHO *` on a full server would
/// otherwise be a reply of megabytes for one line of input.
const MAX_WHO: usize = 200;

/// The message of the day, one line per `372`.
const MOTD: &[&str] = &[
    "Welcome to smolchat: one chat for IRC and smolchat clients alike.",
    "Rooms are IRC channels: /join #lobby to meet everyone, /list to see the rest.",
    "Everyone appears as nick!chat@smolchat, whatever client they use.",
];

/// `001` to `005`, the user counts and the message of the day: what a client reads
/// first, with `online` people on the server and `rooms` rooms.
pub fn welcome_burst(replies: &mut Replies<'_>, config: &Config, counts: Counts) {
    let (server, nick, network) = (replies.server(), replies.nick(), &config.network_name);
    let welcome = format!("Welcome to the {network} IRC network, {nick}");
    replies.numeric(RPL_WELCOME, &[], Some(&welcome));
    let host = format!("Your host is {server}, running version {VERSION}");
    replies.numeric(RPL_YOURHOST, &[], Some(&host));
    replies.numeric(RPL_CREATED, &[], Some("This server was created when it started"));
    replies.numeric(RPL_MYINFO, &[server, VERSION, "i", "n"], None);
    isupport(replies, config);
    lusers(replies, counts);
    motd(replies);
}

/// How many people and rooms there are, for `LUSERS`.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// People online now.
    pub online: usize,
    /// How many of them are invisible (`+i`).
    pub hidden: usize,
    /// The most online at once so far.
    pub peak: usize,
    /// Rooms.
    pub rooms: usize,
}

/// `005`: what this server supports, honestly. No channel modes can be set (`n`, no
/// messages from outside, always holds), nobody has a prefix, ASCII letters fold as
/// `ascii` says and the rest as PRECIS does (Unicode case folding after normalization;
/// `UTF8MAPPING`, as ergo names it), and only UTF-8 is accepted.
pub fn isupport(replies: &mut Replies<'_>, config: &Config) {
    let tokens = [
        format!("AWAYLEN={}", super::talk::MAX_AWAY),
        "CASEMAPPING=ascii".to_string(),
        format!("CHANLIMIT=#:{}", config.max_rooms_per_client),
        "CHANMODES=,,,n".to_string(),
        format!("CHANNELLEN={}", MAX_ROOM_NAME + 1),
        "CHANTYPES=#".to_string(),
        format!("NETWORK={}", config.network_name),
        format!("NICKLEN={}", config.max_nick),
        "PREFIX=".to_string(),
        "TARGMAX=JOIN:,PART:,PRIVMSG:4,NOTICE:4,NAMES:,WHOIS:1".to_string(),
        format!("TOPICLEN={}", config.max_topic),
        "UTF8MAPPING=rfc8265".to_string(),
        "UTF8ONLY".to_string(),
    ];
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    // A line has at most 15 parameters: the nick, these, and the trailing text.
    for line in tokens.chunks(12) {
        replies.numeric(RPL_ISUPPORT, line, Some("are supported by this server"));
    }
}

/// `251`, `254`, `255`, `265`, `266`: how many people and rooms there are. One server,
/// no operators.
pub fn lusers(replies: &mut Replies<'_>, counts: Counts) {
    let Counts { online, hidden, peak, rooms } = counts;
    let shown = online.saturating_sub(hidden);
    let users = format!("There are {shown} users and {hidden} invisible on 1 servers");
    replies.numeric(RPL_LUSERCLIENT, &[], Some(&users));
    replies.numeric(RPL_LUSEROP, &["0"], Some("operator(s) online"));
    replies.numeric(RPL_LUSERCHANNELS, &[&rooms.to_string()], Some("channels formed"));
    let me = format!("I have {online} clients and 0 servers");
    replies.numeric(RPL_LUSERME, &[], Some(&me));
    let (count, max) = (online.to_string(), peak.to_string());
    let local = format!("Current local users {online}, max {peak}");
    replies.numeric(RPL_LOCALUSERS, &[&count, &max], Some(&local));
    let global = format!("Current global users {online}, max {peak}");
    replies.numeric(RPL_GLOBALUSERS, &[&count, &max], Some(&global));
}

/// `375`, `372`s and `376`.
pub fn motd(replies: &mut Replies<'_>) {
    let start = format!("- {} Message of the day -", replies.server());
    replies.numeric(RPL_MOTDSTART, &[], Some(&start));
    for line in MOTD {
        replies.numeric(RPL_MOTD, &[], Some(&format!("- {line}")));
    }
    replies.numeric(RPL_ENDOFMOTD, &[], Some("End of /MOTD command."));
}

impl<R: AsyncRead + Unpin> Session<R> {
    /// `LUSERS`.
    pub(super) async fn lusers_command(&mut self, me: &str) {
        let shared = self.shared();
        let counts = Counts {
            online: shared.chat.online().await,
            hidden: shared.chat.hidden_count().await,
            peak: shared.chat.peak(),
            rooms: shared.chat.room_count().await,
        };
        let mut replies = Replies::new(&shared.config.server_name, me);
        lusers(&mut replies, counts);
        self.send(replies);
    }

    /// `MOTD`, `VERSION` and `TIME`: answers that need nobody but the server.
    pub(super) fn about_server(&mut self, command: &str, me: &str) {
        let shared = self.shared();
        let server = shared.config.server_name.as_str();
        let mut replies = Replies::new(server, me);
        match command {
            "MOTD" => motd(&mut replies),
            "VERSION" => {
                replies.numeric(RPL_VERSION, &[VERSION, server], Some("one chat, many protocols"));
                isupport(&mut replies, &shared.config);
            }
            _ => {
                let now =
                    jiff::Timestamp::now().strftime("%A %B %d %Y -- %H:%M:%S UTC").to_string();
                replies.numeric(RPL_TIME, &[server], Some(&now));
            }
        }
        self.send(replies);
    }

    /// `WHO #room` lists its members; `WHO nick` the person; `WHO mask` (with `*` and
    /// `?`) everyone whose nickname matches it, under folding. Invisible people (`+i`)
    /// are left out of a mask's list, and out of a room's for someone not in it, unless
    /// they share a room with whoever asks (RFC 2812 3.6.1).
    pub(super) async fn who(&mut self, person: &Arc<Person>, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let mask = message.param(0).unwrap_or("*");
        // Who is listed, and the channel their lines name (`*` for none).
        let (mut room, mut listed) = ("*".to_string(), Vec::new());
        if mask.starts_with('#') {
            if let Ok(found) = shared.chat.find_room(mask).await {
                listed = shared.chat.members(person, &found).await;
                room = found.name().to_string();
            }
        } else if mask.contains(['*', '?']) {
            let pattern = crate::unicode::fold(mask);
            let everyone = shared.chat.everyone().await;
            let found = everyone
                .into_iter()
                .filter(|found| glob(&pattern, &found.folded()) && found.seen_by(person));
            listed.extend(found.take(MAX_WHO));
        } else if let Some(found) = shared.chat.find(mask).await {
            listed.push(found);
        }
        let server = shared.config.server_name.as_str();
        let mut replies = Replies::new(server, me);
        // Held weakly while the client reads: whoever leaves meanwhile is freed, and left out.
        let listed: Vec<Weak<Person>> = listed.into_iter().map(|p| Arc::downgrade(&p)).collect();
        for (n, member) in listed.iter().enumerate() {
            if n > 0 && n % super::super::PAGE == 0 {
                // A big room's people go out as fast as the client reads them.
                self.send(replies);
                replies = Replies::new(server, me);
                if !self.link.room().await {
                    // The end comes at once, so the client can tell this answer from the next.
                    break;
                }
            }
            let Some(member) = member.upgrade() else { continue };
            let nick = member.nick().to_string();
            let here = if member.away().is_some() { "G" } else { "H" };
            let real = format!("0 {nick}");
            replies.numeric(RPL_WHOREPLY, &[&room, USER, HOST, server, &nick, here], Some(&real));
        }
        replies.numeric(RPL_ENDOFWHO, &[mask], Some("End of WHO list"));
        self.send(replies);
    }

    /// `WHOIS [server] nick`: who they are, which rooms they are in, whether away.
    pub(super) async fn whois(&mut self, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let asked = message.params.last().copied().unwrap_or("");
        let server = shared.config.server_name.as_str();
        let mut replies = Replies::new(server, me);
        match shared.chat.find(asked).await {
            Some(found) => {
                let nick = found.nick().to_string();
                replies.numeric(RPL_WHOISUSER, &[&nick, USER, HOST, "*"], Some(&nick));
                let rooms = found.rooms();
                let fixed = server.len() + me.len() + nick.len() + 16;
                let names = rooms.iter().map(|room| room.name().as_str());
                for run in pack(names, MAX_LINE.saturating_sub(fixed)) {
                    replies.numeric(RPL_WHOISCHANNELS, &[&nick], Some(&run));
                }
                let network = &shared.config.network_name;
                replies.numeric(RPL_WHOISSERVER, &[&nick, server], Some(network));
                if let Some(away) = found.away() {
                    replies.numeric(RPL_AWAY, &[&nick], Some(&away));
                }
                replies.numeric(RPL_ENDOFWHOIS, &[&nick], Some("End of /WHOIS list"));
            }
            None => {
                replies.numeric(ERR_NOSUCHNICK, &[asked], Some("No such nick/channel"));
                replies.numeric(RPL_ENDOFWHOIS, &[asked], Some("End of /WHOIS list"));
            }
        }
        self.send(replies);
    }

    /// `WHOWAS nick`: the server keeps no record of who was here.
    pub(super) fn whowas(&mut self, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let asked = message.param(0).unwrap_or("");
        let mut replies = Replies::new(&shared.config.server_name, me);
        replies.numeric(ERR_WASNOSUCHNICK, &[asked], Some("There was no such nickname"));
        replies.numeric(RPL_ENDOFWHOWAS, &[asked], Some("End of WHOWAS"));
        self.send(replies);
    }

    /// `ISON nick...`: which of them are online, as they spell their names now.
    pub(super) async fn ison(&mut self, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let mut online: Vec<String> = Vec::new();
        let room = MAX_LINE - shared.config.server_name.len() - me.len() - 12;
        let asked = message.params.iter().flat_map(|param| param.split(' '));
        for asked in asked.filter(|asked| !asked.is_empty()) {
            let Some(found) = shared.chat.find(asked).await else { continue };
            let nick = found.nick().to_string();
            // Each once, and only whole names: a cut one would name someone else.
            let used: usize = online.iter().map(|nick| nick.len() + 1).sum();
            if !online.contains(&nick) && used + nick.len() <= room {
                online.push(nick);
            }
        }
        let mut replies = Replies::new(&shared.config.server_name, me);
        replies.numeric(RPL_ISON, &[], Some(&online.join(" ")));
        self.send(replies);
    }

    /// `USERHOST nick...` (at most five): `nick=+user@host`, `-` for someone away.
    pub(super) async fn userhost(&mut self, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let mut found = Vec::new();
        for asked in message.params.iter().flat_map(|param| param.split(' ')).take(5) {
            if let Some(person) = shared.chat.find(asked).await {
                let away = if person.away().is_some() { '-' } else { '+' };
                found.push(format!("{}={away}{USER}@{HOST}", person.nick()));
            }
        }
        let mut replies = Replies::new(&shared.config.server_name, me);
        replies.numeric(RPL_USERHOST, &[], Some(&found.join(" ")));
        self.send(replies);
    }

    /// `MODE nick [modes]`: only one's own modes, and only `i` among them.
    pub(super) async fn user_mode(
        &mut self,
        person: &Arc<Person>,
        message: &Message<'_>,
        me: &str,
    ) {
        let shared = self.shared();
        let target = message.param(0).unwrap_or("");
        if crate::unicode::fold(target) != crate::unicode::fold(me) {
            return match shared.chat.find(target).await {
                Some(_) => {
                    let text = Some("Cant change mode for other users");
                    self.numeric(me, ERR_USERSDONTMATCH, &[], text)
                }
                None => self.numeric(me, ERR_NOSUCHNICK, &[target], Some("No such nick/channel")),
            };
        }
        // An empty mode string (`MODE nick :`) changes nothing: it asks, like none.
        let Some(modes) = message.param(1).filter(|modes| !modes.is_empty()) else {
            let current = if person.is_hidden() { "+i" } else { "+" };
            return self.numeric(me, RPL_UMODEIS, &[current], None);
        };
        let change = UserModes::apply(person.is_hidden(), modes);
        let mut replies = Replies::new(&shared.config.server_name, me);
        if let Err(error) = shared.chat.set_hidden(person, change.invisible).await {
            replies.notice(&error.to_string());
            return self.send(replies);
        }
        if change.unknown {
            replies.numeric(ERR_UMODEUNKNOWNFLAG, &[], Some("Unknown MODE flag"));
        }
        if !change.changed.is_empty() {
            replies.raw(format_args!(":{me}!{USER}@{HOST} MODE {me} :{}", change.changed));
        }
        self.send(replies);
    }
}

/// What a user `MODE` change comes to: only `i` is known.
struct UserModes {
    /// Whether the user is invisible afterwards.
    invisible: bool,
    /// The changes made, as `MODE` reports them (`+i`, `-i`, or nothing).
    changed: String,
    /// Whether a letter other than `i` was asked for.
    unknown: bool,
}

impl UserModes {
    /// Applies `modes` (`+i`, `-i`, `+iw`, ...) to a user who `invisible` or not.
    fn apply(mut invisible: bool, modes: &str) -> UserModes {
        let (mut adding, mut changed, mut unknown) = (true, String::new(), false);
        for mode in modes.chars() {
            match mode {
                '+' => adding = true,
                '-' => adding = false,
                'i' if invisible != adding => {
                    invisible = adding;
                    changed.push_str(if adding { "+i" } else { "-i" });
                }
                'i' => {}
                _ => unknown = true,
            }
        }
        UserModes { invisible, changed, unknown }
    }
}

/// Whether `text` matches the IRC mask `pattern`: `*` stands for any run of characters,
/// `?` for one.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer match: on a mismatch, let the last `*` take one more character.
    let (mut p, mut t, mut star, mut resume) = (0, 0, None, 0);
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some(p);
                resume = t;
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some(at) => {
                    p = at + 1;
                    resume += 1;
                    t = resume;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn masks_match_with_stars_and_question_marks() {
        assert!(glob("*", "alice"));
        assert!(glob("al*", "alice") && glob("*ce", "alice") && glob("a?i*e", "alice"));
        assert!(!glob("al?", "alice") && !glob("b*", "alice") && !glob("", "alice"));
        assert!(glob("*li*", "alice") && glob("**", ""));
    }
}
