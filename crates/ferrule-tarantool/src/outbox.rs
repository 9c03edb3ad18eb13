//! The sending side of a session. Frames go into one buffer that a writer task flushes, so a
//! burst of requests leaves in one write. A lone request (nothing else in flight, nothing
//! buffered) is written at once from the caller's thread: a round trip then costs no wake-up
//! of the writer task.

use std::io;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::Notify;

use ferrule_core::socket::{register, Sock};

/// The socket's descriptor for writing, registered with the reactor for writability only;
/// shared by the caller's thread and the writer task (writes need no `&mut`).
pub(crate) struct WriteHalf(AsyncFd<Arc<Sock>>);

impl WriteHalf {
    /// Registers `sock` (inside the runtime).
    pub fn new(sock: Sock) -> io::Result<WriteHalf> {
        Ok(WriteHalf(register(Arc::new(sock), Interest::WRITABLE)?))
    }

    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.0.get_ref().write(buf)
    }

    /// Writes once the socket has room.
    async fn write_ready(&self, buf: &[u8]) -> io::Result<usize> {
        loop {
            let mut ready = self.0.writable().await?;
            if let Ok(r) = ready.try_io(|s| s.get_ref().write(buf)) {
                return r;
            }
        }
    }
}

struct State {
    buf: Vec<u8>,
    /// The writer task owns the socket's write position: nobody else may write.
    busy: bool,
    /// None once the session is shut down (dropping it closes our side).
    sock: Option<Arc<WriteHalf>>,
}

pub(crate) struct Outbox {
    state: Mutex<State>,
    wake: Notify,
}

impl Outbox {
    pub fn new(sock: WriteHalf) -> Outbox {
        Outbox {
            state: Mutex::new(State {
                buf: Vec::with_capacity(16 * 1024),
                busy: false,
                sock: Some(Arc::new(sock)),
            }),
            wake: Notify::new(),
        }
    }

    /// Queues `frame`; with `alone`, writes it at once when the writer is idle. False when
    /// the socket is gone.
    pub fn push(&self, frame: &[u8], alone: bool) -> bool {
        let mut st = self.state.lock();
        let Some(sock) = st.sock.clone() else {
            return false;
        };
        if st.busy || !st.buf.is_empty() {
            st.buf.extend_from_slice(frame);
            return true;
        }
        let mut written = 0;
        if alone {
            // Under the lock: the writer task cannot start a flush in between.
            while written < frame.len() {
                match sock.try_write(&frame[written..]) {
                    Ok(0) => break,
                    Ok(n) => written += n,
                    Err(_) => break,
                }
            }
            if written == frame.len() {
                return true;
            }
        }
        st.buf.extend_from_slice(&frame[written..]);
        st.busy = true;
        drop(st);
        self.wake.notify_one();
        true
    }

    /// Drops the socket: no more writes.
    pub fn close(&self) {
        self.state.lock().sock = None;
    }

    /// The writer task: flushes the buffer whenever frames are queued. Returns the error
    /// that ended it.
    pub async fn run(&self) -> io::Error {
        let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
        loop {
            self.wake.notified().await;
            // The caller's thread is usually still queueing its burst: one yield lets it
            // finish, so the server gets one write (and one read) instead of many.
            tokio::task::yield_now().await;
            loop {
                let sock = {
                    let mut st = self.state.lock();
                    if st.buf.is_empty() {
                        st.busy = false;
                        break;
                    }
                    std::mem::swap(&mut st.buf, &mut out);
                    match st.sock.clone() {
                        Some(s) => s,
                        None => return io::Error::new(io::ErrorKind::NotConnected, "closed"),
                    }
                };
                if let Err(e) = write_all(&sock, &out).await {
                    return e;
                }
                out.clear();
                if out.capacity() > 1 << 20 {
                    out = Vec::with_capacity(16 * 1024);
                }
            }
        }
    }
}

async fn write_all(sock: &WriteHalf, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let written = match sock.try_write(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => sock.write_ready(buf).await,
            other => other,
        };
        match written {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
