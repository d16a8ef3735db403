//! Accepting a TLS connection: the handshake within its deadline, and a clear
//! word to a client that speaks plain text at a TLS port.
//!
//! Nothing of a connection that never finishes its handshake outlives the deadline: the
//! task owns the socket and drops it.

use std::net::SocketAddr;
use std::time::Instant;

use futures_lite::{future, AsyncWriteExt};
use futures_rustls::TlsAcceptor;
use smol::Timer;
use thiserror::Error;
use tracing::debug;

use super::listener::Protocol;
use super::transport::{Tcp, TlsHalves};

/// The first byte of every TLS record that starts a handshake.
const HANDSHAKE_RECORD: u8 = 0x16;

/// Why no TLS session came of a connection.
#[derive(Debug, Error)]
pub enum Failed {
    /// The client sent something other than a TLS handshake; it has been told.
    #[error("plain text at a TLS port")]
    PlainText,
    /// The handshake failed (the client refused our certificate, or sent garbage).
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
    /// The handshake did not finish within the timeout.
    #[error("TLS handshake timed out")]
    TimedOut,
}

/// Runs the server side of the TLS handshake on `tcp` until `deadline`, and returns the
/// encrypted connection's halves. A client still silent at `quiet` (if given) is taken
/// for one speaking plain text: a TLS client starts at once, but a plain chat client waits
/// for the server to speak first, and would otherwise wait out the deadline untold.
pub async fn accept(
    acceptor: TlsAcceptor,
    tcp: Tcp,
    protocol: Protocol,
    peer: SocketAddr,
    (quiet, deadline): (Option<Instant>, Instant),
) -> Result<TlsHalves, Failed> {
    let handshake = async {
        if !starts_with_handshake(&tcp, quiet).await {
            tell_plain_text(&tcp, protocol, peer).await;
            return Err(Failed::PlainText);
        }
        let stream = acceptor.accept(tcp.clone()).await.map_err(Failed::Handshake)?;
        Ok(Tcp::tls_halves(stream, tcp.clone()))
    };
    let timed_out = async {
        Timer::at(deadline).await;
        Err(Failed::TimedOut)
    };
    let accepted = future::or(handshake, timed_out).await;
    if let Err(why) = &accepted {
        debug!(%peer, %why, "no TLS session");
    }
    accepted
}

/// Waits for the client's first byte (until `quiet`, if given) and says whether it opens
/// a TLS handshake. A client that closes, or stays quiet, before sending anything did not.
async fn starts_with_handshake(tcp: &Tcp, quiet: Option<Instant>) -> bool {
    let first = async {
        let mut first = [0u8; 1];
        matches!(tcp.peek(&mut first).await, Ok(1) if first[0] == HANDSHAKE_RECORD)
    };
    match quiet {
        Some(quiet) => {
            let silent = async {
                Timer::at(quiet).await;
                false
            };
            future::or(first, silent).await
        }
        None => first.await,
    }
}

/// Tells a client that spoke plain text where to go, in its own protocol, and closes.
async fn tell_plain_text(tcp: &Tcp, protocol: Protocol, peer: SocketAddr) {
    let line = match protocol {
        Protocol::Chat => super::session::chat::tls_required(),
        Protocol::Irc => super::session::irc::tls_required(peer),
        Protocol::Web => super::web::tls_required(),
    };
    let mut out = tcp.clone();
    let _ = out.write_all(&line).await;
    tcp.close_both();
}
