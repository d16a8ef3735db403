//! What `/expect` and `/on` match: plain text as a substring, `/REGEX/` as a regular
//! expression, both over the printed form of a line.

use regex::Regex;

/// A pattern over one printed line.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// The line contains this text.
    Text(String),
    /// The line matches this regular expression (written `/REGEX/`).
    Regex(Regex),
}

/// What a match captured: `$0` (the whole match) to `$9`, and the named captures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captures {
    /// `$0`..`$9`; a group that took no part in the match is empty.
    pub numbered: Vec<String>,
    /// `(?<name>...)` groups that took part in the match, as `$name`.
    pub named: Vec<(String, String)>,
}

impl Pattern {
    /// `/REGEX/` is a regular expression; anything else is text to find.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let Some(regex) = text.strip_prefix('/').and_then(|rest| rest.strip_suffix('/')) else {
            return Ok(Pattern::Text(text.to_string()));
        };
        if regex.is_empty() {
            return Err("an empty regular expression // matches every line".into());
        }
        Regex::new(regex)
            .map(Pattern::Regex)
            .map_err(|error| format!("invalid regular expression /{regex}/: {error}"))
    }

    /// The names of the regular expression's named captures, which become variables.
    pub fn names(&self) -> Vec<String> {
        match self {
            Pattern::Text(_) => Vec::new(),
            Pattern::Regex(regex) => regex.capture_names().flatten().map(String::from).collect(),
        }
    }

    /// What `line` gave the pattern, if it matches.
    pub fn find(&self, line: &str) -> Option<Captures> {
        match self {
            Pattern::Text(text) => line
                .contains(text.as_str())
                .then(|| Captures { numbered: vec![text.clone()], named: Vec::new() }),
            Pattern::Regex(regex) => {
                let found = regex.captures(line)?;
                let text = |m: Option<regex::Match<'_>>| m.map_or("", |m| m.as_str()).to_string();
                let numbered = (0..10).map(|group| text(found.get(group))).collect();
                let named = regex
                    .capture_names()
                    .flatten()
                    .filter_map(|name| Some((name.to_string(), found.name(name)?.as_str().into())))
                    .collect();
                Some(Captures { numbered, named })
            }
        }
    }
}

impl PartialEq for Pattern {
    /// Two regular expressions are the same when they are written the same.
    fn eq(&self, other: &Pattern) -> bool {
        match (self, other) {
            (Pattern::Text(a), Pattern::Text(b)) => a == b,
            (Pattern::Regex(a), Pattern::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Eq for Pattern {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_a_substring_and_slashes_make_a_regex() {
        let text = Pattern::parse("<bob> pong").expect("text");
        assert!(text.find("<bob> pong 1").is_some());
        assert!(text.find("<bob> ping").is_none());
        let regex = Pattern::parse(r"/^--> (?<who>\S+) joined$/").expect("regex");
        let found = regex.find("--> ann joined").expect("a match");
        assert_eq!(found.numbered[..2], ["--> ann joined".to_string(), "ann".to_string()]);
        assert_eq!(found.numbered[9], "");
        assert_eq!(found.named, vec![("who".to_string(), "ann".to_string())]);
        assert_eq!(regex.names(), vec!["who".to_string()]);
        assert!(regex.find("#x --> ann joined").is_none());
        assert_eq!(Pattern::parse("/"), Ok(Pattern::Text("/".into())));
    }

    #[test]
    fn a_bad_regex_says_why() {
        let error = Pattern::parse("/(unclosed/").expect_err("invalid");
        assert!(error.starts_with("invalid regular expression /(unclosed/"), "{error}");
        assert!(Pattern::parse("//").is_err());
    }
}
