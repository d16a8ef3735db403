//! `--config FILE`: a TOML file whose keys are the server's long flags (`max-line = 1024`,
//! `listen = ["chat://127.0.0.1:55555"]`), read under the command line so that a flag given
//! there wins.
//!
//! Nothing here lists the flags: the keys come from the clap `Command` of [`ServerFlags`],
//! so a flag added there is a key here, and each value goes through that flag's own value
//! parser, so a bad value gets the message it would get on the command line.

use std::ffi::OsString;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, Parser};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::ServerFlags;

/// Long flags that are not keys: a file cannot name another file, and help and the version
/// are not configuration.
const NOT_KEYS: &[&str] = &["config", "help", "version"];

/// The flags that together are the list of listeners (`--bind` adds a chat listener): when
/// the command line gives any of them, it replaces the file's list instead of adding to it.
const LISTENER_FLAGS: &[&str] = &["listen", "bind"];

/// The name used for the program when the arguments do not start with one.
const PROGRAM: &str = "smolchat-server";

/// Why the server's flags could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The command line: `--help`, `--version` or a usage error, for clap to print.
    #[error(transparent)]
    Flags(#[from] clap::Error),
    /// The configuration file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file, as given to `--config`.
        path: PathBuf,
        /// Why it could not be read.
        source: io::Error,
    },
    /// Something wrong at one line of the file.
    #[error("{}:{line}: {problem}", path.display())]
    At {
        /// The file, as given to `--config`.
        path: PathBuf,
        /// The line, counted from 1.
        line: usize,
        /// What is wrong there.
        problem: Problem,
    },
    /// Every value is fine alone but not together with the rest, such as `tls-cert`
    /// without `tls-key`.
    #[error("{}: {}", path.display(), clap_message(error))]
    Combination {
        /// The file, as given to `--config`.
        path: PathBuf,
        /// Clap's complaint about the merged flags.
        error: clap::Error,
    },
}

/// What is wrong at a line of the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The file is not TOML.
    #[error("invalid TOML: {0}")]
    Syntax(String),
    /// A key that is not a flag of the server.
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    /// A value its flag does not take.
    #[error("{key}: {reason}")]
    BadValue {
        /// The key, which is the flag's long name.
        key: String,
        /// Why: for a value of the wrong kind ours, else clap's message for the flag.
        reason: String,
    },
}

impl ConfigFileError {
    /// Prints the error and ends the process the way clap ends it on a usage error: help
    /// and the version go to stdout with status 0, anything else to stderr with status 2.
    pub fn exit(self) -> ! {
        match self {
            ConfigFileError::Flags(error) => error.exit(),
            other => {
                eprintln!("error: {other}");
                std::process::exit(2)
            }
        }
    }
}

/// Reads the server's flags from `args` (the program name first, as from
/// `std::env::args_os()`) and, with `--config FILE`, from that file too: a flag on the
/// command line wins over the file, and any `--listen` or `--bind` there replaces the
/// file's `listen` and `bind`.
pub fn parse_flags<I>(args: I) -> Result<ServerFlags, ConfigFileError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let Some((path, given)) = config_and_given(&args) else {
        // Without a file this is `ServerFlags::parse`, with the same errors, help and version.
        return Ok(ServerFlags::try_parse_from(&args)?);
    };
    let source = std::fs::read_to_string(&path)
        .map_err(|source| ConfigFileError::Read { path: path.clone(), source })?;
    let from_file = file_args(&path, &source, &given)?;
    ServerFlags::try_parse_from(merge(&args, from_file)).or_else(|error| blame(error, &args, path))
}

/// The keys a configuration file may have: the long name of every flag of [`ServerFlags`]
/// but `config`, `help` and `version`, in the order `--help` lists them.
pub fn config_keys() -> Vec<String> {
    let command = built_command();
    keys(&command).filter_map(Arg::get_long).map(str::to_string).collect()
}

/// `ServerFlags`' command, built so that it has every argument, `help` and `version` too.
fn built_command() -> Command {
    let mut command = ServerFlags::command();
    command.build();
    command
}

/// The arguments that are keys of the file.
fn keys(command: &Command) -> impl Iterator<Item = &Arg> {
    command.get_arguments().filter(|arg| is_key(arg))
}

/// Whether `arg` is a key: it has a long name and is neither excluded nor an action such as
/// help.
fn is_key(arg: &Arg) -> bool {
    let excluded_action = matches!(
        arg.get_action(),
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
    );
    arg.get_long().is_some_and(|long| !NOT_KEYS.contains(&long)) && !excluded_action
}

/// The `--config` path and what the command line gave, read leniently: `None` when there is
/// no file or the command line is wrong on its own, both left to the ordinary parse.
fn config_and_given(args: &[OsString]) -> Option<(PathBuf, ArgMatches)> {
    // Lenient because the file may complete the command line (`--tls-key` there, `tls-cert`
    // in the file); clap still returns help and version as errors.
    let given = ServerFlags::command().ignore_errors(true).try_get_matches_from(args).ok()?;
    let path = given.try_get_one::<PathBuf>("config").ok()??.clone();
    Some((path, given))
}

/// The flags the file sets, as arguments, every value checked, leaving out those the
/// command line overrides.
fn file_args(
    path: &Path,
    source: &str,
    given: &ArgMatches,
) -> Result<Vec<OsString>, ConfigFileError> {
    let at = |span: Range<usize>, problem| ConfigFileError::At {
        path: path.to_path_buf(),
        line: line_of(source, span.start),
        problem,
    };
    let table = DeTable::parse(source).map_err(|error| {
        at(error.span().unwrap_or_default(), Problem::Syntax(error.message().to_string()))
    })?;
    let command = built_command();
    // In file order, so that the first problem reported is the first in the file.
    let mut entries: Vec<_> = table.get_ref().iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    let mut args = Vec::new();
    for (key, value) in entries {
        let name = key.get_ref().as_ref();
        let arg = keys(&command)
            .find(|arg| arg.get_long() == Some(name))
            .ok_or_else(|| at(key.span(), Problem::UnknownKey(name.to_string())))?;
        let key_args = value_args(&command, arg, value).map_err(|(span, reason)| {
            at(span, Problem::BadValue { key: name.to_string(), reason })
        })?;
        if !overridden(&command, arg, given) {
            args.extend(key_args);
        }
    }
    Ok(args)
}

/// A value that cannot be, with where it is and why.
type ValueError = (Range<usize>, String);

/// The arguments that say what `value` says for `arg`: `--key` for `true`, nothing for
/// `false`, `--key=VALUE` for a value and once per item for a list.
fn value_args(
    command: &Command,
    arg: &Arg,
    value: &Spanned<DeValue<'_>>,
) -> Result<Vec<OsString>, ValueError> {
    let long = arg.get_long().unwrap_or_default();
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count => switch_args(long, value),
        ArgAction::Append => match value.get_ref() {
            DeValue::Array(items) => {
                items.iter().map(|item| one_value_arg(command, long, item)).collect()
            }
            _ => Ok(vec![one_value_arg(command, long, value)?]),
        },
        _ => Ok(vec![one_value_arg(command, long, value)?]),
    }
}

/// The argument for a flag without a value: present for `true`, absent for `false`.
fn switch_args(long: &str, value: &Spanned<DeValue<'_>>) -> Result<Vec<OsString>, ValueError> {
    match value.get_ref() {
        DeValue::Boolean(true) => Ok(vec![format!("--{long}").into()]),
        DeValue::Boolean(false) => Ok(Vec::new()),
        other => Err((value.span(), format!("expected true or false, found {}", other.type_str()))),
    }
}

/// `--key=VALUE` for one value, once clap's value parser for the flag has taken it.
fn one_value_arg(
    command: &Command,
    long: &str,
    value: &Spanned<DeValue<'_>>,
) -> Result<OsString, ValueError> {
    let text = value_text(value.get_ref()).ok_or_else(|| {
        (value.span(), format!("expected a value, found {}", value.get_ref().type_str()))
    })?;
    // With `=`, a value starting with `-` is still read as the value.
    let arg: OsString = format!("--{long}={text}").into();
    check_value(command, &arg).map_err(|reason| (value.span(), reason))?;
    Ok(arg)
}

/// A single value as the command line would spell it, numbers as their text; `None` for a
/// list or a table.
fn value_text(value: &DeValue<'_>) -> Option<String> {
    match value {
        DeValue::String(text) => Some(text.to_string()),
        DeValue::Integer(integer) => Some(
            i128::from_str_radix(integer.as_str(), integer.radix())
                .map_or_else(|_| integer.to_string(), |number| number.to_string()),
        ),
        DeValue::Float(float) => Some(
            float.as_str().parse::<f64>().map_or_else(|_| float.to_string(), |x| x.to_string()),
        ),
        DeValue::Boolean(yes) => Some(yes.to_string()),
        DeValue::Datetime(datetime) => Some(datetime.to_string()),
        DeValue::Array(_) | DeValue::Table(_) => None,
    }
}

/// Runs one `--key=VALUE` through clap alone, so that a bad value gets the message its flag
/// gives on the command line.
fn check_value(command: &Command, arg: &OsString) -> Result<(), String> {
    let args = [OsString::from(command.get_name()), arg.clone()];
    match command.clone().try_get_matches_from(args) {
        Ok(_) => Ok(()),
        // About other flags (`tls-cert` needs `tls-key`): judged once all are together.
        Err(error) if about_other_flags(error.kind()) => Ok(()),
        Err(error) => Err(clap_message(&error)),
    }
}

/// Whether clap's complaint is about flags missing or clashing rather than about the value.
fn about_other_flags(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::MissingRequiredArgument
            | ErrorKind::ArgumentConflict
            | ErrorKind::MissingSubcommand
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    )
}

/// Whether the command line (or the environment) already says what `arg` in the file would:
/// the same flag, a flag it conflicts with, or another flag of the listener list.
fn overridden(command: &Command, arg: &Arg, given: &ArgMatches) -> bool {
    let on_command_line = |other: &&Arg| {
        matches!(
            given.value_source(other.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    keys(command).filter(on_command_line).any(|other| replaces(command, other, arg))
}

/// Whether `given` on the command line replaces `from_file`.
fn replaces(command: &Command, given: &Arg, from_file: &Arg) -> bool {
    let listener = |arg: &Arg| arg.get_long().is_some_and(|long| LISTENER_FLAGS.contains(&long));
    let conflicts = |a: &Arg, b: &Arg| {
        command.get_arg_conflicts_with(a).iter().any(|arg| arg.get_id() == b.get_id())
    };
    given.get_id() == from_file.get_id()
        || (listener(given) && listener(from_file))
        || conflicts(given, from_file)
        || conflicts(from_file, given)
}

/// The arguments to parse: the program, then the file's flags, then the command line's, so
/// that usage errors and `--` on the command line keep their meaning.
fn merge(args: &[OsString], from_file: Vec<OsString>) -> Vec<OsString> {
    let (program, rest) = match args.split_first() {
        Some((program, rest)) => (program.clone(), rest),
        None => (OsString::from(PROGRAM), args),
    };
    std::iter::once(program).chain(from_file).chain(rest.iter().cloned()).collect()
}

/// After the merged flags failed: the command line's own error if it fails alone, for clap
/// to report as it always does, else the file's combination.
fn blame(
    error: clap::Error,
    args: &[OsString],
    path: PathBuf,
) -> Result<ServerFlags, ConfigFileError> {
    match ServerFlags::try_parse_from(args) {
        Err(own) => Err(own.into()),
        Ok(_) => Err(ConfigFileError::Combination { path, error }),
    }
}

/// Clap's message for `error`, without the `error: ` prefix, the usage and the hint that
/// follow it after a blank line.
fn clap_message(error: &clap::Error) -> String {
    let text = error.to_string();
    let message = text.split("\n\n").next().unwrap_or_default().trim_end();
    message.strip_prefix("error: ").unwrap_or(message).to_string()
}

/// The line, counted from 1, of the byte at `offset` in `source`.
fn line_of(source: &str, offset: usize) -> usize {
    let before = source.as_bytes().get(..offset).unwrap_or(source.as_bytes());
    before.iter().filter(|&&byte| byte == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A configuration file in the temporary directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(text: &str) -> TempFile {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!("smolchat-config-unit-{}-{n}.toml", std::process::id());
            let path = std::env::temp_dir().join(name);
            std::fs::write(&path, text).expect("cannot write a temporary file");
            TempFile(path)
        }

        fn name(&self) -> String {
            self.0.display().to_string()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// The flags from `text` as the file, then `args` on the command line.
    fn parse(text: &str, args: &[&str]) -> (TempFile, Result<ServerFlags, ConfigFileError>) {
        let file = TempFile::new(text);
        let mut all = vec![PROGRAM.to_string(), "--config".into(), file.name()];
        all.extend(args.iter().map(|arg| arg.to_string()));
        let flags = parse_flags(all);
        (file, flags)
    }

    /// The line and problem of an error at a line, and its message.
    fn at(result: Result<ServerFlags, ConfigFileError>) -> (usize, Problem, String) {
        match result {
            Err(error @ ConfigFileError::At { .. }) => {
                let message = error.to_string();
                let ConfigFileError::At { line, problem, .. } = error else { unreachable!() };
                (line, problem, message)
            }
            other => panic!("expected an error at a line, got {other:?}"),
        }
    }

    fn listeners(flags: &ServerFlags) -> Vec<String> {
        flags.listeners().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_unknown_key_names_the_file_the_line_and_the_key() {
        let (file, result) = parse("max-line = 1024\n\n# a comment\nmax-lines = 2\n", &[]);
        let (line, problem, message) = at(result);
        assert_eq!((line, problem), (4, Problem::UnknownKey("max-lines".into())));
        assert_eq!(message, format!("{}:4: unknown key \"max-lines\"", file.name()));
    }

    #[test]
    fn a_bad_value_names_the_line_the_key_and_clap_s_reason() {
        let (file, result) = parse("max-nick = 8\n\nmax-line = \"lots\"\n", &[]);
        let (line, problem, message) = at(result);
        assert_eq!(line, 3);
        assert!(matches!(&problem, Problem::BadValue { key, .. } if key == "max-line"));
        let start = format!("{}:3: max-line: invalid value 'lots' for '--max-line", file.name());
        assert!(message.starts_with(&start), "{message}");
        // Below the smallest line clap allows, as on the command line.
        let (_file, result) = parse("max-line = 3", &[]);
        assert!(at(result).2.contains("3 is not in 16.."));
    }

    #[test]
    fn a_syntax_error_names_the_file_and_the_line() {
        let (file, result) = parse("max-line = 1024\nmax-nick = = 3\n", &[]);
        let (line, problem, message) = at(result);
        assert_eq!(line, 2);
        assert!(matches!(problem, Problem::Syntax(_)));
        assert!(message.starts_with(&format!("{}:2: invalid TOML: ", file.name())), "{message}");
    }

    #[test]
    fn tables_and_lists_a_flag_does_not_have_are_errors() {
        let (_file, result) = parse("max-line = 1024\n[server]\nmax-nick = 3\n", &[]);
        let (line, problem, _) = at(result);
        assert_eq!((line, problem), (2, Problem::UnknownKey("server".into())));
        let (_file, result) = parse("max-line = { bytes = 1 }", &[]);
        assert!(at(result).2.ends_with("max-line: expected a value, found table"));
        let (_file, result) = parse("max-line = [1, 2]", &[]);
        assert!(at(result).2.ends_with("max-line: expected a value, found array"));
        let (_file, result) =
            parse("listen = [\n  \"chat://127.0.0.1:0\",\n  [\"irc://x:1\"],\n]", &[]);
        assert_eq!(at(result).0, 3);
    }

    #[test]
    fn booleans_turn_a_flag_on_or_leave_it_off() {
        let (_file, on) = parse("tls-self-signed = true", &[]);
        assert!(on.expect("true is a boolean").tls_self_signed);
        let (_file, off) = parse("tls-self-signed = false", &[]);
        assert!(!off.expect("false is a boolean").tls_self_signed);
        let (_file, result) = parse("tls-self-signed = \"yes\"", &[]);
        let (_, problem, _) = at(result);
        let reason = "expected true or false, found string".to_string();
        assert_eq!(problem, Problem::BadValue { key: "tls-self-signed".into(), reason });
    }

    #[test]
    fn numbers_strings_and_durations_are_read_as_on_the_command_line() {
        let text = "max-line = 0x400\nqueue-bytes = 1_000\nhandshake-timeout = \"250ms\"\n\
                    default-room = \"#start\"\nserver-name = \"irc.example.org\"\n";
        let (_file, flags) = parse(text, &[]);
        let config = flags.expect("good values").config_flags;
        assert_eq!((config.max_line, config.queue_bytes), (1024, 1000));
        assert_eq!(config.handshake_timeout, std::time::Duration::from_millis(250));
        assert_eq!(config.default_room.map(|room| room.to_string()), Some("#start".into()));
        assert_eq!(config.server_name, "irc.example.org");
    }

    #[test]
    fn listen_takes_a_list() {
        let text = "listen = [\"chat://127.0.0.1:55555\", \"ircs://0.0.0.0:6697\"]";
        let (_file, flags) = parse(text, &[]);
        let flags = flags.expect("two listeners");
        assert_eq!(listeners(&flags), ["chat://127.0.0.1:55555", "ircs://0.0.0.0:6697"]);
    }

    #[test]
    fn the_command_line_wins_over_the_file() {
        let (_file, flags) = parse("max-line = 1024\nmax-nick = 8\n", &["--max-line", "2000"]);
        let config = flags.expect("good flags").config_flags;
        assert_eq!((config.max_line, config.max_nick), (2000, 8));
    }

    #[test]
    fn a_listener_on_the_command_line_replaces_the_file_s_list() {
        let text =
            "listen = [\"chat://127.0.0.1:1\", \"irc://127.0.0.1:2\"]\nbind = \"127.0.0.1:3\"\n";
        let (_file, flags) = parse(text, &["--listen", "irc://127.0.0.1:4"]);
        assert_eq!(listeners(&flags.expect("good flags")), ["irc://127.0.0.1:4"]);
        let (_file, flags) = parse(text, &["--bind", "127.0.0.1:5"]);
        assert_eq!(listeners(&flags.expect("good flags")), ["chat://127.0.0.1:5"]);
        let (_file, flags) = parse(text, &[]);
        let all = ["chat://127.0.0.1:1", "irc://127.0.0.1:2", "chat://127.0.0.1:3"];
        assert_eq!(listeners(&flags.expect("good flags")), all);
    }

    #[test]
    fn a_flag_on_the_command_line_drops_the_file_s_flags_it_conflicts_with() {
        let args = ["--tls-cert", "c.pem", "--tls-key", "k.pem"];
        let (_file, flags) = parse("tls-self-signed = true", &args);
        assert!(!flags.expect("the command line wins").tls_self_signed);
    }

    #[test]
    fn flags_are_checked_together_with_the_command_line() {
        let (file, result) = parse("tls-cert = \"c.pem\"", &[]);
        let Err(error @ ConfigFileError::Combination { .. }) = result else {
            panic!("tls-cert alone must be refused, got {result:?}");
        };
        assert!(error.to_string().starts_with(&format!("{}: ", file.name())), "{error}");
        assert!(error.to_string().contains("--tls-key"), "{error}");
        let (_file, flags) = parse("tls-cert = \"c.pem\"", &["--tls-key", "k.pem"]);
        assert_eq!(flags.expect("a pair").tls_key, Some(PathBuf::from("k.pem")));
    }

    #[test]
    fn a_missing_file_is_named() {
        let path =
            std::env::temp_dir().join(format!("smolchat-absent-{}.toml", std::process::id()));
        let result =
            parse_flags([PROGRAM.into(), "--config".into(), path.clone().into_os_string()]);
        let Err(error @ ConfigFileError::Read { .. }) = result else {
            panic!("expected a read error, got {result:?}");
        };
        assert!(error.to_string().starts_with(&format!("cannot read {}: ", path.display())));
    }

    #[test]
    fn help_version_and_usage_errors_are_clap_s_own() {
        let (_file, with_file) = parse("max-lines = 1", &["--help"]);
        let plain = ServerFlags::try_parse_from([PROGRAM, "--help"]).expect_err("help");
        for result in [with_file, parse_flags([PROGRAM, "--help"])] {
            let Err(ConfigFileError::Flags(error)) = result else { panic!("{result:?}") };
            assert_eq!(error.kind(), ErrorKind::DisplayHelp);
            assert_eq!(error.to_string(), plain.to_string());
        }
        let Err(ConfigFileError::Flags(error)) = parse_flags([PROGRAM, "--version"]) else {
            panic!("--version is clap's");
        };
        assert_eq!(error.kind(), ErrorKind::DisplayVersion);
        let (_file, result) = parse("max-line = 1024", &["--max-lines", "3"]);
        let Err(ConfigFileError::Flags(error)) = result else { panic!("{result:?}") };
        assert_eq!(error.kind(), ErrorKind::UnknownArgument);
        assert!(parse_flags([PROGRAM]).is_ok());
    }

    #[test]
    fn every_flag_but_config_help_and_version_is_a_key() {
        let keys = config_keys();
        assert!(keys.contains(&"max-line".to_string()) && keys.contains(&"listen".to_string()));
        assert!(!keys.iter().any(|key| NOT_KEYS.contains(&key.as_str())));
    }
}
