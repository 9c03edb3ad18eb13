//! Ending a pool (`close`, `terminate`) and replacing all its connections
//! (`expire_connections`).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::acquire::closed_error;
use super::manager::Manager;
use super::shared::Shared;
use super::state::{Retire, State};

impl<M: Manager> Shared<M> {
    /// Stops hand-outs for good: waiters get `ErrorKind::Closed`, idle connections close.
    fn shut(self: &Arc<Self>, st: &mut State<M>, close_timeout: Duration) {
        st.closed = true;
        for waiter in st.waiters.drain() {
            let _ = waiter.tx.send(Err(closed_error()));
        }
        for slot in std::mem::take(&mut st.idle) {
            self.spawn_close(st, slot.conn, close_timeout);
        }
        self.wake_closer(st);
    }

    /// Closes the connections that are out, in use or not; their guards find them gone.
    fn close_out(self: &Arc<Self>, st: &mut State<M>, close_timeout: Duration) {
        let out: Vec<_> = st.out.drain().map(|(_, conn)| conn).collect();
        for conn in out {
            self.spawn_close(st, conn, close_timeout);
        }
        self.wake_closer(st);
    }

    /// Waits up to `timeout` for connections in use to come back (each is closed as it does),
    /// then closes the rest anyway, and waits for the closes to finish. Dropping this future
    /// leaves the pool closed; the closes go on in their tasks.
    pub async fn close(self: &Arc<Self>, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        self.shut(&mut self.state.lock(), self.config.close_timeout);
        let drained = self.wait_until(Some(deadline), |st| st.out.is_empty() && st.opening == 0);
        if !drained.await {
            // The caller's time is up: no graceful close for connections still in use.
            self.close_out(&mut self.state.lock(), Duration::ZERO);
        }
        // Each close is bounded by `close_timeout`; the margin covers scheduling only.
        let closes_done = Instant::now() + self.config.close_timeout + Duration::from_millis(100);
        self.wait_until(Some(closes_done), |st| st.closing == 0)
            .await;
    }

    /// Closes every connection now, in use or not, without waiting for the server.
    pub fn terminate(self: &Arc<Self>) {
        let mut st = self.state.lock();
        self.shut(&mut st, Duration::ZERO);
        self.close_out(&mut st, Duration::ZERO);
    }

    /// Every current connection is replaced: idle ones now, the others when released.
    pub fn expire_connections(self: &Arc<Self>) {
        let mut st = self.state.lock();
        if st.closed {
            return;
        }
        st.generation += 1;
        for slot in std::mem::take(&mut st.idle) {
            self.close_retired(&mut st, slot.conn, Retire::Expired);
        }
        self.replenish(&mut st);
    }
}
