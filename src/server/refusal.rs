//! The polite refusal of a connection over the limits: its error line, in plain text or
//! (on a TLS listener) after the handshake, within a short deadline, then the close.

use std::time::Duration;

use futures_lite::{future, AsyncWriteExt};
use futures_rustls::TlsAcceptor;
use smol::Timer;

use super::transport::Tcp;

/// How long a refused connection is given to receive its error line (its TLS handshake
/// included).
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Writes `line` (the protocol's refusal) to a connection that is not admitted, over TLS
/// when `tls` is given, then closes it.
pub async fn refuse(tcp: Tcp, tls: Option<TlsAcceptor>, line: Vec<u8>) {
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
}
