//! The web page, built into the binary: its files by path, and the headers every answer of
//! the web listener carries so that a browser runs only the page's own script.

use std::borrow::Cow;

use super::http::{Response, Status};

/// What the page may load and run: only its own files (no inline script, no `eval`), its
/// own WebSocket, no plugins, no frames around it, no forms posted anywhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A file of the page.
struct Asset {
    /// Where it is served.
    path: &'static str,
    /// Its `Content-Type`.
    content_type: &'static str,
    /// Its bytes.
    body: &'static str,
}

/// Every file of the page.
const ASSETS: [Asset; 3] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../../../web/index.html"),
    },
    Asset {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../../web/app.js"),
    },
    Asset {
        path: "/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../../web/style.css"),
    },
];

/// The file of the page at `path`, as a response, if there is one.
pub fn asset(path: &str) -> Option<Response> {
    let asset = ASSETS.iter().find(|asset| asset.path == path)?;
    let body = Cow::Borrowed(asset.body.as_bytes());
    // Revalidated every time, so that a new server's page is never mixed with an old one's.
    Some(Response::new(Status::Ok, asset.content_type, body).with("Cache-Control", "no-cache"))
}

/// Adds the headers every answer carries: the policy (harmless on what is not a page),
/// no guessing of content types, and no referrer leaving the page.
pub fn harden(response: Response) -> Response {
    response
        .with("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .with("X-Content-Type-Options", "nosniff")
        .with("Referrer-Policy", "no-referrer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_files_are_served_and_nothing_else() {
        for path in ["/", "/app.js", "/style.css"] {
            assert_eq!(asset(path).map(|r| r.status), Some(Status::Ok), "{path}");
        }
        assert!(asset("/index.htm").is_none() && asset("/../Cargo.toml").is_none());
    }

    #[test]
    fn the_policy_forbids_inline_script() {
        let script =
            CONTENT_SECURITY_POLICY.split(';').find(|d| d.trim().starts_with("script-src"));
        assert_eq!(script.map(str::trim), Some("script-src 'self'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    }
}
