//! Who may open `/ws`: the page's own origin, the origins of `--web-origin`, and programs
//! that are not browsers. Without this check any web site a person visits could open a
//! WebSocket to their server and chat in their name.

/// Reads a `--web-origin`: `http://` or `https://` and a host (with a port if not the
/// scheme's own), as a browser writes it in `Origin`; kept in lower case, without a
/// trailing `/`.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let origin = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let host = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    let plain_host = |host: &str| {
        !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) && !host.starts_with(':')
    };
    match host {
        Some(host) if plain_host(host) => Ok(origin),
        _ => Err(format!(
            "{text:?} is not an origin: write it as SCHEME://HOST[:PORT] with http or https, \
             e.g. https://chat.example.org"
        )),
    }
}

/// The request's own origin: what the page this listener serves at `host` sends.
fn own_origin(host: &str, secure: bool) -> String {
    let scheme = if secure { "https" } else { "http" };
    format!("{scheme}://{}", host.to_ascii_lowercase())
}

/// True when a WebSocket may be opened from `origin` (the request's `Origin`, `None` when
/// it sent none) on a listener reached at `host` (its `Host`), over TLS if `secure`.
///
/// A request without `Origin` is let in: browsers always send one with a WebSocket, so
/// it comes from a program (a bot, `websocat`) that could send any origin it liked.
pub fn allowed(origin: Option<&str>, host: Option<&str>, secure: bool, listed: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    let origin = origin.to_ascii_lowercase();
    host.is_some_and(|host| own_origin(host, secure) == origin) || listed.contains(&origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host_in_lower_case() {
        assert_eq!(
            parse_origin("https://Chat.Example.org/"),
            Ok("https://chat.example.org".into())
        );
        assert_eq!(parse_origin("http://localhost:3000"), Ok("http://localhost:3000".into()));
        for bad in ["chat.example.org", "ftp://x", "https://", "https://x/page", "https://:80"] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_page_s_own_origin_and_listed_ones_may_connect() {
        let listed = ["https://chat.example.org".to_string()];
        let host = Some("127.0.0.1:8080");
        assert!(allowed(Some("http://127.0.0.1:8080"), host, false, &listed));
        assert!(!allowed(Some("https://127.0.0.1:8080"), host, false, &listed));
        assert!(allowed(Some("https://127.0.0.1:8080"), host, true, &listed));
        assert!(allowed(Some("https://Chat.example.org"), host, false, &listed));
        assert!(!allowed(Some("https://evil.example"), host, false, &listed));
        assert!(!allowed(Some("null"), host, false, &listed));
        assert!(!allowed(Some("http://127.0.0.1:8080"), None, false, &[]));
        assert!(allowed(None, None, false, &[]));
    }
}
