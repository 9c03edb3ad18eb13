//! `PgPool`: the native pool of PostgreSQL connections (`ferrule_core::pool::Pool<PgManager>`).
//!
//! `query`, `executemany` and `execute_script` acquire a connection, run and release it in
//! one job: no trip through Python between the steps. A call cancelled while it waits drops
//! its acquire (which never keeps or loses a connection); one cancelled while it runs
//! cancels the query on the server, and the connection goes back, reset if it is dirty.

use std::sync::Arc;
use std::time::Duration;

use ferrule_core::pool::{Place, Pool, PoolConfig, Pooled, Recycle};
use ferrule_core::{Error, ErrorKind};
use ferrule_pg::{CallCtl, PgManager};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio_util::sync::CancellationToken;

use super::calls::{Call, HandleSource, BACKEND};
use super::config::from_dict;
use super::hooks::{hooks, HookQueue, NextHook};
use super::pooled::Acquired;
use crate::bridge::{Bridge, Deliver, Unit};
use crate::errors::to_pyerr;
use crate::settings::seconds;

/// `close(None)`: a year stands for "unbounded" (a deadline must be a finite instant).
const CLOSE_WAIT_UNBOUNDED: Duration = Duration::from_secs(365 * 86_400);

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PgPool {
    pool: Pool<PgManager>,
    bridge: Py<Bridge>,
    hooks: Option<Arc<HookQueue>>,
}

/// A job's connection, acquired from the pool within the call's deadline. Its place in line
/// is taken when the call is made, so that calls are served in the order they were made.
pub struct PoolSource {
    pool: Pool<PgManager>,
    place: Place,
}

impl HandleSource for PoolSource {
    type Handle = Pooled<PgManager>;

    async fn get(self, ctl: &CallCtl) -> Result<Pooled<PgManager>, Error> {
        let call_limit = ctl
            .deadline
            .map(|d| d.saturating_duration_since(self.place.asked()));
        let limit = match (call_limit, self.pool.config().acquire_timeout) {
            (Some(call), Some(set)) => Some(call.min(set)),
            (call, set) => call.or(set),
        };
        acquire(&self.pool, self.place, limit, ctl.cancel.as_ref()).await
    }
}

/// Waits for a connection until `limit` (`None`: the pool's `acquire_timeout`) from the
/// place's call, or until `cancel` fires; dropping the pool's acquire future returns
/// whatever it held.
async fn acquire(
    pool: &Pool<PgManager>,
    place: Place,
    limit: Option<Duration>,
    cancel: Option<&CancellationToken>,
) -> Result<Pooled<PgManager>, Error> {
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

/// Reads the optional keys of the Python `options` dict: a key present with None clears the
/// setting (no limit), a missing key keeps the default.
fn pool_config(options: &Bound<'_, PyDict>) -> PyResult<PoolConfig> {
    let mut cfg = PoolConfig::default();
    let bad = |key: &str| PyValueError::new_err(format!("invalid pool setting {key}"));
    let item = |key: &str| -> PyResult<Option<Option<Bound<'_, PyAny>>>> {
        Ok(options.get_item(key)?.map(|v| (!v.is_none()).then_some(v)))
    };
    let duration = |key: &str| -> PyResult<Option<Option<Duration>>> {
        match item(key)? {
            None => Ok(None),
            Some(None) => Ok(Some(None)),
            Some(Some(v)) => {
                let secs: f64 = v.extract().map_err(|_| bad(key))?;
                seconds(Some(secs))
                    .map_err(|_| PyValueError::new_err(format!("{key} must be >= 0, got {secs}")))
                    .map(Some)
            }
        }
    };
    if let Some(Some(v)) = item("min_size")? {
        cfg.min_size = v.extract().map_err(|_| bad("min_size"))?;
    }
    if let Some(Some(v)) = item("max_size")? {
        cfg.max_size = v.extract().map_err(|_| bad("max_size"))?;
    }
    if let Some(v) = item("max_queries")? {
        cfg.max_queries = v
            .map(|v| v.extract())
            .transpose()
            .map_err(|_| bad("max_queries"))?;
    }
    if let Some(v) = duration("max_lifetime")? {
        cfg.max_lifetime = v;
    }
    if let Some(v) = duration("max_idle")? {
        cfg.max_idle = v;
    }
    if let Some(v) = duration("acquire_timeout")? {
        cfg.acquire_timeout = v;
    }
    if let Some(Some(v)) = item("recycle")? {
        let name: String = v.extract().map_err(|_| bad("recycle"))?;
        let py = options.py();
        cfg.recycle = name
            .parse::<Recycle>()
            .map_err(|e| to_pyerr(py, &e, BACKEND))?;
    }
    for (key, field) in [
        ("check_after_idle", &mut cfg.check_after_idle),
        ("close_timeout", &mut cfg.close_timeout),
        ("reset_timeout", &mut cfg.reset_timeout),
    ] {
        if let Some(Some(v)) = duration(key)? {
            *field = v;
        }
    }
    Ok(cfg)
}

impl PgPool {
    fn call(&self) -> Call<'_, PoolSource> {
        Call {
            bridge: &self.bridge,
            source: PoolSource {
                pool: self.pool.clone(),
                place: self.pool.place(),
            },
            codecs: None,
        }
    }

    fn submit<'py, F, T>(
        &self,
        py: Python<'py>,
        token: Option<CancellationToken>,
        job: F,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
        T: Deliver + 'static,
    {
        Bridge::submit(self.bridge.bind(py), BACKEND, token, job)
    }
}

#[pymethods]
impl PgPool {
    /// Makes the pool without opening anything (`start` does). `settings` are the connection
    /// settings, `options` the pool's; `init_hook` / `reset_hook` say which Python hooks the
    /// pool must ask for through `next_hook`.
    #[new]
    #[pyo3(signature = (bridge, settings, options, init_hook=false, reset_hook=false))]
    fn new(
        bridge: &Bound<'_, Bridge>,
        settings: &Bound<'_, PyDict>,
        options: &Bound<'_, PyDict>,
        init_hook: bool,
        reset_hook: bool,
    ) -> PyResult<Self> {
        let py = bridge.py();
        let mut manager = PgManager::new(from_dict(settings)?);
        let mut queue = None;
        if init_hook || reset_hook {
            let (py_hooks, hook_queue) = hooks(init_hook, reset_hook);
            manager = manager.with_hooks(py_hooks);
            queue = Some(hook_queue);
        }
        let pool =
            Pool::new(manager, pool_config(options)?).map_err(|e| to_pyerr(py, &e, BACKEND))?;
        Ok(PgPool {
            pool,
            bridge: bridge.clone().unbind(),
            hooks: queue,
        })
    }

    /// Opens `min_size` connections; fails with the first error (the pool keeps trying).
    fn start<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pool = self.pool.clone();
        self.submit(py, None, async move { pool.start().await.map(|()| Unit) })
    }

    /// Acquire, run `sql` with `args`, release: one job. Shapes as `PgConn.query`;
    /// `timeout` bounds the whole call, waiting for a connection included.
    #[pyo3(signature = (sql, args, shape=0, column=0, timeout=None))]
    fn query<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        args: &Bound<'py, PyAny>,
        shape: u8,
        column: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call()
            .query(py, sql, args, shape, column, timeout, None)
    }

    #[pyo3(signature = (sql, rows, timeout=None))]
    fn executemany<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        rows: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call().executemany(py, sql, rows, timeout)
    }

    #[pyo3(signature = (sql, timeout=None))]
    fn execute_script<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call().execute_script(py, sql, timeout)
    }

    /// Resolves to a `PgPooledConn`; `timeout` overrides the pool's `acquire_timeout`.
    #[pyo3(signature = (timeout=None))]
    fn acquire<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let limit = seconds(timeout)?;
        let pool = self.pool.clone();
        let place = pool.place();
        let bridge = self.bridge.clone_ref(py);
        let token = CancellationToken::new();
        let cancel = token.clone();
        self.submit(py, Some(token), async move {
            let pooled = acquire(&pool, place, limit, Some(&cancel)).await?;
            Ok(Acquired { pooled, bridge })
        })
    }

    /// The next call of a Python hook, or None when the pool has no hooks.
    fn next_hook<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
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

    /// Open connections, idle or in use.
    fn size(&self) -> usize {
        self.pool.size()
    }

    fn idle_size(&self) -> usize {
        self.pool.idle_size()
    }

    fn min_size(&self) -> usize {
        self.pool.min_size()
    }

    fn max_size(&self) -> usize {
        self.pool.max_size()
    }

    fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// A snapshot of the pool's state and counters; times in seconds.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.pool.stats();
        let d = PyDict::new(py);
        d.set_item("size", s.size)?;
        d.set_item("idle", s.idle)?;
        d.set_item("in_use", s.in_use)?;
        d.set_item("waiting", s.waiting)?;
        d.set_item("opening", s.opening)?;
        d.set_item("closing", s.closing)?;
        d.set_item("acquisitions", s.acquisitions)?;
        d.set_item("timeouts", s.timeouts)?;
        d.set_item("total_wait", s.total_wait.as_secs_f64())?;
        d.set_item("avg_wait", s.avg_wait.as_secs_f64())?;
        d.set_item("connects", s.connects)?;
        d.set_item("connect_errors", s.connect_errors)?;
        d.set_item("resets", s.resets)?;
        d.set_item("closed_broken", s.closed_broken)?;
        Ok(d)
    }

    /// Stops lending, waits up to `timeout` seconds (None: as long as it takes) for the
    /// connections in use to come back, then closes everything.
    #[pyo3(signature = (timeout=None))]
    fn close<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout)?.unwrap_or(CLOSE_WAIT_UNBOUNDED);
        let pool = self.pool.clone();
        self.submit(py, None, async move {
            pool.close(timeout).await;
            Ok(Unit)
        })
    }

    /// Closes every connection now, in use or not.
    fn terminate(&self) {
        self.pool.terminate();
    }

    /// Replaces every connection: idle ones now, those in use at their release.
    fn expire_connections(&self) {
        self.pool.expire_connections();
    }
}
