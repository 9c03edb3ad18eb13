//! `TntPool`: the native pool of Tarantool connections (`Pool<TntManager>`), made by
//! `native_pool_class!`; `query`, `executemany` and `execute_script` (SQL) acquire a
//! connection, run and release it in one job.

use ferrule_tarantool::TntManager;

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
    query_args = (),
);
