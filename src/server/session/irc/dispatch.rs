//! Registered clients' commands: one table from command to handler, and the `461` for a
//! command with too few (or empty) parameters, in one place.

use std::sync::Arc;

use futures_lite::AsyncRead;

use super::{Ending, Session};
use crate::core::Person;
use crate::proto::irc::{numeric::*, plain, Cap, Message, Service};

/// The fewest parameters, none of them empty, each command needs; commands not listed
/// need none.
fn needs(command: &str) -> usize {
    match command {
        "JOIN" | "PART" | "TOPIC" | "MODE" | "WHOIS" | "WHOWAS" | "ISON" | "USERHOST" => 1,
        "HISTORY" | "AUTHENTICATE" => 1,
        "KICK" => 2,
        _ => 0,
    }
}

impl<R: AsyncRead + Unpin> Session<R> {
    /// Acts on one message of a registered client.
    pub(super) async fn handle(
        &mut self,
        person: &Arc<Person>,
        message: &Message<'_>,
    ) -> Option<Ending> {
        let me = person.nick().to_string();
        let me = me.as_str();
        let command = message.command.as_str();
        // An empty parameter (`JOIN :`) names nothing: it counts as missing.
        let given = message.params.iter().take_while(|param| !param.is_empty()).count();
        if given < needs(command) {
            self.numeric(me, ERR_NEEDMOREPARAMS, &[command], Some("Not enough parameters"));
            return None;
        }
        match command {
            "PRIVMSG" | "NOTICE" => self.talk(person, message, me).await,
            "JOIN" => self.join(person, message, me).await,
            "PART" => self.part(person, message, me).await,
            "TOPIC" => self.topic(person, message, me).await,
            "NAMES" => self.names(person, message, me).await,
            "LIST" => self.list(message, me).await,
            "MODE" if message.param(0).is_some_and(|t| t.starts_with('#')) => {
                self.room_mode(message, me).await
            }
            "MODE" => self.user_mode(person, message, me).await,
            "NICK" => self.rename(person, message, me).await,
            "KICK" => self.kick(person, message, me).await,
            "HISTORY" => self.history(person, message, me).await,
            "NS" | "NICKSERV" | "CS" | "CHANSERV" => {
                if let Some(service) = Service::of_command(command) {
                    let text = message.params.join(" ");
                    self.ask_service(person, service, &text, me).await;
                }
            }
            "AUTHENTICATE" => self.authenticate_late(person, me),
            // Tags alone: accepted and dropped (nothing here relays client tags).
            "TAGMSG" if self.caps.has(Cap::MessageTags) => {}
            "AWAY" => self.away(person, message, me).await,
            "WHO" => self.who(person, message, me).await,
            "WHOIS" => self.whois(message, me).await,
            "WHOWAS" => self.whowas(message, me),
            "ISON" => self.ison(message, me).await,
            "USERHOST" => self.userhost(message, me).await,
            "LUSERS" => self.lusers_command(me).await,
            "MOTD" | "VERSION" | "TIME" => self.about_server(command, me),
            "PING" => self.ping(message, me),
            "CAP" => self.cap_command(message, me),
            "QUIT" => {
                let words = message.param(0).map(plain).filter(|words| !words.is_empty());
                return Some(Ending::Quit(words));
            }
            "USER" | "PASS" => {
                self.numeric(me, ERR_ALREADYREGISTERED, &[], Some("You may not reregister"));
            }
            _ => {
                self.numeric(me, ERR_UNKNOWNCOMMAND, &[command], Some("Unknown command"));
            }
        }
        None
    }
}
