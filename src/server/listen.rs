//! Binding the listening socket with a backlog deep enough for a join storm.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use async_net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

/// Connections the kernel may hold completed but not yet accepted. The standard library
/// asks for 128, after which every further simultaneous connect waits a whole second for
/// a SYN retry; the kernel caps this at `net.core.somaxconn` anyway.
pub const LISTEN_BACKLOG: i32 = 4096;

/// Binds `addr` (a `host:port`, resolved once) for the server.
pub fn bind(addr: &str) -> io::Result<TcpListener> {
    let mut last_error = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind");
    for addr in addr.to_socket_addrs()? {
        match bind_one(addr) {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // A restarted server can take its port back while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::try_from(std::net::TcpListener::from(socket))
}
