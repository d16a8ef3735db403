//! Accounts and registered rooms in the chat protocol: `/register`, `/identify`, `/drop`,
//! `/register-room` and `/kick`, and the grace period of a registered nickname.

use std::sync::Arc;

use futures_lite::AsyncRead;

use super::commands::{room_name_refused, room_refused, Need, Refused};
use super::Session;
use crate::core::{AccountError, Person, RoomName};
use crate::proto::chat::{ErrorCode, Line};
use crate::server::guesses::Checked;
use crate::server::session::claim;
use crate::unicode;

impl<R: AsyncRead + Unpin> Session<R> {
    /// `/register PASSWORD`: the current nickname becomes an account.
    pub(super) async fn register(
        &mut self,
        person: &Person,
        password: &str,
    ) -> Result<(), Refused> {
        // A password hashed is the address's to pay for, as a guess would be.
        let (shared, ip, fold) =
            (self.link.ticket.shared.clone(), self.link.ticket.peer.ip(), person.folded());
        let nick = match shared
            .guesses
            .check(ip, &fold, shared.chat.register_account(person, password))
            .await
        {
            Checked::Refused(wait) => return Err(too_many_guesses(wait)),
            Checked::Done { outcome, .. } => outcome.map_err(refused)?,
        };
        self.reply(&Line::Account { nick: Some(nick.to_string()) });
        Ok(())
    }

    /// `/identify [NICK] PASSWORD`, counted against the address's and the account's
    /// budgets of wrong passwords.
    pub(super) async fn identify(
        &mut self,
        person: &Arc<Person>,
        nick: Option<&str>,
        password: &str,
    ) -> Result<(), Refused> {
        let shared = self.link.ticket.shared.clone();
        let ip = self.link.ticket.peer.ip();
        let fold: Arc<str> = unicode::fold(nick.unwrap_or(person.nick().as_str())).into();
        let identify = shared.chat.identify(person, nick, password);
        match shared.guesses.check(ip, &fold, identify).await {
            Checked::Refused(wait) | Checked::Done { spent: Some(wait), .. } => {
                Err(too_many_guesses(wait))
            }
            Checked::Done { outcome: Ok(identified), .. } => {
                let account = Some(identified.nick.to_string());
                self.reply(&Line::Account { nick: account });
                if !identified.took_nick {
                    let text = format!("{} is in use by someone identified as it", identified.nick);
                    self.reply(&Line::Info { text });
                }
                Ok(())
            }
            Checked::Done { outcome: Err(error), .. } => Err(refused(error)),
        }
    }

    /// `/drop`: unregisters the account the client identified as.
    pub(super) async fn drop_account(&mut self, person: &Person) -> Result<(), Refused> {
        let nick = self.core().drop_account(person).await.map_err(refused)?;
        self.link.ticket.shared.guesses.forget(&nick.key().fold);
        self.reply(&Line::Account { nick: None });
        self.reply(&Line::Info { text: format!("{nick} is no longer registered") });
        Ok(())
    }

    /// `/register-room [#room]`: the client's account owns the room from now on.
    pub(super) async fn register_room(
        &mut self,
        person: &Person,
        room: Option<&str>,
    ) -> Result<(), Refused> {
        let room = self.room(person, room, Need::Member).await?;
        self.core().register_room(person, &room).await.map_err(refused)?;
        let text = format!("{} is registered to {}", room.name(), person.nick());
        self.reply(&Line::Info { text });
        Ok(())
    }

    /// `/drop-room [#room]`: the client's account owns the room no longer. The room need
    /// not be live, nor the client in it.
    pub(super) async fn drop_room(
        &mut self,
        person: &Person,
        room: Option<&str>,
    ) -> Result<(), Refused> {
        let name = match room {
            Some(named) => RoomName::parse(named).map_err(room_name_refused)?,
            None => self.room(person, None, Need::Member).await?.name().clone(),
        };
        let name = self.core().drop_room(person, &name).await.map_err(refused)?;
        self.reply(&Line::Info { text: format!("{name} is no longer registered") });
        Ok(())
    }

    /// `/kick [#room] NICK [reason]`, by the owner of a registered room.
    pub(super) async fn kick(
        &mut self,
        person: &Person,
        room: Option<&str>,
        nick: &str,
        reason: Option<String>,
    ) -> Result<(), Refused> {
        let room = self.room(person, room, Need::Member).await?;
        self.core().kick(person, &room, nick, reason).await.map_err(room_refused)
    }

    /// Asks the client to identify if its nickname is registered to an account it has not
    /// identified as, and starts its grace period.
    pub(super) fn check_claim(&self, person: &Arc<Person>) {
        let shared = &self.link.ticket.shared;
        if let Some(grace) = shared.chat.claim(person) {
            // Rounded up: a grace under a second is not none.
            let seconds = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
            let nick = person.nick().to_string();
            self.reply(&Line::Identify { nick, seconds });
            claim::watch(shared, person, grace);
        }
    }

    /// Makes sure the current room is one the client is still in: a room owner may have
    /// removed it from its current room, after which the room it joined last is current.
    pub(super) fn check_current(&mut self, person: &Person) {
        let Some(current) = &self.current else { return };
        if person.room(&current.key().fold).is_some() {
            return;
        }
        self.current = person.rooms().pop();
        let room = self.current.as_ref().map(|room| room.name().to_string());
        self.reply(&Line::Room { room });
    }
}

fn too_many_guesses(wait: std::time::Duration) -> Refused {
    let text = format!("too many wrong passwords; try again in {} s", wait.as_secs().max(1));
    Refused::Error(ErrorCode::TooManyGuesses, text)
}

fn refused(error: AccountError) -> Refused {
    let code = match &error {
        AccountError::Registered(_) | AccountError::LooksLike { .. } => ErrorCode::AccountExists,
        AccountError::NotRegistered(_) | AccountError::Dropped(_) => ErrorCode::NoAccount,
        AccountError::WrongPassword(_) => ErrorCode::WrongPassword,
        AccountError::BadPassword => ErrorCode::PasswordInvalid,
        AccountError::NotIdentified => ErrorCode::NotIdentified,
        AccountError::RoomRegistered { .. } => ErrorCode::RoomRegistered,
        AccountError::TooManyRooms(_) => ErrorCode::TooManyOwnedRooms,
        AccountError::TooManyAccounts(_) => ErrorCode::ServerAccountsFull,
        AccountError::Room(room) => return room_refused(room.clone()),
        AccountError::Memory(_) => ErrorCode::StoreFailed,
        AccountError::Unavailable(_) => ErrorCode::ClusterUnavailable,
    };
    Refused::Error(code, error.to_string())
}
