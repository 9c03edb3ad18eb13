//! `SqliteConnection`: the caller's handle. Each connection has its own thread that runs its
//! jobs one at a time, in submission order; a job's result goes to the caller's `Reply`
//! callback on that thread (the binding layer turns it into a completion of its own). A short
//! statement may instead run inline on the caller's thread when the connection is idle.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrule_core::{Error, ErrorKind, Result, Value};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::config::SqliteConfig;
use crate::control::{Control, Stop};
use crate::error::closed;
use crate::rows::QueryResult;
use crate::session::{Keep, Session};
use crate::stmt::StmtMeta;

/// Receives the outcome of a job, on the connection's thread. It must not block.
pub type Reply<T> = Box<dyn FnOnce(Result<T>) + Send>;

/// Limits of one call: an absolute deadline and a token the caller cancels.
#[derive(Default, Clone)]
pub struct CallCtl {
    pub deadline: Option<Instant>,
    pub timeout: Option<Duration>,
    pub cancel: Option<CancellationToken>,
}

impl CallCtl {
    pub fn new(timeout: Option<Duration>, cancel: Option<CancellationToken>) -> CallCtl {
        CallCtl {
            deadline: timeout.map(|t| Instant::now() + t),
            timeout,
            cancel,
        }
    }

    fn timeout_error(&self) -> Error {
        let secs = self.timeout.map_or(0.0, |t| t.as_secs_f64());
        Error::timeout(format!(
            "the statement did not finish within the {secs:.3}s timeout; it was interrupted"
        ))
        .with_code("SQLITE_INTERRUPT")
    }
}

type Finish = Box<dyn FnOnce() + Send>;
type Job = Box<dyn FnOnce(&mut Option<Session>) -> Finish + Send>;

struct Shared {
    session: Mutex<Option<Session>>,
    control: Arc<Control>,
    /// Jobs submitted and not yet finished; inline runs need 0 (they must not overtake).
    pending: AtomicUsize,
    closed: AtomicBool,
    /// `release_read` is due to run on the caller's event loop.
    release_scheduled: AtomicBool,
    interrupt: rusqlite::InterruptHandle,
}

struct Inner {
    tx: Sender<Job>,
    shared: Arc<Shared>,
}

/// A handle on one SQLite connection; clones share it. The connection closes when `close`
/// or `terminate` is called, or when the last handle is dropped.
#[derive(Clone)]
pub struct SqliteConnection {
    inner: Arc<Inner>,
}

/// A reply that is always called once: with the job's outcome, or with "closed" when the job
/// is dropped unrun (the connection went away first).
struct Slot<T: Send + 'static> {
    reply: Mutex<Option<Reply<T>>>,
    started: AtomicBool,
}

impl<T: Send + 'static> Slot<T> {
    fn send(&self, result: Result<T>) {
        if let Some(reply) = self.reply.lock().take() {
            reply(result);
        }
    }

    /// Claims the right to run; false when a timer already answered the caller.
    fn start(&self) -> bool {
        let guard = self.reply.lock();
        if guard.is_none() {
            return false;
        }
        self.started.store(true, Ordering::Release);
        true
    }
}

impl<T: Send + 'static> Drop for Slot<T> {
    fn drop(&mut self) {
        if let Some(reply) = self.reply.get_mut().take() {
            reply(Err(closed()));
        }
    }
}

impl SqliteConnection {
    /// Opens the database on a new thread; `reply` receives the connection.
    pub fn open(cfg: SqliteConfig, reply: Reply<SqliteConnection>) {
        let (tx, rx) = channel::<Job>();
        // Shared with the thread so that a failed spawn can still answer the caller.
        let reply = Arc::new(Mutex::new(Some(reply)));
        let answer = reply.clone();
        let spawned = std::thread::Builder::new()
            .name("ferrule-sqlite".into())
            .spawn(move || {
                let Some(reply) = answer.lock().take() else {
                    return;
                };
                let control = Arc::new(Control::new(cfg.busy_timeout));
                let session = match Session::open(&cfg, control.clone()) {
                    Ok(s) => s,
                    Err(e) => return reply(Err(e)),
                };
                let shared = Arc::new(Shared {
                    interrupt: session.interrupt_handle(),
                    session: Mutex::new(Some(session)),
                    control,
                    pending: AtomicUsize::new(0),
                    closed: AtomicBool::new(false),
                    release_scheduled: AtomicBool::new(false),
                });
                let conn = SqliteConnection {
                    inner: Arc::new(Inner {
                        tx,
                        shared: shared.clone(),
                    }),
                };
                reply(Ok(conn));
                worker(&shared, &rx);
            });
        if let Err(e) = spawned {
            if let Some(reply) = reply.lock().take() {
                reply(Err(Error::connection_failure(format!(
                    "cannot start the connection's thread: {e}"
                ))));
            }
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// Queues `f` to run on the connection's thread with the limits of `ctl`.
    fn submit<T, F>(&self, ctl: CallCtl, reply: Reply<T>, f: F)
    where
        T: Send + 'static,
        F: FnOnce(&mut Session) -> Result<T> + Send + 'static,
    {
        let shared = self.shared();
        if shared.closed.load(Ordering::Acquire) {
            return reply(Err(closed()));
        }
        let slot = Arc::new(Slot {
            reply: Mutex::new(Some(reply)),
            started: AtomicBool::new(false),
        });
        let queued_behind = shared.pending.fetch_add(1, Ordering::AcqRel);
        if let (Some(deadline), true) = (ctl.deadline, queued_behind > 0) {
            // Behind other jobs the deadline could pass before this one starts: answer the
            // caller on time and make sure the job then never runs.
            let timer_slot = slot.clone();
            let error = ctl.timeout_error();
            ferrule_core::runtime::runtime().spawn(async move {
                tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
                let mut guard = timer_slot.reply.lock();
                if !timer_slot.started.load(Ordering::Acquire) {
                    if let Some(reply) = guard.take() {
                        drop(guard);
                        reply(Err(error));
                    }
                }
            });
        }
        let control = shared.control.clone();
        let job: Job = Box::new(move |session: &mut Option<Session>| {
            let outcome = run_job(session, &control, &ctl, &slot, f);
            Box::new(move || {
                if let Some(result) = outcome {
                    slot.send(result);
                }
            })
        });
        if let Err(unsent) = self.inner.tx.send(job) {
            // The thread is gone: the job answers "closed" without a session.
            shared.pending.fetch_sub(1, Ordering::AcqRel);
            (unsent.0)(&mut None)();
        }
    }

    /// Runs one statement; `keep` says which rows to return.
    pub fn query(
        &self,
        sql: String,
        args: Vec<Value>,
        keep: Keep,
        ctl: CallCtl,
        reply: Reply<QueryResult>,
    ) {
        self.submit(ctl, reply, move |s| s.query(&sql, &args, keep));
    }

    /// Runs `sql` right here when the connection is idle and the statement is known to be
    /// short; None when it must be submitted instead.
    pub fn query_inline(
        &self,
        sql: &str,
        args: &[Value],
        keep: Keep,
    ) -> Option<Result<QueryResult>> {
        let shared = self.shared();
        if shared.pending.load(Ordering::Acquire) != 0 || shared.closed.load(Ordering::Acquire) {
            return None;
        }
        let mut guard = shared.session.try_lock()?;
        guard.as_mut()?.try_inline(sql, args, keep)
    }

    /// After an inline call: true, once per held read transaction, when the caller must
    /// arrange for `release_read` to run soon (at its event loop's next turn). Short reads
    /// keep their read transaction open for the reads that follow; see `readhold`.
    pub fn read_release_due(&self) -> bool {
        let shared = self.shared();
        shared.control.read_held.load(Ordering::Relaxed)
            && !shared.release_scheduled.load(Ordering::Relaxed)
            && !shared.release_scheduled.swap(true, Ordering::AcqRel)
    }

    /// Ends the read transaction held between short reads. When the session is busy, the job
    /// running on it has already ended it.
    pub fn release_read(&self) {
        let shared = self.shared();
        shared.release_scheduled.store(false, Ordering::Release);
        if let Some(mut guard) = shared.session.try_lock() {
            if let Some(session) = guard.as_mut() {
                session.release_read();
            }
        }
    }

    /// Runs a script of any number of statements; the reply is the last one's status. A text
    /// that is a single statement is cached (and may run inline) like a query.
    pub fn execute_script(&self, sql: String, ctl: CallCtl, reply: Reply<String>) {
        self.submit(ctl, reply, move |s| s.execute_script(&sql));
    }

    pub fn execute_many(
        &self,
        sql: String,
        rows: Vec<Vec<Value>>,
        ctl: CallCtl,
        reply: Reply<u64>,
    ) {
        self.submit(ctl, reply, move |s| s.execute_many(&sql, &rows));
    }

    pub fn prepare(&self, sql: String, ctl: CallCtl, reply: Reply<Arc<StmtMeta>>) {
        self.submit(ctl, reply, move |s| s.prepare(&sql));
    }

    pub fn cursor_open(
        &self,
        sql: String,
        args: Vec<Value>,
        prefetch: usize,
        ctl: CallCtl,
        reply: Reply<(u64, QueryResult)>,
    ) {
        self.submit(ctl, reply, move |s| s.cursor_open(&sql, &args, prefetch));
    }

    pub fn cursor_fetch(&self, id: u64, count: usize, ctl: CallCtl, reply: Reply<QueryResult>) {
        self.submit(ctl, reply, move |s| s.cursor_fetch(id, count));
    }

    /// Releases a cursor, after the calls already queued.
    pub fn cursor_close(&self, id: u64) {
        let ignore: Reply<()> = Box::new(|_| {});
        self.submit(CallCtl::default(), ignore, move |s| {
            s.cursor_close(id);
            Ok(())
        });
    }

    /// Copies the database into the file at `path` (created or overwritten).
    pub fn backup_to_path(&self, path: String, ctl: CallCtl, reply: Reply<()>) {
        self.submit(ctl, reply, move |s| s.backup_to_path(&path));
    }

    /// Copies the database into another open connection's database.
    pub fn backup_to(&self, dest: &SqliteConnection, ctl: CallCtl, reply: Reply<()>) {
        if Arc::ptr_eq(&self.inner.shared, &dest.inner.shared) {
            return reply(Err(Error::interface(
                "cannot back up a connection into itself",
            )));
        }
        let dest = dest.inner.shared.clone();
        let control = self.shared().control.clone();
        self.submit(ctl, reply, move |s| {
            // Waiting in slices keeps two crossed backups from deadlocking.
            let started = Instant::now();
            let mut guard = loop {
                if let Some(g) = dest.session.try_lock_for(Duration::from_millis(10)) {
                    break g;
                }
                if control.should_stop() || started.elapsed() > control.busy_timeout {
                    return Err(Error::new(
                        ErrorKind::Database,
                        "the destination connection stayed busy; the backup did not start",
                    )
                    .with_code("SQLITE_BUSY"));
                }
            };
            let target = guard.as_mut().ok_or_else(closed)?;
            s.backup_into(target.connection_mut())
        });
    }

    /// Closes after the jobs already queued; `reply` is called once the file is closed.
    pub fn close(&self, reply: Reply<()>) {
        let shared = self.shared();
        if shared.closed.swap(true, Ordering::AcqRel) {
            return reply(Ok(()));
        }
        shared.pending.fetch_add(1, Ordering::AcqRel);
        let job: Job = Box::new(move |session: &mut Option<Session>| {
            drop(session.take());
            Box::new(move || reply(Ok(())))
        });
        if let Err(unsent) = self.inner.tx.send(job) {
            (unsent.0)(&mut None)();
        }
    }

    /// Closes at once: the running statement is interrupted and queued jobs fail.
    pub fn terminate(&self) {
        let shared = self.shared();
        shared.control.terminate();
        shared.interrupt.interrupt();
        if !shared.closed.load(Ordering::Acquire) {
            self.close(Box::new(|_| {}));
        }
    }

    pub fn is_closed(&self) -> bool {
        self.shared().closed.load(Ordering::Acquire)
    }

    /// A transaction was open after the last statement finished.
    pub fn in_transaction(&self) -> bool {
        self.shared().control.in_transaction.load(Ordering::Relaxed)
    }
}

/// Runs one job on the session, or explains why it did not run. None: the caller was already
/// answered (its timeout passed while the job waited).
fn run_job<T, F>(
    session: &mut Option<Session>,
    control: &Control,
    ctl: &CallCtl,
    slot: &Slot<T>,
    f: F,
) -> Option<Result<T>>
where
    T: Send + 'static,
    F: FnOnce(&mut Session) -> Result<T>,
{
    if !slot.start() {
        return None;
    }
    let Some(s) = session.as_mut().filter(|_| !control.is_terminated()) else {
        return Some(Err(closed()));
    };
    s.release_read();
    if ctl
        .cancel
        .as_ref()
        .is_some_and(CancellationToken::is_cancelled)
    {
        return Some(Err(Error::new(
            ErrorKind::Cancelled,
            "the call was cancelled",
        )));
    }
    if ctl.deadline.is_some_and(|d| Instant::now() >= d) {
        return Some(Err(ctl.timeout_error()));
    }
    control.begin(ctl.deadline, ctl.cancel.clone());
    let result = f(s);
    let stop = control.end();
    s.note_state();
    Some(result.map_err(|e| {
        match stop {
            Stop::Timeout if is_interrupt(&e) => ctl.timeout_error(),
            Stop::Cancelled if is_interrupt(&e) => Error::new(
                ErrorKind::Cancelled,
                "the call was cancelled; the statement was interrupted",
            )
            .with_code("SQLITE_INTERRUPT"),
            Stop::Closing => Error::closed("the connection was terminated while the statement ran"),
            _ => e,
        }
    }))
}

fn is_interrupt(e: &Error) -> bool {
    e.code.as_deref() == Some("SQLITE_INTERRUPT")
}

/// The connection's thread: runs jobs in order until the session is closed or every handle
/// is gone, then answers whatever is still queued with "closed".
fn worker(shared: &Shared, rx: &Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        let (finish, open) = {
            let mut guard = shared.session.lock();
            let finish = job(&mut guard);
            (finish, guard.is_some())
        };
        shared.pending.fetch_sub(1, Ordering::AcqRel);
        finish();
        if !open {
            break;
        }
    }
    shared.closed.store(true, Ordering::Release);
    drop(shared.session.lock().take());
    while let Ok(job) = rx.try_recv() {
        let finish = job(&mut None);
        finish();
    }
}
