//! The core under changes that race: a rename or a kick from another task against a join
//! or a quit, each run on real threads many times over, and what each must leave behind.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use smolchat::core::{Chat, Cut, Departure, Limits, Nick, Outbox, Person, Queue, Recipient};
use smolchat::core::{Room, RoomName};
use smolchat::proto::chat::CHAT;

/// Races of each kind run: the ones they caught failed within a few hundred.
const TRIES: usize = 2_000;

struct NoCut;

impl Cut for NoCut {
    fn cut(&self) {}
}

/// A recipient whose queue takes everything, and the queue.
fn recipient() -> (Recipient, Queue) {
    let (outbox, queue) = Outbox::new(1 << 20, usize::MAX, Arc::new(NoCut), None);
    (Recipient { outbox, encoder: &CHAT, echo: true }, queue)
}

fn nick(text: &str) -> Nick {
    Nick::parse(text, 64).expect("a nickname")
}

fn room_name(text: &str) -> RoomName {
    RoomName::parse(text).expect("a room name")
}

/// `nick` online in `room` (or none), with a queue nobody reads.
fn online(chat: &Chat, name: &str, room: Option<&RoomName>) -> Arc<Person> {
    let (recipient, queue) = recipient();
    std::mem::forget(queue);
    smol::block_on(chat.register(recipient, nick(name), room, |_| {})).expect("registered")
}

/// `person` registered as an account, owning the room they are in.
fn owning_their_room(chat: &Chat, person: &Person) -> Arc<Room> {
    smol::block_on(async {
        chat.register_account(person, "password1").await.expect("account");
        let room = person.rooms().pop().expect("a room");
        chat.register_room(person, &room).await.expect("room registered");
        room
    })
}

/// Runs `a` and `b` on two threads released together.
fn race(a: impl FnOnce() + Send + 'static, b: impl FnOnce() + Send + 'static) {
    let barrier = Arc::new(Barrier::new(2));
    let other = barrier.clone();
    let first = thread::spawn(move || {
        barrier.wait();
        a();
    });
    let second = thread::spawn(move || {
        other.wait();
        b();
    });
    first.join().expect("first thread");
    second.join().expect("second thread");
}

/// Everything in `queue` now, as text.
fn drain(queue: &Queue) -> String {
    let mut out = Vec::new();
    while let Some(Some(turn)) = smol::block_on(futures_lite::future::poll_once(queue.turn())) {
        while let Some(chunk) = turn.next() {
            out.extend_from_slice(chunk.as_slice());
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_rename_after_a_quit_does_not_bring_the_person_back() {
    smol::block_on(async {
        let chat = Chat::new(Limits::default());
        let alice = online(&chat, "alice", Some(&room_name("#lobby")));
        chat.quit(&alice, Departure::Closed).await;
        // A grace period's end, or someone's /identify taking the name, lands late.
        let renamed = chat.rename(&alice, nick("carol")).await;
        assert!(renamed.is_err(), "renamed after quitting");
        assert_eq!(chat.online().await, 0, "back online as {:?}", chat.find("carol").await);
    });
}

#[test]
fn a_grace_period_ending_after_a_quit_does_not_bring_the_person_back() {
    smol::block_on(async {
        let chat = Chat::new(Limits::default());
        let bob = online(&chat, "bob", None);
        chat.register_account(&bob, "password1").await.expect("account");
        chat.quit(&bob, Departure::Closed).await;
        let squatter = online(&chat, "bob", None);
        chat.quit(&squatter, Departure::Closed).await;
        chat.enforce_claim(&squatter, &squatter.folded()).await;
        let everyone: Vec<_> = chat.everyone().await.iter().map(|p| p.nick()).collect();
        assert!(everyone.is_empty(), "still online: {everyone:?}");
    });
}

#[test]
fn a_kick_racing_a_join_leaves_the_person_either_in_or_out() {
    let chat = Arc::new(Chat::new(Limits::default()));
    let name = room_name("#r");
    let owner = online(&chat, "owner", Some(&name));
    let room = owning_their_room(&chat, &owner);
    let target = online(&chat, "target", None);
    let kicks = Arc::new(AtomicUsize::new(0));
    for attempt in 0..TRIES {
        let (c, t, n) = (chat.clone(), target.clone(), name.clone());
        let join = move || drop(smol::block_on(c.join(&t, &n, |_| {})).expect("joined"));
        let (c, o, r, k) = (chat.clone(), owner.clone(), room.clone(), kicks.clone());
        // The kick finds nobody until the join is in: tried until it does.
        let kick = move || {
            for _ in 0..200 {
                if smol::block_on(c.kick(&o, &r, "target", None)).is_ok() {
                    k.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                std::hint::spin_loop();
            }
        };
        race(join, kick);
        let members = smol::block_on(chat.members(&owner, &room));
        let member = members.iter().any(|p| p.id() == target.id());
        let listed = target.room("#r").is_some();
        assert_eq!(member, listed, "attempt {attempt}: a member {member}, in their list {listed}");
        if member {
            smol::block_on(chat.part(&target, &room, None)).expect("parted");
        }
    }
    assert!(kicks.load(Ordering::Relaxed) > 0, "no kick ever met the join");
}

#[test]
fn a_quit_racing_a_rename_takes_the_person_off_under_either_name() {
    let chat = Arc::new(Chat::new(Limits::default()));
    for attempt in 0..TRIES {
        let person = online(&chat, &format!("p{attempt}"), None);
        let (c, p) = (chat.clone(), person.clone());
        let quit = move || smol::block_on(c.quit(&p, Departure::Closed));
        let (c, p, new) = (chat.clone(), person.clone(), nick(&format!("q{attempt}")));
        // A grace period's end, renaming them as they leave: refused if they left first.
        let rename = move || drop(smol::block_on(c.rename(&p, new)));
        race(quit, rename);
        let left: Vec<_> = smol::block_on(chat.everyone()).iter().map(|p| p.nick()).collect();
        assert!(left.is_empty(), "attempt {attempt}: still online {left:?}");
    }
}

#[test]
fn a_rename_racing_a_join_is_heard_in_the_room() {
    let chat = Arc::new(Chat::new(Limits::default()));
    let x = room_name("#x");
    let (recipient, watching) = recipient();
    let watcher = smol::block_on(chat.register(recipient, nick("watcher"), Some(&x), |_| {}));
    let watcher = watcher.expect("registered");
    let room = watcher.rooms().pop().expect("#x");
    for attempt in 0..TRIES {
        let person = online(&chat, &format!("p{attempt}"), None);
        drain(&watching);
        let (c, p, n) = (chat.clone(), person.clone(), x.clone());
        let join = move || drop(smol::block_on(c.join(&p, &n, |_| {})).expect("joined"));
        let (c, p, new) = (chat.clone(), person.clone(), nick(&format!("q{attempt}")));
        let rename = move || smol::block_on(c.rename(&p, new)).expect("renamed");
        race(join, rename);
        // A member's NAMES comes after a flush of what the room heard before it.
        smol::block_on(chat.names(&watcher, &room, |_| {}));
        let seen = drain(&watching);
        let joined_as_old = seen.contains(&format!("JOIN #x p{attempt}\n"));
        let renamed = seen.contains(&format!("RENAME p{attempt} q{attempt}"));
        assert!(!joined_as_old || renamed, "attempt {attempt}: the room heard {seen:?}");
        smol::block_on(chat.quit(&person, Departure::Closed));
    }
}

#[test]
fn an_owner_who_kicks_themselves_out_of_their_room_leaves_no_empty_room() {
    smol::block_on(async {
        let chat = Chat::new(Limits::default());
        let owner = online(&chat, "owner", Some(&room_name("#solo")));
        let room = owning_their_room(&chat, &owner);
        chat.kick(&owner, &room, "owner", None).await.expect("kicked");
        assert_eq!(owner.room_count(), 0);
        assert_eq!(
            chat.room_count().await,
            0,
            "left: {:?}",
            chat.listing().await.next_page(usize::MAX).await
        );
    });
}
