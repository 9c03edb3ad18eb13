//! The receiving side of a session. One party reads the socket at a time: the reader task, or
//! the caller's own thread (an event loop watching the socket) while requests go out one at
//! a time, so that a lone round trip costs no thread hand-off. The read buffer goes with the
//! right to read; the task waits for its turn instead of reading.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use bytes::{Buf, BytesMut};
use ferrule_core::{Error, ErrorKind};
use parking_lot::Mutex;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::Notify;

use crate::response::{frame_length, Response};
use crate::session::Session;
use ferrule_core::socket::{register, InlineRead, LoopRead, Sock};

/// Largest read at once: a frame that claims more grows the buffer only as its bytes
/// actually arrive.
const READ_CHUNK: usize = 64 * 1024;

struct State {
    /// Whether the caller's thread reads now (else the reader task).
    caller: bool,
    /// Received bytes not yet split into frames.
    buf: BytesMut,
    /// What each read fills (allocated on the first), copied into `buf`.
    scratch: Vec<u8>,
}

pub(crate) struct Inbox {
    state: Mutex<State>,
    /// `state.caller`, readable without the lock.
    caller: AtomicBool,
    /// Woken when reading goes back to the task.
    task_turn: Notify,
    /// Whether the caller's thread watches the socket (it may outlast the caller's turn).
    watched: AtomicBool,
    /// The socket's descriptor for reading (the writer has its own).
    sock: Arc<Sock>,
}

impl Inbox {
    pub fn new(sock: Sock) -> Inbox {
        Inbox {
            state: Mutex::new(State {
                caller: false,
                buf: BytesMut::new(),
                scratch: Vec::new(),
            }),
            caller: AtomicBool::new(false),
            task_turn: Notify::new(),
            watched: AtomicBool::new(false),
            sock: Arc::new(sock),
        }
    }

    pub fn caller_reads(&self) -> bool {
        self.caller.load(Ordering::Acquire)
    }

    /// Gives reading to the caller's thread, unless the task is reading right now.
    pub fn try_claim(&self) -> bool {
        if self.caller_reads() {
            return true;
        }
        let Some(mut st) = self.state.try_lock() else {
            return false;
        };
        st.caller = true;
        self.caller.store(true, Ordering::Release);
        true
    }

    /// Gives reading back to the task, unless the buffer is in use right now (the caller's
    /// thread then keeps reading, which is slower under load but still correct).
    pub fn try_release(&self) {
        if !self.caller_reads() {
            return;
        }
        if let Some(st) = self.state.try_lock() {
            self.hand_to_task(st);
        }
    }

    /// Gives reading back to the task, waiting for the buffer if the task holds it: it does
    /// so only for a moment and never waits for anything while it does.
    pub fn release(&self) {
        if self.caller_reads() {
            self.hand_to_task(self.state.lock());
        }
    }

    fn hand_to_task(&self, mut st: parking_lot::MutexGuard<'_, State>) {
        st.caller = false;
        self.caller.store(false, Ordering::Release);
        drop(st);
        self.task_turn.notify_one();
    }

    /// Ends the connection for every descriptor of the socket (the caller's thread sees it
    /// readable, reads the end and stops watching).
    pub fn shutdown_socket(&self) {
        self.sock.shutdown();
    }
}

/// Reads on the caller's thread whatever has arrived, and hands each complete reply to its
/// waiter there. Never blocks: the socket is non-blocking and the buffer is only tried.
pub(crate) fn read_inline(s: &Session) -> InlineRead {
    if s.is_closed() {
        return InlineRead::Ended;
    }
    // Checked before the lock: under load the task holds it often, and a watch that only
    // ever found it busy would linger, waking the loop for every reply the task reads.
    if !s.inbox.caller_reads() {
        return InlineRead::Released;
    }
    let Some(mut st) = s.inbox.state.try_lock() else {
        return InlineRead::Busy;
    };
    if !st.caller {
        return InlineRead::Released;
    }
    let outcome = loop {
        match read_some(s, &mut st) {
            Ok(Some(true)) => {}
            Ok(_) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    drop(st);
    match outcome {
        Ok(()) => InlineRead::Read,
        Err(e) => {
            s.shutdown(lost(e));
            InlineRead::Ended
        }
    }
}

/// One read, and the dispatch of every reply it completes. `None` when nothing was there;
/// `Some(true)` when the read filled the buffer (more may be waiting).
fn read_some(s: &Session, st: &mut State) -> Result<Option<bool>, Error> {
    let State { buf, scratch, .. } = st;
    if scratch.is_empty() {
        scratch.resize(READ_CHUNK, 0);
    }
    // Whole chunks: the replies split off share them, instead of an allocation per read.
    if buf.capacity() - buf.len() < READ_CHUNK / 16 {
        buf.reserve(READ_CHUNK);
    }
    let n = loop {
        match s.inbox.sock.read(scratch) {
            Ok(0) => return Err(Error::connection_lost("the server closed the connection")),
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::connection_lost(format!("connection lost: {e}"))),
        }
    };
    buf.extend_from_slice(&scratch[..n]);
    drain_frames(s, buf)?;
    Ok(Some(n == scratch.len()))
}

/// The reader task: reads and dispatches replies whenever reading is its turn.
pub(crate) async fn reader_task(s: Arc<Session>) {
    let reason = read_replies(&s).await;
    s.shutdown(lost(reason));
}

/// Returns the error that ended reading. The descriptor is registered with the reactor only
/// while reading is the task's turn.
async fn read_replies(s: &Session) -> Error {
    let mut watched: Option<AsyncFd<Arc<Sock>>> = None;
    loop {
        if s.inbox.caller_reads() {
            watched = None;
            let turn = s.inbox.task_turn.notified();
            tokio::pin!(turn);
            turn.as_mut().enable();
            if s.inbox.caller_reads() {
                turn.await;
                continue;
            }
        }
        let fd = match &watched {
            Some(fd) => fd,
            None => match register(s.inbox.sock.clone(), Interest::READABLE) {
                Ok(fd) => watched.insert(fd),
                Err(e) => return Error::connection_lost(format!("connection lost: {e}")),
            },
        };
        // The poll form: it waits in the registration's own reader slot, not in its list.
        let mut ready = match std::future::poll_fn(|cx| fd.poll_read_ready(cx)).await {
            Ok(r) => r,
            Err(e) => return Error::connection_lost(format!("connection lost: {e}")),
        };
        let mut st = s.inbox.state.lock();
        if st.caller {
            continue;
        }
        match read_some(s, &mut st) {
            // Edge-triggered: a short read emptied the socket, new bytes will be signalled.
            Ok(None | Some(false)) => ready.clear_ready(),
            Ok(Some(true)) => {}
            Err(e) => return e,
        }
    }
}

/// The reason a session ended on a read: a protocol error as is, anything else as a lost
/// connection that says what became of the requests in flight.
fn lost(reason: Error) -> Error {
    if reason.kind == ErrorKind::Protocol {
        return reason;
    }
    Error::connection_lost(format!(
        "{}; requests in flight may or may not have been executed and are not re-sent",
        reason.message
    ))
}

fn drain_frames(s: &Session, buf: &mut BytesMut) -> Result<(), Error> {
    while let Some((prefix, len)) = frame_length(buf)? {
        if buf.len() < prefix + len {
            let missing = prefix + len - buf.len();
            if buf.capacity() - buf.len() < missing {
                buf.reserve(missing.min(READ_CHUNK));
            }
            return Ok(());
        }
        buf.advance(prefix);
        let payload = buf.split_to(len).freeze();
        s.dispatch(Response::parse(payload)?)?;
    }
    Ok(())
}

/// A session whose replies the caller's thread reads (see `TntConnection::send_now`). The
/// caller watches `fd()` for readability (`start_watch` says when a watch must begin) and
/// calls `read()` each time, until it answers `Released` or `Ended`; it then stops watching
/// and says so with `watch_ended`. A watch keeps the descriptor open, not the session.
#[derive(Clone)]
pub struct InlineReader {
    pub(crate) session: Weak<Session>,
    pub(crate) sock: Arc<Sock>,
}

impl InlineReader {
    pub(crate) fn of(session: &Arc<Session>) -> InlineReader {
        InlineReader {
            session: Arc::downgrade(session),
            sock: session.inbox.sock.clone(),
        }
    }
}

impl LoopRead for InlineReader {
    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    fn read(&self) -> InlineRead {
        match self.session.upgrade() {
            Some(s) => read_inline(&s),
            None => InlineRead::Ended,
        }
    }

    fn start_watch(&self) -> bool {
        match self.session.upgrade() {
            Some(s) => !s.inbox.watched.swap(true, Ordering::AcqRel),
            None => false,
        }
    }

    fn watch_ended(&self) {
        if let Some(s) = self.session.upgrade() {
            s.inbox.watched.store(false, Ordering::Release);
        }
    }

    fn release(&self) {
        if let Some(s) = self.session.upgrade() {
            s.inbox.release();
        }
    }
}
