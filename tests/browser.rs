//! The web client (web/index.html, web/app.js, web/style.css) in real browsers: two headless
//! Chromiums and one line-protocol client in `#lobby` see each other's messages in one
//! order; a taken nickname is refused on the page, which asks again; a room joined, a
//! switch back by click and an unread count for the room left behind; an action, a private
//! message and a topic; markup sent as a message or a topic stays text; someone renamed to
//! the nickname of an earlier private conversation joins it; a room's longest name fits a
//! phone's width; and the page says so when the connection is lost. A browser entering a room sees what was said before,
//! with its times, above a rule; and a registered nickname is claimed from the page (the
//! password kept from the up arrow), whose owner then removes someone from her room. A page
//! whose server restarts (same ports, same store) reconnects by itself, rejoins `#lobby`, and
//! shows each replayed line it had already shown once, before new talk. A page in a dozen
//! rooms whose connection drops, and drops again while it rejoins, rejoins them all, with
//! their people, under the server's flood limit, and what is typed meanwhile waits its turn;
//! the same words said again while it was away are shown again. A rejoin whose last room
//! is refused still ends, and the next one is of the rooms the page is in.
//!
//! Needs `chromium` and `chromedriver` on PATH (`apt-get install -y chromium
//! chromium-driver`). Without them the test says why on stderr and passes as skipped, unless
//! `SMOLCHAT_REQUIRE_BROWSER=1` (set by `.ci/run`), where it fails instead. With
//! `SMOLCHAT_SCREENSHOTS=1` it also writes the screenshots of the docs, docs/web-lobby.png
//! (desktop) and docs/web-phone.png (a phone's width).

mod common;

use std::env;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use common::webdriver::{Chromium, Driver, Session, ENTER};
use common::*;
use serde_json::{json, Value};
use smolchat::proto::chat::Line;
use smolchat::server::Config;

/// A desktop window, and a phone's (an iPhone 14's CSS pixels).
const DESKTOP: (u32, u32) = (1280, 800);
const PHONE: (u32, u32) = (390, 844);
/// A narrower phone (an iPhone SE's).
const NARROW_PHONE: (u32, u32) = (375, 667);

/// The elements the test drives, by their `data-testid`.
const NICK_INPUT: &str = "[data-testid=nick-input]";
const NICK_ERROR: &str = "[data-testid=nick-error]";
const PROMPT: &str = "[data-testid=prompt]";
const SAY: &str = "[data-testid=message-input]";
const JOIN: &str = "[data-testid=join-input]";
const STATUS: &str = "[data-testid=status]";
const TOPIC: &str = "[data-testid=topic]";
const TITLE: &str = "[data-testid=title-room]";
const MEMBERS: &str = "[data-testid=members]";

/// How often a wait asks the page again.
const POLL: Duration = Duration::from_millis(25);

/// Set to `1` to write the screenshots of the docs.
const SCREENSHOTS: &str = "SMOLCHAT_SCREENSHOTS";

#[test]
fn two_browsers_and_a_line_client_talk_in_one_order_switch_rooms_and_keep_markup_as_text() {
    let Some(chromium) = Chromium::find("browser") else { return };
    smol::block_on(async {
        let server = TestServer::default().await;
        let url = format!("http://{}/", server.web);
        let driver = Driver::start(&chromium);
        let mut carol = server.join("carol").await;

        // Both browsers start at once: starting them is much of the test's time.
        let (alice, bob) = thread::scope(|scope| {
            let bob = scope.spawn(|| driver.session(DESKTOP.0, DESKTOP.1));
            let alice = driver.session(DESKTOP.0, DESKTOP.1);
            (alice, bob.join().expect("start a browser"))
        });

        // Alice registers; Bob first asks for her nickname (in other letter case, the same
        // name), is told it is taken, stays at the prompt and picks another.
        alice.goto(&url);
        register(&alice, "alice");
        wait_for(&mut carol, "JOIN #lobby alice", |l| *l == lobby_join("alice")).await;
        bob.goto(&url);
        bob.type_into(NICK_INPUT, &format!("Alice{ENTER}"));
        bob.wait_text(NICK_ERROR, "nickname Alice is taken");
        assert!(visible(&bob, PROMPT), "the prompt asks again after a refusal");
        bob.clear(NICK_INPUT);
        register(&bob, "bob");
        wait_for(&mut carol, "JOIN #lobby bob", |l| *l == lobby_join("bob")).await;
        // The people list's text is its names one after the other, sorted.
        alice.wait_text(MEMBERS, "alicebobcarol");

        // All three talk at once; everyone sees the room's one order, which keeps each
        // speaker's own order.
        let lines = [
            ("alice", "hi both! the web client is up"),
            ("bob", "hello from a browser tab"),
            ("carol", "and hello from the terminal"),
            ("alice", "colours per nick, too"),
            ("bob", "and it reconnects by itself"),
            ("carol", "nice; does it work on a phone?"),
        ];
        for (from, text) in lines {
            match from {
                "alice" => say(&alice, text),
                "bob" => say(&bob, text),
                _ => carol.say(text).await.expect("carol says"),
            }
        }
        let mut order = Vec::new();
        while order.len() < lines.len() {
            if let Line::Message { room, from, text } =
                wait_for(&mut carol, "messages", |l| matches!(l, Line::Message { .. })).await
            {
                assert_eq!(room, LOBBY);
                order.push((from, text));
            }
        }
        for from in ["alice", "bob", "carol"] {
            let theirs: Vec<_> = order.iter().filter(|(f, _)| f == from).map(|(_, t)| t).collect();
            let sent: Vec<_> = lines.iter().filter(|(f, _)| *f == from).map(|(_, t)| t).collect();
            assert_eq!(theirs, sent, "{from}'s messages in the order sent");
        }
        for page in [&alice, &bob] {
            assert_eq!(wait_messages(page, LOBBY, lines.len()), order, "one order for everyone");
        }

        // Alice joins #rust by name and talks there; Carol follows.
        alice.type_into(JOIN, &format!("#rust{ENTER}"));
        wait_current(&alice, "#rust");
        join_room(&mut carol, "carol", "#rust").await;
        alice.wait_text(MEMBERS, "alicecarol");
        say(&alice, "anyone into async rust?");
        wait_for(&mut carol, "alice in #rust", |l| {
            *l == Line::Message {
                room: s("#rust"),
                from: s("alice"),
                text: s("anyone into async rust?"),
            }
        })
        .await;

        // Back to #lobby by a click: what she types goes there again; #rust counts what
        // arrives meanwhile, until she looks.
        alice.click(&room_entry(LOBBY));
        wait_current(&alice, LOBBY);
        say_in(&carol, "#rust", "me! smol is lovely").await;
        let unread = format!("{} [data-testid=unread]", room_entry("#rust"));
        alice.wait_text(&unread, "1");
        assert!(visible(&alice, &unread), "the unread count of #rust shows");
        say(&alice, "back in the lobby");
        wait_for(&mut carol, "alice in #lobby", |l| {
            *l == lobby_message("alice", "back in the lobby")
        })
        .await;
        alice.click(&room_entry("#rust"));
        wait_current(&alice, "#rust");
        assert!(!visible(&alice, &unread), "looking at #rust clears its count");
        assert_eq!(
            messages(&alice, "#rust").last().map(|(_, t)| t.as_str()),
            Some("me! smol is lovely")
        );
        alice.click(&room_entry(LOBBY));
        wait_current(&alice, LOBBY);
        carol.sender.send_line("/join #lobby").await.expect("switch");
        let lobby = Line::Room { room: Some(s(LOBBY)) };
        wait_for(&mut carol, "ROOM #lobby", |l| *l == lobby).await;

        // Markup is text: in a message from a browser, from the line client, and in a topic.
        let script = "<script>alert(1)</script> <img src=x onerror=alert(1)>";
        say(&bob, script);
        let bold = "<b>bold?</b> <a href=\"javascript:alert(1)\">click</a> &amp;";
        carol.say(bold).await.expect("carol says");
        let topic = "<i>web</i> day: try http://localhost/ & <u>friends</u>";
        carol.sender.send_line(&format!("/topic #lobby {topic}")).await.expect("topic");
        for page in [&alice, &bob] {
            let seen = wait_messages(page, LOBBY, lines.len() + 3);
            assert_eq!(seen[seen.len() - 2..], [(s("bob"), s(script)), (s("carol"), s(bold))]);
            page.wait_text(TOPIC, topic);
            let markup = "return document.querySelectorAll('#log img, #log script, #log b, \
                          #log i, #log u, [data-testid=topic] *').length";
            assert_eq!(page.execute(markup, &[]), json!(0), "no element made from a message");
            // The one link is the topic's web address, as logged; `javascript:` is no link.
            let links = "return [...document.querySelectorAll('#log a')].map(a => a.href)";
            assert_eq!(
                page.execute(links, &[]),
                json!(["http://localhost/"]),
                "only http(s) links"
            );
            assert_eq!(page.alert_text(), None, "no script ran");
        }

        // An action and a private message.
        carol.sender.send_line("/me waves at the browsers").await.expect("action");
        carol.sender.send_line("/msg alice psst: try the phone layout").await.expect("private");
        let action =
            "return [...document.querySelectorAll('[data-buffer=\"#lobby\"] li.line-action')]\
                      .map(li => li.dataset.from + ' ' + li.querySelector('.text').textContent)";
        alice.wait(
            "carol's action",
            &format!("{action}.includes('carol waves at the browsers')"),
            &[],
        );
        let private = format!("{} [data-testid=unread]", entry("private", "carol"));
        alice.wait_text(&private, "1");
        wait_for(&mut carol, "her private echo", |l| matches!(l, Line::Private { .. })).await;

        if env::var(SCREENSHOTS).is_ok_and(|v| v == "1") {
            screenshots(&alice, &bob);
        }

        // Dave writes to Alice privately and leaves; Erin writes too, then takes the name
        // dave: Alice has one conversation with dave, holding both.
        let mut dave = server.join("dave").await;
        dave.sender.send_line("/msg alice are you there?").await.expect("private");
        alice.wait_text(&format!("{} [data-testid=unread]", entry("private", "dave")), "1");
        dave.sender.quit(None).await.expect("quit");
        drain(&mut dave).await;
        let mut erin = server.join("erin").await;
        erin.sender.send_line("/msg alice it's me, erin").await.expect("private");
        alice.wait_text(&format!("{} [data-testid=unread]", entry("private", "erin")), "1");
        erin.sender.send_line("/nick dave").await.expect("rename");
        let renamed = Line::Rename { old: s("erin"), new: s("dave") };
        wait_for(&mut erin, "RENAME erin dave", |l| *l == renamed).await;
        let told = "return [...document.querySelectorAll('[data-buffer=\"dave\"] li.line-event')]\
                    .some(li => li.textContent.endsWith('erin is now known as dave'))";
        alice.wait("the rename in the conversation with dave", told, &[]);
        let count = "return [document.querySelectorAll(arguments[0]).length, \
                     document.querySelectorAll('[data-buffer=\"dave\"]').length]";
        assert_eq!(
            alice.execute(count, &[json!(entry("private", "dave"))]),
            json!([1, 1]),
            "one entry and one log for the conversation with dave"
        );
        assert_eq!(alice.try_find(&entry("private", "erin")).map(|_| ()), None, "no erin");
        assert_eq!(
            messages(&alice, "dave"),
            [(s("dave"), s("are you there?")), (s("erin"), s("it's me, erin"))],
            "both conversations, in the order said"
        );
        alice.wait_text(&format!("{} [data-testid=unread]", entry("private", "dave")), "2");
        drop(erin);

        // On a narrow phone, a room with the longest name there may be (50 letters) fits:
        // the title cuts it short instead of widening the page.
        bob.resize(NARROW_PHONE.0, NARROW_PHONE.1);
        let long = format!("#{}", "w".repeat(50));
        say(&bob, &format!("/join {long}"));
        wait_current(&bob, &long);
        let fits = "const end = document.querySelector('.title').getBoundingClientRect().right; \
                    return [document.documentElement.scrollWidth, Math.ceil(end)] \
                        .every(w => w <= window.innerWidth)";
        let widths = "return [document.documentElement.scrollWidth, \
                      document.querySelector('.title').getBoundingClientRect().right]";
        assert!(
            bob.execute(fits, &[]) == json!(true),
            "the page and the title within {NARROW_PHONE:?}: {}",
            bob.execute(widths, &[])
        );

        // The server goes away: the page says so, and that it will try again.
        server.stop().await;
        alice.wait(
            "the page to say the connection is lost",
            "const s = document.querySelector(arguments[0]); \
             return s.dataset.state === 'offline' && s.textContent.startsWith('disconnected')",
            &[json!(STATUS)],
        );
        drop((alice, bob));
        drop(driver);
    });
}

#[test]
fn a_browser_joining_a_room_sees_what_was_said_before_with_times_above_a_rule() {
    let Some(chromium) = Chromium::find("browser history") else { return };
    smol::block_on(async {
        let server = TestServer::default().await;
        let url = format!("http://{}/", server.web);
        let driver = Driver::start(&chromium);

        // Ann talks in the lobby before anyone else is there.
        let mut ann = server.join("ann").await;
        let before = SystemTime::now();
        let earlier = ["first, before anyone came", "second", "third <b>and</b> last"];
        for text in earlier {
            ann.say(text).await.expect("ann says");
            wait_for(&mut ann, "ann's echo", |l| *l == lobby_message("ann", text)).await;
        }
        let said = SystemTime::now();

        // Bob opens the page later: the three come back, then the rule, then live talk.
        let bob = driver.session(DESKTOP.0, DESKTOP.1);
        bob.goto(&url);
        register(&bob, "bob");
        wait_for(&mut ann, "JOIN #lobby bob", |l| *l == lobby_join("bob")).await;
        let live = "and this one is live";
        ann.say(live).await.expect("ann says");
        let arrived = format!("return {LOBBY_LOG}.some(l => l.text === arguments[0])");
        bob.wait("the live message", &arrived, &[json!(live)]);
        let shown = bob.execute(&format!("return {LOBBY_LOG}"), &[]);
        let shown = shown.as_array().cloned().unwrap_or_default();
        assert_eq!(shown.len(), 5, "three replayed, the rule, one live: {shown:#?}");

        for (line, text) in shown.iter().zip(earlier) {
            assert_eq!(line["kind"], "msg", "{line}");
            assert_eq!(line["history"], true, "replayed lines are marked: {line}");
            assert_eq!((line["from"].as_str(), line["text"].as_str()), (Some("ann"), Some(text)));
            // The time is when the server took the line, not when the page got it.
            let at = line["at"].as_str().and_then(|at| humantime::parse_rfc3339(at).ok());
            let at = at.unwrap_or_else(|| panic!("a replayed line has its time: {line}"));
            let slack = Duration::from_secs(1);
            assert!(before - slack <= at && at <= said + slack, "said at {at:?}: {line}");
            let time = line["time"].as_str().unwrap_or_default();
            assert!(is_clock(time), "HH:MM on the line: {line}");
            assert!(!line["title"].as_str().unwrap_or_default().is_empty(), "a full date: {line}");
        }
        assert_eq!(shown[3]["kind"], "separator", "{shown:#?}");
        assert_eq!(shown[3]["text"], "3 earlier messages in #lobby · new below");
        assert_eq!(shown[4]["kind"], "msg");
        assert_eq!(shown[4]["history"], false, "live talk is not dimmed: {}", shown[4]);
        assert_eq!(shown[4]["text"], live);
        let markup = "return document.querySelectorAll('#log b').length";
        assert_eq!(bob.execute(markup, &[]), json!(0), "replayed markup stays text");
        assert!(visible(&bob, "[data-buffer=\"#lobby\"] > li.separator"), "the rule shows");

        drop(bob);
        drop(driver);
        server.stop().await;
    });
}

#[test]
fn a_registered_nickname_is_claimed_from_the_page_and_its_owner_kicks() {
    let Some(chromium) = Chromium::find("browser accounts") else { return };
    smol::block_on(async {
        let server = TestServer::default().await;
        let url = format!("http://{}/", server.web);
        let driver = Driver::start(&chromium);

        // Ann registers her nickname from a line client, and leaves.
        let mut ann = server.join("ann").await;
        ann.sender.send_line(&format!("/register {PASSWORD}")).await.expect("register");
        let account = Line::Account { nick: Some(s("ann")) };
        wait_for(&mut ann, "ACCOUNT ann", |l| *l == account).await;
        ann.sender.quit(None).await.expect("quit");
        drain(&mut ann).await;

        // She comes back in a browser: the page asks her to identify, and she does.
        let page = desktop_page(&driver, &url, "ann");
        let ask = "ann is registered: type /identify PASSWORD within 30 s, or you will be renamed";
        wait_line(&page, "warn", ask);
        say(&page, "hello again");
        say(&page, &format!("/identify {PASSWORD}"));
        wait_line(&page, "info", "you are identified as ann");
        // The up arrow offers what she said, never the line with her password.
        page.type_into(SAY, ARROW_UP);
        let value = "return document.querySelector(arguments[0]).value";
        assert_eq!(page.execute(value, &[json!(SAY)]), json!("hello again"));
        page.type_into(SAY, ARROW_UP);
        assert_eq!(page.execute(value, &[json!(SAY)]), json!("hello again"));
        page.clear(SAY);

        // She owns the lobby now, and removes Bob from it.
        let mut bob = server.join("bob").await;
        page.wait_text(MEMBERS, "annbob");
        say(&page, "/register-room");
        say(&page, "/kick bob be nice");
        let kick =
            Line::Kick { room: s(LOBBY), nick: s("bob"), by: s("ann"), reason: s("be nice") };
        wait_for(&mut bob, "KICK", |l| *l == kick).await;
        wait_line(&page, "event", "← bob was removed by ann (be nice)");
        page.wait_text(MEMBERS, "ann");

        drop(page);
        drop(driver);
        server.stop().await;
    });
}

#[test]
fn a_page_reconnects_to_a_restarted_server_and_shows_the_replayed_lines_once() {
    let Some(chromium) = Chromium::find("browser reconnect") else { return };
    smol::block_on(async {
        let dir = TempDir::new("browser-reconnect");
        let server = TestServer::start_in(quick(), &dir).await;
        let url = format!("http://{}/", server.web);
        let driver = Driver::start(&chromium);
        let page = desktop_page(&driver, &url, "alice");

        // Carol talks in the lobby; the page shows it live.
        let mut carol = server.join("carol").await;
        let said = ["said before the restart", "and once more before it"];
        for text in said {
            carol.say(text).await.expect("carol says");
            wait_for(&mut carol, "carol's echo", |l| *l == lobby_message("carol", text)).await;
        }
        let before: Vec<_> = said.iter().map(|text| (s("carol"), s(text))).collect();
        assert_eq!(wait_messages(&page, LOBBY, said.len()), before, "shown live");

        // The server stops; the page notices.
        let addrs = server.addrs();
        server.stop().await;
        drop(carol);
        let lost = "return [...document.querySelectorAll(\
                    '[data-buffer=\"#lobby\"] li.line-error .text')]\
                    .some(t => t.textContent.startsWith('Connection lost.'))";
        page.wait("the page to say the connection is lost", lost, &[]);

        // Another server on the same ports and store: the page comes back by itself, into
        // the lobby, whose history is replayed.
        let server = TestServer::start_in_at(quick(), &dir, addrs).await;
        page.wait_text(STATUS, "connected as alice");
        wait_line(&page, "info", "Reconnected as alice; rejoining #lobby.");
        page.wait_text(
            "[data-buffer=\"#lobby\"] > li.separator",
            "2 earlier messages in #lobby · new below",
        );
        for text in said {
            assert_eq!(lobby_count(&page, text), 1, "{text:?} shown once after the replay");
        }

        // Live talk follows, after them; still each line once.
        let mut dave = server.join("dave").await;
        let live = "said after the restart";
        dave.say(live).await.expect("dave says");
        wait_for(&mut dave, "dave's echo", |l| *l == lobby_message("dave", live)).await;
        let mut expected = before;
        expected.push((s("dave"), s(live)));
        assert_eq!(wait_messages(&page, LOBBY, expected.len()), expected);
        for text in said {
            assert_eq!(lobby_count(&page, text), 1, "{text:?} shown once");
        }
        assert_eq!(page.alert_text(), None);

        drop(page);
        drop(driver);
        drop(dave);
        server.stop().await;
    });
}

#[test]
fn a_page_in_a_dozen_rooms_rejoins_them_all_within_the_flood_limit() {
    let Some(chromium) = Chromium::find("browser rejoin") else { return };
    smol::block_on(async {
        // Flood control as shipped (10 lines a second after 20), which the page is told of
        // by the LIMITS line: a rejoin of a dozen rooms and their people is more than that.
        let config = Config { flood_rate: 10, flood_burst: 20, ..quick() };
        let server = TestServer::start(config).await;
        let url = format!("http://{}/", server.web);
        let driver = Driver::start(&chromium);

        // Carol is in the lobby and eleven more rooms; Alice's page joins them all.
        let rooms: Vec<String> = (1..=11).map(|n| format!("#r{n}")).collect();
        let mut carol = server.join("carol").await;
        for room in &rooms {
            join_room(&mut carol, "carol", room).await;
        }
        let page = desktop_page(&driver, &url, "alice");
        for room in &rooms {
            page.type_into(JOIN, &format!("{room}{ENTER}"));
            wait_current(&page, room);
        }
        wait_rooms(&page, rooms.len() + 1, &["alice", "carol"]);
        say_in(&carol, LOBBY, "ok").await;
        page.wait("carol's ok", &format!("return {OK_COUNT} === 1"), &[]);

        // Her connection drops, and Carol says "ok" again while it is down: the same words,
        // another message. Back, it drops again as soon as the page has begun to rejoin,
        // with most rooms not rejoined yet.
        let quit_alice = quit("alice", "connection closed");
        drop_connection(&page);
        wait_for(&mut carol, "QUIT alice", |l| *l == quit_alice).await;
        say_in(&carol, LOBBY, "ok").await;
        wait_for(&mut carol, "carol's second ok", |l| *l == lobby_message("carol", "ok")).await;
        drop_when_rejoining(&page, 1);
        wait_for(&mut carol, "QUIT alice again", |l| *l == quit_alice).await;

        // Back again, she types a line to the room that was current before the rejoin has
        // got there: it waits its turn behind the rejoin, so it is not refused.
        wait_rejoining(&page, 2);
        let typed = "typed while the page rejoins";
        say(&page, &format!("/msg #r11 {typed}"));
        let heard = Line::Message { room: s("#r11"), from: s("alice"), text: s(typed) };
        wait_for(&mut carol, "alice's line in #r11", |l| *l == heard).await;

        // Every room is back, with its people, and the server never had to slow her down.
        wait_rooms(&page, rooms.len() + 1, &["alice", "carol"]);
        assert_eq!(page.execute("return state.current", &[]), json!("#r11"), "current again");
        assert_eq!(error_lines(&page, "slow down"), Vec::<String>::new());
        // The lobby's two replays held both "ok"s: the one seen live is shown once, and the
        // one said while the page was away once too.
        assert_eq!(page.execute(&format!("return {OK_COUNT}"), &[]), json!(2), "both oks");

        drop(page);
        drop(driver);
        drop(carol);
        server.stop().await;
    });
}

#[test]
fn a_rejoin_whose_last_room_is_refused_still_ends() {
    let Some(chromium) = Chromium::find("browser refused rejoin") else { return };
    smol::block_on(async {
        let dir = TempDir::new("browser-refused-rejoin");
        let server = TestServer::start_in(quick(), &dir).await;
        let url = format!("http://{}/", server.web);
        let driver = Driver::start(&chromium);
        let page = desktop_page(&driver, &url, "alice");
        for room in ["#r1", "#r2"] {
            page.type_into(JOIN, &format!("{room}{ENTER}"));
            wait_current(&page, room);
        }

        // The server comes back allowing two rooms a person: the lobby and #r1 are
        // rejoined, and #r2, the room that was current and so joined last, is refused.
        let addrs = server.addrs();
        server.stop().await;
        let config = Config { max_rooms_per_client: 2, ..quick() };
        let server = TestServer::start_in_at(config, &dir, addrs).await;
        wait_rejoining(&page, 1);
        let refused = "you are in 2 rooms already";
        page.wait("the refusal", "return state.rejoin === null", &[]);
        assert_eq!(error_lines(&page, refused).len(), 1, "the refusal is shown");
        assert_eq!(page.execute("return state.current", &[]), json!("#r1"));
        let asked = "return [...document.querySelectorAll('#log li .text')]\
                     .some(t => t.textContent.startsWith('online:'))";
        assert_eq!(page.execute(asked, &[]), json!(false), "the rejoin's own /ison unshown");

        // So the next rejoin is of the rooms she is in now, #r1 current again (#r2 stays
        // in the list as a room she left).
        drop_connection(&page);
        wait_rejoining(&page, 2);
        let joined = "return state.rejoin === null && [...state.buffers.values()]\
                      .filter(b => b.kind === 'room' && b.joined).map(b => b.name).join(' ')";
        page.wait("the second rejoin", &format!("{joined} === '#lobby #r1'"), &[]);
        assert_eq!(page.execute("return state.current", &[]), json!("#r1"));
        assert_eq!(error_lines(&page, refused).len(), 1, "nothing refused the second time");

        drop(page);
        drop(driver);
        server.stop().await;
    });
}

/// How many of the lobby's messages read `ok` (a JavaScript expression).
const OK_COUNT: &str =
    "[...document.querySelectorAll('[data-buffer=\"#lobby\"] li.line-msg .text')]\
    .filter(t => t.textContent === 'ok').length";

/// Closes the page's WebSocket from the page, as a network that drops it would.
fn drop_connection(page: &Session<'_>) {
    page.execute("state.ws.close(); return null", &[]);
}

/// Waits until the page has begun rejoining its rooms after its `n`th reconnection (its
/// `Reconnected as ...` note, said as it sends the joins).
fn wait_rejoining(page: &Session<'_>, n: u64) {
    let script = format!("return {REJOINING} >= arguments[0]");
    page.wait(&format!("reconnection {n}"), &script, &[json!(n)]);
}

/// Like [`wait_rejoining`], then closes the page's WebSocket at once, in the same script:
/// the rejoin has sent what it may send at once, and no more.
fn drop_when_rejoining(page: &Session<'_>, n: u64) {
    let script =
        format!("if ({REJOINING} < arguments[0]) return false; state.ws.close(); return true");
    page.wait(&format!("reconnection {n}, to drop it"), &script, &[json!(n)]);
}

/// How many `Reconnected as ...` notes the lobby's log holds (a JavaScript expression).
const REJOINING: &str =
    "[...document.querySelectorAll('[data-buffer=\"#lobby\"] li.line-info .text')]\
    .filter(t => t.textContent.startsWith('Reconnected as ')).length";

/// Waits until the page is in `count` rooms (by its own record of them, app.js's `state`),
/// each with exactly the people `nicks` (as told by the server's NAMES), and has no rejoin
/// pending.
fn wait_rooms(page: &Session<'_>, count: usize, nicks: &[&str]) {
    let script = "const rooms = [...state.buffers.values()].filter(b => b.kind === 'room'); \
                  const people = rooms.map(b => [...b.members.values()].sort().join(' ')); \
                  return state.rejoin === null && rooms.length === arguments[0] \
                      && rooms.every(b => b.joined) && people.every(p => p === arguments[1])";
    let script_now = "return [...state.buffers.values()].filter(b => b.kind === 'room')\
                      .map(b => `${b.name} ${b.joined} ${[...b.members.values()].sort()}`)";
    let deadline = Instant::now() + TIMEOUT;
    let args = [json!(count), json!(nicks.join(" "))];
    while page.execute(script, &args) != json!(true) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count} rooms with {nicks:?}: {}",
            page.execute(script_now, &[])
        );
        thread::sleep(POLL);
    }
}

/// The error lines anywhere in the page's log that start with `start`.
fn error_lines(page: &Session<'_>, start: &str) -> Vec<String> {
    let script = "return [...document.querySelectorAll('#log li.line-error .text')]\
                  .map(t => t.textContent).filter(t => t.startsWith(arguments[0]))";
    let found = page.execute(script, &[json!(start)]);
    found.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(s)).collect()
}

/// How many message lines in the lobby's log read `text`.
fn lobby_count(page: &Session<'_>, text: &str) -> u64 {
    let script = "return [...document.querySelectorAll(\
                  '[data-buffer=\"#lobby\"] li.line-msg .text')]\
                  .filter(t => t.textContent === arguments[0]).length";
    page.execute(script, &[json!(text)]).as_u64().expect("a count")
}

/// The password of the account in the accounts test.
const PASSWORD: &str = "correct-horse";

/// WebDriver's key code for the up arrow.
const ARROW_UP: &str = "\u{E013}";

/// Waits until the lobby's log holds a line of `kind` reading `text`.
fn wait_line(page: &Session<'_>, kind: &str, text: &str) {
    let script = "return [...document.querySelectorAll(\
                  `[data-buffer=\"#lobby\"] li.line-${arguments[0]} .text`)]\
                  .some(t => t.textContent === arguments[1])";
    page.wait(&format!("the {kind} line {text:?}"), script, &[json!(kind), json!(text)]);
}

/// The lobby's talk and rules on the page, in order: kind, whether replayed, sender, text,
/// and the time shown, its `datetime` and its tooltip (a JavaScript expression).
const LOBBY_LOG: &str = "[...document.querySelectorAll('[data-buffer=\"#lobby\"] > li')]\
    .filter(li => ['msg', 'separator'].includes(li.dataset.kind))\
    .map(li => ({ kind: li.dataset.kind, history: li.classList.contains('line-history'), \
        from: li.dataset.from ?? null, text: (li.querySelector('.text') ?? li).textContent, \
        time: li.querySelector('time')?.textContent ?? null, \
        at: li.querySelector('time')?.dateTime ?? null, \
        title: li.querySelector('time')?.title ?? null }))";

/// Whether `text` reads as a time of day, `HH:MM`.
fn is_clock(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 5
        && bytes[2] == b':'
        && bytes.iter().enumerate().all(|(i, b)| i == 2 || b.is_ascii_digit())
}

/// Types `nick` at the prompt and waits until the page is registered and shows the chat.
fn register(page: &Session<'_>, nick: &str) {
    page.type_into(NICK_INPUT, &format!("{nick}{ENTER}"));
    page.wait_text(STATUS, &format!("connected as {nick}"));
    assert!(!visible(page, PROMPT), "the prompt is gone once registered");
    wait_current(page, LOBBY);
}

/// A page of desktop size at `url`, registered as `nick`.
fn desktop_page<'d>(driver: &'d Driver, url: &str, nick: &str) -> Session<'d> {
    let page = driver.session(DESKTOP.0, DESKTOP.1);
    page.goto(url);
    register(&page, nick);
    page
}

/// Types `text` in the message box and sends it.
fn say(page: &Session<'_>, text: &str) {
    page.type_into(SAY, &format!("{text}{ENTER}"));
}

/// The side list's entry of a room.
fn room_entry(room: &str) -> String {
    entry("room", room)
}

/// The side list's entry of a room or a private conversation.
fn entry(kind: &str, name: &str) -> String {
    format!("[data-testid={kind}][data-name=\"{name}\"]")
}

/// Waits until `room` is the room in view: its entry marked, its name in the title.
fn wait_current(page: &Session<'_>, room: &str) {
    page.find(&format!("{}[aria-current=true]", room_entry(room)));
    page.wait_text(TITLE, room);
}

/// Whether the element matching `selector` is shown (exists, and neither it nor an
/// ancestor is `hidden` or `display: none`).
fn visible(page: &Session<'_>, selector: &str) -> bool {
    let script = "const e = document.querySelector(arguments[0]); \
                  return e !== null && e.checkVisibility()";
    page.execute(script, &[json!(selector)]) == json!(true)
}

/// The messages of `room` on the page, as (from, text), in the order shown.
fn messages(page: &Session<'_>, room: &str) -> Vec<(String, String)> {
    let script = "return [...document.querySelectorAll(\
                  `[data-buffer=\"${CSS.escape(arguments[0])}\"] li.line-msg`)]\
                  .map(li => [li.dataset.from, li.querySelector('.text').textContent])";
    pairs(page.execute(script, &[json!(room)]))
}

/// Waits until the page shows `count` messages in `room`, and returns them.
fn wait_messages(page: &Session<'_>, room: &str, count: usize) -> Vec<(String, String)> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let seen = messages(page, room);
        if seen.len() >= count {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count} messages in {room}: {seen:?}"
        );
        thread::sleep(POLL);
    }
}

fn pairs(value: Value) -> Vec<(String, String)> {
    let rows = value.as_array().cloned().unwrap_or_default();
    rows.iter()
        .map(|row| (s(row[0].as_str().unwrap_or_default()), s(row[1].as_str().unwrap_or_default())))
        .collect()
}

/// The screenshots of the docs: Alice's desktop window in the lively lobby, and Bob's on a
/// phone's width.
fn screenshots(alice: &Session<'_>, bob: &Session<'_>) {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    alice.screenshot(&docs.join("web-lobby.png"));
    bob.resize(PHONE.0, PHONE.1);
    bob.wait("the phone layout", "return window.innerWidth <= 400", &[]);
    bob.screenshot(&docs.join("web-phone.png"));
}
