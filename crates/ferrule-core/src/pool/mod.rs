//! The connection pool, generic over backends (see issue 3).
//!
//! A backend implements [`Manager`]; [`Pool`] opens, lends, checks, resets and closes its
//! connections. Waiters are served first come, first served; an `acquire` or a [`Pooled`]
//! guard dropped at any moment never keeps or loses a connection; no lock is held across an
//! await, and nothing spins.

mod acquire;
mod config;
mod hooks;
mod maintenance;
mod manager;
mod open;
mod pooled;
mod shared;
mod shutdown;
mod state;
mod stats;
mod waiters;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::Notify;

pub use acquire::Place;
pub use config::{PoolConfig, Recycle};
pub use hooks::{HookFuture, SessionHooks};
pub use manager::Manager;
pub use pooled::Pooled;
pub use stats::PoolStats;

use shared::Shared;
use state::State;

/// A pool of connections of one backend. Cloning gives another handle to the same pool; when
/// the last handle is dropped the pool is terminated.
pub struct Pool<M: Manager> {
    handle: Arc<PoolHandle<M>>,
}

/// Terminates the pool when the last `Pool` goes; guards and tasks hold `Shared` directly.
struct PoolHandle<M: Manager> {
    shared: Arc<Shared<M>>,
}

impl<M: Manager> Drop for PoolHandle<M> {
    fn drop(&mut self) {
        self.shared.terminate();
    }
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            handle: self.handle.clone(),
        }
    }
}

impl<M: Manager> Pool<M> {
    /// Makes a pool without opening anything; call [`Pool::start`] next.
    ///
    /// Background work (opens, closes, resets on release) runs on the tokio runtime current
    /// at this call, or on ferrule's shared runtime when called outside any runtime.
    pub fn new(manager: M, config: PoolConfig) -> Result<Self, crate::Error> {
        config.validate()?;
        let handle =
            Handle::try_current().unwrap_or_else(|_| crate::runtime::runtime().handle().clone());
        let shared = Arc::new(Shared {
            manager,
            config,
            state: Mutex::new(State::new()),
            changed: Notify::new(),
            handle,
            tickets: AtomicU64::new(0),
        });
        maintenance::spawn_maintenance(&shared);
        Ok(Pool {
            handle: Arc::new(PoolHandle { shared }),
        })
    }

    fn shared(&self) -> &Arc<Shared<M>> {
        &self.handle.shared
    }

    /// Opens `min_size` connections concurrently. The first failure is returned; connections
    /// that did open stay, and the missing ones are retried in the background with backoff.
    pub async fn start(&self) -> Result<(), crate::Error> {
        self.shared().start().await
    }

    /// Lends a connection, waiting in line (first come, first served) while none is free.
    ///
    /// `timeout` overrides `PoolConfig::acquire_timeout`; when both are `None` the wait is
    /// unbounded. Errors: `ErrorKind::PoolTimeout` (the message says how long it waited and
    /// how the pool stood), `ErrorKind::Closed`, or the error of a connection opened for
    /// this call that failed while no other connection came free.
    pub async fn acquire(&self, timeout: Option<Duration>) -> Result<Pooled<M>, crate::Error> {
        let place = self.place();
        self.shared().acquire(place, timeout).await
    }

    /// Takes a place in line now, for an [`Pool::acquire_at`] that may run later: its turn
    /// and its timeout count from this call.
    pub fn place(&self) -> Place {
        self.shared().place()
    }

    /// [`Pool::acquire`] with a place taken earlier by [`Pool::place`].
    pub async fn acquire_at(
        &self,
        place: Place,
        timeout: Option<Duration>,
    ) -> Result<Pooled<M>, crate::Error> {
        self.shared().acquire(place, timeout).await
    }

    /// Open connections, idle or in use.
    pub fn size(&self) -> usize {
        self.shared().state.lock().size()
    }

    pub fn idle_size(&self) -> usize {
        self.shared().state.lock().idle.len()
    }

    pub fn min_size(&self) -> usize {
        self.shared().config.min_size
    }

    pub fn max_size(&self) -> usize {
        self.shared().config.max_size
    }

    pub fn config(&self) -> &PoolConfig {
        &self.shared().config
    }

    pub fn stats(&self) -> PoolStats {
        self.shared().state.lock().stats()
    }

    pub fn manager(&self) -> &M {
        &self.shared().manager
    }

    pub fn is_closed(&self) -> bool {
        self.shared().state.lock().closed
    }

    /// Stops lending (waiters and later callers get `ErrorKind::Closed`), closes idle
    /// connections, waits up to `timeout` for the ones in use to be released, closes those
    /// left anyway, and returns once the closes are done.
    pub async fn close(&self, timeout: Duration) {
        self.shared().close(timeout).await;
    }

    /// Closes every connection now, in use or not, without waiting for anything.
    pub fn terminate(&self) {
        self.shared().terminate();
    }

    /// Replaces every current connection: idle ones now, those in use at their release.
    pub fn expire_connections(&self) {
        self.shared().expire_connections();
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish()
    }
}
