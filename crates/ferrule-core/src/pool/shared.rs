//! The state every pool handle, guard and background task shares, and the moves that hand a
//! connection to the next waiter, put it back in the idle list, or close it.
//!
//! Rule kept throughout: the mutex is never held across an await, and no `Pooled` is ever
//! dropped while it is held (a `Pooled` drop takes the mutex).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::config::PoolConfig;
use super::manager::Manager;
use super::pooled::Pooled;
use super::state::{Retire, Slot, State};

pub(super) struct Shared<M: Manager> {
    pub manager: M,
    pub config: PoolConfig,
    pub state: Mutex<State<M>>,
    /// Wakes `close` when, after the pool was closed, a connection left or a close finished.
    pub changed: Notify,
    /// Where release work, opens and closes run: the runtime current when the pool was made.
    pub handle: Handle,
    pub tickets: AtomicU64,
}

impl<M: Manager> Shared<M> {
    /// A released or fresh connection (already in `out`) goes back into service: to a waiter,
    /// or to the idle list. Closed pools and expired generations close it instead.
    pub fn give_back(self: &Arc<Self>, st: &mut State<M>, slot: Slot<M::Conn>) {
        if st.closed {
            self.retire(st, slot.meta.id, slot.conn, Retire::Closing);
        } else if slot.meta.generation != st.generation {
            self.retire(st, slot.meta.id, slot.conn, Retire::Expired);
        } else {
            self.hand_over(st, slot);
        }
    }

    /// Gives the connection to the first waiter still waiting, else makes it idle.
    ///
    /// A waiter that has gone away but whose receiver still exists gets the connection inside
    /// its channel; its `acquire` guard drops it from there, which brings it back here.
    fn hand_over(self: &Arc<Self>, st: &mut State<M>, mut slot: Slot<M::Conn>) {
        while let Some(waiter) = st.waiters.pop_front() {
            if waiter.tx.is_closed() {
                continue;
            }
            let pooled = Pooled::new(self.clone(), slot);
            match waiter.tx.send(Ok(pooled)) {
                Ok(()) => return,
                Err(Ok(mut returned)) => match returned.take_slot() {
                    Some(back) => slot = back,
                    None => return,
                },
                Err(Err(_)) => return,
            }
        }
        st.out.remove(&slot.meta.id);
        st.idle.push_back(slot);
    }

    /// Takes a connection out of service and closes it in the background; opens a replacement
    /// when waiters or `min_size` need one. A connection no longer in `out` was already closed
    /// by `terminate` or a timed-out `close`: it is left alone.
    pub fn retire(self: &Arc<Self>, st: &mut State<M>, id: u64, conn: Arc<M::Conn>, why: Retire) {
        if st.out.remove(&id).is_none() {
            return;
        }
        self.close_retired(st, conn, why);
    }

    /// Like `retire`, for a connection already taken off the idle list.
    pub fn close_retired(self: &Arc<Self>, st: &mut State<M>, conn: Arc<M::Conn>, why: Retire) {
        if why == Retire::Broken {
            st.counters.closed_broken += 1;
        }
        self.spawn_close(st, conn, self.config.close_timeout);
        if !st.closed {
            self.replenish(st);
        }
        self.wake_closer(st);
    }

    pub fn spawn_close(self: &Arc<Self>, st: &mut State<M>, conn: Arc<M::Conn>, timeout: Duration) {
        st.closing += 1;
        let shared = self.clone();
        self.handle.spawn(async move {
            shared.manager.close(&conn, timeout).await;
            let mut st = shared.state.lock();
            st.closing -= 1;
            shared.wake_closer(&st);
            drop(st);
            drop(conn);
        });
    }

    /// `close` waits for connections to come back and closes to finish; only then is there
    /// anyone to wake.
    pub fn wake_closer(&self, st: &State<M>) {
        if st.closed {
            self.changed.notify_waiters();
        }
    }

    /// Builds a slot for a connection that just opened and registers it in `out`.
    pub fn adopt(self: &Arc<Self>, st: &mut State<M>, conn: M::Conn) {
        st.counters.connects += 1;
        st.connect_failing = false;
        let conn = Arc::new(conn);
        if st.closed {
            self.spawn_close(st, conn, self.config.close_timeout);
            return;
        }
        let meta = st.new_meta(&self.config);
        st.out.insert(meta.id, conn.clone());
        self.hand_over(st, Slot { conn, meta });
    }

    /// Waits until `done` holds for the state, or `deadline` passes; returns whether it held.
    pub async fn wait_until(
        &self,
        deadline: Option<Instant>,
        done: impl Fn(&State<M>) -> bool,
    ) -> bool {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(&self.state.lock()) {
                return true;
            }
            match deadline {
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        return done(&self.state.lock());
                    }
                }
                None => notified.await,
            }
        }
    }
}
