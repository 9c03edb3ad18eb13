//! `TdsPool`: the native pool of SQL Server connections (`Pool<TdsManager>`), made by
//! `native_pool_class!`; `query`, `executemany` and `execute_script` acquire a connection,
//! run and release it in one job.

use ferrule_core::pool::Pooled;
use ferrule_core::Error;
use ferrule_tds::manager::TdsManager;
use ferrule_tds::CallCtl;

use super::calls::{Call, HandleSource, BACKEND};
use super::config::from_dict;
use super::pooled::lend;
use crate::pool_native::{native_pool_class, PoolSource};

impl HandleSource for PoolSource<TdsManager> {
    type Handle = Pooled<TdsManager>;

    async fn get(self, ctl: &CallCtl) -> Result<Pooled<TdsManager>, Error> {
        self.acquire(ctl.deadline, ctl.cancel.as_ref()).await
    }
}

impl TdsPool {
    fn call(&self) -> Call<'_, PoolSource<TdsManager>> {
        Call {
            bridge: &self.core.bridge,
            source: self.core.source(),
        }
    }
}

native_pool_class!(
    /// The native SQL Server pool; `ferrule.Pool` is its Python face.
    TdsPool,
    TdsManager,
    config = from_dict,
    lend = lend,
    backend = BACKEND,
    query_args = (),
);
