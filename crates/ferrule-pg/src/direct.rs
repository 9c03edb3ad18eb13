//! Requests sent from the caller's thread. When the connection is idle (nothing in flight,
//! nothing queued for the writer, no call waiting for its turn) and the statement is already
//! prepared, Bind/Execute/Sync are encoded and written to the socket right there, and no
//! task waits for the answer: whoever reads it (the reader task, or the caller's thread
//! itself while requests go out one at a time, inbox.rs) calls the caller's function.
//! Anything else (a TLS connection, a statement to prepare, a busy connection) is given back
//! and the caller takes the waiting path (`PgConnection::query`).

use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};

use bytes::BytesMut;
use ferrule_core::{Error, ErrorKind, Value};
use parking_lot::Mutex;
use postgres_protocol::message::frontend;
use tokio::task::JoinHandle;
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::conn::{CallCtl, PgConnection, QueryResult, Shared};
use crate::inbox::InlineReader;
use crate::request::{Command, Pending, Reply, ReqState, Response, RowSink};
use crate::statement::Statement;

/// Lone requests in a row after which the caller's thread takes over reading.
const LONE_RUN: u32 = 3;

const NOT_INTERRUPTED: u8 = 0;
const TIMED_OUT: u8 = 1;
const CANCELLED: u8 = 2;

/// How a request sent now will be answered.
pub enum Sent {
    /// The reader task reads the answer.
    ByTask,
    /// The caller's thread reads it: it must watch the reader (see `InlineReader`).
    Inline(InlineReader),
}

type AnswerFn = Box<dyn FnOnce(Result<Response, Error>) + Send>;

/// The one place a direct request's answer goes: the reply, a failure, or the timeout or
/// cancellation that interrupted it, whichever comes first.
struct CallSlot {
    done: Mutex<Option<AnswerFn>>,
    interrupted: AtomicU8,
    /// Keeps the waker registered with the caller's cancellation token.
    cancel_watch: Mutex<Option<std::pin::Pin<Box<WaitForCancellationFutureOwned>>>>,
    deadline: Mutex<Option<JoinHandle<()>>>,
}

impl CallSlot {
    fn answer(&self, result: Result<Response, Error>) {
        let Some(done) = self.done.lock().take() else {
            return;
        };
        let result = match (result, self.interrupted.load(Ordering::Acquire)) {
            // It finished before the cancellation landed: the work is done, report it.
            (Ok(resp), _) => Ok(resp),
            (Err(_), TIMED_OUT) => Err(Error::timeout("the query timed out and was cancelled")),
            (Err(_), CANCELLED) => Err(Error::new(ErrorKind::Cancelled, "the query was cancelled")),
            (Err(e), _) => Err(e),
        };
        done(result);
        drop(self.cancel_watch.lock().take());
        if let Some(timer) = self.deadline.lock().take() {
            timer.abort();
        }
    }
}

/// The reader's end of a direct request; dropped unanswered, it reports the connection as
/// closed, so its caller never hangs.
pub struct CallReply {
    slot: Arc<CallSlot>,
}

impl CallReply {
    pub fn reply(self, result: Result<Response, Error>) {
        self.slot.answer(result);
    }
}

impl Drop for CallReply {
    fn drop(&mut self) {
        self.slot
            .answer(Err(Error::closed("the connection is closed")));
    }
}

/// Asks the server to cancel a direct request whose caller gave up (timeout or cancelled
/// task); its answer, when it comes, then reports the interruption.
fn interrupt(shared: &Arc<Shared>, state: &Arc<ReqState>, slot: &CallSlot, why: u8) {
    if state.done.load(Ordering::Acquire) || slot.done.lock().is_none() {
        return;
    }
    let first = slot.interrupted.compare_exchange(
        NOT_INTERRUPTED,
        why,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    if first.is_err() {
        return;
    }
    state.want_cancel.store(true, Ordering::Release);
    let at_front = shared
        .inflight
        .lock()
        .front()
        .is_some_and(|f| Arc::ptr_eq(f, state));
    if at_front {
        shared.send_cancel(state.clone());
    }
}

/// Woken when the caller's token is cancelled.
struct CancelWake {
    shared: Weak<Shared>,
    state: Arc<ReqState>,
    slot: Weak<CallSlot>,
}

impl Wake for CancelWake {
    fn wake(self: Arc<Self>) {
        if let (Some(shared), Some(slot)) = (self.shared.upgrade(), self.slot.upgrade()) {
            interrupt(&shared, &self.state, &slot, CANCELLED);
        }
    }
}

impl PgConnection {
    /// The cached statement for `sql`, if the cache is free right now.
    pub fn cached_statement(&self, sql: &str) -> Option<Arc<Statement>> {
        self.shared.cache.try_lock()?.get(sql)
    }

    /// A cached statement went stale (the schema changed): it is dropped from the cache.
    /// `Ok` when the query may run again (outside a transaction); inside one a retry would
    /// see the same schema, so the error says what to do.
    pub fn stale_statement(&self, sql: &str, mut e: Error) -> Result<(), Error> {
        drop(self.shared.cache.lock().remove(sql));
        if self.transaction_status() == b'I' {
            return Ok(());
        }
        e.message = format!(
            "{}: the schema changed under a cached statement inside this transaction; \
             roll back and run the query again",
            e.message
        );
        Err(e)
    }

    /// Executes a prepared statement from the caller's thread when the connection is idle;
    /// `done` gets the rows (or the failure, a timeout, a cancellation). `Err` gives `done`
    /// and `sink` back when it cannot be sent this way: the caller takes `query_prepared`.
    pub fn query_now<D>(
        &self,
        stmt: &Arc<Statement>,
        params: &[Value],
        max_rows: i32,
        sink: Option<RowSink>,
        ctl: &CallCtl,
        done: D,
    ) -> Result<Sent, (D, Option<RowSink>)>
    where
        D: FnOnce(Result<QueryResult, Error>) + Send + 'static,
    {
        let shared = &self.shared;
        let Some(inbox) = shared.inbox.as_ref() else {
            return Err((done, sink));
        };
        if self.is_closed()
            || self.has_cancels_in_flight()
            || stmt.params.len() != params.len()
            || !turn_is_due(ctl)
            || ctl.cancel.as_ref().is_some_and(|t| t.is_cancelled())
        {
            return Err((done, sink));
        }
        let mut buf = BytesMut::with_capacity(64);
        if self
            .bind_execute(stmt, params, "", max_rows, &mut buf)
            .is_err()
        {
            return Err((done, sink));
        }
        frontend::sync(&mut buf);
        let Some(send) = shared.send_lock.try_lock() else {
            return Err((done, sink));
        };
        if shared.queued.load(Ordering::Acquire) != 0 || !shared.inflight.lock().is_empty() {
            return Err((done, sink));
        }
        let run = shared.lone_run.load(Ordering::Relaxed).saturating_add(1);
        shared.lone_run.store(run, Ordering::Relaxed);
        // Decided before the request can reach the server: its answer finds the reader set.
        let caller_reads = if run >= LONE_RUN {
            inbox.try_claim()
        } else {
            inbox.caller_reads()
        };
        let statement = stmt.clone();
        let slot = Arc::new(CallSlot {
            done: Mutex::new(Some(Box::new(move |r: Result<Response, Error>| {
                done(r.map(|resp| QueryResult {
                    statement,
                    rows: resp.rows,
                    status: resp.tags.into_iter().last().unwrap_or_default(),
                    suspended: resp.suspended,
                }))
            }))),
            interrupted: AtomicU8::new(NOT_INTERRUPTED),
            cancel_watch: Mutex::new(None),
            deadline: Mutex::new(None),
        });
        let state = Arc::new(ReqState::default());
        let reply = Reply::Call(CallReply { slot: slot.clone() });
        let pending = Pending::answered(state.clone(), reply, sink);
        shared.inflight.lock().push_back(state.clone());
        if let Err(refused) = shared.pending_tx.send(pending) {
            shared.inflight.lock().pop_back();
            drop(send);
            // Reading has ended: the reply reports the connection as closed.
            drop(refused);
            return Ok(Sent::ByTask);
        }
        let mut written = 0;
        while written < buf.len() {
            match inbox.sock().write(&buf[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if written < buf.len() {
            // The rest goes first from the writer task (nothing else is queued), which also
            // meets any error the socket has.
            let rest = buf.split_off(written);
            shared.queue_locked(Command::Raw(rest));
        }
        drop(send);
        if let Some(turn) = &ctl.turn {
            turn.release();
        }
        watch_interrupts(shared, &state, &slot, ctl);
        Ok(if caller_reads {
            Sent::Inline(InlineReader::of(shared, inbox))
        } else {
            Sent::ByTask
        })
    }
}

/// Whether every call made before this one on the connection has sent its request.
fn turn_is_due(ctl: &CallCtl) -> bool {
    let Some(turn) = &ctl.turn else {
        return true;
    };
    let wait = turn.wait(None, None);
    let mut wait = std::pin::pin!(wait);
    let mut cx = Context::from_waker(Waker::noop());
    matches!(wait.as_mut().poll(&mut cx), Poll::Ready(Ok(())))
}

/// Arms the call's deadline (a timer on the runtime) and its cancellation (a waker on the
/// caller's token, no task).
fn watch_interrupts(
    shared: &Arc<Shared>,
    state: &Arc<ReqState>,
    slot: &Arc<CallSlot>,
    ctl: &CallCtl,
) {
    if let Some(token) = &ctl.cancel {
        let wake = Arc::new(CancelWake {
            shared: Arc::downgrade(shared),
            state: state.clone(),
            slot: Arc::downgrade(slot),
        });
        let waker = Waker::from(wake);
        let mut watch = Box::pin(token.clone().cancelled_owned());
        let mut cx = Context::from_waker(&waker);
        if watch.as_mut().poll(&mut cx).is_ready() {
            interrupt(shared, state, slot, CANCELLED);
        } else {
            *slot.cancel_watch.lock() = Some(watch);
        }
    }
    if let Some(deadline) = ctl.deadline {
        let (weak, state, slot_ref) = (Arc::downgrade(shared), state.clone(), Arc::downgrade(slot));
        let timer = crate::conn::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            if let (Some(shared), Some(slot)) = (weak.upgrade(), slot_ref.upgrade()) {
                interrupt(&shared, &state, &slot, TIMED_OUT);
            }
        });
        *slot.deadline.lock() = Some(timer);
    }
    // Answered already: nothing left to watch.
    if slot.done.lock().is_none() {
        drop(slot.cancel_watch.lock().take());
        if let Some(timer) = slot.deadline.lock().take() {
            timer.abort();
        }
    }
}
