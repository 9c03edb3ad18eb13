//! The receive low-water mark of a connection's TCP socket while a COPY TO STDOUT streams.
//!
//! The server sends COPY data 8 KiB at a time. A reader woken for each piece costs the server
//! a wake-up of our thread on every send (about a tenth of its CPU time for a large COPY
//! measured on a 2-core machine). With `SO_RCVLOWAT` raised, the kernel wakes the reader only
//! once `LOW_WATER` bytes are queued. The last bytes of a stream may stay below the mark, so
//! a read that waits longer than `LOW_WATER_WAIT` lowers it again, which makes the kernel
//! report what is queued at once.

use std::os::fd::RawFd;
use std::time::Duration;

/// Bytes queued before the reader is woken while a COPY TO STDOUT streams.
const LOW_WATER: libc::c_int = 256 * 1024;
/// How long a read waits under the raised mark before the mark goes back to one byte.
pub(crate) const LOW_WATER_WAIT: Duration = Duration::from_millis(1);

/// The low-water mark of one TCP socket, changed only when it must be.
pub(crate) struct LowWater {
    fd: RawFd,
    raised: bool,
}

impl LowWater {
    /// For the socket `fd`, which must outlive this value (the reader holds the stream).
    pub(crate) fn new(fd: RawFd) -> LowWater {
        LowWater { fd, raised: false }
    }

    pub(crate) fn raise(&mut self) {
        // A mark the receive buffer has no room for makes some kernels grow the buffer and
        // clamp the TCP window to the mark, which could slow a long-distance link for the rest
        // of the connection: only a buffer already large enough (autotuning grows it while
        // data streams) gets the mark.
        if !self.raised && self.receive_buffer().is_some_and(|n| n >= 4 * LOW_WATER) {
            self.raised = self.set(LOW_WATER);
        }
    }

    /// Back to one byte; the kernel then reports the data already queued as readable.
    pub(crate) fn lower(&mut self) {
        if self.raised {
            self.set(1);
            self.raised = false;
        }
    }

    fn receive_buffer(&self) -> Option<libc::c_int> {
        let mut bytes: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: as in `set`; `bytes` and `len` are writable and sized for a c_int.
        let rc = unsafe {
            libc::getsockopt(
                self.fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                std::ptr::from_mut(&mut bytes).cast(),
                &mut len,
            )
        };
        (rc == 0).then_some(bytes)
    }

    /// Whether the mark was set; a refusal leaves the default, which is always correct.
    fn set(&self, bytes: libc::c_int) -> bool {
        // SAFETY: `fd` is a live TCP socket (see `new`); the option value is a c_int that
        // outlives the call.
        let rc = unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                std::ptr::from_ref(&bytes).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        rc == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    fn get(fd: RawFd, option: libc::c_int) -> libc::c_int {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a live socket and a c_int-sized out value.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                std::ptr::from_mut(&mut v).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        v
    }

    fn set_rcvbuf(fd: RawFd, bytes: libc::c_int) {
        // SAFETY: as in `get`.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                std::ptr::from_ref(&bytes).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
    }

    #[test]
    fn raised_only_with_room_and_lowered_back() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let small = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let large = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        set_rcvbuf(small.as_raw_fd(), 32 * 1024);
        set_rcvbuf(large.as_raw_fd(), 4 << 20);

        let mut mark = LowWater::new(small.as_raw_fd());
        mark.raise();
        assert!(!mark.raised);
        assert_eq!(get(small.as_raw_fd(), libc::SO_RCVLOWAT), 1);

        // SO_RCVBUF is capped by net.core.rmem_max: the mark goes up only if the buffer did.
        let room = get(large.as_raw_fd(), libc::SO_RCVBUF) >= 4 * LOW_WATER;
        let mut mark = LowWater::new(large.as_raw_fd());
        mark.raise();
        assert_eq!(mark.raised, room);
        let expected = if room { LOW_WATER } else { 1 };
        assert_eq!(get(large.as_raw_fd(), libc::SO_RCVLOWAT), expected);
        mark.lower();
        assert!(!mark.raised);
        assert_eq!(get(large.as_raw_fd(), libc::SO_RCVLOWAT), 1);
    }
}
