//! Acquiring for a job: within the call's deadline, stopped by the call's cancellation, in
//! the order the calls were made.

use std::time::Duration;

use ferrule_core::pool::{Manager, Place, Pool, Pooled};
use ferrule_core::{Error, ErrorKind};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Waits for a connection until `limit` (`None`: the pool's `acquire_timeout`) from the
/// place's call, or until `cancel` fires; dropping the pool's acquire future returns
/// whatever it held.
pub async fn acquire<M: Manager>(
    pool: &Pool<M>,
    place: Place,
    limit: Option<Duration>,
    cancel: Option<&CancellationToken>,
) -> Result<Pooled<M>, Error> {
    let acquire = pool.acquire_at(place, limit);
    match cancel {
        Some(token) => tokio::select! {
            biased;
            () = token.cancelled() => Err(Error::new(
                ErrorKind::Cancelled,
                "acquiring a connection was cancelled",
            )),
            acquired = acquire => acquired,
        },
        None => acquire.await,
    }
}

/// A job's connection, acquired from the pool within the call's deadline. Its place in line
/// is taken when the call is made, so that calls are served in the order they were made.
pub struct PoolSource<M: Manager> {
    pool: Pool<M>,
    place: Place,
}

impl<M: Manager> PoolSource<M> {
    pub fn new(pool: &Pool<M>) -> Self {
        PoolSource {
            pool: pool.clone(),
            place: pool.place(),
        }
    }

    /// The connection, waiting at most until the call's `deadline` and the pool's
    /// `acquire_timeout`, whichever comes first.
    pub async fn acquire(
        self,
        deadline: Option<Instant>,
        cancel: Option<&CancellationToken>,
    ) -> Result<Pooled<M>, Error> {
        let call_limit = deadline.map(|d| d.saturating_duration_since(self.place.asked()));
        let limit = match (call_limit, self.pool.config().acquire_timeout) {
            (Some(call), Some(set)) => Some(call.min(set)),
            (call, set) => call.or(set),
        };
        acquire(&self.pool, self.place, limit, cancel).await
    }
}
