//! A small WebDriver client for the browser tests: Debian's `chromedriver` started on a free
//! port, and the few W3C WebDriver commands the tests need (new session, navigate, find,
//! click, send keys, text, execute script, screenshot, window size, delete session), as JSON
//! over HTTP/1.1 on a plain `std::net::TcpStream`, one `Connection: close` request each.
//!
//! Blocking on purpose: a browser test drives the page step by step, while the server under
//! test runs on smol's own threads.

use std::env;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{json, Value};

use super::TIMEOUT;

/// Set to `1` where a missing browser is a failure rather than a skip (`.ci/run` sets it).
pub const REQUIRE: &str = "SMOLCHAT_REQUIRE_BROWSER";

/// How often a wait asks the page again.
const POLL: Duration = Duration::from_millis(25);

/// The key under which WebDriver names an element (W3C WebDriver, "web element reference").
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The Enter key, for send keys (W3C WebDriver, "keyboard actions").
pub const ENTER: &str = "\u{E007}";

/// Where the browser and its driver are.
pub struct Chromium {
    /// The browser binary, handed to chromedriver.
    browser: PathBuf,
    /// The chromedriver binary.
    driver: PathBuf,
}

impl Chromium {
    /// Finds `chromium` and `chromedriver` on PATH. Without them the test `what` says why on
    /// stderr (with the `apt-get install` that fixes it) and gets `None`, to return early as
    /// skipped, or fails where [`REQUIRE`] is set.
    pub fn find(what: &str) -> Option<Chromium> {
        let browser = on_path("chromium");
        let driver = on_path("chromedriver");
        if let (Some(browser), Some(driver)) = (&browser, &driver) {
            return Some(Chromium { browser: browser.clone(), driver: driver.clone() });
        }
        let missing: Vec<&str> = [("chromium", &browser), ("chromedriver", &driver)]
            .into_iter()
            .filter(|(_, found)| found.is_none())
            .map(|(name, _)| name)
            .collect();
        let why = format!(
            "{} not on PATH (apt-get install -y chromium chromium-driver)",
            missing.join(" and ")
        );
        if env::var(REQUIRE).is_ok_and(|v| v == "1") {
            panic!("{REQUIRE}=1, but {why}");
        }
        // Straight to stderr: the harness would swallow an `eprintln!` from a passing test.
        let _ = writeln!(io::stderr(), "skipping the {what} test: {why}");
        None
    }
}

/// The executable file named `program` in one of the directories of PATH.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path).map(|dir| dir.join(program)).find(|file| is_executable(file))
}

#[cfg(unix)]
fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(file).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(file: &Path) -> bool {
    fs::metadata(file).is_ok_and(|m| m.is_file())
}

/// A refusal from the driver: the HTTP status and WebDriver's error code and message.
#[derive(Debug)]
pub struct Failure {
    /// The HTTP status (0 when the request itself failed).
    pub status: u16,
    /// WebDriver's error code, such as `no such element` or `no such alert`.
    pub error: String,
    /// What the driver said about it.
    pub message: String,
}

impl Failure {
    fn io(error: &io::Error) -> Failure {
        Failure { status: 0, error: "io".to_string(), message: error.to_string() }
    }
}

/// A running chromedriver on a free loopback port. Dropping it asks the driver to shut
/// down (which ends the browsers it started), kills it if it does not, and removes the
/// browsers' profile directories.
pub struct Driver {
    /// The chromedriver process.
    child: Child,
    /// Its address.
    addr: SocketAddr,
    /// The browser binary, for new sessions.
    browser: PathBuf,
    /// A directory of this driver's own: each session's profile goes in it.
    home: PathBuf,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it says it is ready.
    pub fn start(chromium: &Chromium) -> Driver {
        let home = unique_dir("browser");
        fs::create_dir_all(&home).expect("create the browser test directory");
        // A port that was free a moment ago may be taken by the time chromedriver binds it
        // (other tests run alongside): then it exits, and another port is tried.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&chromium.driver)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", home.join("chromedriver.log").display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver");
            let mut driver = Driver {
                child,
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                browser: chromium.browser.clone(),
                home: home.clone(),
            };
            match driver.wait_ready() {
                Ok(()) => return driver,
                Err(why) => last = why,
            }
            // Its drop kills it, but must not remove the directory the next try uses.
            driver.home = PathBuf::new();
        }
        panic!("chromedriver did not start: {last}");
    }

    /// Polls `GET /status` until the driver is ready, or it exits, or the time is up.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("chromedriver exited with {status}"));
            }
            match request(self.addr, "GET", "/status", None) {
                Ok(value) if value["ready"] == json!(true) => return Ok(()),
                Ok(_) | Err(_) if Instant::now() < deadline => thread::sleep(POLL),
                Ok(value) => return Err(format!("not ready: {value}")),
                Err(failure) => return Err(failure.message),
            }
        }
    }

    /// A new headless browser whose viewport is `width` by `height` CSS pixels, with a
    /// fresh profile.
    pub fn session(&self, width: u32, height: u32) -> Session<'_> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let profile = self.home.join(format!("profile-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            format!("--window-size={width},{height}"),
            "--force-device-scale-factor=1".to_string(),
            format!("--user-data-dir={}", profile.display()),
            "--no-first-run".to_string(),
            "--no-default-browser-check".to_string(),
            "--disable-extensions".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-sync".to_string(),
            "--password-store=basic".to_string(),
            "--use-mock-keychain".to_string(),
            // Two windows at once, neither in front: neither may be slowed down.
            "--disable-background-timer-throttling".to_string(),
            "--disable-backgrounding-occluded-windows".to_string(),
            "--disable-renderer-backgrounding".to_string(),
            "--lang=en-US".to_string(),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": self.browser.display().to_string(),
                        "args": args,
                    },
                    "timeouts": { "script": TIMEOUT.as_millis() as u64, "pageLoad": TIMEOUT.as_millis() as u64 },
                }
            }
        });
        let value = request(self.addr, "POST", "/session", Some(&capabilities))
            .unwrap_or_else(|f| panic!("new browser session: {}: {}", f.error, f.message));
        let id = value["sessionId"].as_str().expect("a session id").to_string();
        let session = Session { driver: self, id };
        session.resize(width, height);
        session
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // `/shutdown` quits every browser the driver started, then the driver itself.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = request(self.addr, "GET", "/shutdown", None);
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                thread::sleep(POLL);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if !self.home.as_os_str().is_empty() {
            kill_strays(&self.home);
            let _ = fs::remove_dir_all(&self.home);
        }
    }
}

/// Kills any browser process still running with a profile under `home` (only a crash of
/// the driver would leave one): the profile directory is this driver's alone.
#[cfg(target_os = "linux")]
fn kill_strays(home: &Path) {
    let needle = format!("--user-data-dir={}", home.display());
    let Ok(entries) = fs::read_dir("/proc") else { return };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else { continue };
        let ours = cmdline.split(|&byte| byte == 0).any(|arg| arg.starts_with(needle.as_bytes()));
        if ours {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn kill_strays(_home: &Path) {}

/// One browser. Dropping it closes the browser.
pub struct Session<'d> {
    /// The driver that started it.
    driver: &'d Driver,
    /// The session id, in every command's path.
    id: String,
}

/// An element of the page, by WebDriver's reference to it.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Session<'_> {
    /// Sends a command of this session: `path` is what follows `/session/{id}`.
    pub fn command(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        request(self.driver.addr, method, &format!("/session/{}{path}", self.id), body)
    }

    /// Like [`Session::command`], failing the test on a refusal.
    fn must(&self, what: &str, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.command(method, path, body)
            .unwrap_or_else(|f| panic!("{what}: {} ({}): {}", f.error, f.status, f.message))
    }

    /// Opens `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.must(&format!("open {url}"), "POST", "/url", Some(&json!({ "url": url })));
    }

    /// The first element matching the CSS `selector`, if there is one now.
    pub fn try_find(&self, selector: &str) -> Option<Element> {
        let body = json!({ "using": "css selector", "value": selector });
        match self.command("POST", "/element", Some(&body)) {
            Ok(value) => Some(Element(value[ELEMENT].as_str().expect("element id").to_string())),
            Err(f) if f.error == "no such element" => None,
            Err(f) => panic!("find {selector}: {}: {}", f.error, f.message),
        }
    }

    /// The first element matching the CSS `selector`, waiting for it to appear.
    pub fn find(&self, selector: &str) -> Element {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(element) = self.try_find(selector) {
                return element;
            }
            assert!(Instant::now() < deadline, "timed out waiting for an element {selector}");
            thread::sleep(POLL);
        }
    }

    /// Clicks the element matching `selector` (waiting for it).
    pub fn click(&self, selector: &str) {
        let Element(id) = self.find(selector);
        self.must(
            &format!("click {selector}"),
            "POST",
            &format!("/element/{id}/click"),
            Some(&json!({})),
        );
    }

    /// Types `text` into the element matching `selector` (waiting for it); [`ENTER`]
    /// presses Enter.
    pub fn type_into(&self, selector: &str, text: &str) {
        let Element(id) = self.find(selector);
        let body = json!({ "text": text });
        self.must(
            &format!("type into {selector}"),
            "POST",
            &format!("/element/{id}/value"),
            Some(&body),
        );
    }

    /// Empties the input matching `selector`.
    pub fn clear(&self, selector: &str) {
        let Element(id) = self.find(selector);
        self.must(
            &format!("clear {selector}"),
            "POST",
            &format!("/element/{id}/clear"),
            Some(&json!({})),
        );
    }

    /// The rendered text of the element matching `selector` (waiting for it).
    pub fn text(&self, selector: &str) -> String {
        let Element(id) = self.find(selector);
        let value =
            self.must(&format!("text of {selector}"), "GET", &format!("/element/{id}/text"), None);
        value.as_str().unwrap_or_default().to_string()
    }

    /// Runs `script` (a function body: `return ...`) in the page with `args` as
    /// `arguments`, and returns what it returns. The page's Content-Security-Policy does not
    /// apply to scripts run this way.
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        let body = json!({ "script": script, "args": args });
        self.must("execute script", "POST", "/execute/sync", Some(&body))
    }

    /// Runs `script` until it returns something other than `null`, `false`, `""` or `0`,
    /// and returns that; fails the test after [`TIMEOUT`], with the last answer.
    pub fn wait(&self, what: &str, script: &str, args: &[Value]) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let value = self.execute(script, args);
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what} (last: {value})");
            thread::sleep(POLL);
        }
    }

    /// Waits until the `textContent` of the element matching `selector` is `expected`.
    pub fn wait_text(&self, selector: &str, expected: &str) {
        let script = "const e = document.querySelector(arguments[0]); \
                      return e !== null && e.textContent === arguments[1];";
        let deadline = Instant::now() + TIMEOUT;
        while self.execute(script, &[json!(selector), json!(expected)]) != json!(true) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {selector} to read {expected:?}; it reads {:?}",
                self.text_now(selector)
            );
            thread::sleep(POLL);
        }
    }

    /// The `textContent` of the element matching `selector`, or `None` if there is none.
    pub fn text_now(&self, selector: &str) -> Option<String> {
        let script = "const e = document.querySelector(arguments[0]); \
                      return e === null ? null : e.textContent;";
        self.execute(script, &[json!(selector)]).as_str().map(str::to_string)
    }

    /// The text of an open `alert`, `confirm` or `prompt` dialog, if one is open.
    pub fn alert_text(&self) -> Option<String> {
        match self.command("GET", "/alert/text", None) {
            Ok(value) => Some(value.as_str().unwrap_or_default().to_string()),
            Err(f) if f.error == "no such alert" => None,
            Err(f) => panic!("alert text: {}: {}", f.error, f.message),
        }
    }

    /// Makes the page's viewport `width` by `height` CSS pixels: the window is made that
    /// size, then larger by whatever its frame takes.
    pub fn resize(&self, width: u32, height: u32) {
        let set = |w: u64, h: u64| {
            let body = json!({ "width": w, "height": h });
            self.must("resize the window", "POST", "/window/rect", Some(&body));
        };
        let (width, height) = (u64::from(width), u64::from(height));
        set(width, height);
        let inner = self.execute("return [window.innerWidth, window.innerHeight]", &[]);
        let (inner_width, inner_height) = (inner[0].as_u64(), inner[1].as_u64());
        if let (Some(w), Some(h)) = (inner_width, inner_height) {
            if (w, h) != (width, height) {
                set(2 * width - w.min(width), 2 * height - h.min(height));
            }
        }
    }

    /// Writes a PNG of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let value = self.must("screenshot", "GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().expect("a base64 screenshot"))
            .expect("the screenshot is base64");
        fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self.command("DELETE", "", None);
    }
}

/// One WebDriver request: `body` as JSON, the answer's `value`, or the driver's refusal.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, Failure> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| Failure::io(&e))?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|e| Failure::io(&e))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(|e| Failure::io(&e))?;
    stream.write_all(body.as_bytes()).map_err(|e| Failure::io(&e))?;
    let (status, content) = read_response(&mut stream).map_err(|message| Failure {
        status: 0,
        error: "bad response".to_string(),
        message,
    })?;
    let json: Value = serde_json::from_slice(&content).map_err(|e| Failure {
        status,
        error: "bad json".to_string(),
        message: format!("{e}: {}", String::from_utf8_lossy(&content)),
    })?;
    let value = json.get("value").cloned().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(value);
    }
    Err(Failure {
        status,
        error: value["error"].as_str().unwrap_or("unknown error").to_string(),
        message: value["message"].as_str().unwrap_or_default().to_string(),
    })
}

/// The status code and body of an HTTP/1.1 response. The body ends where its
/// `Content-Length` (or its last chunk) says: chromedriver answers `Connection: close` but
/// keeps the connection open.
fn read_response(stream: &mut TcpStream) -> Result<(u16, Vec<u8>), String> {
    let mut answer = Vec::new();
    let mut chunk = [0; 16 * 1024];
    let mut read = |answer: &mut Vec<u8>| -> Result<bool, String> {
        let n = stream.read(&mut chunk).map_err(|e| format!("reading the answer: {e}"))?;
        answer.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    };
    let split = loop {
        if let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break split;
        }
        if !read(&mut answer)? {
            return Err(format!("no end of headers in {:?}", String::from_utf8_lossy(&answer)));
        }
    };
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_ascii_lowercase())
        })
    };
    let start = split + 4;
    if let Some(length) = header("content-length") {
        let length: usize = length.parse().map_err(|e| format!("Content-Length {length}: {e}"))?;
        while answer.len() < start + length {
            if !read(&mut answer)? {
                return Err(format!(
                    "the answer ended {} bytes short",
                    start + length - answer.len()
                ));
            }
        }
        return Ok((status, answer[start..start + length].to_vec()));
    }
    if header("transfer-encoding").is_some_and(|coding| coding.contains("chunked")) {
        loop {
            if let Some(body) = unchunk(&answer[start..])? {
                return Ok((status, body));
            }
            if !read(&mut answer)? {
                return Err("the answer ended in a chunk".to_string());
            }
        }
    }
    while read(&mut answer)? {}
    Ok((status, answer[start..].to_vec()))
}

/// The content of a chunked body, or `None` if its last chunk has not arrived yet.
fn unchunk(mut body: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let size = String::from_utf8_lossy(&body[..line_end]);
        let size = size.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size, 16).map_err(|e| format!("chunk size {size:?}: {e}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        let Some(data) = body.get(..size) else { return Ok(None) };
        out.extend_from_slice(data);
        let Some(rest) = body.get(size + 2..) else { return Ok(None) };
        body = rest;
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A fresh path in the temporary directory, unique to this process and call.
fn unique_dir(what: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    env::temp_dir().join(format!("smolchat-{what}-{}-{n}-{nanos}", std::process::id()))
}
