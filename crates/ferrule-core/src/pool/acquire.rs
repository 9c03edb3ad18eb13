//! `acquire`: take an idle connection or wait in line for one, then vet it before hand-out.
//!
//! Cancellation: a connection taken by this future is always inside a `Pooled` guard, whose
//! drop returns it; a waiter that stops waiting removes itself from the queue and returns a
//! connection that was handed to it in the meantime.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::manager::Manager;
use super::pooled::Pooled;
use super::shared::Shared;
use super::state::Retire;
use super::waiters::Delivery;
use crate::{Error, ErrorKind};

/// Removes a waiter that stops waiting (timeout, or its future dropped) from the queue, and
/// returns a connection that reached it before it could look.
struct WaitGuard<'a, M: Manager> {
    shared: &'a Arc<Shared<M>>,
    ticket: u64,
    rx: oneshot::Receiver<Delivery<M>>,
    settled: bool,
}

impl<M: Manager> Drop for WaitGuard<'_, M> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        self.shared.state.lock().waiters.remove(self.ticket);
        self.rx.close();
        if let Ok(Ok(pooled)) = self.rx.try_recv() {
            // Not under the lock: this drop hands the connection to the next waiter.
            drop(pooled);
        }
    }
}

enum Vetted<M: Manager> {
    Ready(Pooled<M>),
    Rejected,
    TimedOut,
}

/// A caller's place in the pool's line and the moment it asked, taken when the caller asks
/// (`Pool::place`), which may be before its acquire first runs: a job spawned on a
/// multi-threaded runtime may start after jobs spawned later, and must not lose its turn or
/// see its timeout start late.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    ticket: u64,
    asked: Instant,
}

impl Place {
    /// When the caller asked: where its timeout starts.
    pub fn asked(&self) -> Instant {
        self.asked
    }
}

impl<M: Manager> Shared<M> {
    pub fn place(&self) -> Place {
        Place {
            ticket: self.tickets.fetch_add(1, Ordering::Relaxed),
            asked: Instant::now(),
        }
    }

    pub async fn acquire(
        self: &Arc<Self>,
        place: Place,
        timeout: Option<Duration>,
    ) -> Result<Pooled<M>, Error> {
        let Place {
            ticket,
            asked: started,
        } = place;
        let limit = timeout.or(self.config.acquire_timeout);
        let deadline = limit.map(|limit| started + limit);
        loop {
            let candidate = match self.take_or_wait(ticket, deadline).await {
                Ok(Some(pooled)) => pooled,
                Ok(None) => return Err(self.timeout_error(limit.unwrap_or_default())),
                Err(e) => return Err(e),
            };
            match self.vet(candidate, deadline).await {
                Vetted::Ready(mut pooled) => {
                    pooled.handed = true;
                    let mut st = self.state.lock();
                    st.counters.acquisitions += 1;
                    st.counters.total_wait += started.elapsed();
                    drop(st);
                    return Ok(pooled);
                }
                Vetted::Rejected => continue,
                Vetted::TimedOut => return Err(self.timeout_error(limit.unwrap_or_default())),
            }
        }
    }

    /// An idle connection if there is one (then nobody waits, see `hand_over`), else a place
    /// in line. `Ok(None)` is a timeout.
    async fn take_or_wait(
        self: &Arc<Self>,
        ticket: u64,
        deadline: Option<Instant>,
    ) -> Result<Option<Pooled<M>>, Error> {
        let rx = {
            let mut st = self.state.lock();
            if st.closed {
                return Err(closed_error());
            }
            if let Some(slot) = st.idle.pop_back() {
                st.out.insert(slot.meta.id, slot.conn.clone());
                return Ok(Some(Pooled::new(self.clone(), slot)));
            }
            let (tx, rx) = oneshot::channel();
            st.waiters.push(ticket, tx);
            self.spawn_waiter_openers(&mut st);
            rx
        };
        let mut guard = WaitGuard {
            shared: self,
            ticket,
            rx,
            settled: false,
        };
        let received = match deadline {
            Some(deadline) => tokio::select! {
                biased;
                received = &mut guard.rx => received,
                () = tokio::time::sleep_until(deadline) => return Ok(None),
            },
            None => (&mut guard.rx).await,
        };
        guard.settled = true;
        match received {
            Ok(Ok(pooled)) => Ok(Some(pooled)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(closed_error()),
        }
    }

    /// Refuses a broken or worn-out connection and health-checks one idle for too long.
    async fn vet(&self, mut pooled: Pooled<M>, deadline: Option<Instant>) -> Vetted<M> {
        let conn = pooled.conn().clone();
        let now = Instant::now();
        let Some((last_good, worn_out)) = pooled
            .meta()
            .map(|m| (m.last_good, m.worn_out(&self.config, now)))
        else {
            return Vetted::Rejected;
        };
        if self.manager.is_broken(&conn) {
            pooled.reject(Retire::Broken);
            return Vetted::Rejected;
        }
        if worn_out {
            pooled.reject(Retire::Worn);
            return Vetted::Rejected;
        }
        if now.duration_since(last_good) < self.config.check_after_idle {
            return Vetted::Ready(pooled);
        }
        let check = self.manager.check(&conn, self.config.recycle);
        let outcome = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, check).await {
                Ok(outcome) => outcome,
                // The guard goes back to the pool, which sees whether the check broke it.
                Err(_) => return Vetted::TimedOut,
            },
            None => check.await,
        };
        if outcome.is_err() || self.manager.is_broken(&conn) {
            pooled.reject(Retire::Broken);
            return Vetted::Rejected;
        }
        pooled.mark_good();
        Vetted::Ready(pooled)
    }

    fn timeout_error(&self, waited: Duration) -> Error {
        let mut st = self.state.lock();
        st.counters.timeouts += 1;
        let s = st.stats();
        drop(st);
        Error::new(
            ErrorKind::PoolTimeout,
            format!(
                "timed out after {:.3}s waiting for a connection from the pool \
                 (size {} of max {}: {} in use, {} idle, {} opening, {} waiting)",
                waited.as_secs_f64(),
                s.size,
                self.config.max_size,
                s.in_use,
                s.idle,
                s.opening,
                s.waiting
            ),
        )
    }
}

pub(super) fn closed_error() -> Error {
    Error::closed("the pool is closed")
}

impl<M: Manager> Pooled<M> {
    /// Closes a connection that failed vetting; the caller goes back in line.
    fn reject(mut self, why: Retire) {
        let shared = self.shared().clone();
        if let Some(slot) = self.take_slot() {
            let mut st = shared.state.lock();
            shared.retire(&mut st, slot.meta.id, slot.conn, why);
        }
    }
}
