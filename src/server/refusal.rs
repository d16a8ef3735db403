//! The polite refusal of a connection over the limits: its error line, in plain text or
//! (on a TLS listener) after the handshake, within a short deadline, then the close. Only
//! so many refusals wait at once: a host over its limit must not hold descriptors by
//! opening connections whose handshake it never finishes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_lite::{future, AsyncWriteExt};
use futures_rustls::TlsAcceptor;
use smol::Timer;

use super::transport::Tcp;

/// How long a refused connection is given to receive its error line (its TLS handshake
/// included).
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// At most this many refusals are under way at once; past them a refused connection is
/// closed at once, without its line.
pub const MAX_REFUSING: usize = 64;

/// The refusals under way.
#[derive(Debug, Default)]
pub struct Refusals(AtomicUsize);

/// One refusal's place among those under way, given back when dropped.
pub struct Place(Arc<Refusals>);

impl Refusals {
    /// A place for one more refusal, unless [`MAX_REFUSING`] are under way.
    pub fn enter(self: &Arc<Self>) -> Option<Place> {
        let under_way = self.0.fetch_add(1, Ordering::Relaxed);
        if under_way >= MAX_REFUSING {
            self.0.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Place(self.clone()))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Writes `line` (the protocol's refusal) to a connection that is not admitted, over TLS
/// when `tls` is given, then closes it; `place` is held until then.
pub async fn refuse(tcp: Tcp, tls: Option<TlsAcceptor>, line: Vec<u8>, place: Place) {
    let write = async {
        match tls {
            None => {
                let mut out = tcp.clone();
                let _ = out.write_all(&line).await;
            }
            Some(acceptor) => {
                if let Ok(mut stream) = acceptor.accept(tcp.clone()).await {
                    let _ = stream.write_all(&line).await;
                    let _ = stream.flush().await;
                    let _ = stream.close().await;
                }
            }
        }
    };
    future::or(write, async {
        Timer::after(REFUSAL_TIMEOUT).await;
    })
    .await;
    tcp.close_both();
    drop(place);
}
