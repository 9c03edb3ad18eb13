//! `Pooled`: a connection on loan from the pool, and what happens when it comes back.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::manager::Manager;
use super::shared::Shared;
use super::state::{Meta, Retire, Slot};

/// A connection acquired from a pool. It goes back when released (`release().await`) or
/// dropped; `Drop` never blocks: work that needs IO (a session reset, a close) runs in a task
/// spawned on the pool's runtime.
pub struct Pooled<M: Manager> {
    shared: Arc<Shared<M>>,
    conn: Arc<M::Conn>,
    /// `None` once the connection went back to the pool.
    meta: Option<Meta>,
    /// Queries counted during this loan; `&self` so concurrent users of the guard can count.
    queries: AtomicU64,
    /// The caller got the connection; until then (a drop during the health check) its
    /// `last_good` time is kept so that the next taker checks it again.
    pub(super) handed: bool,
}

impl<M: Manager> Pooled<M> {
    pub(super) fn new(shared: Arc<Shared<M>>, slot: Slot<M::Conn>) -> Self {
        Pooled {
            shared,
            conn: slot.conn,
            meta: Some(slot.meta),
            queries: AtomicU64::new(0),
            handed: false,
        }
    }

    /// The connection as a shared handle, for work that must outlive a borrow of the guard.
    /// Using it after the guard is released is a bug of the caller's: the pool may have lent
    /// the connection to someone else.
    pub fn conn(&self) -> &Arc<M::Conn> {
        &self.conn
    }

    /// The pool's id of this connection, unique within the pool. (Methods of the guard are
    /// named so as not to hide the connection's own; `conn()` reaches those in any case.)
    pub fn pool_id(&self) -> u64 {
        self.meta.as_ref().map_or(0, |m| m.id)
    }

    /// Counts one query towards `max_queries`.
    pub fn count_query(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `n` queries towards `max_queries` (`executemany`, pipelines).
    pub fn count_queries(&self, n: u64) {
        self.queries.fetch_add(n, Ordering::Relaxed);
    }

    /// Queries run on this connection over its whole life, this loan included.
    pub fn query_count(&self) -> u64 {
        let before = self.meta.as_ref().map_or(0, |m| m.queries);
        before + self.queries.load(Ordering::Relaxed)
    }

    /// Time since the connection was opened.
    pub fn age(&self) -> Duration {
        self.meta
            .as_ref()
            .map_or(Duration::ZERO, |m| m.created.elapsed())
    }

    /// Gives the connection back and waits until the pool has it again: after a needed
    /// session reset, or once it is being closed. Dropping this future does not stop the
    /// release, which runs in its own task.
    pub async fn release(mut self) {
        if let Some(work) = self.give_back(false) {
            let _ = work.await;
        }
    }

    /// Closes the connection instead of giving it back, e.g. after the caller found it in an
    /// unknown state; a replacement is opened if the pool needs one.
    pub fn discard(mut self) {
        drop(self.give_back(true));
    }

    pub(super) fn shared(&self) -> &Arc<Shared<M>> {
        &self.shared
    }

    pub(super) fn meta(&self) -> Option<&Meta> {
        self.meta.as_ref()
    }

    /// The connection just passed a health check.
    pub(super) fn mark_good(&mut self) {
        if let Some(meta) = self.meta.as_mut() {
            meta.last_good = Instant::now();
        }
    }

    pub(super) fn take_slot(&mut self) -> Option<Slot<M::Conn>> {
        let mut meta = self.meta.take()?;
        meta.queries += self.queries.swap(0, Ordering::Relaxed);
        Some(Slot {
            conn: self.conn.clone(),
            meta,
        })
    }

    /// Returns the connection to the pool, synchronously when nothing needs IO; otherwise
    /// spawns the work and returns its handle.
    fn give_back(&mut self, discard: bool) -> Option<JoinHandle<()>> {
        let mut slot = self.take_slot()?;
        let shared = &self.shared;
        let now = Instant::now();
        if self.handed {
            slot.meta.last_good = now;
        }
        let why = if discard || shared.manager.is_broken(&slot.conn) {
            Some(Retire::Broken)
        } else if slot.meta.worn_out(&shared.config, now) {
            Some(Retire::Worn)
        } else {
            None
        };
        if let Some(why) = why {
            let mut st = shared.state.lock();
            shared.retire(&mut st, slot.meta.id, slot.conn, why);
            return None;
        }
        shared.manager.on_release(&slot.conn);
        if shared.manager.needs_reset(&slot.conn) {
            let mut st = shared.state.lock();
            if st.closed {
                // Resetting a connection about to be closed is wasted time for `close`.
                shared.retire(&mut st, slot.meta.id, slot.conn, Retire::Closing);
                return None;
            }
            drop(st);
            let shared = shared.clone();
            return Some(self.shared.handle.spawn(reset_and_give_back(shared, slot)));
        }
        let mut st = shared.state.lock();
        if st.out.contains_key(&slot.meta.id) {
            shared.give_back(&mut st, slot);
        }
        None
    }
}

/// The reset runs in its own task so that neither a dropped `release` future nor a dropped
/// guard can leave the connection half reset; nobody gets the connection before it is done.
async fn reset_and_give_back<M: Manager>(shared: Arc<Shared<M>>, mut slot: Slot<M::Conn>) {
    let reset = shared.manager.reset(&slot.conn);
    let outcome = tokio::time::timeout(shared.config.reset_timeout, reset).await;
    let clean = matches!(outcome, Ok(Ok(()))) && !shared.manager.is_broken(&slot.conn);
    let mut st = shared.state.lock();
    st.counters.resets += 1;
    if !st.out.contains_key(&slot.meta.id) {
        return;
    }
    if clean {
        slot.meta.last_good = Instant::now();
        shared.give_back(&mut st, slot);
    } else {
        shared.retire(&mut st, slot.meta.id, slot.conn, Retire::Broken);
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Conn;

    fn deref(&self) -> &M::Conn {
        &self.conn
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        // The spawned work, if any, finishes on its own; nothing here waits for it.
        drop(self.give_back(false));
    }
}

impl<M: Manager> fmt::Debug for Pooled<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("pool_id", &self.pool_id())
            .field("queries", &self.query_count())
            .field("released", &self.meta.is_none())
            .finish()
    }
}
