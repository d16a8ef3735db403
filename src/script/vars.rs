//! Variables in a script's lines: `$1`..`$9` (and `$0`, the whole match) from the last
//! match, `$name` (or `${name}`) for a `/set` variable, a named capture or one of the
//! built-in ones, and `$$` for a dollar. A `$` followed by anything else is itself.

use std::collections::HashSet;

/// The variables every script has, filled in by the runner.
pub const BUILT_IN: &[&str] = &["nick", "room", "time"];

/// One piece of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text as written (`$$` gives a `$` of its own).
    Text(&'a str),
    /// `$0`..`$9`.
    Numbered(usize),
    /// `$name` or `${name}`.
    Named(&'a str),
}

/// Takes `text` apart into text and variables.
pub fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        if at > 0 {
            out.push(Piece::Text(&rest[..at]));
        }
        let after = &rest[at + 1..];
        let (piece, used) = variable(after)?;
        out.push(piece.unwrap_or(Piece::Text("$")));
        rest = &after[used..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// The variable at the start of what follows a `$`, and how many bytes it took; `None`
/// for a `$` that stands for itself.
fn variable(after: &str) -> Result<(Option<Piece<'_>>, usize), String> {
    let mut chars = after.chars();
    match chars.next() {
        Some('$') => Ok((None, 1)),
        Some(digit @ '0'..='9') => Ok((Some(Piece::Numbered(digit as usize - '0' as usize)), 1)),
        Some('{') => {
            let end = after.find('}').ok_or("a ${ without its }")?;
            let name = &after[1..end];
            if !is_name(name) {
                return Err(format!("bad variable name ${{{name}}}"));
            }
            Ok((Some(Piece::Named(name)), end + 1))
        }
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            let end = after.find(|c: char| !is_name_char(c)).unwrap_or(after.len());
            Ok((Some(Piece::Named(&after[..end])), end))
        }
        _ => Ok((None, 0)),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A variable's name: a letter or `_`, then letters, digits and `_`.
pub fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(is_name_char)
}

/// Checks that every variable in `text` is one of `known` (or built in or numbered).
pub fn check(text: &str, known: &HashSet<String>) -> Result<(), String> {
    for piece in pieces(text)? {
        if let Piece::Named(name) = piece {
            if !BUILT_IN.contains(&name) && !known.contains(name) {
                return Err(format!(
                    "unknown variable ${name}: give it a value with /set {name} ..., name a \
                     capture (?<{name}>...), or write $$ for a dollar"
                ));
            }
        }
    }
    Ok(())
}

/// `text` with its variables filled in by `value`; checked before, so errors cannot
/// happen, but a malformed text is left as it is.
pub fn expand(text: &str, value: impl Fn(Piece<'_>) -> String) -> String {
    let Ok(pieces) = pieces(text) else { return text.to_string() };
    pieces
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.to_string(),
            other => value(other),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_dollars_and_plain_text() {
        let got = pieces("hi $1, ${who}s $$5 $ and $nick!").expect("pieces");
        assert_eq!(
            got,
            [
                Piece::Text("hi "),
                Piece::Numbered(1),
                Piece::Text(", "),
                Piece::Named("who"),
                Piece::Text("s "),
                Piece::Text("$"),
                Piece::Text("5 "),
                Piece::Text("$"),
                Piece::Text(" and "),
                Piece::Named("nick"),
                Piece::Text("!"),
            ]
        );
        let filled = expand("hi $1, ${who}s $$5 $ and $nick!", |piece| match piece {
            Piece::Numbered(n) => format!("<{n}>"),
            Piece::Named(name) => name.to_uppercase(),
            Piece::Text(text) => text.to_string(),
        });
        assert_eq!(filled, "hi <1>, WHOs $5 $ and NICK!");
    }

    #[test]
    fn unknown_names_are_refused() {
        let known: HashSet<String> = ["who".to_string()].into();
        assert_eq!(check("$who $nick $room $time $3 $$x", &known), Ok(()));
        let error = check("hello $foo", &known).expect_err("unknown");
        assert!(error.starts_with("unknown variable $foo"), "{error}");
        assert!(check("${oops", &known).is_err());
        assert!(check("${1x}", &known).is_err());
    }
}
