//! `TntPool`: the native pool of Tarantool connections (`Pool<TntManager>`), made by
//! `native_pool_class!`; `query`, `executemany` and `execute_script` (SQL) acquire a
//! connection, run and release it in one job.

use ferrule_tarantool::TntManager;
use pyo3::prelude::*;

use super::calls::{Call, BACKEND};
use super::config::from_dict;
use super::pooled::lend;
use crate::pool_native::{native_pool_class, PoolSource};

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
    config = from_dict,
    lend = lend,
    backend = BACKEND,
    {
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
