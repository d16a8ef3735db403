//! Real programs the tests drive (irssi, weechat, tmux): whether they are here, and what
//! to do when they are not.

use std::env;
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Set to `1` where a missing program is a failure rather than a skip (`.ci/run` sets it).
pub const REQUIRE: &str = "SMOLCHAT_REQUIRE_IRC_CLIENT";

/// Whether every one of `programs` is on PATH. If not, the test `what` says why on stderr
/// (with the `apt-get install` that fixes it) and is skipped, or fails where [`REQUIRE`]
/// is set.
pub fn available(what: &str, programs: &[&str], packages: &str) -> bool {
    let missing: Vec<&str> = programs.iter().copied().filter(|p| !on_path(p)).collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("{} not on PATH (apt-get install -y {packages})", missing.join(" and "));
    if env::var(REQUIRE).is_ok_and(|v| v == "1") {
        panic!("{REQUIRE}=1, but {why}");
    }
    // Straight to stderr: the harness would swallow an `eprintln!` from a passing test.
    let _ = writeln!(io::stderr(), "skipping the {what} test: {why}");
    false
}

/// Whether an executable file named `program` is in one of the directories of PATH.
fn on_path(program: &str) -> bool {
    let Some(path) = env::var_os("PATH") else { return false };
    env::split_paths(&path).any(|dir| {
        fs::metadata(dir.join(program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// A fresh path in the temporary directory for a program's home, unique to this process
/// and call.
pub fn unique_dir(what: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    env::temp_dir().join(format!("smolchat-{what}-{}-{n}-{nanos}", process::id()))
}
