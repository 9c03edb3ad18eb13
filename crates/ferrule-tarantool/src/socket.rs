//! The session's socket, outside tokio's streams: the reader and the writer each register
//! their own descriptor with tokio's reactor, for reading only and for writing only. Replies
//! then wake the reactor only while the reader task reads; when the caller's thread reads
//! them instead (inbox.rs), the reader's descriptor is not registered and nothing in the
//! runtime wakes up for a reply.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A connected, non-blocking socket; read, written and shut down through `&self`.
pub(crate) enum Sock {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Sock {
    /// Takes the socket out of tokio (the greeting was read through it).
    pub fn from_tcp(s: tokio::net::TcpStream) -> io::Result<Sock> {
        Ok(Sock::Tcp(s.into_std()?))
    }

    pub fn from_unix(s: tokio::net::UnixStream) -> io::Result<Sock> {
        Ok(Sock::Unix(s.into_std()?))
    }

    /// A second descriptor of the same socket (non-blocking like the first).
    pub fn duplicate(&self) -> io::Result<Sock> {
        Ok(match self {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
        })
    }

    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => (&*s).read(buf),
            Sock::Unix(s) => (&*s).read(buf),
        }
    }

    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => (&*s).write(buf),
            Sock::Unix(s) => (&*s).write(buf),
        }
    }

    /// Ends the connection for every descriptor of the socket.
    pub fn shutdown(&self) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(Shutdown::Both),
            Sock::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
}

/// Registers a descriptor of the socket with the reactor, for `interest` only (inside the
/// runtime). Dropping the result deregisters it.
pub(crate) fn register(sock: Arc<Sock>, interest: Interest) -> io::Result<AsyncFd<Arc<Sock>>> {
    // SAFETY: the Arc keeps the `Sock`, hence its descriptor, open and unchanged for as long
    // as the AsyncFd holds it.
    unsafe { AsyncFd::register_with_interest(sock, interest) }.map_err(|e| e.into_parts().1)
}

impl AsRawFd for Sock {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Sock::Tcp(s) => s.as_raw_fd(),
            Sock::Unix(s) => s.as_raw_fd(),
        }
    }
}
