//! Which servers are alive, as the log tells it (docs/CLUSTER.md, "A server that dies").
//!
//! Every server appends a heartbeat to the log every lease/3 ([`beat`]). [`Liveness`],
//! fed the log in order, declares a server dead at the first entry whose time (Redis's,
//! in the entry's id) is more than a lease after that server's last heartbeat. The verdict
//! depends on the log alone, not on when or in what batches it is read, so every server
//! reaches it at the same entry, and can deliver the dead server's people's `QUIT` there.
//!
//! A server is known from its first entry, of any kind: its clock starts there. After that
//! only heartbeats renew it: an operation proves the server was alive, but a server whose
//! heartbeats stopped has lost its lease key too, so it counts as dead wherever that key
//! does. A body that does not parse counts as an entry, not as a heartbeat.
//!
//! A server declared dead that appears again is a new life, never silently the old one:
//! the entry where it appears reports it as [`Verdicts::revived`]. Its people were quit
//! everywhere at the verdict; what its new life brings starts from nothing. A server whose
//! own entry comes more than a lease after its last heartbeat is declared dead and revived
//! at that same entry.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::mem;
use std::time::{Duration, Instant};

use futures_lite::future;
use smol::Timer;
use tracing::{debug, info, warn};

use super::body::Body;
use super::log::Entry;
use super::turns::Append;

/// What one entry of the log changed in who is alive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdicts {
    /// The servers declared dead at this entry, each once per life; soonest deadline
    /// first, then by id.
    pub dead: Vec<String>,
    /// The entry's server, if it had been declared dead: this entry starts its new life.
    pub revived: Option<String>,
}

impl Verdicts {
    /// Whether this entry changed nothing.
    pub fn is_empty(&self) -> bool {
        self.dead.is_empty() && self.revived.is_none()
    }
}

/// Who is alive, by the log read so far: pure and deterministic. Fed every entry from the
/// log's start, in order, it gives every reader the same verdicts at the same entries. A
/// reader that starts where the log was trimmed does not know the heartbeats before it:
/// it would miss the death of a server silent since before then (the snapshot that
/// docs/CLUSTER.md names under "Where it falls short" would carry them).
#[derive(Debug, Clone)]
pub struct Liveness {
    /// How long a server lives past its last heartbeat, in milliseconds.
    lease_ms: u64,
    /// The live servers, each with the time of its last sign of life: its last heartbeat,
    /// or the first entry of this life.
    alive: HashMap<String, u64>,
    /// The live servers by deadline (last sign plus lease), soonest first: the next
    /// verdicts are at the front.
    deadlines: BTreeSet<(u64, String)>,
    /// The servers declared dead and not seen since: one that appears again is revived.
    /// Grows by one per server id that ever died.
    dead: HashSet<String>,
}

impl Liveness {
    /// Nobody known yet; a server is declared dead more than `lease` after its last
    /// heartbeat.
    pub fn new(lease: Duration) -> Liveness {
        Liveness {
            lease_ms: u64::try_from(lease.as_millis()).unwrap_or(u64::MAX),
            alive: HashMap::new(),
            deadlines: BTreeSet::new(),
            dead: HashSet::new(),
        }
    }

    /// Takes the next entry of the log into account; returns who died and who came back
    /// at it. Deaths come first: a server whose own entry is past its deadline is declared
    /// dead, then revived, at that entry.
    pub fn observe(&mut self, entry: &Entry) -> Verdicts {
        let now = entry.id.ms;
        // Every deadline before `now` has passed: those servers die here.
        let pending = self.deadlines.split_off(&(now, String::new()));
        let passed = mem::replace(&mut self.deadlines, pending);
        let mut dead = Vec::with_capacity(passed.len());
        for (_, server) in passed {
            self.alive.remove(&server);
            self.dead.insert(server.clone());
            dead.push(server);
        }
        // Then the entry's own server: a heartbeat renews it, a first entry starts a life.
        let mut revived = None;
        match self.alive.get_mut(&entry.server) {
            Some(last) => {
                if now > *last && Body::is_heartbeat(&entry.body) {
                    self.deadlines
                        .remove(&(last.saturating_add(self.lease_ms), entry.server.clone()));
                    self.deadlines
                        .insert((now.saturating_add(self.lease_ms), entry.server.clone()));
                    *last = now;
                }
            }
            None => {
                self.alive.insert(entry.server.clone(), now);
                self.deadlines.insert((now.saturating_add(self.lease_ms), entry.server.clone()));
                if self.dead.remove(&entry.server) {
                    revived = Some(entry.server.clone());
                }
            }
        }
        Verdicts { dead, revived }
    }

    /// Whether `server` is known and not declared dead (in its current life).
    pub fn is_alive(&self, server: &str) -> bool {
        self.alive.contains_key(server)
    }

    /// The live servers, by id.
    pub fn alive(&self) -> Vec<&str> {
        let mut alive: Vec<&str> = self.alive.keys().map(String::as_str).collect();
        alive.sort_unstable();
        alive
    }
}

/// How often a server with `lease` beats: a third of the lease (at least a millisecond),
/// so that one or two lost beats do not kill it.
pub fn beat_period(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(1))
}

/// Appends a heartbeat to `log` every [`beat_period`] of `lease`, the first at once,
/// until dropped. A failed append is logged and the next beat is the retry; an append
/// that takes longer than a period is given up (it may still land), so a stalled Redis
/// does not hold the beats back. After a stall it beats at once, then on its rhythm again,
/// never in a burst.
pub async fn beat<A: Append>(log: A, lease: Duration) {
    beat_reporting(log, lease, |_| {}).await
}

/// [`beat`], telling `report` after each beat whether it got through in its period.
pub async fn beat_reporting<A: Append>(log: A, lease: Duration, mut report: impl FnMut(bool)) {
    let period = beat_period(lease);
    let body = Body::Heartbeat.encode();
    let mut next = Instant::now();
    // In a run of failures: log the first and the recovery, not every one between.
    let mut failing = false;
    loop {
        Timer::at(next).await;
        let late = async {
            Timer::after(period).await;
            None
        };
        let appended = future::or(async { Some(log.append(&body).await) }, late).await;
        report(matches!(appended, Some(Ok(_))));
        match appended {
            Some(Ok(_)) if failing => {
                info!(server = log.server(), "heartbeats reach the cluster's log again");
                failing = false;
            }
            Some(Ok(_)) => {}
            Some(Err(error)) if failing => debug!(%error, "a heartbeat failed again"),
            Some(Err(error)) => {
                warn!(server = log.server(), %error, "a heartbeat failed; trying on");
                failing = true;
            }
            None if failing => debug!("a heartbeat took longer than its period again"),
            None => {
                warn!(server = log.server(), ?period, "a heartbeat took longer than its period");
                failing = true;
            }
        }
        // Keep the rhythm; after a stall, beat at once rather than to catch up.
        next = (next + period).max(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::log::EntryId;
    use super::*;

    /// The lease of these tests.
    const LEASE: Duration = Duration::from_millis(300);

    /// An entry of `server` at `ms` saying `body`.
    fn entry(ms: u64, server: &str, body: &[u8]) -> Entry {
        Entry { id: EntryId { ms, seq: 0 }, server: server.into(), body: body.to_vec() }
    }

    /// A heartbeat of `server` at `ms`.
    fn beat_at(ms: u64, server: &str) -> Entry {
        entry(ms, server, &Body::Heartbeat.encode())
    }

    /// An operation of `server` at `ms`.
    fn op_at(ms: u64, server: &str) -> Entry {
        entry(ms, server, &Body::Operation(b"say hi").encode())
    }

    /// The verdicts of `log`, as (entry time, verdicts) for the entries that changed
    /// something.
    fn verdicts(log: &[Entry]) -> Vec<(u64, Verdicts)> {
        let mut liveness = Liveness::new(LEASE);
        log.iter()
            .map(|entry| (entry.id.ms, liveness.observe(entry)))
            .filter(|(_, verdicts)| !verdicts.is_empty())
            .collect()
    }

    /// Verdicts of servers declared dead, and of none revived.
    fn dead(servers: &[&str]) -> Verdicts {
        Verdicts { dead: servers.iter().map(|s| s.to_string()).collect(), revived: None }
    }

    #[test]
    fn a_server_dies_at_the_first_entry_past_its_lease_once() {
        let log = [
            beat_at(1000, "a"),
            beat_at(1000, "b"),
            beat_at(1100, "b"),
            beat_at(1200, "b"),
            // Exactly a lease after a's heartbeat: not more than a lease, a lives.
            beat_at(1300, "b"),
            // One millisecond more: a dies here.
            op_at(1301, "b"),
            beat_at(1400, "b"),
            beat_at(1500, "b"),
        ];
        assert_eq!(verdicts(&log), vec![(1301, dead(&["a"]))]);
    }

    #[test]
    fn operations_do_not_renew_but_a_first_entry_starts_the_clock() {
        let log = [
            // a is known from an operation; its clock starts there.
            op_at(1000, "a"),
            op_at(1250, "a"),
            beat_at(1300, "b"),
            beat_at(1301, "b"),
            // A body that does not parse is an entry, not a heartbeat.
            entry(1350, "c", b"?"),
            entry(1600, "c", b"h-not-quite"),
            beat_at(1600, "b"),
            beat_at(1651, "b"),
        ];
        assert_eq!(verdicts(&log), vec![(1301, dead(&["a"])), (1651, dead(&["c"]))]);
    }

    #[test]
    fn several_die_at_one_entry_soonest_deadline_first() {
        let log = [beat_at(1000, "c"), beat_at(1010, "a"), beat_at(1010, "b"), beat_at(2000, "d")];
        assert_eq!(verdicts(&log), vec![(2000, dead(&["c", "a", "b"]))]);
    }

    #[test]
    fn a_dead_server_that_appears_again_is_revived_not_silently_alive() {
        let mut liveness = Liveness::new(LEASE);
        for entry in [beat_at(1000, "a"), beat_at(1000, "b"), beat_at(1301, "b")] {
            liveness.observe(&entry);
        }
        assert!(!liveness.is_alive("a"));
        let back = liveness.observe(&op_at(1400, "a"));
        assert_eq!(back, Verdicts { dead: vec![], revived: Some("a".into()) });
        assert_eq!(liveness.alive(), ["a", "b"]);
        // A new life, with a new clock, and a death of its own.
        assert!(liveness.observe(&beat_at(1500, "b")).is_empty());
        assert!(liveness.observe(&beat_at(1700, "b")).is_empty());
        assert_eq!(liveness.observe(&beat_at(1701, "b")), dead(&["a"]));
    }

    #[test]
    fn a_server_late_with_its_own_heartbeat_dies_and_revives_there() {
        let mut liveness = Liveness::new(LEASE);
        liveness.observe(&beat_at(1000, "a"));
        let late = liveness.observe(&beat_at(1400, "a"));
        assert_eq!(late, Verdicts { dead: vec!["a".into()], revived: Some("a".into()) });
        assert!(liveness.is_alive("a"));
    }

    /// A log of `servers` beating and talking with gaps, some long enough to die of, from
    /// a fixed `seed`.
    fn random_log(seed: u64, servers: &[&str], len: usize) -> Vec<Entry> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        let mut ms = 1000;
        let mut log = Vec::with_capacity(len);
        for seq in 0..len {
            // Mostly small steps, sometimes a long silence.
            ms += if next() % 20 == 0 { 200 + next() % 300 } else { next() % 60 };
            let server = servers[(next() as usize) % servers.len()];
            let body = match next() % 3 {
                0 => Body::Operation(b"op").encode(),
                _ => Body::Heartbeat.encode(),
            };
            log.push(Entry { id: EntryId { ms, seq: seq as u64 }, server: server.into(), body });
        }
        log
    }

    /// The verdicts of `log` by the rule as the design states it, naively: at each entry,
    /// every live server whose last sign is more than a lease before it dies.
    fn by_the_rule(log: &[Entry]) -> Vec<Verdicts> {
        let lease = LEASE.as_millis() as u64;
        let mut last: BTreeMap<String, u64> = BTreeMap::new();
        let mut ever = HashSet::new();
        let mut out = Vec::new();
        for entry in log {
            let now = entry.id.ms;
            let mut dying: Vec<(u64, String)> = last
                .iter()
                .filter(|(_, &sign)| now > sign + lease)
                .map(|(server, &sign)| (sign + lease, server.clone()))
                .collect();
            dying.sort();
            for (_, server) in &dying {
                last.remove(server);
            }
            let mut revived = None;
            match last.get_mut(&entry.server) {
                Some(sign) if Body::is_heartbeat(&entry.body) => *sign = now,
                Some(_) => {}
                None => {
                    last.insert(entry.server.clone(), now);
                    if !ever.insert(entry.server.clone()) {
                        revived = Some(entry.server.clone());
                    }
                }
            }
            out.push(Verdicts { dead: dying.into_iter().map(|(_, s)| s).collect(), revived });
        }
        out
    }

    #[test]
    fn the_same_log_gives_the_same_verdicts_whatever_the_batching() {
        for seed in 0..50 {
            let log = random_log(seed, &["a", "b", "c", "d"], 400);
            let expected = by_the_rule(&log);
            assert!(expected.iter().any(|v| !v.dead.is_empty()), "seed {seed} kills someone");
            for batch in [1, 2, 3, 7, 64, log.len()] {
                let mut liveness = Liveness::new(LEASE);
                let got: Vec<Verdicts> = log
                    .chunks(batch)
                    .flat_map(|chunk| {
                        chunk.iter().map(|entry| liveness.observe(entry)).collect::<Vec<_>>()
                    })
                    .collect();
                assert_eq!(got, expected, "seed {seed}, batches of {batch}");
            }
        }
    }
}
