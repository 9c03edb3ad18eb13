//! `PoolCore`: what every native pool class does the same way, whatever its backend: make
//! the pool from the options dict, start it, lend connections, serve the hook queue, report
//! sizes and stats, and end it.

use std::sync::Arc;
use std::time::Duration;

use ferrule_core::pool::{Manager, Pool, SessionHooks};
use ferrule_core::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio_util::sync::CancellationToken;

use super::acquire::{acquire, PoolSource};
use super::hooks::{hooks, HookConnection, HookQueue, NextHook};
use super::loan::{Acquired, LendFn};
use super::options::{pool_config, stats_dict};
use crate::bridge::{Bridge, Deliver, Unit};
use crate::errors::to_pyerr;
use crate::settings::seconds;

/// `close(None)`: a year stands for "unbounded" (a deadline must be a finite instant).
const CLOSE_WAIT_UNBOUNDED: Duration = Duration::from_secs(365 * 86_400);

/// The hooks a manager is given, when the pool has any.
pub type ManagerHooks<C> = Option<Arc<dyn SessionHooks<C>>>;

pub struct PoolCore<M: Manager>
where
    M::Conn: HookConnection,
{
    pub pool: Pool<M>,
    pub bridge: Py<Bridge>,
    pub backend: &'static str,
    hooks: Option<Arc<HookQueue<M::Conn>>>,
    lend: LendFn<M>,
}

impl<M: Manager> PoolCore<M>
where
    M::Conn: HookConnection,
{
    /// Makes the pool without opening anything. `make_manager` gets the hooks that queue
    /// calls of the Python `init` / `reset` hooks, when either is set.
    pub fn new(
        bridge: &Bound<'_, Bridge>,
        options: &Bound<'_, PyDict>,
        backend: &'static str,
        (init_hook, reset_hook): (bool, bool),
        lend: LendFn<M>,
        make_manager: impl FnOnce(ManagerHooks<M::Conn>) -> PyResult<M>,
    ) -> PyResult<Self> {
        let py = bridge.py();
        let config = pool_config(options, backend)?;
        let (manager, queue) = if init_hook || reset_hook {
            let (py_hooks, queue) = hooks::<M::Conn>(init_hook, reset_hook);
            let manager_hooks: Arc<dyn SessionHooks<M::Conn>> = py_hooks;
            (make_manager(Some(manager_hooks))?, Some(queue))
        } else {
            (make_manager(None)?, None)
        };
        let pool = Pool::new(manager, config).map_err(|e| to_pyerr(py, &e, backend))?;
        Ok(PoolCore {
            pool,
            bridge: bridge.clone().unbind(),
            backend,
            hooks: queue,
            lend,
        })
    }

    pub fn submit<'py, F, T>(
        &self,
        py: Python<'py>,
        token: Option<CancellationToken>,
        job: F,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
        T: Deliver + 'static,
    {
        Bridge::submit(self.bridge.bind(py), self.backend, token, job)
    }

    /// Where a one-job call gets its connection: its place in line is taken now.
    pub fn source(&self) -> PoolSource<M> {
        PoolSource::new(&self.pool)
    }

    /// Opens `min_size` connections; fails with the first error (the pool keeps trying).
    pub fn start<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pool = self.pool.clone();
        self.submit(py, None, async move { pool.start().await.map(|()| Unit) })
    }

    /// Resolves to the backend's lent connection; `timeout` overrides `acquire_timeout`.
    pub fn acquire<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let limit = seconds(timeout)?;
        let pool = self.pool.clone();
        let place = pool.place();
        let bridge = self.bridge.clone_ref(py);
        let lend = self.lend;
        let token = CancellationToken::new();
        let cancel = token.clone();
        self.submit(py, Some(token), async move {
            let pooled = acquire(&pool, place, limit, Some(&cancel)).await?;
            Ok(Acquired {
                pooled,
                bridge,
                lend,
            })
        })
    }

    /// The next call of a Python hook, or None when the pool has no hooks.
    pub fn next_hook<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let queue = self.hooks.clone();
        let bridge = self.bridge.clone_ref(py);
        let token = CancellationToken::new();
        let cancel = token.clone();
        self.submit(py, Some(token), async move {
            let call = match queue {
                Some(queue) => tokio::select! {
                    () = cancel.cancelled() => {
                        return Err(Error::new(ErrorKind::Cancelled, "cancelled"));
                    }
                    call = queue.next() => call,
                },
                None => None,
            };
            Ok(NextHook { call, bridge })
        })
    }

    pub fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, &self.pool.stats())
    }

    /// Stops lending, waits up to `timeout` seconds (None: as long as it takes) for the
    /// connections in use to come back, then closes everything.
    pub fn close<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout)?.unwrap_or(CLOSE_WAIT_UNBOUNDED);
        let pool = self.pool.clone();
        self.submit(py, None, async move {
            pool.close(timeout).await;
            Ok(Unit)
        })
    }
}
