//! `PgPool`: the native pool of PostgreSQL connections (`ferrule_core::pool::Pool<PgManager>`),
//! made by `native_pool_class!`; `query`, `executemany` and `execute_script` acquire a
//! connection, run and release it in one job.

use ferrule_core::pool::Pooled;
use ferrule_core::Error;
use ferrule_pg::{CallCtl, PgConnection, PgManager};
use pyo3::prelude::*;

use super::calls::{Call, HandleSource, BACKEND};
use super::config::from_dict;
use super::connection::PgConn;
use super::pooled::lend;
use crate::bridge::Bridge;
use crate::pool_native::{native_pool_class, HookConnection, PoolSource};

impl HookConnection for PgConnection {
    fn to_python(self, bridge: Py<Bridge>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PgConn::new(self, bridge))?.into_any())
    }
}

impl HandleSource for PoolSource<PgManager> {
    type Handle = Pooled<PgManager>;

    async fn get(self, ctl: &CallCtl) -> Result<Pooled<PgManager>, Error> {
        self.acquire(ctl.deadline, ctl.cancel.as_ref()).await
    }
}

impl PgPool {
    fn call(&self) -> Call<'_, PoolSource<PgManager>> {
        Call {
            bridge: &self.core.bridge,
            source: self.core.source(),
            codecs: None,
        }
    }
}

native_pool_class!(
    /// The native PostgreSQL pool; `ferrule.Pool` is its Python face.
    PgPool,
    PgManager,
    config = from_dict,
    lend = lend,
    backend = BACKEND,
    query_args = (None),
);
