//! Registered nicknames and registered rooms: who owns which name, proven by a password
//! kept only as an argon2id hash, and what a registered room keeps while it is empty.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Argon2, PasswordHash};
use async_lock::Semaphore;
use thiserror::Error;
use tracing::{info, warn};

use super::memory::{Account, Change, MemoryError, Recalled, RoomRecord};
use super::name::{Key, Nick, RoomName};
use super::order::{Intent, Unavailable};
use super::people::NickRefused;
use super::person::Person;
use super::rooms::RoomError;
use super::Chat;
use crate::unicode;

/// The shortest password an account may have, in characters.
pub const MIN_ACCOUNT_PASSWORD: usize = 8;

/// The longest, in bytes: a passphrase fits, and hashing stays cheap.
pub const MAX_ACCOUNT_PASSWORD: usize = 256;

/// Password hashes computed at once, at most: each takes argon2's 19 MiB and tens of
/// milliseconds of a core, so a crowd identifying together waits rather than exhausts
/// the machine.
const HASHING_AT_ONCE: usize = 2;

/// Why an account or a registered room could not be made, used or dropped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AccountError {
    /// The nickname has an account already.
    #[error("{0} is registered already; /identify to use it")]
    Registered(Nick),
    /// The nickname looks like a registered one (a look-alike of it).
    #[error("{wanted} looks too much like {registered}, which is registered")]
    LooksLike {
        /// The nickname asked for.
        wanted: Nick,
        /// The registered nickname it looks like.
        registered: String,
    },
    /// No account has that nickname.
    #[error("{0} is not registered")]
    NotRegistered(String),
    /// The account whose password was proved was dropped before it was signed in to
    /// (the nickname may be registered again since, by someone else: another account).
    #[error("the account {0} was dropped before you were signed in to it")]
    Dropped(String),
    /// The password does not match.
    #[error("wrong password for {0}")]
    WrongPassword(Nick),
    /// The password is too short, too long, or holds a space.
    #[error(
        "a password has at least {MIN_ACCOUNT_PASSWORD} characters, at most {MAX_ACCOUNT_PASSWORD} bytes, and no spaces"
    )]
    BadPassword,
    /// The command needs an identified account.
    #[error("identify first: /identify PASSWORD")]
    NotIdentified,
    /// The room is registered already, to this account's nickname.
    #[error("{room} is registered already, to {owner}")]
    RoomRegistered {
        /// The room.
        room: RoomName,
        /// Its owner's nickname.
        owner: String,
    },
    /// The account owns as many rooms as one may already.
    #[error("you own as many rooms as one account may ({0})")]
    TooManyRooms(usize),
    /// The server keeps as many accounts as it may already.
    #[error("the server has as many accounts as it may keep ({0}); none can be registered now")]
    TooManyAccounts(usize),
    /// Something about the room itself.
    #[error(transparent)]
    Room(#[from] RoomError),
    /// The store failed to keep it.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The cluster's shared order is out of reach: nothing was done.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// How an identification went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    /// The account's nickname.
    pub nick: Nick,
    /// Whether the person now has that nickname: false when someone identified as it
    /// holds it elsewhere, or it could not be taken.
    pub took_nick: bool,
}

/// Accounts and registered rooms, all in memory (they are few and small); the [`Memory`]
/// keeps them across restarts.
///
/// [`Memory`]: super::Memory
pub(super) struct Accounts {
    /// Accounts and registered rooms by fold.
    records: Mutex<Records>,
    /// Bounds the hashes computed at once.
    hashing: Semaphore,
}

/// The maps behind [`Accounts`]' lock.
#[derive(Default)]
struct Records {
    /// Accounts by nickname fold.
    accounts: HashMap<Arc<str>, Account>,
    /// The folds of the accounts by their nicknames' skeletons: one account per look.
    looks: HashMap<Arc<str>, Arc<str>>,
    /// Registered rooms by name fold.
    rooms: HashMap<Arc<str>, RoomRecord>,
    /// The folds of the registered rooms by their names' skeletons: a room whose name looks
    /// like a registered one's is refused even while that one is empty, or whoever made it
    /// first would own the look of the name.
    room_looks: HashMap<Arc<str>, Arc<str>>,
}

impl Accounts {
    /// The accounts and rooms a memory recalled at start.
    pub fn new(recalled: Recalled) -> Accounts {
        let accounts: HashMap<Arc<str>, Account> = recalled.accounts.into_iter().collect();
        let looks =
            accounts.iter().map(|(fold, a)| (a.nick.key().skeleton, fold.clone())).collect();
        let mut records = Records { accounts, looks, ..Records::default() };
        for (fold, record) in recalled.rooms {
            records.add_room(fold, record);
        }
        Accounts { records: Mutex::new(records), hashing: Semaphore::new(HASHING_AT_ONCE) }
    }

    /// The lock is held for a map update only, never across an await.
    fn lock(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many accounts there are.
    pub fn count(&self) -> usize {
        self.lock().accounts.len()
    }

    /// The account of the nickname folded `fold`.
    pub fn account(&self, fold: &str) -> Option<Account> {
        self.lock().accounts.get(fold).cloned()
    }

    /// The account whose nickname looks like the one with `skeleton` (or is it), and its
    /// fold.
    pub fn by_look(&self, skeleton: &str) -> Option<(Arc<str>, Account)> {
        let records = self.lock();
        let fold = records.looks.get(skeleton)?;
        Some((fold.clone(), records.accounts.get(fold)?.clone()))
    }

    /// The id of the account folded `fold` now: its fold and when it was registered, so
    /// that an account dropped and registered again by someone else is another account.
    pub fn id(&self, fold: &str) -> Option<Arc<str>> {
        self.lock().accounts.get(fold).map(|account| account_id(fold, account))
    }

    /// Runs `then` under the lock if the accounts with ids `a` and `b` both exist: what is
    /// kept there comes before anything a drop of either keeps after removing it.
    pub fn while_both_exist(&self, a: &str, b: &str, then: impl FnOnce()) {
        let records = self.lock();
        let exists = |id: &str| {
            let fold = fold_of(id);
            records.accounts.get(fold).is_some_and(|account| *account_id(fold, account) == *id)
        };
        if exists(a) && exists(b) {
            then();
        }
    }

    /// The record of the registered room folded `fold`.
    pub fn room(&self, fold: &str) -> Option<RoomRecord> {
        self.lock().rooms.get(fold).cloned()
    }

    /// How many registered rooms the account with id `owner` owns, besides the one
    /// folded `fold`.
    pub fn rooms_owned_besides(&self, owner: &str, fold: &str) -> usize {
        self.lock().rooms_of(owner).filter(|room| ***room != *fold).count()
    }

    /// Unregisters the room folded `fold` if the account with id `owner` owns it: its
    /// record, or `None` (and nothing done) if it does not.
    pub fn take_room(&self, fold: &str, owner: &str) -> Option<RoomRecord> {
        let mut records = self.lock();
        let record = records.rooms.get(fold).filter(|record| *record.owner == *owner)?.clone();
        records.remove_room(fold);
        Some(record)
    }

    /// Keeps `record` as the room's.
    pub fn set_room(&self, fold: Arc<str>, record: RoomRecord) {
        self.lock().add_room(fold, record);
    }

    /// The name of the registered room that the room with `key` looks like, if that is
    /// another room (its own registration is no reason to refuse it).
    pub fn room_like(&self, key: &Key) -> Option<RoomName> {
        let records = self.lock();
        let fold = records.room_looks.get(&key.skeleton)?;
        if **fold == *key.fold {
            return None;
        }
        records.rooms.get(fold).map(|record| record.name.clone())
    }

    /// `password`'s argon2id hash, computed off the executor's threads.
    async fn hash(&self, password: &str) -> Result<String, MemoryError> {
        let _turn = self.hashing.acquire().await;
        let password = password.to_string();
        smol::unblock(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|error| MemoryError::Write(format!("cannot hash the password: {error}")))
        })
        .await
    }

    /// Whether `password` matches `account`, checked off the executor's threads.
    async fn verify(&self, account: &Account, password: &str) -> bool {
        let _turn = self.hashing.acquire().await;
        let (hash, password) = (account.hash.clone(), password.to_string());
        smol::unblock(move || match PasswordHash::new(&hash) {
            Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(error) => {
                warn!(%error, "an account's password hash does not parse; nobody can identify");
                false
            }
        })
        .await
    }
}

impl Records {
    /// The folds of the rooms the account with id `owner` owns. A scan: registering and
    /// dropping are rare, and an index per owner would be kept for every account on every
    /// server for their sake.
    fn rooms_of<'a>(&'a self, owner: &'a str) -> impl Iterator<Item = &'a Arc<str>> + 'a {
        self.rooms.iter().filter(move |(_, record)| *record.owner == *owner).map(|(fold, _)| fold)
    }

    /// Registers (or updates) the room folded `fold`. A look held by another registered
    /// room (two look-alikes registered before look-alikes were refused) stays with it.
    fn add_room(&mut self, fold: Arc<str>, record: RoomRecord) {
        let skeleton = record.name.key().skeleton;
        self.room_looks.entry(skeleton).or_insert_with(|| fold.clone());
        self.rooms.insert(fold, record);
    }

    /// Unregisters the room folded `fold`, freeing its look.
    fn remove_room(&mut self, fold: &str) {
        let Some(record) = self.rooms.remove(fold) else { return };
        let skeleton = record.name.key().skeleton;
        if self.room_looks.get(&skeleton).is_some_and(|owner| **owner == *fold) {
            self.room_looks.remove(&skeleton);
        }
    }
}

/// An account's id: its nickname's fold, `@`, and the millisecond it was registered.
fn account_id(fold: &str, account: &Account) -> Arc<str> {
    let ms = account.registered.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis());
    format!("{fold}@{ms}").into()
}

/// The fold of the account with `id`.
pub(super) fn fold_of(id: &str) -> &str {
    id.rsplit_once('@').map_or(id, |(fold, _)| fold)
}

/// Now, to the millisecond, as the store keeps times: an account's id must read the same
/// after a restart.
fn now_ms() -> SystemTime {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    UNIX_EPOCH + Duration::from_millis(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// Whether `password` may be an account's.
fn check_password(password: &str) -> Result<(), AccountError> {
    let chars = password.chars().count();
    let fits = (MIN_ACCOUNT_PASSWORD..).contains(&chars) && password.len() <= MAX_ACCOUNT_PASSWORD;
    if !fits || password.chars().any(char::is_whitespace) {
        return Err(AccountError::BadPassword);
    }
    Ok(())
}

impl Chat {
    /// Registers `person`'s nickname as an account with `password`, and identifies them as
    /// it. Answered once the account is durably kept.
    pub async fn register_account(
        &self,
        person: &Person,
        password: &str,
    ) -> Result<Nick, AccountError> {
        check_password(password)?;
        let (nick, key) = person.name();
        self.check_unregistered(&nick, &key.skeleton)?;
        self.check_room_for_accounts()?;
        let hash = self.accounts.hash(password).await?;
        // Again after the hash, which others may have awaited alongside.
        self.check_room_for_accounts()?;
        let account = Account { nick: nick.clone(), hash, registered: now_ms() };
        let intent = || Intent::Registered { account: account.clone() };
        let _turn = self.turn(person.id(), intent).await?;
        self.register_account_now(person, account)?;
        self.memory.settled().await?;
        info!(nick = %nick, "account registered");
        Ok(nick)
    }

    /// [`Chat::register_account`] in its turn: `person` registers `account` (their
    /// nickname's) and is identified as it, unless it was registered meanwhile. The very
    /// same account found already (a cluster's server that read it from the store before
    /// replaying its registration) is no refusal.
    pub(crate) fn register_account_now(
        &self,
        person: &Person,
        account: Account,
    ) -> Result<(), AccountError> {
        let key = account.nick.key();
        {
            let mut records = self.accounts.lock();
            let same = records.accounts.get(&key.fold) == Some(&account);
            if records.looks.contains_key(&key.skeleton) && !same {
                return Err(AccountError::Registered(account.nick));
            }
            records.accounts.insert(key.fold.clone(), account.clone());
            records.looks.insert(key.skeleton.clone(), key.fold.clone());
        }
        person.set_account(Some(account_id(&key.fold, &account)));
        self.keep_for(person, Change::Account { fold: key.fold, account: Some(account) });
        Ok(())
    }

    /// Keeps `change`, made by `person`, unless they are a ghost: their own server keeps
    /// what they change, once for the cluster, even when their session stopped waiting
    /// for its turn and the change was applied from the log.
    pub(super) fn keep_for(&self, person: &Person, change: Change) {
        if !person.is_ghost() {
            self.memory.keep(change);
        }
    }

    /// Refuses a registration once the server keeps [`Limits::accounts`](super::Limits).
    /// Checked where the registration is asked for, before the hash and again after it
    /// (registrations hashing at once all passed the first look), and before the turn, as
    /// the rooms an account owns are: in a cluster, registrations racing on several servers
    /// may pass it together, one account over at most for each.
    fn check_room_for_accounts(&self) -> Result<(), AccountError> {
        let most = self.limits.accounts;
        match self.accounts.count() {
            kept if kept >= most => Err(AccountError::TooManyAccounts(most)),
            _ => Ok(()),
        }
    }

    /// Refuses a nickname that is registered, or looks like one that is.
    fn check_unregistered(&self, nick: &Nick, skeleton: &str) -> Result<(), AccountError> {
        match self.accounts.by_look(skeleton) {
            None => Ok(()),
            Some((fold, _)) if *fold == *nick.key().fold => {
                Err(AccountError::Registered(nick.clone()))
            }
            Some((_, account)) => Err(AccountError::LooksLike {
                wanted: nick.clone(),
                registered: account.nick.to_string(),
            }),
        }
    }

    /// The account `person` is identified as, by id, while it still exists: one dropped
    /// (and perhaps registered again by someone else) identifies nobody any more.
    pub(super) fn identity(&self, person: &Person) -> Option<Arc<str>> {
        let id = person.account()?;
        if self.accounts.id(fold_of(&id)).as_deref() == Some(&*id) {
            return Some(id);
        }
        person.set_account(None);
        None
    }

    /// Whether `person` is identified as the account of the nickname they have.
    fn owns_nick(&self, person: &Person) -> bool {
        self.identity(person).is_some_and(|id| *fold_of(&id) == *person.folded())
    }

    /// Whether `person` is identified as some account.
    pub fn is_identified(&self, person: &Person) -> bool {
        self.identity(person).is_some()
    }

    /// The id and nickname of the account of `nick` if `password` is its password: what
    /// SASL and `/identify` both check. Identifies nobody. The id, not the nickname, is
    /// what to sign in to: the account may be dropped, and the nickname registered again
    /// by someone else, before then.
    pub async fn check_password(
        &self,
        nick: &str,
        password: &str,
    ) -> Result<(Arc<str>, Nick), AccountError> {
        let fold: Arc<str> = unicode::fold(nick).into();
        let account =
            self.accounts.account(&fold).ok_or_else(|| AccountError::NotRegistered(nick.into()))?;
        if !self.accounts.verify(&account, password).await {
            return Err(AccountError::WrongPassword(account.nick));
        }
        Ok((account_id(&fold, &account), account.nick))
    }

    /// Whether the account with id `id` still exists (not dropped, nor dropped and
    /// registered again).
    fn is_account(&self, id: &str) -> bool {
        self.accounts.id(fold_of(id)).as_deref() == Some(id)
    }

    /// Identifies `person` as the account of `nick` (their own nickname's by default). If
    /// they go by another nickname, they take the account's, renaming whoever holds it
    /// without having identified to a guest name.
    pub async fn identify(
        &self,
        person: &Arc<Person>,
        nick: Option<&str>,
        password: &str,
    ) -> Result<Identified, AccountError> {
        let nick = nick.map_or_else(|| person.nick().as_str().to_string(), str::to_string);
        let (id, nick) = self.check_password(&nick, password).await?;
        self.sign_in(person, id.clone()).await?;
        info!(account = %nick, "identified");
        let fold = fold_of(&id);
        if *person.folded() == *fold {
            return Ok(Identified { nick, took_nick: true });
        }
        self.reclaim(fold).await;
        let took_nick = self.rename(person, nick.clone()).await.is_ok();
        Ok(Identified { nick, took_nick })
    }

    /// Frees the registered nickname folded `fold` for its owner: whoever holds it without
    /// having identified as it is renamed to a guest name (someone identified keeps it).
    pub async fn reclaim(&self, fold: &str) {
        let skeleton = unicode::skeleton(fold);
        if let Some(holder) = self.find_look(&skeleton).await {
            if !self.owns_nick(&holder) {
                self.rename_to_guest(&holder).await;
            }
        }
    }

    /// Frees `nick` for whoever proved the account with id `id` (by SASL, before taking
    /// `nick`), if it is that account's nickname and the account still exists: a
    /// nickname dropped and registered again is someone else's to take back.
    pub async fn reclaim_for(&self, id: &str, nick: &Nick) {
        let fold = fold_of(id);
        if self.is_account(id) && *fold == *unicode::fold(nick.as_str()) {
            self.reclaim(fold).await;
        }
    }

    /// Marks `person` as identified to the account with id `id`, the one whose password
    /// they proved (by SASL or `/identify`), if that very account still exists. Looking
    /// it up again by nickname would find whoever registered the nickname after it was
    /// dropped: `Dropped`, then, and `person` is not signed in.
    pub async fn sign_in(&self, person: &Person, id: Arc<str>) -> Result<(), AccountError> {
        let dropped = || AccountError::Dropped(fold_of(&id).to_string());
        if !self.is_account(&id) {
            return Err(dropped());
        }
        let intent = || Intent::SignIn { account: id.to_string() };
        let _turn = self.turn(person.id(), intent).await?;
        // In the turn as every server replays it; an account dropped while the turn was
        // awaited leaves an id that identifies nobody (see `identity`).
        self.sign_in_now(person, Some(id.clone()));
        if self.identity(person).is_none() {
            return Err(dropped());
        }
        Ok(())
    }

    /// Marks `person` as identified to the account whose id is `account`, or as not
    /// identified (`None`), in its turn.
    pub(crate) fn sign_in_now(&self, person: &Person, account: Option<Arc<str>>) {
        person.set_account(account);
    }

    /// Drops the account `person` identified as, the registration of the rooms it owned,
    /// and its private history. Answered once that is durably kept.
    pub async fn drop_account(&self, person: &Person) -> Result<Nick, AccountError> {
        self.identity(person).ok_or(AccountError::NotIdentified)?;
        let _turn = self.turn(person.id(), || Intent::Dropped).await?;
        let (_, account, _) = self.drop_account_now(person).await?;
        // Its conversations went with it, kept (and settled) before the drop is answered.
        self.memory.settled().await?;
        info!(nick = %account.nick, "account dropped");
        Ok(account.nick)
    }

    /// [`Chat::drop_account`] in its turn: the account's id, what it was, and the folds
    /// of the rooms it owned.
    pub(crate) async fn drop_account_now(
        &self,
        person: &Person,
    ) -> Result<(Arc<str>, Account, Vec<Arc<str>>), AccountError> {
        let id = self.identity(person).ok_or(AccountError::NotIdentified)?;
        let fold: Arc<str> = fold_of(&id).into();
        let (account, rooms) = {
            let mut records = self.accounts.lock();
            let account = records.accounts.remove(&fold);
            if let Some(account) = &account {
                records.looks.remove(&account.nick.key().skeleton);
            }
            let rooms: Vec<Arc<str>> = records.rooms_of(&id).cloned().collect();
            rooms.iter().for_each(|room| records.remove_room(room));
            (account, rooms)
        };
        person.set_account(None);
        let account = account.ok_or(AccountError::NotIdentified)?;
        for room in &rooms {
            if let Ok(live) = self.find_room(room).await {
                live.lock().await.owner = None;
            }
        }
        self.keep_for(person, Change::Account { fold: fold.clone(), account: None });
        self.keep_for(person, Change::Forget { account: id.clone() });
        for room in &rooms {
            self.keep_for(person, Change::Room { fold: room.clone(), record: None });
        }
        Ok((id, account, rooms))
    }

    /// How long `person` has to identify before losing their nickname to a guest name:
    /// `Some` when it is registered and they have not identified as it.
    pub fn claim(&self, person: &Person) -> Option<Duration> {
        (self.registered_as(person).is_some() && !self.owns_registered(person))
            .then_some(self.limits.identify_grace)
    }

    /// The fold of the account whose nickname `person`'s is, or looks like.
    fn registered_as(&self, person: &Person) -> Option<Arc<str>> {
        let (_, key) = person.name();
        self.accounts.by_look(&key.skeleton).map(|(fold, _)| fold)
    }

    /// Whether `person` is identified as the account their nickname is (or looks like).
    fn owns_registered(&self, person: &Person) -> bool {
        let owner = self.registered_as(person);
        self.identity(person).is_some_and(|id| owner.as_deref() == Some(fold_of(&id)))
    }

    /// Renames `person` to a guest name if they still hold the registered nickname folded
    /// `fold` without having identified as it: the end of their grace period.
    pub async fn enforce_claim(&self, person: &Arc<Person>, fold: &str) {
        let still = *person.folded() == *fold;
        if still && self.registered_as(person).is_some() && !self.owns_registered(person) {
            self.rename_to_guest(person).await;
        }
    }

    /// Gives `person` a guest name: `Guest` and six random digits. Only the server gives
    /// such names, and nobody can guess which one comes next.
    async fn rename_to_guest(&self, person: &Arc<Person>) {
        let random = ring::rand::SystemRandom::new();
        for _ in 0..20 {
            let Ok(bytes) = ring::rand::generate::<[u8; 4]>(&random) else { continue };
            let name = format!("Guest{:06}", u32::from_le_bytes(bytes.expose()) % 1_000_000);
            let Ok(guest) = Nick::parse(&name, 64) else { continue };
            match self.rename_as(person, guest, true).await {
                Ok(()) => {
                    info!(guest = %name, "renamed to a guest name");
                    return;
                }
                // Gone meanwhile, or no order to put it in: another name would not help.
                Err(NickRefused::Closed | NickRefused::Unavailable(_)) => return,
                Err(_) => {}
            }
        }
        warn!(nick = %person.nick(), "no guest name was free; the nickname stays taken");
    }

    /// The nickname of the account with `id`, as registered (its fold if it is gone).
    pub fn account_nick(&self, id: &str) -> String {
        let fold = fold_of(id);
        self.accounts.account(fold).map_or_else(|| fold.to_string(), |a| a.nick.to_string())
    }
}
