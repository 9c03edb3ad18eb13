//! The backend-neutral half of the native pools (`PgPool`, `TdsPool`, `TntPool`) and of the
//! connections they lend, written once over `ferrule_core::pool::Manager`.
//!
//! A backend's pool class is made by `native_pool_class!`: the methods every pool has come
//! from `PoolCore`, the constructor from the backend's settings reader, manager and lending
//! function, and the one-job calls (acquire, run and release in one job, no trip through
//! Python between the steps) from the backend's `Call` on the pool. A call cancelled while it
//! waits drops its acquire, which never keeps or loses a connection; one cancelled while it
//! runs is cancelled as the backend cancels any call, and the connection goes back, reset if
//! it is dirty.

mod acquire;
mod core;
mod hooks;
mod loan;
mod options;

pub use self::acquire::PoolSource;
pub use self::core::{ManagerHooks, PoolCore};
pub use self::hooks::{HookConnection, PoolHookCall};
pub use self::loan::{release, Held, Loan};

/// Declares a native pool class `$class` over `PoolCore<$manager>`: its constructor (the
/// connection settings read by `config`, connections lent through `lend`, errors tagged with
/// `backend`) and the methods every pool has.
///
/// Its one-job calls `query`, `executemany` and `execute_script` run on `self.call()`, the
/// backend's `Call` on the pool; `query_args` are the arguments its `query` takes after the
/// timeout (PostgreSQL's row class).
macro_rules! native_pool_class {
    (
        $(#[$meta:meta])* $class:ident,
        $manager:ty,
        config = $config:path,
        lend = $lend:path,
        backend = $backend:expr,
        query_args = ($($query_arg:expr),*) $(,)?
    ) => {
        $(#[$meta])*
        #[::pyo3::pyclass(module = "ferrule._ferrule", frozen)]
        pub struct $class {
            core: $crate::pool_native::PoolCore<$manager>,
        }

        #[::pyo3::pymethods]
        impl $class {
            /// Makes the pool without opening anything (`start` does). `settings` are the
            /// connection settings, `options` the pool's; `init_hook` / `reset_hook` say
            /// which Python hooks the pool must ask for through `next_hook`.
            #[new]
            #[pyo3(signature = (bridge, settings, options, init_hook=false, reset_hook=false))]
            fn new(
                bridge: &::pyo3::Bound<'_, $crate::bridge::Bridge>,
                settings: &::pyo3::Bound<'_, ::pyo3::types::PyDict>,
                options: &::pyo3::Bound<'_, ::pyo3::types::PyDict>,
                init_hook: bool,
                reset_hook: bool,
            ) -> ::pyo3::PyResult<Self> {
                let config = $config(settings)?;
                let core = $crate::pool_native::PoolCore::new(
                    bridge,
                    options,
                    $backend,
                    (init_hook, reset_hook),
                    $lend,
                    |hooks: $crate::pool_native::ManagerHooks<
                        <$manager as ::ferrule_core::pool::Manager>::Conn,
                    >| {
                        let manager = <$manager>::new(config);
                        Ok(match hooks {
                            Some(hooks) => manager.with_hooks(hooks),
                            None => manager,
                        })
                    },
                )?;
                Ok($class { core })
            }

            /// Acquire, run `sql` with `args`, release: one job. Shapes as the connection's
            /// `query`; `timeout` bounds the whole call, waiting for a connection included.
            #[pyo3(signature = (sql, args, shape=0, column=0, timeout=None))]
            fn query<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                shape: u8,
                column: usize,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call()
                    .query(py, sql, args, shape, column, timeout $(, $query_arg)*)
            }

            /// Acquire, run `sql` once per row of `rows` (all or nothing), release.
            #[pyo3(signature = (sql, rows, timeout=None))]
            fn executemany<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                rows: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call().executemany(py, sql, rows, timeout)
            }

            /// Acquire, run the statements of `sql`, release; resolves to the last status.
            #[pyo3(signature = (sql, timeout=None))]
            fn execute_script<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call().execute_script(py, sql, timeout)
            }

            /// Opens `min_size` connections; fails with the first error (the pool keeps
            /// trying).
            fn start<'py>(
                &self,
                py: ::pyo3::Python<'py>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.core.start(py)
            }

            /// Resolves to a lent connection; `timeout` overrides the pool's
            /// `acquire_timeout`.
            #[pyo3(signature = (timeout=None))]
            fn acquire<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.core.acquire(py, timeout)
            }

            /// The next call of a Python hook, or None when the pool has no hooks.
            fn next_hook<'py>(
                &self,
                py: ::pyo3::Python<'py>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.core.next_hook(py)
            }

            /// Open connections, idle or in use.
            fn size(&self) -> usize {
                self.core.pool.size()
            }

            fn idle_size(&self) -> usize {
                self.core.pool.idle_size()
            }

            fn min_size(&self) -> usize {
                self.core.pool.min_size()
            }

            fn max_size(&self) -> usize {
                self.core.pool.max_size()
            }

            fn is_closed(&self) -> bool {
                self.core.pool.is_closed()
            }

            /// A snapshot of the pool's state and counters; times in seconds.
            fn stats<'py>(
                &self,
                py: ::pyo3::Python<'py>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::types::PyDict>> {
                self.core.stats(py)
            }

            /// Stops lending, waits up to `timeout` seconds (None: as long as it takes) for
            /// the connections in use to come back, then closes everything.
            #[pyo3(signature = (timeout=None))]
            fn close<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.core.close(py, timeout)
            }

            /// Closes every connection now, in use or not.
            fn terminate(&self) {
                self.core.pool.terminate();
            }

            /// Replaces every connection: idle ones now, those in use at their release.
            fn expire_connections(&self) {
                self.core.pool.expire_connections();
            }
        }
    };
}

pub(crate) use native_pool_class;
