//! Opening connections: on demand for waiters, at `start`, and in the background with
//! exponential backoff to keep `min_size`.
//!
//! Every open runs in a spawned task, so a waiter that gives up never abandons a connection
//! half opened: the connection, once open, goes to the first waiter or to the idle list.

use std::sync::Arc;

use super::manager::Manager;
use super::shared::Shared;
use super::state::State;
use crate::Error;

/// One `opening` reservation. Given back by hand after the connect; given back by `Drop` if
/// the connect panics or its task is dropped (runtime shutdown), so that the pool never
/// counts a connection that will not come.
struct Reservation<'a, M: Manager> {
    shared: &'a Arc<Shared<M>>,
    causer: Option<u64>,
}

impl<M: Manager> Reservation<'_, M> {
    /// Ends the reservation under the lock the caller holds.
    fn settle(self, st: &mut State<M>) {
        st.opening -= 1;
        if let Some(ticket) = self.causer {
            st.waiters.release_opener(ticket);
        }
        std::mem::forget(self);
    }
}

impl<M: Manager> Drop for Reservation<'_, M> {
    fn drop(&mut self) {
        let mut st = self.shared.state.lock();
        st.opening -= 1;
        if let Some(ticket) = self.causer {
            st.waiters.release_opener(ticket);
        }
        self.shared.wake_closer(&st);
    }
}

impl<M: Manager> Shared<M> {
    /// Opens connections for waiters that have none being opened for them, up to `max_size`.
    pub fn spawn_waiter_openers(self: &Arc<Self>, st: &mut State<M>) {
        while !st.closed && st.waiters.len() > st.opening && st.reserved() < self.config.max_size {
            let Some(ticket) = st.waiters.claim_opener() else {
                break;
            };
            st.opening += 1;
            let shared = self.clone();
            self.handle.spawn(async move {
                let _ = shared.open_one(Some(ticket)).await;
            });
        }
    }

    /// After a connection left or an open failed: serve the waiters, and keep `min_size`
    /// through the background task (which waits first if the server is failing).
    pub fn replenish(self: &Arc<Self>, st: &mut State<M>) {
        self.spawn_waiter_openers(st);
        if !st.closed && !st.refilling && st.reserved() < self.config.min_size {
            st.refilling = true;
            let delay_first = st.connect_failing;
            let shared = self.clone();
            self.handle.spawn(shared.refill(delay_first));
        }
    }

    /// Opens one connection whose slot (`opening`) the caller has reserved. A failure goes to
    /// the waiter `causer` if it is still waiting: had another connection reached it first, it
    /// would no longer be in the queue.
    pub async fn open_one(self: Arc<Self>, causer: Option<u64>) -> Result<(), Error> {
        let reservation = Reservation {
            shared: &self,
            causer,
        };
        let opened = self.manager.connect().await;
        let mut st = self.state.lock();
        reservation.settle(&mut st);
        let result = match opened {
            Ok(conn) => {
                self.adopt(&mut st, conn);
                Ok(())
            }
            Err(e) => {
                st.counters.connect_errors += 1;
                st.connect_failing = true;
                if let Some(waiter) = causer.and_then(|ticket| st.waiters.remove(ticket)) {
                    let _ = waiter.tx.send(Err(e.clone()));
                }
                self.replenish(&mut st);
                Err(e)
            }
        };
        self.wake_closer(&st);
        result
    }

    /// Keeps `min_size` open: one connect at a time, waiting `backoff_initial` after a
    /// failure, doubling up to `backoff_max`, back to the start after a success. Ends when the
    /// pool is full enough or closed.
    async fn refill(self: Arc<Self>, delay_first: bool) {
        let mut delay = self.config.backoff_initial;
        if delay_first {
            tokio::time::sleep(delay).await;
            delay = self.config.next_backoff(delay);
        }
        loop {
            {
                let mut st = self.state.lock();
                if st.closed || st.reserved() >= self.config.min_size {
                    st.refilling = false;
                    return;
                }
                st.opening += 1;
            }
            let reservation = Reservation {
                shared: &self,
                causer: None,
            };
            let opened = self.manager.connect().await;
            let failed = {
                let mut st = self.state.lock();
                reservation.settle(&mut st);
                let failed = match opened {
                    Ok(conn) => {
                        self.adopt(&mut st, conn);
                        false
                    }
                    Err(_) => {
                        st.counters.connect_errors += 1;
                        st.connect_failing = true;
                        self.spawn_waiter_openers(&mut st);
                        true
                    }
                };
                self.wake_closer(&st);
                failed
            };
            if failed {
                tokio::time::sleep(delay).await;
                delay = self.config.next_backoff(delay);
            } else {
                delay = self.config.backoff_initial;
            }
        }
    }

    /// Opens what `min_size` still lacks, all at once, and reports the first failure; the
    /// background task then keeps trying with backoff.
    pub async fn start(self: &Arc<Self>) -> Result<(), Error> {
        let missing = {
            let mut st = self.state.lock();
            if st.closed {
                return Err(super::acquire::closed_error());
            }
            let missing = self.config.min_size.saturating_sub(st.reserved());
            st.opening += missing;
            missing
        };
        let opens: Vec<_> = (0..missing)
            .map(|_| self.handle.spawn(self.clone().open_one(None)))
            .collect();
        let mut first_error = None;
        for open in opens {
            let outcome = match open.await {
                Ok(outcome) => outcome,
                Err(e) => Err(Error::connection_lost(format!(
                    "opening a connection failed: {e}"
                ))),
            };
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
