//! A bench client's TLS session, driven by hand: rustls' client state beside the socket,
//! encrypting and decrypting on the generator's own thread with no lock. Every client lives
//! on one single-threaded executor, and the state is borrowed only between two awaits,
//! never across one. Reads take the socket's ciphertext in one large chunk, as the plain
//! path does, rather than the 4 KiB at a time rustls would read by itself, so that TLS adds
//! decryption to the generator's cost per delivery but no system calls.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::TcpStream;

use futures_rustls::rustls::ClientConnection;
use smol::Async;

use super::connection::{read_socket, Got, Scratch};
use super::tls::TlsClient;

/// A TLS session over a socket, after its handshake.
#[derive(Debug)]
pub struct Encrypted {
    /// The socket, non-blocking and registered with the reactor.
    pub(crate) tcp: Async<TcpStream>,
    /// rustls' side of the session: what it has decrypted and not yet handed out, and
    /// what it has encrypted and not yet written.
    session: RefCell<ClientConnection>,
    /// Set when the server's `close_notify` came: nothing more will.
    closed: Cell<bool>,
}

impl Encrypted {
    /// Runs the TLS handshake over `tcp`; from then on the bench drives rustls itself.
    pub async fn handshake(tcp: Async<TcpStream>, tls: &TlsClient) -> io::Result<Encrypted> {
        let stream = tls.connector.connect(tls.name.clone(), tcp).await?;
        let (tcp, session) = stream.into_inner();
        Ok(Encrypted { tcp, session: RefCell::new(session), closed: Cell::new(false) })
    }

    /// Hands out decrypted bytes, reading and decrypting more if none are waiting;
    /// `None` when the socket has nothing yet.
    pub(crate) fn read_some(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let mut session = self.session.borrow_mut();
        let mut socket = self.tcp.get_ref();
        loop {
            match session.reader().read(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(Some(0)),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
            // At the socket's end, rustls notes it and the reader above says so next.
            match session.read_tls(&mut socket) {
                Ok(_) => {
                    session.process_new_packets().map_err(invalid_data)?;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Encrypts what rustls takes of `rest` and writes what the socket takes; true once
    /// everything is out.
    pub(crate) fn push(&self, rest: &mut &[u8]) -> io::Result<bool> {
        let mut session = self.session.borrow_mut();
        if !rest.is_empty() {
            let taken = session.writer().write(rest)?;
            *rest = &rest[taken..];
        }
        let mut socket = self.tcp.get_ref();
        while session.wants_write() {
            match session.write_tls(&mut socket) {
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(rest.is_empty())
    }

    /// One read of the socket's ciphertext, decrypted into `scratch.plain` after any
    /// plaintext rustls still held.
    pub(crate) fn try_read(&self, scratch: &mut Scratch) -> io::Result<Got> {
        if self.closed.get() {
            return Ok(Got::Closed);
        }
        let Scratch { plain, wire: cipher } = scratch;
        let mut session = self.session.borrow_mut();
        // What the handshake's reads left decrypted comes first.
        let mut len = take_plaintext(&mut session, plain)?;
        let read = read_socket(&self.tcp, cipher)?;
        let n = match read {
            Some(n) if n > 0 => n,
            // The socket is empty (or at its end): hand out what there is first.
            _ if len > 0 => return Ok(Got::Bytes { len, drained: true }),
            None => return Ok(Got::Nothing),
            Some(_) => return Ok(Got::Closed),
        };
        let mut input = &cipher[..n];
        while !input.is_empty() {
            // After the server's close_notify rustls takes nothing more.
            if session.read_tls(&mut input)? == 0 {
                break;
            }
            let state = session.process_new_packets().map_err(invalid_data)?;
            len += take_plaintext(&mut session, &mut plain[len..])?;
            if state.peer_has_closed() {
                self.closed.set(true);
                break;
            }
        }
        if len == 0 {
            let ended = self.closed.get();
            return Ok(if ended { Got::Closed } else { Got::Nothing });
        }
        Ok(Got::Bytes { len, drained: n < cipher.len() || self.closed.get() })
    }
}

/// Moves the plaintext rustls holds into `out`; the scratch's sizes guarantee it fits.
fn take_plaintext(session: &mut ClientConnection, out: &mut [u8]) -> io::Result<usize> {
    match session.reader().read(out) {
        Ok(n) => Ok(n),
        // Nothing decrypted yet, or the stream's end, which the socket and `closed` tell.
        Err(error)
            if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::UnexpectedEof) =>
        {
            Ok(0)
        }
        Err(error) => Err(error),
    }
}

/// A TLS error (a bad record, an alert) as an I/O error.
fn invalid_data(error: futures_rustls::rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}
