//! A plain (TCP or Unix) connection's socket outside tokio's streams, so that the event
//! loop's thread can write a lone request and read its reply itself (the PostgreSQL and
//! Tarantool backends' inbox.rs). The reader task and the writer task each register their own
//! descriptor of it with the reactor, for readability and for writability only: while the
//! loop's thread reads, the reader's descriptor is not registered and nothing in the runtime
//! wakes for a reply.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncWrite, Interest};

/// A connected, non-blocking socket, read, written and shut down through `&self`.
pub enum Sock {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Sock {
    /// Takes the socket out of tokio (after a handshake read through it).
    pub fn from_tcp(s: tokio::net::TcpStream) -> io::Result<Sock> {
        Ok(Sock::Tcp(s.into_std()?))
    }

    pub fn from_unix(s: tokio::net::UnixStream) -> io::Result<Sock> {
        Ok(Sock::Unix(s.into_std()?))
    }

    /// A second descriptor of the socket under a tokio stream (non-blocking like it).
    pub fn duplicate_of(fd: &impl AsFd, unix: bool) -> io::Result<Sock> {
        let owned = fd.as_fd().try_clone_to_owned()?;
        Ok(if unix {
            Sock::Unix(std::os::unix::net::UnixStream::from(owned))
        } else {
            Sock::Tcp(std::net::TcpStream::from(owned))
        })
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

    /// Ends the connection for every descriptor of the socket (a watcher sees it readable).
    pub fn shutdown(&self) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(Shutdown::Both),
            Sock::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl AsRawFd for Sock {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Sock::Tcp(s) => s.as_raw_fd(),
            Sock::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// Registers a descriptor of the socket with the reactor for `interest` only (inside the
/// runtime); dropping the result deregisters it.
pub fn register(sock: Arc<Sock>, interest: Interest) -> io::Result<AsyncFd<Arc<Sock>>> {
    // SAFETY: the Arc keeps the `Sock`, hence its descriptor, open and unchanged for as long
    // as the AsyncFd holds it.
    unsafe { AsyncFd::register_with_interest(sock, interest) }.map_err(|e| e.into_parts().1)
}

/// The writer task's end of a plain socket.
pub struct SockWriter(pub AsyncFd<Arc<Sock>>);

impl AsyncWrite for SockWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut ready = ready!(self.0.poll_write_ready(cx))?;
            match ready.try_io(|s| s.get_ref().write(buf)) {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// What one read on the caller's thread did (see `LoopRead`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InlineRead {
    /// Read what there was and handed every complete answer to its caller.
    Read,
    /// The reader task holds the buffer for a moment: try again when readable.
    Busy,
    /// Reading is the task's again: stop watching the socket for now.
    Released,
    /// The connection ended (its callers have their error): stop watching.
    Ended,
}

/// A connection whose answers the caller's thread reads while its requests go out one at a
/// time: the caller watches `fd()` for readability (`start_watch` says when a watch must
/// begin) and calls `read()` each time, until it answers `Released` or `Ended`; it then stops
/// watching and says so with `watch_ended`. A watch keeps the descriptor open, not the
/// connection.
pub trait LoopRead: Send + Sync + 'static {
    fn fd(&self) -> RawFd;

    fn read(&self) -> InlineRead;

    /// True when nobody watches the socket for the caller yet: the caller must start a
    /// watch now (and call `watch_ended` if it cannot).
    fn start_watch(&self) -> bool;

    fn watch_ended(&self);

    /// Hands reading back to the reader task (when the socket cannot be watched). Not from
    /// within `read()`.
    fn release(&self);
}
