//! How a running statement is told to stop, and the busy wait that honours it.
//!
//! SQLite calls the progress handler every few hundred virtual-machine instructions and the
//! busy handler while a lock is held elsewhere. Both read this connection's `Control`: the
//! running job's deadline and cancel token, and the stop reason set by `terminate`. A stopped
//! statement ends with SQLITE_INTERRUPT, exactly as `sqlite3_interrupt` would end it, but the
//! stop can never hit the next job by mistake: each job installs its own deadline and token.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

/// Why the running statement was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Stop {
    None = 0,
    /// The call's timeout expired.
    Timeout = 1,
    /// The caller's task was cancelled.
    Cancelled = 2,
    /// A statement run inline on the caller's thread used up its budget; it is run again on
    /// the connection's thread.
    InlineBudget = 3,
    /// The connection is being terminated.
    Closing = 4,
}

impl Stop {
    fn from_u8(v: u8) -> Stop {
        match v {
            1 => Stop::Timeout,
            2 => Stop::Cancelled,
            3 => Stop::InlineBudget,
            4 => Stop::Closing,
            _ => Stop::None,
        }
    }
}

/// Instructions between two calls of the progress handler: about 10-50 us of work.
pub(crate) const PROGRESS_OPS: i32 = 1000;

fn now_nanos() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    // Never 0, which means "no deadline".
    (base.elapsed().as_nanos() as u64).max(1)
}

pub(crate) struct Control {
    stop: AtomicU8,
    /// Deadline of the running statement in `now_nanos` units, 0 for none.
    deadline: AtomicU64,
    /// What the deadline means when it passes (Timeout or InlineBudget).
    deadline_reason: AtomicU8,
    cancel: Mutex<Option<CancellationToken>>,
    /// The running statement is inline on the caller's thread: never wait for a lock there.
    pub inline: AtomicBool,
    /// The connection is inside a transaction (not in autocommit mode) after the last job.
    pub in_transaction: AtomicBool,
    /// A read transaction is held between short reads (`readhold`) and must end soon.
    pub read_held: AtomicBool,
    /// Set once by terminate: every later statement stops at once.
    terminated: AtomicBool,
    pub busy_timeout: Duration,
}

impl Control {
    pub fn new(busy_timeout: Duration) -> Control {
        Control {
            stop: AtomicU8::new(0),
            deadline: AtomicU64::new(0),
            deadline_reason: AtomicU8::new(Stop::Timeout as u8),
            cancel: Mutex::new(None),
            inline: AtomicBool::new(false),
            in_transaction: AtomicBool::new(false),
            read_held: AtomicBool::new(false),
            terminated: AtomicBool::new(false),
            busy_timeout,
        }
    }

    /// Installs the limits of the job about to run.
    pub fn begin(&self, timeout: Option<Instant>, cancel: Option<CancellationToken>) {
        self.stop.store(Stop::None as u8, Ordering::Relaxed);
        let deadline = timeout.map_or(0, |t| {
            let left = t.saturating_duration_since(Instant::now());
            now_nanos() + left.as_nanos() as u64
        });
        self.deadline_reason
            .store(Stop::Timeout as u8, Ordering::Relaxed);
        self.deadline.store(deadline, Ordering::Relaxed);
        *self.cancel.lock() = cancel;
    }

    /// Installs the budget of an inline run.
    pub fn begin_inline(&self, budget: Option<Duration>) {
        self.stop.store(Stop::None as u8, Ordering::Relaxed);
        let deadline = budget.map_or(0, |b| now_nanos() + b.as_nanos() as u64);
        self.deadline_reason
            .store(Stop::InlineBudget as u8, Ordering::Relaxed);
        self.deadline.store(deadline, Ordering::Relaxed);
        self.inline.store(true, Ordering::Relaxed);
    }

    /// Clears the job's limits; returns why it was stopped, if it was.
    pub fn end(&self) -> Stop {
        self.deadline.store(0, Ordering::Relaxed);
        self.inline.store(false, Ordering::Relaxed);
        *self.cancel.lock() = None;
        Stop::from_u8(self.stop.swap(Stop::None as u8, Ordering::Relaxed))
    }

    /// Stops the running statement and every later one (terminate).
    pub fn terminate(&self) {
        self.terminated.store(true, Ordering::Release);
        self.stop.store(Stop::Closing as u8, Ordering::Release);
    }

    pub fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::Acquire)
    }

    /// The progress handler: true when the running statement must stop.
    pub fn should_stop(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) != Stop::None as u8 {
            return true;
        }
        if self.terminated.load(Ordering::Relaxed) {
            self.stop.store(Stop::Closing as u8, Ordering::Relaxed);
            return true;
        }
        let deadline = self.deadline.load(Ordering::Relaxed);
        if deadline != 0 && now_nanos() >= deadline {
            let reason = self.deadline_reason.load(Ordering::Relaxed);
            self.stop.store(reason, Ordering::Relaxed);
            return true;
        }
        let cancelled = self
            .cancel
            .lock()
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled);
        if cancelled {
            self.stop.store(Stop::Cancelled as u8, Ordering::Relaxed);
        }
        cancelled
    }

    /// The busy handler: waits in short sleeps while the lock is held elsewhere, up to the
    /// busy timeout, and gives up at once when the statement must stop or runs inline.
    pub fn busy_wait(&self, attempt: i32, started: &mut Option<Instant>) -> bool {
        if self.inline.load(Ordering::Relaxed) || self.should_stop() {
            return false;
        }
        if attempt == 0 || started.is_none() {
            *started = Some(Instant::now());
        }
        let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
        if elapsed >= self.busy_timeout {
            return false;
        }
        // Short sleeps first (most locks are released within a millisecond), then 10 ms, so
        // that a stop is noticed within 10 ms.
        let step = match attempt {
            0..=3 => Duration::from_millis(1),
            4..=7 => Duration::from_millis(2),
            8..=11 => Duration::from_millis(5),
            _ => Duration::from_millis(10),
        };
        std::thread::sleep(step.min(self.busy_timeout - elapsed));
        true
    }
}
