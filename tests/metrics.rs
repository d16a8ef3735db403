//! `/metrics` against what a scripted session did: connections, registrations, lines in,
//! deliveries and batches, refusals by code and disconnections by reason, each counted
//! exactly, fetched over HTTP from the web listener.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use async_net::TcpStream;
use common::irc::{Irc, SERVER};
use common::{join_room, quick, wait_for, within, TestServer, TIMEOUT};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use smol::Timer;
use smolchat::client::{Client, ClientError};
use smolchat::proto::chat::{ErrorCode, Line};
use smolchat::server::Config;

/// Flood control as the script needs it: no honest client here sends ten lines within a
/// second, and the flooder's twenty-first line in one write is its last.
const BURST: u32 = 10;

/// What the script leaves on the page, sample by sample: the lines the clients sent (a
/// chat client's nickname attempts included), each refusal and each ending.
const EXPECTED: &[(&str, f64)] = &[
    // Three chat clients and one IRC client (the page's requests are counted apart).
    ("smolchat_accepted_total{scheme=\"chat\"}", 3.0),
    ("smolchat_accepted_total{scheme=\"irc\"}", 1.0),
    ("smolchat_connections_total{protocol=\"chat\"}", 3.0),
    ("smolchat_connections_total{protocol=\"irc\"}", 1.0),
    ("smolchat_connections_open{protocol=\"chat\"}", 1.0),
    ("smolchat_connections_open{protocol=\"irc\"}", 0.0),
    ("smolchat_registrations_total{protocol=\"chat\"}", 3.0),
    ("smolchat_registrations_total{protocol=\"irc\"}", 1.0),
    // ann 6, bob 3, the flooder 2 × BURST + 1.
    ("smolchat_lines_in_total{protocol=\"chat\"}", 30.0),
    // NICK, USER, NICK, JOIN, PRIVMSG.
    ("smolchat_lines_in_total{protocol=\"irc\"}", 5.0),
    ("smolchat_refusals_total{code=\"nick-taken\"}", 1.0),
    ("smolchat_refusals_total{code=\"433\"}", 1.0),
    ("smolchat_refusals_total{code=\"rate-limited\"}", 1.0),
    ("smolchat_refusals_total{code=\"flood\"}", 1.0),
    ("smolchat_disconnections_total{reason=\"quit\"}", 1.0),
    ("smolchat_disconnections_total{reason=\"closed\"}", 1.0),
    ("smolchat_disconnections_total{reason=\"flood\"}", 1.0),
    ("smolchat_disconnections_total{reason=\"send_queue_full\"}", 0.0),
    ("smolchat_disconnections_total{reason=\"ping_timeout\"}", 0.0),
    ("smolchat_disconnections_total{reason=\"shutdown\"}", 0.0),
    ("smolchat_rooms", 1.0),
    ("smolchat_members", 1.0),
    // bob's join to ann (1), cy's to ann and bob (2), ann's three messages to all three
    // (9), cy's to ann and bob (2), ann's quit to bob and cy (2), cy's to bob (1).
    ("smolchat_deliveries_total", 17.0),
    // The same eight events, each in exactly one batch, however they were batched.
    ("smolchat_batch_lines_sum", 8.0),
];

#[test]
fn the_counters_match_what_a_scripted_session_did() {
    smol::block_on(async {
        let config = Config {
            flood_rate: 1,
            flood_burst: BURST,
            default_room: None,
            server_name: SERVER.into(),
            ..quick()
        };
        let server = TestServer::start(config).await;
        let (mut ann, mut bob, mut cy) = register(&server).await;
        converse(&mut ann, &mut bob, &mut cy).await;
        flood(server.addr).await;

        // ann says goodbye; cy's connection just drops.
        ann.sender.quit(Some("bye")).await.expect("quit");
        wait_for(&mut bob, "ann's QUIT", |line| is_quit(line, "ann")).await;
        cy.wait_line("ann's QUIT", |m| m.is("QUIT") && m.nick() == "ann").await;
        drop(cy);
        wait_for(&mut bob, "cy's QUIT", |line| is_quit(line, "cy")).await;

        let page = settled(server.web).await;
        assert!(page.ends_with("# EOF\n"), "{page}");
        let samples = samples(&page);
        // Each look at the page until it settled was a request of its own.
        let requests = samples.get("smolchat_accepted_total{scheme=\"http\"}").copied();
        assert!(requests.is_some_and(|count| count >= 1.0), "{page}");
        let batches = samples.get("smolchat_batches_total").copied();
        assert!(batches.is_some_and(|count| count >= 1.0), "{page}");
        assert_eq!(batches, samples.get("smolchat_batch_lines_count").copied(), "{page}");
        let codes: Vec<&str> = samples
            .keys()
            .filter(|key| key.starts_with("smolchat_refusals_total"))
            .copied()
            .collect();
        assert_eq!(codes.len(), 4, "only the script's refusals: {codes:?}");
        drop((ann, bob));
        server.stop().await;
    });
}

/// ann and bob (chat, bob after trying ann's nickname) and cy (IRC, after trying it too)
/// register; all three join `#m`, each newcomer seen by those already there.
async fn register(server: &TestServer) -> (Client, Client, Irc) {
    let (mut ann, _) = within("ann", Client::join(server.addr, "ann")).await.expect("ann");
    let mut bob = within("bob", Client::connect(server.addr)).await.expect("connect");
    let taken = within("taken", bob.register("ann")).await;
    assert!(
        matches!(&taken, Err(ClientError::Refused { code: ErrorCode::NickTaken, .. })),
        "{taken:?}"
    );
    within("bob", bob.register("bob")).await.expect("bob");
    let mut cy = Irc::connect(server.irc).await;
    cy.send("NICK ann").await;
    cy.send("USER cy 0 * :Cy").await;
    cy.wait_numeric("433").await;
    cy.send("NICK cy").await;
    cy.nick = "cy".into();
    cy.until_motd_end().await;

    join_room(&mut ann, "ann", "#m").await;
    join_room(&mut bob, "bob", "#m").await;
    wait_for(&mut ann, "bob's JOIN", |line| is_join(line, "bob")).await;
    cy.join("#m").await;
    wait_for(&mut ann, "cy's JOIN", |line| is_join(line, "cy")).await;
    wait_for(&mut bob, "cy's JOIN", |line| is_join(line, "cy")).await;
    (ann, bob, cy)
}

/// ann says three things in `#m` and cy one, and everyone hears all of it.
async fn converse(ann: &mut Client, bob: &mut Client, cy: &mut Irc) {
    for text in ["one", "two", "three"] {
        ann.say(text).await.expect("say");
    }
    for client in [&mut *ann, &mut *bob] {
        wait_for(client, "ann's three", |line| is_message(line, "ann", "three")).await;
    }
    cy.wait_line("ann's three", |m| m.is("PRIVMSG") && m.last() == "three").await;
    cy.send("PRIVMSG #m :yo").await;
    for client in [ann, bob] {
        wait_for(client, "cy's yo", |line| is_message(line, "cy", "yo")).await;
    }
}

/// A client that registers and floods in one write: its nickname and twenty `/list`s are
/// read, the eleventh line is dropped with a warning, the twenty-first disconnects it.
async fn flood(addr: SocketAddr) {
    let mut flooder = within("flooder", Client::connect(addr)).await.expect("connect");
    let mut lines = String::from("flo\n");
    (0..3 * BURST).for_each(|_| lines.push_str("/list\n"));
    flooder.sender.send_bytes(lines.as_bytes()).await.expect("flood");
    let mut codes = Vec::new();
    let end = within("the flooder's end", async {
        loop {
            match flooder.next().await {
                Ok(Line::Error { code, .. }) => codes.push(code),
                Ok(_) => {}
                Err(end) => return end,
            }
        }
    })
    .await;
    assert_eq!(codes, [ErrorCode::RateLimited, ErrorCode::Flood]);
    assert!(matches!(end, ClientError::Closed), "{end:?}");
}

/// The page once every count the script leaves has been reached (sessions finish a moment
/// after their clients see them go), or as it stands at the timeout, for the failure.
async fn settled(web: SocketAddr) -> String {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let page = fetch_metrics(web).await;
        let samples = samples(&page);
        let wrong: Vec<_> = EXPECTED
            .iter()
            .filter(|(key, want)| samples.get(key) != Some(want))
            .map(|(key, want)| format!("{key}: want {want}, got {:?}", samples.get(key)))
            .collect();
        if wrong.is_empty() {
            return page;
        }
        assert!(std::time::Instant::now() < deadline, "{wrong:#?}\n{page}");
        Timer::after(std::time::Duration::from_millis(20)).await;
    }
}

/// `GET /metrics` over a fresh connection; the body of a `200`.
async fn fetch_metrics(web: SocketAddr) -> String {
    let connect = TcpStream::connect(web);
    let mut stream = within("connect to the web listener", connect).await.expect("connect");
    let request = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut response = String::new();
    within("the response", stream.read_to_string(&mut response)).await.expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// Each sample of `page` (`name{labels} value`), by everything before its value.
fn samples(page: &str) -> HashMap<&str, f64> {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter_map(|(key, value)| Some((key, value.parse().ok()?)))
        .collect()
}

fn is_join(line: &Line, nick: &str) -> bool {
    matches!(line, Line::Join { nick: n, .. } if n == nick)
}

fn is_quit(line: &Line, nick: &str) -> bool {
    matches!(line, Line::Quit { nick: n, .. } if n == nick)
}

fn is_message(line: &Line, from: &str, text: &str) -> bool {
    matches!(line, Line::Message { from: f, text: t, .. } if f == from && t == text)
}

#[test]
fn a_server_with_a_store_counts_its_commits_and_one_without_shows_none() {
    smol::block_on(async {
        let dir = common::TempDir::new("metrics-store");
        let server = TestServer::start_in(quick(), &dir).await;
        let mut ann = server.join("ann").await;
        for text in ["one", "two", "three"] {
            ann.say(text).await.expect("say");
        }
        common::wait_message(&mut ann, "ann", "three").await;
        ann.sender.send_line("/register correct-horse").await.expect("register");
        // Answered once the account is committed, so everything before it is too.
        let account = Line::Account { nick: Some("ann".into()) };
        wait_for(&mut ann, "ACCOUNT", |line| *line == account).await;
        let page = fetch_metrics(server.web).await;
        let samples = samples(&page);
        assert_eq!(samples.get("smolchat_store_history_written_total"), Some(&3.0), "{page}");
        assert_eq!(samples.get("smolchat_store_changes_total"), Some(&4.0), "{page}");
        assert_eq!(samples.get("smolchat_store_dropped_total"), Some(&0.0), "{page}");
        assert!(samples.get("smolchat_store_commits_total").is_some_and(|n| *n >= 1.0));
        assert!(samples.get("smolchat_store_file_bytes").is_some_and(|n| *n > 0.0));
        server.stop().await;

        let server = TestServer::default().await;
        assert!(!fetch_metrics(server.web).await.contains("smolchat_store"));
        server.stop().await;
    });
}
