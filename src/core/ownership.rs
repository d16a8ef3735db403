//! Registered rooms: an identified person registers a room to their account, owning it
//! (see `rooms` for what an owner may do), and drops that registration again.

use std::sync::Arc;

use tracing::info;

use super::accounts::AccountError;
use super::memory::{Change, RoomRecord};
use super::name::RoomName;
use super::order::Intent;
use super::person::Person;
use super::room::Room;
use super::rooms::RoomError;
use super::Chat;

impl Chat {
    /// Registers `room` to the account `person` identified as, keeping its topic.
    pub async fn register_room(&self, person: &Person, room: &Room) -> Result<(), AccountError> {
        self.check_rooms_owned(person, room)?;
        let intent = || Intent::RoomRegistered { room: room.name().clone() };
        let _turn = self.turn(person.id(), intent).await?;
        self.register_room_now(person, room).await?;
        self.memory.settled().await?;
        info!(room = %room.name(), nick = %person.nick(), "room registered");
        Ok(())
    }

    /// Refuses a registration that would give `person`'s account more rooms than
    /// [`Limits::rooms_per_account`](super::Limits). Checked before the turn, only where
    /// the registration is asked for: once in a cluster's order, every server applies it
    /// alike, whatever its own limit. (Two registrations of one account racing on two
    /// servers may pass it together, one room over at most for each.)
    fn check_rooms_owned(&self, person: &Person, room: &Room) -> Result<(), AccountError> {
        let owner = self.identity(person).ok_or(AccountError::NotIdentified)?;
        let most = self.limits.rooms_per_account;
        match self.accounts.rooms_owned_besides(&owner, &room.key().fold) {
            owned if owned >= most => Err(AccountError::TooManyRooms(most)),
            _ => Ok(()),
        }
    }

    /// [`Chat::register_room`] in its turn: the room's fold and its record.
    pub(crate) async fn register_room_now(
        &self,
        person: &Person,
        room: &Room,
    ) -> Result<(Arc<str>, RoomRecord), AccountError> {
        let owner = self.identity(person).ok_or(AccountError::NotIdentified)?;
        let mut state = room.lock().await;
        if !state.has(person.id()) {
            return Err(RoomError::NotInRoom(room.name().clone()).into());
        }
        let fold = room.key().fold.clone();
        // The room's own record, read under its lock, settles a race of two registrations.
        let registered = state.owner.clone().or_else(|| self.accounts.room(&fold).map(|r| r.owner));
        // Registered to this very account already: a cluster's server that read it from
        // the store before replaying the registration.
        if let Some(owner) = registered.filter(|registered| *registered != owner) {
            let owner = self.account_nick(&owner);
            return Err(AccountError::RoomRegistered { room: room.name().clone(), owner });
        }
        state.owner = Some(owner.clone());
        let record = RoomRecord { name: room.name().clone(), owner, topic: state.topic.clone() };
        drop(state);
        self.accounts.set_room(fold.clone(), record.clone());
        self.keep_for(person, Change::Room { fold: fold.clone(), record: Some(record.clone()) });
        Ok((fold, record))
    }

    /// Drops the registration of the room named `name`, which the account `person`
    /// identified as owns: from now on anyone in it sets its topic, and nothing of it is
    /// kept while it is empty. Answered once that is durably kept, with the room's name.
    pub async fn drop_room(
        &self,
        person: &Person,
        name: &RoomName,
    ) -> Result<RoomName, AccountError> {
        self.identity(person).ok_or(AccountError::NotIdentified)?;
        let _turn = self.turn(person.id(), || Intent::RoomDropped { room: name.clone() }).await?;
        let (_, record) = self.drop_room_now(person, name).await?;
        self.memory.settled().await?;
        info!(room = %record.name, nick = %person.nick(), "room registration dropped");
        Ok(record.name)
    }

    /// [`Chat::drop_room`] in its turn: the room's fold and the record it had.
    pub(crate) async fn drop_room_now(
        &self,
        person: &Person,
        name: &RoomName,
    ) -> Result<(Arc<str>, RoomRecord), AccountError> {
        let owner = self.identity(person).ok_or(AccountError::NotIdentified)?;
        let fold = name.key().fold;
        // The map stays locked while the record goes: a room made meanwhile would take
        // its owner from the record.
        let rooms = self.rooms.lock().await;
        let live = rooms.find(&fold);
        let mut state = match &live {
            Some(room) => Some(room.lock().await),
            None => None,
        };
        let Some(record) = self.accounts.take_room(&fold, &owner) else {
            let registered = self.accounts.room(&fold);
            return Err(match registered {
                Some(record) => RoomError::NotOwner {
                    room: record.name,
                    owner: self.account_nick(&record.owner),
                },
                None => RoomError::Unowned(name.clone()),
            }
            .into());
        };
        if let Some(state) = state.as_mut() {
            state.owner = None;
        }
        self.keep_for(person, Change::Room { fold: fold.clone(), record: None });
        Ok((fold, record))
    }
}
