//! The services: `NickServ` (`REGISTER`, `IDENTIFY`, `DROP`, `HELP`) for registered
//! nicknames, `ChanServ` (`REGISTER #room`) for registered rooms, and the grace period of
//! someone who holds a registered nickname without having identified as it. Services
//! answer with notices from `NickServ!NickServ@services`; a wrong password counts against
//! the address and the account.

use std::sync::Arc;
use std::time::Duration;

use futures_lite::AsyncRead;

use super::super::claim;
use super::channels::member_room;
use super::Session;
use crate::core::{AccountError, Identified, Person, RoomName};
use crate::proto::irc::{numeric::*, ChanServ, NickServ, Replies, Service, HOST, USER};
use crate::server::guesses::Checked;

impl<R: AsyncRead + Unpin> Session<R> {
    /// A message to a service (`PRIVMSG NickServ :...`, or `NS ...`).
    pub(super) async fn ask_service(
        &mut self,
        person: &Arc<Person>,
        service: Service,
        text: &str,
        me: &str,
    ) {
        match service {
            Service::NickServ => self.nickserv(person, NickServ::parse(text), me).await,
            Service::ChanServ => self.chanserv(person, ChanServ::parse(text), me).await,
        }
    }

    async fn nickserv(&mut self, person: &Arc<Person>, command: NickServ<'_>, me: &str) {
        match command {
            NickServ::Register { password } => self.register_nick(person, password, me).await,
            NickServ::Identify { nick, password } => {
                self.identify(person, nick, password, me).await
            }
            NickServ::Drop => self.drop_nick(person, me).await,
            NickServ::Help => self.nickserv_help(me),
            NickServ::Usage(usage) => {
                self.service_notice(Service::NickServ, me, &[&format!("Usage: {usage}")])
            }
            NickServ::Unknown(word) => {
                let text =
                    format!("Unknown command {word}. /msg NickServ HELP lists the commands.");
                self.service_notice(Service::NickServ, me, &[&text]);
            }
        }
    }

    /// `REGISTER password`: the current nickname becomes an account, and its owner is
    /// identified as it.
    async fn register_nick(&mut self, person: &Arc<Person>, password: &str, me: &str) {
        // A password hashed is the address's to pay for, as a guess would be.
        let (shared, ip, fold) = (self.shared(), self.link.ticket.peer.ip(), person.folded());
        let register = shared.chat.register_account(person, password);
        let outcome = match shared.guesses.check(ip, &fold, register).await {
            Checked::Refused(wait) => {
                let text =
                    format!("Too many passwords from your address; try again {}", wait_text(wait));
                return self.service_notice(Service::NickServ, me, &[&text]);
            }
            Checked::Done { outcome, .. } => outcome,
        };
        let text = match outcome {
            Ok(nick) => {
                self.logged_in(person, nick.as_str());
                format!(
                    concat!(
                        "{} is now registered to you, and you are identified as it. ",
                        "Next time, /msg NickServ IDENTIFY password"
                    ),
                    nick
                )
            }
            Err(AccountError::Registered(nick)) => {
                format!(
                    "{nick} is registered already. If it is yours: /msg NickServ IDENTIFY password"
                )
            }
            Err(error) => capitalized(&error.to_string()),
        };
        self.service_notice(Service::NickServ, me, &[&text]);
    }

    /// `IDENTIFY [nick] password`, refused while the address or the account has spent its
    /// wrong passwords; a wrong one is counted.
    async fn identify(
        &mut self,
        person: &Arc<Person>,
        nick: Option<&str>,
        password: &str,
        me: &str,
    ) {
        let shared = self.shared();
        let account: Arc<str> = crate::unicode::fold(nick.unwrap_or(me)).into();
        let ip = self.link.ticket.peer.ip();
        let identify = shared.chat.identify(person, nick, password);
        let (outcome, spent) = match shared.guesses.check(ip, &account, identify).await {
            Checked::Refused(wait) => {
                let text = format!(
                    "Too many wrong passwords for {}; try again {}",
                    nick.unwrap_or(me),
                    wait_text(wait)
                );
                return self.service_notice(Service::NickServ, me, &[&text]);
            }
            Checked::Done { outcome, spent } => (outcome, spent),
        };
        let text = match outcome {
            Ok(identified) => self.identified(person, &identified),
            Err(AccountError::WrongPassword(name)) => {
                let mut text = format!("Wrong password for {name}; the attempt was counted.");
                if let Some(wait) = spent {
                    text.push_str(&format!(
                        " Too many wrong passwords: try again {}",
                        wait_text(wait)
                    ));
                }
                text
            }
            Err(AccountError::NotRegistered(name)) => {
                format!(
                    concat!(
                        "{} is not registered. ",
                        "/msg NickServ REGISTER password registers your current nickname."
                    ),
                    name
                )
            }
            Err(error) => capitalized(&error.to_string()),
        };
        // To the nickname they may just have taken.
        let now = person.nick();
        self.service_notice(Service::NickServ, now.as_str(), &[&text]);
    }

    /// What an identification that worked says, after `900`.
    fn identified(&self, person: &Person, identified: &Identified) -> String {
        let nick = &identified.nick;
        self.logged_in(person, nick.as_str());
        if identified.took_nick {
            format!("You are now identified as {nick}.")
        } else {
            format!(
                concat!(
                    "You are now identified as {0}, but {0} is in use by a connection ",
                    "identified as it, so you keep your nickname."
                ),
                nick
            )
        }
    }

    /// `DROP`: the account identified as is no more.
    async fn drop_nick(&mut self, person: &Arc<Person>, me: &str) {
        let text = match self.shared().chat.drop_account(person).await {
            Ok(nick) => {
                self.shared().guesses.forget(&nick.key().fold);
                let mask = format!("{me}!{USER}@{HOST}");
                self.numeric(me, RPL_LOGGEDOUT, &[&mask], Some("You are now logged out"));
                format!(
                    concat!(
                        "{} is no longer registered; ",
                        "the rooms it owned are no longer registered either."
                    ),
                    nick
                )
            }
            Err(AccountError::NotIdentified) => {
                "You are not identified: /msg NickServ IDENTIFY password first.".to_string()
            }
            Err(error) => capitalized(&error.to_string()),
        };
        self.service_notice(Service::NickServ, me, &[&text]);
    }

    fn nickserv_help(&self, me: &str) {
        let grace = grace_text(self.shared().config.identify_grace);
        let lines = [
            "NickServ keeps registered nicknames. Commands:",
            concat!(
                "REGISTER password - registers your current nickname ",
                "(a password of 8 characters or more, no spaces)"
            ),
            "IDENTIFY [nick] password - proves a nickname is yours (and takes it if need be)",
            "DROP - unregisters the nickname you identified as",
            &format!(
                concat!(
                    "Whoever takes a registered nickname without identifying ",
                    "is renamed to a guest name after {}."
                ),
                grace
            ),
            "Over TLS (ircs://), SASL PLAIN identifies you as you connect.",
        ];
        self.service_notice(Service::NickServ, me, &lines);
    }

    /// `ChanServ REGISTER #room`: an identified member of a room becomes its owner;
    /// `ChanServ DROP #room`: its owner gives it up.
    async fn chanserv(&mut self, person: &Arc<Person>, command: ChanServ<'_>, me: &str) {
        let name = match command {
            ChanServ::Register { room } => room,
            ChanServ::Drop { room } => return self.chanserv_drop(person, room, me).await,
            ChanServ::Help => {
                let lines = [
                    "ChanServ keeps registered rooms. Commands:",
                    concat!(
                        "REGISTER #room - makes you the owner of a room you are in (identify ",
                        "first): only you may set its topic and KICK, and it keeps its topic"
                    ),
                    "DROP #room - gives up a room you own: anyone in it may set its topic",
                ];
                return self.service_notice(Service::ChanServ, me, &lines);
            }
            ChanServ::Usage(usage) => {
                return self.service_notice(Service::ChanServ, me, &[&format!("Usage: {usage}")]);
            }
            ChanServ::Unknown(word) => {
                let text =
                    format!("Unknown command {word}. /msg ChanServ HELP lists the commands.");
                return self.service_notice(Service::ChanServ, me, &[&text]);
            }
        };
        let shared = self.shared();
        let chat = &shared.chat;
        let registered = match member_room(chat, person, name).await {
            Ok(room) => chat.register_room(person, &room).await.map(|()| room),
            Err(error) => Err(error.into()),
        };
        let text = match registered {
            Ok(room) => format!(
                "{} is now registered to you: only you may set its topic and KICK.",
                room.name()
            ),
            Err(error) => chanserv_refusal(&error),
        };
        self.service_notice(Service::ChanServ, me, &[&text]);
    }

    /// `ChanServ DROP #room`: the owner of a registered room gives it up.
    async fn chanserv_drop(&mut self, person: &Arc<Person>, name: &str, me: &str) {
        let chat = &self.shared().chat;
        let dropped = match RoomName::parse(name) {
            Ok(name) => chat.drop_room(person, &name).await,
            Err(error) => return self.service_notice(Service::ChanServ, me, &[&error.to_string()]),
        };
        let text = match dropped {
            Ok(room) => format!("{room} is no longer registered: anyone in it may set its topic."),
            Err(error) => chanserv_refusal(&error),
        };
        self.service_notice(Service::ChanServ, me, &[&text]);
    }

    /// `900`: the client is now logged in to the account `account`.
    fn logged_in(&self, person: &Person, account: &str) {
        let me = person.nick();
        let mask = format!("{me}!{USER}@{HOST}");
        let text = format!("You are now logged in as {account}");
        self.numeric(me.as_str(), RPL_LOGGEDIN, &[&mask, account], Some(&text));
    }

    /// Starts the grace period of someone who now holds a registered nickname without
    /// having identified as it, and tells them.
    pub(super) fn watch_claim(&self, person: &Arc<Person>) {
        let shared = self.shared();
        let Some(grace) = shared.chat.claim(person) else { return };
        claim::watch(&shared, person, grace);
        let text = format!(
            concat!(
                "This nickname is registered. ",
                "/msg NickServ IDENTIFY password within {}, or you will be renamed."
            ),
            grace_text(grace)
        );
        self.service_notice(Service::NickServ, person.nick().as_str(), &[&text]);
    }

    /// Notices from `service` to the client known as `me`, one per line of `lines`.
    pub(super) fn service_notice(&self, service: Service, me: &str, lines: &[&str]) {
        let shared = self.shared();
        let mut replies = Replies::new(&shared.config.server_name, me);
        for line in lines {
            replies.raw(format_args!(":{} NOTICE {me} :{line}", service.source()));
        }
        self.send(replies);
    }
}

/// `in 42 s`: how long until a locked-out address or account may try again.
pub(super) fn wait_text(wait: Duration) -> String {
    format!("in {} s", wait.as_secs().max(1))
}

/// A grace period in words: `30 seconds`, `1 second`, `300 ms`.
fn grace_text(grace: Duration) -> String {
    match (grace.as_secs(), grace.subsec_millis()) {
        (1, 0) => "1 second".to_string(),
        (seconds, 0) if seconds > 0 => format!("{seconds} seconds"),
        _ => format!("{} ms", grace.as_millis()),
    }
}

/// `text` with a capital first letter, as a sentence of its own.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// What ChanServ says when a room cannot be registered or given up.
fn chanserv_refusal(error: &AccountError) -> String {
    match error {
        AccountError::NotIdentified => "Identify first: /msg NickServ IDENTIFY password".into(),
        error => capitalized(&error.to_string()),
    }
}
