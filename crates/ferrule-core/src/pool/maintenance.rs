//! The background sweep of idle connections: broken ones and those past their lifetime are
//! replaced, those idle longer than `max_idle` above `min_size` are closed.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use tokio::time::Instant;

use super::manager::Manager;
use super::shared::Shared;
use super::state::Retire;

/// Runs until the pool is closed or gone; holds only a weak reference between sweeps so that
/// it never keeps a dropped pool alive.
pub(super) fn spawn_maintenance<M: Manager>(shared: &Arc<Shared<M>>) {
    let period = shared.config.maintenance_period();
    let weak: Weak<Shared<M>> = Arc::downgrade(shared);
    shared.handle.spawn(async move {
        let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(shared) = weak.upgrade() else { return };
            if !shared.sweep_idle() {
                return;
            }
        }
    });
}

impl<M: Manager> Shared<M> {
    /// One sweep; returns false once the pool is closed.
    pub fn sweep_idle(self: &Arc<Self>) -> bool {
        // `is_broken` is the backend's code: it runs on a snapshot, outside the lock.
        let snapshot: Vec<_> = {
            let st = self.state.lock();
            if st.closed {
                return false;
            }
            st.idle
                .iter()
                .map(|slot| (slot.meta.id, slot.conn.clone()))
                .collect()
        };
        let broken: Vec<u64> = snapshot
            .iter()
            .filter(|(_, conn)| self.manager.is_broken(conn))
            .map(|(id, _)| *id)
            .collect();
        drop(snapshot);

        let now = Instant::now();
        let mut st = self.state.lock();
        if st.closed {
            return false;
        }
        let mut size = st.size();
        let mut keep = VecDeque::with_capacity(st.idle.len());
        let mut leaving = Vec::new();
        // Oldest idle first, so that the connections kept are the recently used ones.
        for slot in std::mem::take(&mut st.idle) {
            let why = if broken.contains(&slot.meta.id) {
                Some(Retire::Broken)
            } else if slot.meta.worn_out(&self.config, now) {
                Some(Retire::Worn)
            } else if size > self.config.min_size
                && self
                    .config
                    .max_idle
                    .is_some_and(|max| now.duration_since(slot.meta.last_good) >= max)
            {
                Some(Retire::Idle)
            } else {
                None
            };
            match why {
                Some(why) => {
                    size -= 1;
                    leaving.push((slot, why));
                }
                None => keep.push_back(slot),
            }
        }
        st.idle = keep;
        for (slot, why) in leaving {
            self.close_retired(&mut st, slot.conn, why);
        }
        true
    }
}
