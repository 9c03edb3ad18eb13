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
const LOW_WATER: libc::c_int = 64 * 1024;
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
        if !self.raised {
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
