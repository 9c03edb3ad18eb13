//! `TntPool`: the native pool of Tarantool connections (`Pool<TntManager>`), made by
//! `native_pool_class!`; `query`, `executemany` and `execute_script` (SQL) acquire a
//! connection, run and release it in one job.

use ferrule_tarantool::{TntConnection, TntManager};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::calls::{Call, BACKEND};
use super::config::from_dict;
use super::pooled::lend;
use crate::bridge::Bridge;
use crate::pool_native::{native_pool_class, ManagerHooks, PoolCore, PoolSource};

impl TntPool {
    fn call(&self) -> Call<'_, PoolSource<TntManager>> {
        Call {
            bridge: &self.core.bridge,
            source: self.core.source(),
            stream: None,
        }
    }
}

native_pool_class!(
    /// The native Tarantool pool; `ferrule.Pool` is its Python face.
    TntPool,
    TntManager,
    {
        /// Makes the pool without opening anything (`start` does). `settings` are the
        /// connection settings, `options` the pool's; `init_hook` / `reset_hook` say which
        /// Python hooks the pool must ask for through `next_hook`.
        #[new]
        #[pyo3(signature = (bridge, settings, options, init_hook=false, reset_hook=false))]
        fn new(
            bridge: &Bound<'_, Bridge>,
            settings: &Bound<'_, PyDict>,
            options: &Bound<'_, PyDict>,
            init_hook: bool,
            reset_hook: bool,
        ) -> PyResult<Self> {
            let config = from_dict(settings)?;
            let core = PoolCore::new(
                bridge,
                options,
                BACKEND,
                (init_hook, reset_hook),
                lend,
                |hooks: ManagerHooks<TntConnection>| {
                    let manager = TntManager::new(config);
                    Ok(match hooks {
                        Some(hooks) => manager.with_hooks(hooks),
                        None => manager,
                    })
                },
            )?;
            Ok(TntPool { core })
        }

        /// Acquire, run `sql` with `args`, release: one job. Shapes as `TntConn.query`;
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
            self.call().query(py, sql, args, shape, column, timeout)
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
    }
);
