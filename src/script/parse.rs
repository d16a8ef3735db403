//! Reading a script: one step per line, blocks from `/on`, `/every` or `/after` to `/end`,
//! and every mistake reported with its line number before anything is sent.

use std::collections::HashSet;
use std::time::Duration;

use thiserror::Error;

use super::vars::{self, BUILT_IN};
use super::{Action, Pattern, Rule, Script, Step, Timed};
use crate::proto::chat::{is_forbidden, Command, CommandError};

/// A line of a script that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// What one line of a script is.
enum Item {
    /// A step, of the main steps or of the block being read.
    Step(Action),
    /// The start of a block.
    Open(Opening),
    /// `/end`.
    End,
}

/// What starts a block.
enum Opening {
    /// `/on [#room] PATTERN`.
    On(Option<String>, Pattern),
    /// `/every DURATION` (`true`) or `/after DURATION`.
    Clock(Duration, bool),
}

/// A block being read: where it started, what started it, its steps so far.
struct Open {
    /// The line of its opening.
    line: usize,
    /// What opened it.
    opening: Opening,
    /// Its steps so far.
    body: Vec<Step>,
}

impl Script {
    /// Parses a whole script; the first bad line is the error.
    pub fn parse(text: &str) -> Result<Script, ParseError> {
        // Editors that mark a file as UTF-8 start it with U+FEFF, which belongs to no line.
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let mut script = Script::default();
        let mut open: Option<Open> = None;
        let mut quit: Option<usize> = None;
        for (index, text) in text.lines().enumerate() {
            let line = index + 1;
            script.last_line = line;
            let fail = |message| ParseError { line, message };
            let Some(item) = parse_line(text).map_err(fail)? else { continue };
            if let Some(quit) = quit {
                return Err(fail(format!("nothing can follow the /quit on line {quit}")));
            }
            match item {
                Item::Open(opening) => {
                    if let Some(outer) = &open {
                        let at = outer.line;
                        return Err(fail(format!("the block on line {at} has no /end yet")));
                    }
                    open = Some(Open { line, opening, body: Vec::new() });
                }
                Item::End => {
                    let block = open.take().ok_or_else(|| {
                        fail("/end without a block (/on, /every or /after) to end".into())
                    })?;
                    script.close(block);
                }
                Item::Step(action) => match &mut open {
                    Some(block) => block.body.push(block_step(line, action).map_err(fail)?),
                    None => {
                        if matches!(action, Action::OncePer { .. }) {
                            return Err(fail("/once-per only works in a block".into()));
                        }
                        if matches!(action, Action::Quit(_)) {
                            quit = Some(line);
                        }
                        script.steps.push(Step { line, action });
                    }
                },
            }
        }
        if let Some(block) = open {
            let message = "this block has no /end".to_string();
            return Err(ParseError { line: block.line, message });
        }
        script.check_variables()?;
        Ok(script)
    }

    /// Files a finished block among the rules or the timers.
    fn close(&mut self, block: Open) {
        let Open { line, opening, body } = block;
        match opening {
            Opening::On(room, pattern) => self.rules.push(Rule { line, room, pattern, body }),
            Opening::Clock(period, repeat) => {
                self.timers.push(Timed { line, period, repeat, body })
            }
        }
    }

    /// Every `$name` must be built in, `/set` somewhere, or a named capture somewhere.
    fn check_variables(&self) -> Result<(), ParseError> {
        let blocks = self.rules.iter().map(|rule| &rule.body);
        let bodies = blocks.chain(self.timers.iter().map(|timed| &timed.body));
        let every: Vec<&Step> = self.steps.iter().chain(bodies.flatten()).collect();
        let mut known = HashSet::new();
        let patterns = self.rules.iter().map(|rule| (rule.line, &rule.pattern));
        let expects = every.iter().filter_map(|step| match &step.action {
            Action::Expect(pattern) => Some((step.line, pattern)),
            _ => None,
        });
        for (line, pattern) in patterns.chain(expects) {
            for name in pattern.names() {
                if BUILT_IN.contains(&name.as_str()) {
                    let message = format!("a capture cannot be named {name}: ${name} is built in");
                    return Err(ParseError { line, message });
                }
                known.insert(name);
            }
        }
        for step in &every {
            if let Action::Set { name, .. } = &step.action {
                known.insert(name.clone());
            }
        }
        for step in every {
            for text in texts(&step.action) {
                vars::check(text, &known)
                    .map_err(|message| ParseError { line: step.line, message })?;
            }
        }
        Ok(())
    }
}

/// The texts of a step in which variables are filled in.
fn texts(action: &Action) -> Vec<&str> {
    match action {
        Action::Send(text) | Action::Await(text) => vec![text],
        Action::Set { value, .. } => vec![value],
        Action::Pick(choices) => choices.iter().map(String::as_str).collect(),
        Action::OncePer { key, .. } => vec![key],
        Action::Quit(reason) => reason.iter().map(String::as_str).collect(),
        Action::Sleep(_) | Action::Expect(_) => Vec::new(),
    }
}

/// A step inside a block: it runs as soon as its block does, so it may not wait.
fn block_step(line: usize, action: Action) -> Result<Step, String> {
    let waits = match &action {
        Action::Sleep(_) => Some("/sleep"),
        Action::Expect(_) => Some("/expect"),
        Action::Await(_) => Some("/await"),
        _ => None,
    };
    match waits {
        Some(name) => Err(format!("{name} cannot be used in a block: a block never waits")),
        None => Ok(Step { line, action }),
    }
}

/// One line: `None` for blank lines and comments.
fn parse_line(text: &str) -> Result<Option<Item>, String> {
    if text.trim().is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    if let Some(c) = text.chars().find(|&c| is_forbidden(c)) {
        return Err(format!(
            "control character U+{:04X}; the server would refuse it",
            u32::from(c)
        ));
    }
    let Some(rest) = text.strip_prefix('/').filter(|rest| !rest.starts_with('/')) else {
        return Ok(Some(Item::Step(Action::Send(text.to_string()))));
    };
    let (name, args) = rest.split_once(' ').unwrap_or((rest, ""));
    let args = args.trim();
    let action = match name.to_ascii_lowercase().as_str() {
        "on" => return on(args).map(|opening| Some(Item::Open(opening))),
        "every" => Item::Open(Opening::Clock(period(args, "every")?, true)),
        "after" => Item::Open(Opening::Clock(duration(args, "after")?, false)),
        "end" if args.is_empty() => Item::End,
        "end" => return Err("/end takes nothing after it".into()),
        "sleep" => Item::Step(Action::Sleep(duration(args, "sleep")?)),
        "expect" => Item::Step(Action::Expect(pattern(args, "expect")?)),
        "await" => Item::Step(await_nick(args)?),
        "set" => Item::Step(set(args)?),
        "pick" => Item::Step(pick(args)?),
        "once-per" => Item::Step(once_per(args)?),
        "quit" => Item::Step(Action::Quit((!args.is_empty()).then(|| args.to_string()))),
        _ => Item::Step(server_command(text)?),
    };
    Ok(Some(action))
}

/// `/expect` and `/on`: text, or `/REGEX/`.
fn pattern(args: &str, directive: &str) -> Result<Pattern, String> {
    if args.is_empty() {
        return Err(format!("usage: /{directive} TEXT or /{directive} /REGEX/"));
    }
    Pattern::parse(args)
}

/// `/on [#room] PATTERN`: a first word starting with `#` names a room when more follows.
fn on(args: &str) -> Result<Opening, String> {
    match args.split_once(' ') {
        Some((room, rest)) if room.starts_with('#') && !rest.trim().is_empty() => {
            Ok(Opening::On(Some(room.to_string()), pattern(rest.trim(), "on #room")?))
        }
        _ => Ok(Opening::On(None, pattern(args, "on")?)),
    }
}

/// `/await NICK`.
fn await_nick(args: &str) -> Result<Action, String> {
    match args.is_empty() || args.contains(' ') {
        true => Err("usage: /await NICK".into()),
        false => Ok(Action::Await(args.to_string())),
    }
}

/// `/set NAME value`.
fn set(args: &str) -> Result<Action, String> {
    let (name, value) = args.split_once(' ').unwrap_or((args, ""));
    if name.is_empty() {
        return Err("usage: /set NAME value".into());
    }
    if !vars::is_name(name) {
        return Err(format!(
            "bad variable name {name:?}: a letter or _, then letters, digits or _"
        ));
    }
    if BUILT_IN.contains(&name) {
        return Err(format!("${name} is built in and cannot be set"));
    }
    Ok(Action::Set { name: name.to_string(), value: value.trim().to_string() })
}

/// `/pick a | b | c`: each choice is a line that could be sent.
fn pick(args: &str) -> Result<Action, String> {
    let choices: Vec<&str> = args.split('|').map(str::trim).collect();
    if choices.len() < 2 || choices.iter().any(|choice| choice.is_empty()) {
        return Err("usage: /pick a | b | c (at least two lines, none empty)".into());
    }
    let sendable = |choice: &&str| match choice.strip_prefix('/') {
        Some(rest) if !rest.starts_with('/') => server_command(choice).map(drop),
        _ => Ok(()),
    };
    choices.iter().try_for_each(sendable)?;
    Ok(Action::Pick(choices.into_iter().map(String::from).collect()))
}

/// `/once-per DURATION KEY`.
fn once_per(args: &str) -> Result<Action, String> {
    let usage = "usage: /once-per DURATION KEY (for example /once-per 1h $1)";
    let (period, key) = args.split_once(' ').ok_or(usage)?;
    let key = key.trim();
    if key.is_empty() {
        return Err(usage.into());
    }
    Ok(Action::OncePer { period: duration(period, "once-per")?, key: key.to_string() })
}

/// The argument of `/sleep`, `/after` and `/once-per`.
fn duration(args: &str, directive: &str) -> Result<Duration, String> {
    if args.is_empty() {
        return Err(format!("usage: /{directive} DURATION (for example 250ms or 2s)"));
    }
    humantime::parse_duration(args)
        .map_err(|error| format!("bad duration {args:?}: {error} (for example 250ms or 2s)"))
}

/// The argument of `/every`: a clock that never stopped would spin.
fn period(args: &str, directive: &str) -> Result<Duration, String> {
    let period = duration(args, directive)?;
    match period.is_zero() {
        true => Err(format!("/{directive} needs a duration longer than zero")),
        false => Ok(period),
    }
}

/// Any other `/command` must be one the server knows, with its arguments.
fn server_command(text: &str) -> Result<Action, String> {
    match Command::parse(text) {
        Ok(_) => Ok(Action::Send(text.to_string())),
        Err(CommandError::Unknown(name)) => Err(format!(
            "unknown command /{name}: a script may use /sleep, /expect, /await, /set, /pick, \
             /on, /every, /after, /end, /once-per, /quit and the server's commands (/join, \
             /part, /list, /topic, /names, /msg, /me, /nick, /help)"
        )),
        Err(error @ CommandError::Usage(_)) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(text: &str) -> Vec<(usize, Action)> {
        let script = Script::parse(text).unwrap_or_else(|e| panic!("{e}"));
        script.steps.into_iter().map(|step| (step.line, step.action)).collect()
    }

    fn error(text: &str) -> (usize, String) {
        match Script::parse(text) {
            Ok(script) => panic!("parsed: {script:?}"),
            Err(error) => (error.line, error.message),
        }
    }

    fn send(text: &str) -> Action {
        Action::Send(text.to_string())
    }

    #[test]
    fn lines_and_server_commands_are_sent_as_typed() {
        let script =
            "hello  there\n/me waves\n/msg bob hi\n//not a command\n/WHO\n/nick rob\n/help";
        let want = [
            send("hello  there"),
            send("/me waves"),
            send("/msg bob hi"),
            send("//not a command"),
            send("/WHO"),
            send("/nick rob"),
            send("/help"),
        ];
        let got: Vec<Action> = steps(script).into_iter().map(|(_, action)| action).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_but_counted() {
        let script = "# a bot\n\n   \n  # not a comment\nhi\r\n# the end\n";
        assert_eq!(steps(script), vec![(4, send("  # not a comment")), (5, send("hi"))]);
        assert_eq!(Script::parse(script).map(|s| s.last_line), Ok(6));
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_not_part_of_the_first_line() {
        let script = "\u{FEFF}# saved by an editor that marks UTF-8\nhi\n";
        assert_eq!(steps(script), vec![(2, send("hi"))]);
        assert_eq!(steps("\u{FEFF}hello"), vec![(1, send("hello"))]);
    }

    #[test]
    fn directives() {
        let script = "/sleep 250ms\n/SLEEP 2s\n/expect <bob>  pong 1 \n/quit good game";
        assert_eq!(
            steps(script),
            vec![
                (1, Action::Sleep(Duration::from_millis(250))),
                (2, Action::Sleep(Duration::from_secs(2))),
                (3, Action::Expect(Pattern::Text("<bob>  pong 1".into()))),
                (4, Action::Quit(Some("good game".into()))),
            ]
        );
        assert_eq!(steps("/quit"), vec![(1, Action::Quit(None))]);
        assert_eq!(steps("/sleep 1m 30s"), vec![(1, Action::Sleep(Duration::from_secs(90)))]);
    }

    #[test]
    fn bad_lines_name_their_line() {
        assert_eq!(error("hi\n/sleep").0, 2);
        assert!(error("/sleep").1.starts_with("usage: /sleep DURATION"));
        let (line, message) = error("\n\n/sleep soon");
        assert_eq!(line, 3);
        assert!(message.starts_with("bad duration \"soon\""), "{message}");
        assert_eq!(error("/expect   "), (1, "usage: /expect TEXT or /expect /REGEX/".to_string()));
        let (line, message) = error("ok\n/exepct pong");
        assert_eq!(line, 2);
        assert!(message.starts_with("unknown command /exepct"), "{message}");
        assert_eq!(error("/msg bob"), (1, "usage: /msg NICK text".to_string()));
        assert_eq!(error("/me"), (1, "usage: /me action".to_string()));
        let (line, message) = error("a\x1b[31mred");
        assert_eq!(line, 1);
        assert!(message.contains("U+001B"), "{message}");
    }

    #[test]
    fn nothing_follows_quit() {
        assert_eq!(
            error("/quit\n# comments are fine\n\nhello"),
            (4, "nothing can follow the /quit on line 1".to_string())
        );
    }

    #[test]
    fn blocks_become_rules_and_timers() {
        let text = "/on /<(\\w+)> hi/\nhello $1\n/end\n/on #rust !ping\n/once-per 1m $room\npong\n\
                    /end\n/every 30s\n/pick a | /me b\n/end\n/after 1h\n/quit bye\n/end\nmain";
        let script = Script::parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(script.steps, vec![Step { line: 14, action: send("main") }]);
        assert_eq!(script.rules.len(), 2);
        assert_eq!(script.rules[0].room, None);
        assert_eq!(script.rules[0].pattern, Pattern::parse("/<(\\w+)> hi/").expect("regex"));
        assert_eq!(script.rules[0].body, vec![Step { line: 2, action: send("hello $1") }]);
        assert_eq!(script.rules[1].room.as_deref(), Some("#rust"));
        assert_eq!(script.rules[1].pattern, Pattern::Text("!ping".into()));
        let once = Action::OncePer { period: Duration::from_secs(60), key: "$room".into() };
        assert_eq!(script.rules[1].body[0].action, once);
        let every = &script.timers[0];
        assert_eq!((every.line, every.period, every.repeat), (8, Duration::from_secs(30), true));
        assert_eq!(every.body[0].action, Action::Pick(vec!["a".into(), "/me b".into()]));
        assert!(!script.timers[1].repeat);
        assert!(script.stays());
        assert!(!Script::parse("hi").expect("parses").stays());
    }

    #[test]
    fn variables_must_be_known_before_anything_is_sent() {
        assert!(Script::parse("/set greeting hi\n$greeting $nick in $room at $time, $$5").is_ok());
        assert!(Script::parse("/expect /(?<who>\\w+) joined/\nhi $who").is_ok());
        // Used before its /set in the file is fine: it is empty until then.
        assert!(Script::parse("$later\n/set later x").is_ok());
        let (line, message) = error("hello\nhi $foo");
        assert_eq!(line, 2);
        assert!(message.starts_with("unknown variable $foo"), "{message}");
        assert_eq!(error("/on x\n/pick a | $nope\n/end").0, 2);
        assert!(error("/set nick rob").1.contains("built in"));
        assert!(error("/expect /(?<room>x)/").1.contains("built in"));
        assert!(error("/set 9lives x").1.starts_with("bad variable name"));
    }

    #[test]
    fn block_mistakes_name_their_line() {
        let missing = "/on x\nhi\n";
        assert_eq!(error(missing), (1, "this block has no /end".to_string()));
        let (line, message) = error("hi\n/end");
        assert_eq!(line, 2);
        assert!(message.starts_with("/end without a block"), "{message}");
        assert_eq!(error("/on x\n/every 1s\n/end").0, 2);
        assert!(error("/on x\n/expect y\n/end").1.contains("a block never waits"));
        assert!(error("/after 1s\n/sleep 1s\n/end").1.contains("a block never waits"));
        assert!(error("/once-per 1h $nick").1.contains("only works in a block"));
        assert!(error("/every 0s\n/end").1.contains("longer than zero"));
        let (line, message) = error("ok\n/expect /(unclosed/");
        assert_eq!(line, 2);
        assert!(message.starts_with("invalid regular expression"), "{message}");
        assert!(error("/on #rust /[/\n/end").1.starts_with("invalid regular expression"));
        assert_eq!(error("/pick a").1, "usage: /pick a | b | c (at least two lines, none empty)");
        assert!(error("/pick a | /bogus").1.starts_with("unknown command /bogus"));
        assert_eq!(error("/await").1, "usage: /await NICK");
        assert_eq!(error("/quit\n/on x\n/end").0, 2);
    }

    #[test]
    fn an_empty_script_has_no_steps() {
        assert_eq!(Script::parse(""), Ok(Script::default()));
    }
}
