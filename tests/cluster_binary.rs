//! Two real `smolchat-server --cluster` processes on a real `redis-server`: a server killed
//! with `kill -9` has its people announced as gone on the other within the lease, and
//! their nicknames are free again.

mod common;

use std::time::{Duration, Instant};

use common::binary::{server_binary, Server};
use common::redis::RedisServer;
use common::*;
use smolchat::client::Client;
use smolchat::proto::chat::Line;

/// The lease both servers are started with.
const LEASE: Duration = Duration::from_millis(2000);

/// A cluster server on a free port of `redis`'s cluster.
fn clustered(redis: &RedisServer) -> Server {
    let mut command = server_binary();
    command.args(["--cluster", &redis.url(), "--cluster-lease", "2000ms"]);
    command.args(["--listen", "chat://127.0.0.1:0"]);
    Server::start(command, 1)
}

#[test]
fn a_server_killed_has_its_people_announced_gone_within_the_lease_and_their_names_freed() {
    let Some(redis) = RedisServer::start() else { return };
    let a = clustered(&redis);
    let mut b = clustered(&redis);
    smol::block_on(async {
        let (mut ann, _) = within("ann", Client::join(a.addrs[0], "ann")).await.expect("ann");
        settle(&mut ann).await;
        let (mut bob, _) = within("bob", Client::join(b.addrs[0], "bob")).await.expect("bob");
        settle(&mut bob).await;
        wait_for(&mut ann, "bob's join", |line| *line == lobby_join("bob")).await;
        let pid = a.pid().to_string();
        let killed = std::process::Command::new("kill").args(["-9", &pid]).status();
        assert!(killed.expect("run kill").success());
        let at = Instant::now();
        let gone = quit("ann", "server lost");
        wait_for(&mut bob, "ann's quit", |line| *line == gone).await;
        // The verdict needs an entry past the deadline: the survivor's next heartbeat.
        let bound = LEASE + LEASE / 3 + Duration::from_millis(1500);
        assert!(at.elapsed() < bound, "announced after {:?}", at.elapsed());
        let (mut again, _) =
            within("ann again", Client::join(b.addrs[0], "ann")).await.expect("ann is free");
        settle(&mut again).await;
        bob.sender.send_line("/names").await.expect("names");
        let names = Line::Names { room: s(LOBBY), nicks: vec![s("ann"), s("bob")] };
        wait_for(&mut bob, "NAMES", |line| *line == names).await;
    });
    drop(a);
    assert!(b.terminate().success());
}
