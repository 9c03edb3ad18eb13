//! The receiving side of a plain connection. One party reads the socket at a time: the
//! reader task, or the caller's own thread (an event loop watching the socket) while
//! requests go out one at a time, so that a lone round trip costs no thread hand-off. The
//! read buffer and the request being answered go with the right to read; the task waits for
//! its turn instead of reading, and the caller's thread only ever tries the lock.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use bytes::BytesMut;
use ferrule_core::Error;
use parking_lot::{Mutex, MutexGuard};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Notify;

use crate::conn::Shared;
use crate::io::{Reader, BULK_COPY};
use crate::low_water::{LowWater, LOW_WATER_WAIT};
use crate::request::Pending;
use ferrule_core::socket::{register, InlineRead, LoopRead, Sock};

/// Largest read at once.
const READ_CHUNK: usize = 64 * 1024;
/// Largest read at once while a COPY TO STDOUT streams: fewer system calls and wake-ups.
const COPY_CHUNK: usize = 256 * 1024;
/// An answer this large is left to the reader task: decoding its batches on the loop thread
/// then overlaps the transfer of the rest.
const BIG_ANSWER_ROWS: u64 = 1024;

pub(crate) struct ReadState {
    /// Whether the caller's thread reads now (else the reader task).
    caller: bool,
    buf: BytesMut,
    /// None once reading has ended (it held the connection alive).
    reader: Option<Reader>,
    pending_rx: UnboundedReceiver<Pending>,
}

pub(crate) struct Inbox {
    state: Mutex<ReadState>,
    /// `state.caller`, readable without the lock.
    caller: AtomicBool,
    /// Woken when reading goes back to the task, or ends.
    task_turn: Notify,
    /// Whether the caller's thread watches the socket (a watch may outlast its turn).
    watched: AtomicBool,
    sock: Arc<Sock>,
}

impl Inbox {
    /// An inbox holding what was read during startup; reading starts with `start`.
    pub fn new(sock: Sock, buf: BytesMut, pending_rx: UnboundedReceiver<Pending>) -> Inbox {
        Inbox {
            state: Mutex::new(ReadState {
                caller: false,
                buf,
                reader: None,
                pending_rx,
            }),
            caller: AtomicBool::new(false),
            task_turn: Notify::new(),
            watched: AtomicBool::new(false),
            sock: Arc::new(sock),
        }
    }

    pub fn start(&self, reader: Reader) {
        self.state.lock().reader = Some(reader);
    }

    pub fn sock(&self) -> &Arc<Sock> {
        &self.sock
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
        if st.reader.is_none() {
            return false;
        }
        st.caller = true;
        self.caller.store(true, Ordering::Release);
        true
    }

    /// Gives reading back to the task unless the buffer is in use right now (the caller's
    /// thread then keeps reading: slower under load, still correct).
    pub fn try_release(&self) {
        if !self.caller_reads() {
            return;
        }
        if let Some(st) = self.state.try_lock() {
            self.hand_to_task(st);
        }
    }

    /// Gives reading back to the task, waiting a moment if the buffer is in use.
    pub fn release(&self) {
        if self.caller_reads() {
            self.hand_to_task(self.state.lock());
        }
    }

    fn hand_to_task(&self, mut st: MutexGuard<'_, ReadState>) {
        st.caller = false;
        self.caller.store(false, Ordering::Release);
        drop(st);
        self.task_turn.notify_one();
    }

    /// The connection was aborted: the socket ends for every descriptor, and whoever holds
    /// the buffer fails the requests waiting (now, or as soon as it lets go).
    pub fn abort(self: &Arc<Self>, reason: Error) {
        self.sock.shutdown();
        match self.state.try_lock() {
            Some(mut st) => end_reading(&mut st, reason, false),
            None => {
                let inbox = self.clone();
                crate::conn::spawn(async move {
                    end_reading(&mut inbox.state.lock(), reason, false);
                });
            }
        }
        self.task_turn.notify_one();
    }
}

fn end_reading(st: &mut ReadState, reason: Error, settled: bool) {
    if let Some(mut reader) = st.reader.take() {
        reader.end(&mut st.pending_rx, reason, settled);
    }
}

/// Reads on the caller's thread whatever has arrived and hands each complete answer to its
/// caller. Never blocks: the socket is non-blocking and the buffer is only tried.
fn read_inline(shared: &Shared, inbox: &Inbox) -> InlineRead {
    if !inbox.caller_reads() {
        return InlineRead::Released;
    }
    let Some(mut st) = inbox.state.try_lock() else {
        return InlineRead::Busy;
    };
    if st.reader.is_none() {
        return InlineRead::Ended;
    }
    if !st.caller {
        return InlineRead::Released;
    }
    if shared.is_closed() {
        // Closing: the task reads the server's last words (the answer to Terminate).
        inbox.hand_to_task(st);
        return InlineRead::Released;
    }
    let outcome = loop {
        match read_some(inbox, &mut st, READ_CHUNK) {
            Ok(Some(true)) => {}
            Ok(_) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    match outcome {
        Err(e) => {
            end_reading(&mut st, e, true);
            drop(st);
            inbox.sock.shutdown();
            inbox.task_turn.notify_one();
            InlineRead::Ended
        }
        Ok(()) => {
            let reader = st.reader.as_ref();
            // A COPY chunk the consumer has no room for must be waited for, and a big answer
            // is better read alongside its decoding: both are the task's.
            let leave = reader.is_some_and(|r| {
                r.blocked.is_some()
                    || r.current
                        .as_ref()
                        .is_some_and(|p| p.response.row_count >= BIG_ANSWER_ROWS)
            });
            if leave {
                shared.lone_run.store(0, Ordering::Relaxed);
                inbox.hand_to_task(st);
                return InlineRead::Released;
            }
            InlineRead::Read
        }
    }
}

/// One read and the dispatch of every message it completes. `None` when nothing was there,
/// `Some(true)` when the read filled the chunk (more may be waiting).
fn read_some(inbox: &Inbox, st: &mut ReadState, chunk: usize) -> Result<Option<bool>, Error> {
    let ReadState {
        buf,
        reader,
        pending_rx,
        ..
    } = st;
    let Some(reader) = reader.as_mut() else {
        return Err(Error::closed("the connection is closed"));
    };
    let start = buf.len();
    buf.resize(start + chunk, 0);
    let n = loop {
        match inbox.sock.read(&mut buf[start..]) {
            Ok(0) => {
                buf.truncate(start);
                return Err(Error::connection_lost("the server closed the connection"));
            }
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(start);
                if e.kind() == io::ErrorKind::WouldBlock {
                    return Ok(None);
                }
                return Err(Error::connection_lost(format!("connection lost: {e}")));
            }
        }
    };
    buf.truncate(start + n);
    reader.drain(buf, pending_rx)?;
    Ok(Some(n == chunk))
}

/// The reader task of a plain connection: reads whenever reading is its turn. Its
/// descriptor is registered with the reactor only while it is.
pub(crate) async fn plain_reader_task(shared: Arc<Shared>, inbox: Arc<Inbox>, tcp: bool) {
    // A large COPY TO STDOUT wakes the task once per 256 KiB, not per 8 KiB the server sends.
    let low_water = tcp.then(|| LowWater::new(inbox.sock.as_raw_fd()));
    let reason = read_answers(&inbox, low_water).await;
    end_reading(&mut inbox.state.lock(), reason, true);
    inbox.sock.shutdown();
    drop(shared);
}

async fn read_answers(inbox: &Inbox, mut low_water: Option<LowWater>) -> Error {
    let mut watched: Option<AsyncFd<Arc<Sock>>> = None;
    loop {
        if inbox.caller_reads() {
            watched = None;
            let turn = inbox.task_turn.notified();
            tokio::pin!(turn);
            turn.as_mut().enable();
            if inbox.caller_reads() && inbox.state.lock().reader.is_some() {
                turn.await;
                continue;
            }
        }
        // A COPY TO STDOUT chunk waiting for room is handed over before anything is read.
        let blocked = {
            let mut st = inbox.state.lock();
            if st.reader.is_none() {
                return Error::closed("the connection is closed");
            }
            if st.caller {
                continue;
            }
            st.reader.as_mut().and_then(|r| r.blocked.take())
        };
        if let Some((tx, chunk)) = blocked {
            let _ = tx.send(chunk).await;
            let mut st = inbox.state.lock();
            let ReadState {
                buf,
                reader,
                pending_rx,
                ..
            } = &mut *st;
            if let Some(reader) = reader.as_mut() {
                if let Err(e) = reader.drain(buf, pending_rx) {
                    return e;
                }
            }
            continue;
        }
        let fd = match &watched {
            Some(fd) => fd,
            None => match register(inbox.sock.clone(), Interest::READABLE) {
                Ok(fd) => watched.insert(fd),
                Err(e) => return Error::connection_lost(format!("connection lost: {e}")),
            },
        };
        let received = {
            let st = inbox.state.lock();
            st.reader.as_ref().and_then(Reader::copy_out_received)
        };
        // Only a large COPY: a small one would wait for its last bytes for nothing.
        let bulk = received.is_some_and(|n| n >= BULK_COPY);
        let readable = std::future::poll_fn(|cx| fd.poll_read_ready(cx));
        let ready = match low_water.as_mut() {
            Some(mark) if bulk => {
                mark.raise();
                match tokio::time::timeout(LOW_WATER_WAIT, readable).await {
                    Ok(ready) => ready,
                    Err(_) => {
                        // The last bytes of the stream may stay below the mark.
                        mark.lower();
                        std::future::poll_fn(|cx| fd.poll_read_ready(cx)).await
                    }
                }
            }
            Some(mark) => {
                mark.lower();
                readable.await
            }
            None => readable.await,
        };
        let mut ready = match ready {
            Ok(r) => r,
            Err(e) => return Error::connection_lost(format!("connection lost: {e}")),
        };
        let mut st = inbox.state.lock();
        if st.caller {
            continue;
        }
        let chunk = if received.is_some() {
            COPY_CHUNK
        } else {
            READ_CHUNK
        };
        match read_some(inbox, &mut st, chunk) {
            // Edge-triggered: a short read emptied the socket, new bytes will be signalled.
            Ok(None | Some(false)) => ready.clear_ready(),
            Ok(Some(true)) => {}
            Err(e) => return e,
        }
    }
}

/// A connection whose answers the caller's thread reads (see `PgConnection::query_now`).
/// The caller watches `fd()` for readability (`start_watch` says when a watch must begin)
/// and calls `read()` each time, until it answers `Released` or `Ended`; it then stops
/// watching and says so with `watch_ended`. A watch keeps the descriptor open, not the
/// connection.
#[derive(Clone)]
pub struct InlineReader {
    shared: Weak<Shared>,
    sock: Arc<Sock>,
}

impl InlineReader {
    pub(crate) fn of(shared: &Arc<Shared>, inbox: &Inbox) -> InlineReader {
        InlineReader {
            shared: Arc::downgrade(shared),
            sock: inbox.sock.clone(),
        }
    }
}

impl LoopRead for InlineReader {
    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    fn read(&self) -> InlineRead {
        match self.shared.upgrade() {
            Some(s) => match &s.inbox {
                Some(inbox) => read_inline(&s, inbox),
                None => InlineRead::Ended,
            },
            None => InlineRead::Ended,
        }
    }

    fn start_watch(&self) -> bool {
        match self.shared.upgrade() {
            Some(s) => s
                .inbox
                .as_ref()
                .is_some_and(|i| !i.watched.swap(true, Ordering::AcqRel)),
            None => false,
        }
    }

    fn watch_ended(&self) {
        if let Some(inbox) = self.shared.upgrade().and_then(|s| s.inbox.clone()) {
            inbox.watched.store(false, Ordering::Release);
        }
    }

    fn release(&self) {
        if let Some(inbox) = self.shared.upgrade().and_then(|s| s.inbox.clone()) {
            inbox.release();
        }
    }
}
