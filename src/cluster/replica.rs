//! Applies the log to this server's core, in the log's order: another server's changes
//! for its people, who are ghosts here; this server's own changes whose session did not
//! take its turn (it timed out, or went away); and the deaths the heartbeats decide.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use tracing::{debug, info, warn};

use super::body::Body;
use super::log::{Appender, Entry};
use super::op::{Client, Op};
use super::ordering::Ghosts;
use super::presence::Liveness;
use super::turns::Append;
use super::ServerId;
use crate::core::{Chat, Departure, Intent, Person};

/// What this server's people are told when the cluster declared it dead.
const DECLARED_DEAD: &str = "this server was out of the cluster's reach for longer than its \
    lease, so the other servers saw you leave; reconnect";

/// This server's copy of the cluster: the core, with a ghost for each person of another
/// server, kept up to date by the log.
pub struct Replica {
    /// The core every session here shares.
    chat: Arc<Chat>,
    /// This server.
    server: ServerId,
    /// Where a departure this server owes the others is appended.
    log: Arc<Appender>,
    /// The ghosts, by who they are in the cluster.
    by_client: HashMap<Client, Arc<Person>>,
    /// The same ghosts, by the core's id for them, shared with the [`LogOrder`](super::ordering::LogOrder).
    ghosts: Ghosts,
    /// Which servers are alive, by the log.
    liveness: Liveness,
}

impl Replica {
    /// A replica of the cluster in `chat`, for `server`, which appends through `log`;
    /// `ghosts` is shared with the server's order, `liveness` judges the heartbeats.
    pub fn new(
        chat: Arc<Chat>,
        server: ServerId,
        log: Arc<Appender>,
        ghosts: Ghosts,
        liveness: Liveness,
    ) -> Replica {
        Replica { chat, server, log, by_client: HashMap::new(), ghosts, liveness }
    }

    /// Applies `entry`: first who died at it, then what it says.
    pub async fn apply(&mut self, entry: Entry) {
        let verdicts = self.liveness.observe(&entry);
        for dead in verdicts.dead {
            self.bury(&dead).await;
        }
        let op = match Body::decode(&entry.body) {
            Ok(Body::Heartbeat) => return,
            Ok(Body::Operation(bytes)) => Op::decode(bytes),
            Err(error) => {
                warn!(id = %entry.id, server = entry.server, %error, "a log entry was skipped");
                return;
            }
        };
        match op {
            Ok(op) => self.apply_op(op).await,
            Err(error) => {
                warn!(id = %entry.id, server = entry.server, %error, "an operation was skipped")
            }
        }
    }

    /// Everyone of the dead `server` leaves, as if each had quit.
    async fn bury(&mut self, server: &str) {
        if server == self.server.as_str() {
            // Its people were quit everywhere else at this entry: whatever they said from
            // now on would reach this server alone, and split their rooms in two. They are
            // quit here too, at this entry, so that the entries after it (their nicknames
            // taken by others, say) are applied here as everywhere.
            warn!(server, "this server was declared dead by the cluster; hanging up");
            self.chat.quit_everyone_here(DECLARED_DEAD, Departure::ServerLost).await;
            return;
        }
        let gone: Vec<Client> = self
            .by_client
            .keys()
            .filter(|client| client.server.as_str() == server)
            .cloned()
            .collect();
        info!(server, people = gone.len(), "a server of the cluster is gone");
        for client in gone {
            if let Some(ghost) = self.forget(&client) {
                self.chat.quit_now(&ghost, Departure::ServerLost).await;
            }
        }
    }

    /// Takes the ghost of `client` out of the maps.
    fn forget(&mut self, client: &Client) -> Option<Arc<Person>> {
        let ghost = self.by_client.remove(client)?;
        self.ghosts.lock().unwrap_or_else(PoisonError::into_inner).remove(&ghost.id());
        Some(ghost)
    }

    /// Applies one operation.
    async fn apply_op(&mut self, op: Op) {
        let (client, intent) = op.split();
        let own = client.server == self.server;
        if let Intent::Register { nick, room, echo } = intent {
            if own {
                // Its session gave up before its turn, and was told so: it never was.
                debug!(nick = %nick, "a registration nobody waited for is undone");
                self.owe_quit(client);
                return;
            }
            match self.chat.register_ghost(nick, room.as_ref(), echo).await {
                Ok(ghost) => self.remember(client, ghost),
                Err(refused) => debug!(%refused, "another server's registration was refused"),
            }
            return;
        }
        let person = match own {
            true => self.chat.find_by_id(client.id).await,
            false => self.by_client.get(&client).cloned(),
        };
        let Some(person) = person else {
            debug!(?client, "an operation of someone not here was skipped");
            return;
        };
        if matches!(intent, Intent::Quit { .. }) && !own {
            self.forget(&client);
        }
        apply_intent(&self.chat, &person, intent).await;
    }

    /// Keeps `ghost` as `client`.
    fn remember(&mut self, client: Client, ghost: Arc<Person>) {
        let mut ghosts = self.ghosts.lock().unwrap_or_else(PoisonError::into_inner);
        ghosts.insert(ghost.id(), client.clone());
        drop(ghosts);
        self.by_client.insert(client, ghost);
    }

    /// Tells the cluster that `client` of this server left (or never arrived).
    fn owe_quit(&self, client: Client) {
        let op = Op::Quit { client, why: Departure::Closed };
        let Ok(bytes) = op.encode() else { return };
        let body = Body::Operation(&bytes).encode();
        let log = self.log.clone();
        smol::spawn(async move {
            if let Err(error) = log.append(&body).await {
                warn!(%error, "a departure could not be told to the cluster");
            }
        })
        .detach();
    }
}

/// Applies `intent` of `person` to `chat`, as its turn; what it answers was answered on
/// the server that asked.
async fn apply_intent(chat: &Chat, person: &Arc<Person>, intent: Intent) {
    match intent {
        Intent::Register { .. } => {}
        Intent::Join { room } => drop(chat.join_now(person, &room, |_| {}).await),
        Intent::Part { room, words } => {
            if let Some(room) = person.room(&room.key().fold) {
                let _ = chat.part_now(person, &room, words).await;
            }
        }
        Intent::Talk { room, speech, text } => {
            if let Some(room) = person.room(&room.key().fold) {
                let _ = chat.talk_now(person, &room, speech, text).await;
            }
        }
        Intent::Topic { room, text } => {
            if let Some(room) = person.room(&room.key().fold) {
                let _ = chat.set_topic_now(person, &room, text).await;
            }
        }
        Intent::Kick { room, nick, reason } => {
            if let Some(room) = person.room(&room.key().fold) {
                let _ = chat.kick_now(person, &room, nick.as_str(), reason).await;
            }
        }
        Intent::Rename { new } => drop(chat.rename_now(person, new, false).await),
        Intent::Guest { new } => drop(chat.rename_now(person, new, true).await),
        Intent::Whisper { to, speech, text } => {
            drop(chat.whisper_now(person, &to, text, speech).await)
        }
        Intent::Away { message } => chat.set_away_now(person, message).await,
        Intent::Quit { why } => chat.quit_now(person, why).await,
        Intent::SignIn { account } => chat.sign_in_now(person, Some(account.into())),
        Intent::SignOut => chat.sign_in_now(person, None),
        Intent::Registered { account } => drop(chat.register_account_now(person, account)),
        Intent::Dropped => drop(chat.drop_account_now(person).await),
        Intent::RoomRegistered { room } => {
            if let Some(room) = person.room(&room.key().fold) {
                drop(chat.register_room_now(person, &room).await);
            }
        }
        Intent::RoomDropped { room } => drop(chat.drop_room_now(person, &room).await),
        Intent::Hidden { hidden } => chat.set_hidden_now(person, hidden).await,
    }
}
