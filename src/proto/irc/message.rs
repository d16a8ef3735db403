//! One message from an IRC client: tags (read past), an optional source (ignored), the
//! command, and its parameters.

use thiserror::Error;

/// The longest message without its tags, `\r\n` included, as RFC 1459 sets it.
pub const MAX_LINE: usize = 512;

/// The longest tags section a client may send, its `@` and the space after it included:
/// IRCv3 message-tags gives clients 4094 bytes of tag data, of the 8191 a line may carry.
pub const MAX_TAGS: usize = 4096;

/// Ends the line whose message (after its tags) starts at `body` in `out`: cuts it to
/// [`MAX_LINE`] bytes with its `\r\n`, at a character boundary, and adds the `\r\n`. Every
/// line the server writes ends here, so none is longer than IRC allows; only a trailing
/// parameter (a topic, a quit message) is ever long enough to be cut.
pub fn end_line(out: &mut Vec<u8>, body: usize) {
    let max = body + MAX_LINE - 2;
    if out.len() > max {
        let mut cut = max;
        // A UTF-8 continuation byte is 0b10xxxxxx: back up to the start of its character.
        while cut > body && out[cut] & 0xC0 == 0x80 {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out.extend_from_slice(b"\r\n");
}

/// Words (nicknames, room names) joined by spaces into as few runs as keep each within
/// `max` bytes; a word longer than `max` has a run of its own.
pub fn pack<'a>(words: impl IntoIterator<Item = &'a str>, max: usize) -> Vec<String> {
    let mut runs = Vec::new();
    let mut run = String::new();
    for word in words {
        if !run.is_empty() && run.len() + 1 + word.len() > max {
            runs.push(std::mem::take(&mut run));
        }
        if !run.is_empty() {
            run.push(' ');
        }
        run.push_str(word);
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// A client's message, borrowed from the line it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The command, upper-cased (`PRIVMSG`), or a numeric.
    pub command: String,
    /// The parameters, the trailing one (after ` :`) last, without its colon.
    pub params: Vec<&'a str>,
}

/// Why a line is not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MessageError {
    /// Nothing but spaces (and maybe tags or a source): ignored, as the RFC says.
    #[error("empty message")]
    Empty,
    /// Longer than [`MAX_LINE`] without its tags, or tags longer than [`MAX_TAGS`].
    #[error("input line was too long")]
    TooLong,
}

impl<'a> Message<'a> {
    /// Reads one line (without its `\n`; a `\r` before it is dropped).
    pub fn parse(line: &'a str) -> Result<Message<'a>, MessageError> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut rest = line;
        if let Some(tagged) = rest.strip_prefix('@') {
            let (tags, after) = tagged.split_once(' ').unwrap_or((tagged, ""));
            // Client tags are accepted and dropped: nothing here relays them.
            if tags.len() + 2 > MAX_TAGS {
                return Err(MessageError::TooLong);
            }
            rest = after;
        }
        rest = rest.trim_start_matches(' ');
        if rest.len() + 2 > MAX_LINE {
            return Err(MessageError::TooLong);
        }
        if let Some(sourced) = rest.strip_prefix(':') {
            // A client's source is meaningless to a server: it knows who sent the line.
            rest = sourced.split_once(' ').map_or("", |(_, after)| after);
        }
        let (command, params) = split_params(rest);
        if command.is_empty() {
            return Err(MessageError::Empty);
        }
        Ok(Message { command: command.to_ascii_uppercase(), params })
    }

    /// Parameter `index`, if given.
    pub fn param(&self, index: usize) -> Option<&'a str> {
        self.params.get(index).copied()
    }
}

/// The command and the parameters of `rest`.
fn split_params(rest: &str) -> (&str, Vec<&str>) {
    let rest = rest.trim_start_matches(' ');
    let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(trailing) = rest.strip_prefix(':') {
            params.push(trailing);
            break;
        }
        let (param, after) = rest.split_once(' ').unwrap_or((rest, ""));
        params.push(param);
        rest = after;
    }
    (command, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> (String, Vec<&str>) {
        let message = Message::parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        (message.command, message.params)
    }

    #[test]
    fn commands_parameters_and_the_trailing_one() {
        assert_eq!(
            parse("privmsg #a :hello  there"),
            ("PRIVMSG".into(), vec!["#a", "hello  there"])
        );
        assert_eq!(
            parse("USER u 0 * :Real Name\r"),
            ("USER".into(), vec!["u", "0", "*", "Real Name"])
        );
        assert_eq!(parse("JOIN   #a,#b   keys"), ("JOIN".into(), vec!["#a,#b", "keys"]));
        assert_eq!(parse("PRIVMSG #a :"), ("PRIVMSG".into(), vec!["#a", ""]));
        assert_eq!(parse("PING"), ("PING".into(), vec![]));
    }

    #[test]
    fn tags_and_a_source_are_read_past() {
        let tagged = "@label=1;+draft/reply=x :me!u@h PRIVMSG #a :hi";
        assert_eq!(parse(tagged), ("PRIVMSG".into(), vec!["#a", "hi"]));
        assert_eq!(Message::parse("@a=b"), Err(MessageError::Empty));
        assert_eq!(Message::parse("   "), Err(MessageError::Empty));
    }

    #[test]
    fn lines_are_cut_to_512_bytes_at_a_character_boundary() {
        let mut out = b"@time=x ".to_vec();
        let body = out.len();
        out.extend_from_slice(format!(":a TOPIC #a :{}", "ü".repeat(300)).as_bytes());
        end_line(&mut out, body);
        let line = std::str::from_utf8(&out[body..]).expect("whole characters");
        assert!(line.len() <= MAX_LINE && line.len() >= MAX_LINE - 2, "{}", line.len());
        assert!(line.ends_with("ü\r\n"));
    }

    #[test]
    fn words_are_packed_into_runs_within_a_limit() {
        assert_eq!(pack(["ab", "cd", "ef"], 5), ["ab cd", "ef"]);
        assert_eq!(pack(["toolong", "x"], 3), ["toolong", "x"]);
        assert!(pack([], 3).is_empty());
    }

    #[test]
    fn limits_are_512_bytes_and_4096_of_tags() {
        let body = |n: usize| format!("PRIVMSG #a :{}", "x".repeat(n - 12 - 2));
        assert!(Message::parse(&body(512)).is_ok());
        assert_eq!(Message::parse(&body(513)), Err(MessageError::TooLong));
        let tags = |n: usize| format!("@{} PING", "t".repeat(n - 2));
        assert!(Message::parse(&tags(4096)).is_ok());
        assert_eq!(Message::parse(&tags(4097)), Err(MessageError::TooLong));
    }
}
