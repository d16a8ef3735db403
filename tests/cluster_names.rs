//! Names unique across a cluster, against a real `redis-server`: taken and look-alike names,
//! two servers racing for one name, renames, releases, and the leases that free the names
//! of a server that stopped. Skipped (saying why) where `redis-server` is not installed.

mod common;

use std::time::{Duration, Instant};

use common::redis::RedisServer;
use common::within;
use smol::Timer;
use smolchat::cluster::{self, ClaimError, ClusterError, Holder, Names, Owner, ServerId};
use smolchat::unicode::{fold, skeleton};

/// A lease long enough that no test sees it expire unless it means to.
const LONG_LEASE: Duration = Duration::from_secs(60);

/// Registers server `id` with Redis at `redis`.
async fn server(redis: &RedisServer, id: &str, lease: Duration) -> Names {
    server_with_timeout(redis, id, lease, cluster::DEFAULT_TIMEOUT).await
}

/// Registers server `id`, whose requests to Redis give up after `timeout`.
async fn server_with_timeout(
    redis: &RedisServer,
    id: &str,
    lease: Duration,
    timeout: Duration,
) -> Names {
    let connection = within("connect", cluster::connect(&redis.url(), timeout)).await;
    let server = ServerId::parse(id).expect("server id");
    within("register", Names::register(connection.expect("connect"), server, lease))
        .await
        .expect("register")
}

/// Claims `name` for `owner`, with its fold and skeleton worked out as the core does.
async fn claim(names: &Names, name: &str, owner: &Owner) -> Result<(), ClaimError> {
    let folded = fold(name);
    within("claim", names.claim(&folded, &skeleton(&folded), name, owner)).await
}

/// Renames `owner` from `old` to `new`.
async fn rename(names: &Names, old: &str, new: &str, owner: &Owner) -> Result<(), ClaimError> {
    let (old, folded) = (fold(old), fold(new));
    within("rename", names.rename(&old, &folded, &skeleton(&folded), new, owner)).await
}

/// Who holds `name`.
async fn find(names: &Names, name: &str) -> Option<Holder> {
    within("find", names.find(&fold(name))).await.expect("find")
}

/// The holder of `name` is `owner`, showing it as `display`.
fn held(display: &str, owner: &Owner) -> Option<Holder> {
    Some(Holder { display: display.to_string(), owner: owner.clone() })
}

fn taken_by(result: Result<(), ClaimError>) -> String {
    match result {
        Err(ClaimError::Taken { holder }) => holder,
        other => panic!("expected Taken, got {other:?}"),
    }
}

fn looks_like(result: Result<(), ClaimError>) -> String {
    match result {
        Err(ClaimError::LooksLike { holder }) => holder,
        other => panic!("expected LooksLike, got {other:?}"),
    }
}

#[test]
fn a_name_is_taken_under_folding_and_refused_when_it_looks_like_one_held() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let a = server(&redis, "a", LONG_LEASE).await;
        let b = server(&redis, "b", LONG_LEASE).await;
        let (alice, other) = (a.owner(1), b.owner(2));
        claim(&a, "Alice", &alice).await.expect("a free name");
        assert_eq!(find(&b, "ALICE").await, held("Alice", &alice));
        // The same name under folding, from either server.
        assert_eq!(taken_by(claim(&b, "alice", &other).await), "Alice");
        assert_eq!(taken_by(claim(&a, "ＡＬＩＣＥ", &a.owner(3)).await), "Alice");
        // A Cyrillic а: another name that looks the same.
        assert_eq!(looks_like(claim(&b, "аlice", &other).await), "Alice");
        // Claiming what one holds again is fine, so a lost answer can be retried.
        claim(&a, "ALICE", &alice).await.expect("a second claim by the holder");
        assert_eq!(find(&b, "alice").await, held("ALICE", &alice));
        assert_eq!(find(&b, "bob").await, None);
    });
}

#[test]
fn of_fifty_claims_racing_from_two_servers_for_one_name_exactly_one_wins() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let a = server(&redis, "a", LONG_LEASE).await;
        let b = server(&redis, "b", LONG_LEASE).await;
        let racers: Vec<_> = (0..50u64)
            .map(|i| {
                let names = if i % 2 == 0 { a.clone() } else { b.clone() };
                let display = if i % 3 == 0 { "Racer" } else { "racer" };
                smol::spawn(async move {
                    let owner = names.owner(i);
                    let result = claim(&names, display, &owner).await;
                    (owner, display, result)
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut losers = Vec::new();
        for racer in racers {
            match racer.await {
                (owner, display, Ok(())) => winners.push((owner, display)),
                (_, _, result) => losers.push(taken_by(result)),
            }
        }
        assert_eq!(winners.len(), 1, "winners: {winners:?}");
        let (owner, display) = &winners[0];
        assert_eq!(losers.len(), 49);
        assert!(losers.iter().all(|holder| holder == display), "losers saw {losers:?}");
        assert_eq!(find(&a, "RACER").await, held(display, owner));
    });
}

#[test]
fn a_rename_takes_the_new_name_and_frees_the_old_in_one_step() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let a = server(&redis, "a", LONG_LEASE).await;
        let b = server(&redis, "b", LONG_LEASE).await;
        let (bob, carol) = (a.owner(1), b.owner(2));
        claim(&a, "bob", &bob).await.expect("bob");
        claim(&b, "carol", &carol).await.expect("carol");
        // Refused: taken, or like a name held; bob keeps his name.
        assert_eq!(taken_by(rename(&a, "bob", "Carol", &bob).await), "carol");
        assert_eq!(looks_like(rename(&a, "bob", "caro1", &bob).await), "carol");
        assert_eq!(find(&b, "bob").await, held("bob", &bob));
        // A name that looks like one's own old name is fine.
        rename(&a, "bob", "b0b", &bob).await.expect("like his own old name");
        assert_eq!(find(&b, "bob").await, None);
        assert_eq!(find(&b, "b0b").await, held("b0b", &bob));
        rename(&a, "b0b", "robert", &bob).await.expect("robert");
        // The old name is free for anyone, and so is its look.
        claim(&b, "bob", &b.owner(3)).await.expect("the old name is free");
        // Only the case changes: same name, shown anew.
        rename(&a, "robert", "Robert", &bob).await.expect("a change of case");
        assert_eq!(find(&b, "robert").await, held("Robert", &bob));
    });
}

#[test]
fn only_its_owner_releases_a_name() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let a = server(&redis, "a", LONG_LEASE).await;
        let b = server(&redis, "b", LONG_LEASE).await;
        let (dave, other) = (a.owner(1), b.owner(1));
        claim(&a, "Dave", &dave).await.expect("dave");
        // Another server's client with the same number is another owner.
        assert!(!b.release("dave", &other).await.expect("release"));
        assert!(!a.release("dave", &a.owner(2)).await.expect("release"));
        assert_eq!(find(&b, "dave").await, held("Dave", &dave));
        assert!(a.release("dave", &dave).await.expect("release"));
        assert!(!a.release("dave", &dave).await.expect("release"), "released twice");
        assert_eq!(find(&b, "dave").await, None);
        claim(&b, "dave", &other).await.expect("free again");
    });
}

#[test]
fn the_names_of_a_server_whose_lease_expired_are_free_and_swept_once() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let lease = Duration::from_millis(300);
        let registered = Instant::now();
        let a = server(&redis, "a", lease).await;
        let b = server(&redis, "b", lease).await;
        // b stays alive; a stops heartbeating.
        let heartbeat = smol::spawn({
            let b = b.clone();
            async move {
                loop {
                    Timer::after(Duration::from_millis(50)).await;
                    b.heartbeat().await.expect("b's heartbeat");
                }
            }
        });
        let (erin, frank, gina) = (a.owner(1), a.owner(2), b.owner(1));
        claim(&a, "Erin", &erin).await.expect("erin");
        claim(&a, "Frank", &frank).await.expect("frank");
        assert_eq!(taken_by(claim(&b, "erin", &gina).await), "Erin");
        assert_eq!(within("sweep", b.sweep()).await.expect("sweep"), vec![], "nobody gone yet");
        // Until a's lease runs out, erin stays taken.
        within("a's lease to expire", async {
            while claim(&b, "erin", &gina).await.is_err() {
                Timer::after(Duration::from_millis(20)).await;
            }
        })
        .await;
        let freed = registered.elapsed();
        assert!(freed >= lease - Duration::from_millis(5), "freed after {freed:?}");
        assert_eq!(find(&b, "frank").await, None, "a's other name is free too");
        // The sweep hands out both of a's names, the one taken and the one left, once.
        let mut gone = within("sweep", b.sweep()).await.expect("sweep");
        gone.sort_by(|x, y| x.display.cmp(&y.display));
        assert_eq!(gone, vec![held("Erin", &erin).unwrap(), held("Frank", &frank).unwrap()]);
        assert_eq!(within("sweep", a.sweep()).await.expect("sweep"), vec![]);
        // a finds out, and cannot claim any more.
        assert!(matches!(a.heartbeat().await, Err(ClusterError::LeaseLost(_))));
        let refused = claim(&a, "hank", &a.owner(3)).await;
        assert!(matches!(refused, Err(ClaimError::Cluster(ClusterError::LeaseLost(_)))));
        assert_eq!(find(&a, "erin").await, held("erin", &gina));
        drop(heartbeat);
    });
}

#[test]
fn a_server_id_has_one_running_server_and_a_new_run_sweeps_the_old_names() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let lease = Duration::from_millis(300);
        let first = server(&redis, "a", lease).await;
        claim(&first, "ivy", &first.owner(1)).await.expect("ivy");
        let connection = cluster::connect(&redis.url(), cluster::DEFAULT_TIMEOUT).await;
        let again = Names::register(connection.expect("connect"), first.server().clone(), lease);
        assert!(matches!(again.await, Err(ClusterError::ServerIdInUse(_))));
        // Once the lease is out, a new run under the id starts with no names.
        let second = within("the lease to expire", async {
            let connection = cluster::connect(&redis.url(), cluster::DEFAULT_TIMEOUT).await;
            let connection = connection.expect("connect");
            loop {
                let server = first.server().clone();
                match Names::register(connection.clone(), server, LONG_LEASE).await {
                    Ok(names) => return names,
                    Err(ClusterError::ServerIdInUse(_)) => {}
                    Err(error) => panic!("register: {error}"),
                }
                Timer::after(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert_eq!(find(&second, "ivy").await, None);
        let gone = within("sweep", second.sweep()).await.expect("sweep");
        assert_eq!(gone, vec![held("ivy", &first.owner(1)).unwrap()]);
    });
}

#[test]
fn a_claim_waits_out_a_short_pause_of_redis() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let a = server(&redis, "a", LONG_LEASE).await;
        let pause = Duration::from_millis(300);
        redis.pause(300);
        let started = Instant::now();
        claim(&a, "jo", &a.owner(1)).await.expect("a claim after the pause");
        assert!(started.elapsed() >= pause / 2, "answered after {:?}", started.elapsed());
    });
}

#[test]
fn a_claim_in_a_long_pause_times_out_and_is_safe_to_retry() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let timeout = Duration::from_millis(200);
        let a = server_with_timeout(&redis, "a", LONG_LEASE, timeout).await;
        let kim = a.owner(1);
        redis.pause(1000);
        let refused = claim(&a, "kim", &kim).await;
        assert!(matches!(refused, Err(ClaimError::Cluster(ClusterError::Timeout))), "{refused:?}");
        // The claim was sent: Redis runs it once the pause is over, so a retry finds the name
        // already kim's, and says so.
        within("the pause to end", async {
            loop {
                match claim(&a, "kim", &kim).await {
                    Ok(()) => break,
                    Err(ClaimError::Cluster(ClusterError::Timeout)) => {}
                    Err(error) => panic!("retry: {error}"),
                }
            }
        })
        .await;
        assert_eq!(find(&a, "kim").await, held("kim", &kim));
    });
}

#[test]
fn after_redis_restarts_empty_the_connection_comes_back_and_the_lease_is_lost() {
    let Some(mut redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let a = server(&redis, "a", LONG_LEASE).await;
        claim(&a, "lee", &a.owner(1)).await.expect("lee");
        redis.restart();
        // The first request may find the old connection broken; a later one reconnects.
        let beat = within("a heartbeat after the restart", async {
            loop {
                match a.heartbeat().await {
                    Err(ClusterError::Unavailable(_) | ClusterError::Timeout) => {}
                    other => return other,
                }
                Timer::after(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(matches!(beat, Err(ClusterError::LeaseLost(_))), "{beat:?}");
        let again = server(&redis, "a", LONG_LEASE).await;
        claim(&again, "lee", &again.owner(1)).await.expect("lee again");
    });
}
