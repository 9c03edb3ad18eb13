//! A scripted backend that counts every connection it opens and closes, and notices when two
//! users hold one connection at once, or a connection is dropped without being closed.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::super::{Manager, Recycle};
use crate::Error;

#[derive(Default)]
pub struct Counts {
    pub live: AtomicUsize,
    pub opened: AtomicUsize,
    pub closed: AtomicUsize,
    pub double_closed: AtomicUsize,
    /// Connections dropped without `close`.
    pub leaked: AtomicUsize,
    pub checks: AtomicUsize,
    pub resets: AtomicUsize,
    /// `on_release` calls.
    pub releases: AtomicUsize,
    /// Times a connection was entered while someone else was inside it.
    pub overlaps: AtomicUsize,
}

/// The state of one connection, kept by the mock too so that tests can break it.
#[derive(Default)]
pub struct Flags {
    pub id: u64,
    pub broken: AtomicBool,
    pub dirty: AtomicBool,
    pub closed: AtomicBool,
    busy: AtomicBool,
}

/// Marks a connection as used by one party; a second party entering at once is an overlap.
pub struct Busy<'a> {
    flags: &'a Flags,
}

impl<'a> Busy<'a> {
    pub fn enter(flags: &'a Flags, counts: &Counts) -> Self {
        if flags.busy.swap(true, Ordering::AcqRel) {
            counts.overlaps.fetch_add(1, Ordering::Relaxed);
        }
        Busy { flags }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.flags.busy.store(false, Ordering::Release);
    }
}

pub struct MockConn {
    pub flags: Arc<Flags>,
    pub counts: Arc<Counts>,
}

impl MockConn {
    pub fn id(&self) -> u64 {
        self.flags.id
    }

    pub fn break_it(&self) {
        self.flags.broken.store(true, Ordering::Relaxed);
    }

    pub fn make_dirty(&self) {
        self.flags.dirty.store(true, Ordering::Relaxed);
    }

    pub fn enter(&self) -> Busy<'_> {
        Busy::enter(&self.flags, &self.counts)
    }
}

impl Drop for MockConn {
    fn drop(&mut self) {
        if !self.flags.closed.load(Ordering::Acquire) {
            self.counts.leaked.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What the mock does next; tests change it while the pool runs.
#[derive(Default)]
pub struct Script {
    pub connect_delay: Duration,
    /// Per-connect delays taken in order before `connect_delay` applies.
    pub connect_delays: Vec<Duration>,
    pub fail_next_connects: usize,
    pub refuse_connects: bool,
    pub check_delay: Duration,
    pub fail_next_checks: usize,
    pub reset_delay: Duration,
    pub fail_resets: bool,
    /// Every delay above is replaced by a random one up to this bound.
    pub random_delays: Option<Duration>,
    pub connect_times: Vec<Instant>,
    pub close_times: Vec<Instant>,
}

#[derive(Default)]
pub struct MockManager {
    pub counts: Arc<Counts>,
    pub script: Mutex<Script>,
    pub conns: Mutex<Vec<Arc<Flags>>>,
    next_id: AtomicU64,
}

impl MockManager {
    pub fn flags(&self, id: u64) -> Arc<Flags> {
        self.conns
            .lock()
            .iter()
            .find(|f| f.id == id)
            .cloned()
            .expect("no such connection")
    }

    pub fn live(&self) -> usize {
        self.counts.live.load(Ordering::SeqCst)
    }

    pub fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    fn delay(&self, script: &Script, fixed: Duration) -> Duration {
        match script.random_delays {
            Some(max) => max.mul_f64(super::random_unit()),
            None => fixed,
        }
    }
}

impl Manager for MockManager {
    type Conn = MockConn;

    fn connect(&self) -> impl Future<Output = Result<MockConn, Error>> + Send {
        let (delay, fail) = {
            let mut script = self.script.lock();
            script.connect_times.push(Instant::now());
            let fixed = if script.connect_delays.is_empty() {
                script.connect_delay
            } else {
                script.connect_delays.remove(0)
            };
            let delay = self.delay(&script, fixed);
            let fail = script.refuse_connects || script.fail_next_connects > 0;
            script.fail_next_connects = script.fail_next_connects.saturating_sub(1);
            (delay, fail)
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let counts = self.counts.clone();
        async move {
            tokio::time::sleep(delay).await;
            if fail {
                return Err(Error::connection_lost("mock: connection refused"));
            }
            let flags = Arc::new(Flags {
                id,
                ..Flags::default()
            });
            self.conns.lock().push(flags.clone());
            counts.live.fetch_add(1, Ordering::SeqCst);
            counts.opened.fetch_add(1, Ordering::SeqCst);
            Ok(MockConn { flags, counts })
        }
    }

    fn is_broken(&self, conn: &MockConn) -> bool {
        conn.flags.broken.load(Ordering::Relaxed) || conn.flags.closed.load(Ordering::Relaxed)
    }

    fn check(
        &self,
        conn: &MockConn,
        _mode: Recycle,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let (delay, fail) = {
            let mut script = self.script.lock();
            let fail = script.fail_next_checks > 0;
            script.fail_next_checks = script.fail_next_checks.saturating_sub(1);
            (self.delay(&script, script.check_delay), fail)
        };
        async move {
            let _busy = conn.enter();
            tokio::time::sleep(delay).await;
            conn.counts.checks.fetch_add(1, Ordering::SeqCst);
            if fail {
                return Err(Error::connection_lost("mock: check failed"));
            }
            Ok(())
        }
    }

    fn on_release(&self, conn: &MockConn) {
        conn.counts.releases.fetch_add(1, Ordering::SeqCst);
    }

    fn needs_reset(&self, conn: &MockConn) -> bool {
        conn.flags.dirty.load(Ordering::Relaxed)
    }

    fn reset(&self, conn: &MockConn) -> impl Future<Output = Result<(), Error>> + Send {
        let (delay, fail) = {
            let script = self.script.lock();
            (self.delay(&script, script.reset_delay), script.fail_resets)
        };
        async move {
            let _busy = conn.enter();
            tokio::time::sleep(delay).await;
            conn.counts.resets.fetch_add(1, Ordering::SeqCst);
            if fail {
                return Err(Error::connection_lost("mock: reset failed"));
            }
            conn.flags.dirty.store(false, Ordering::Relaxed);
            Ok(())
        }
    }

    async fn close(&self, conn: &MockConn, _timeout: Duration) {
        if conn.flags.closed.swap(true, Ordering::SeqCst) {
            conn.counts.double_closed.fetch_add(1, Ordering::SeqCst);
            return;
        }
        self.script.lock().close_times.push(Instant::now());
        conn.counts.closed.fetch_add(1, Ordering::SeqCst);
        conn.counts.live.fetch_sub(1, Ordering::SeqCst);
    }
}
