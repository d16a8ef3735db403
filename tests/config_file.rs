//! `--config FILE`: the shipped example starts the same server as no file, names every
//! flag (set, or commented out) and nothing else, and the real binary refuses a bad file
//! naming its line and key.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::Parser as _;
use common::binary::server_binary;
use smolchat::server::{config_keys, parse_flags, ServerFlags};

/// The example at the root of the repository.
fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("smolchat.example.toml")
}

/// The keys the example sets or shows commented out (`# key = value`).
fn keys_of_example() -> BTreeSet<String> {
    let text = std::fs::read_to_string(example()).expect("read the example");
    let key = |line: &str| {
        let line = line.trim_start_matches('#').trim_start();
        let (key, _) = line.split_once(" = ")?;
        let is_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        is_key.then(|| key.to_string())
    };
    text.lines().filter_map(key).collect()
}

#[test]
fn the_example_starts_the_same_server_as_no_file() {
    let example = example();
    let args = ["smolchat-server".as_ref(), "--config".as_ref(), example.as_os_str()];
    let from_file = parse_flags(args).expect("the example loads");
    let defaults = ServerFlags::parse_from(["smolchat-server"]);
    assert_eq!(from_file.listeners(), defaults.listeners());
    assert_eq!(from_file.config_flags, defaults.config_flags);
    assert_eq!((from_file.tls_cert, from_file.tls_self_signed), (None, false));
    assert_eq!((from_file.threads, from_file.data_dir), (None, None));
}

#[test]
fn every_flag_is_a_key_of_the_example_and_every_key_a_flag() {
    let flags: BTreeSet<String> = config_keys().into_iter().collect();
    let keys = keys_of_example();
    let missing: Vec<_> = flags.difference(&keys).collect();
    let unknown: Vec<_> = keys.difference(&flags).collect();
    assert!(missing.is_empty(), "flags missing from smolchat.example.toml: {missing:?}");
    assert!(unknown.is_empty(), "keys in smolchat.example.toml that are no flag: {unknown:?}");
}

#[test]
fn every_commented_key_loads_once_uncommented() {
    let text = std::fs::read_to_string(example()).expect("read the example");
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if rest.contains(" = ") && !rest.starts_with("tls-self") => rest,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let path = std::env::temp_dir().join(format!("smolchat-example-{}.toml", std::process::id()));
    std::fs::write(&path, uncommented).expect("write");
    let parsed = parse_flags(["smolchat-server".as_ref(), "--config".as_ref(), path.as_os_str()]);
    let _ = std::fs::remove_file(&path);
    let flags = parsed.expect("every key of the example loads");
    assert_eq!(flags.threads, Some(2));
    assert!(flags.tls_cert.is_some() && flags.config_flags.password_file.is_some());
}

#[test]
fn the_server_refuses_a_bad_file_naming_the_line_and_the_key() {
    let path = std::env::temp_dir().join(format!("smolchat-bad-{}.toml", std::process::id()));
    std::fs::write(&path, "max-line = 1024\nmax-lines = 3\n").expect("write");
    let output = server_binary().arg("--config").arg(&path).output().expect("run the server");
    let _ = std::fs::remove_file(&path);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let want = format!("{}:2: unknown key \"max-lines\"", path.display());
    assert!(stderr.contains(&want), "{stderr}");
}
