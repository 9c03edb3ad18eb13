//! `tnt_connection_methods!`: the Python methods a Tarantool connection has, for both
//! classes that have them (`TntConn`, and `TntPooledConn` for the loan of a pool). pyo3 wants
//! one `#[pymethods]` block per class, so the shared methods and the class's own (`$own`)
//! are declared together. The class provides `target(py)` (a `Call` on its connection, joining
//! its open transaction) and `with_conn(py, f)`; the bodies are in `space_calls.rs` and
//! `sql_calls.rs`.

macro_rules! tnt_connection_methods {
    ($class:ident, { $($own:tt)* }) => {
        #[::pyo3::pymethods]
        impl $class {
            $($own)*

            #[pyo3(signature = (timeout=None))]
            fn ping<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.ping(py, timeout)
            }

            #[pyo3(signature = (space, key=None, index=None, iterator=None, limit=None, offset=0, timeout=None))]
            #[allow(clippy::too_many_arguments)]
            fn select<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                space: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                key: Option<&::pyo3::Bound<'py, ::pyo3::PyAny>>,
                index: Option<&::pyo3::Bound<'py, ::pyo3::PyAny>>,
                iterator: Option<&::pyo3::Bound<'py, ::pyo3::PyAny>>,
                limit: Option<u32>,
                offset: u32,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?
                    .select(py, space, key, index, iterator, limit, offset, timeout)
            }

            #[pyo3(signature = (space, tuple, replace=false, timeout=None))]
            fn insert<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                space: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                tuple: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                replace: bool,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.insert(py, space, tuple, replace, timeout)
            }

            #[pyo3(signature = (space, key, ops, index=None, timeout=None))]
            fn update<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                space: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                key: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                ops: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                index: Option<&::pyo3::Bound<'py, ::pyo3::PyAny>>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.update(py, space, key, ops, index, timeout)
            }

            #[pyo3(signature = (space, tuple, ops, timeout=None))]
            fn upsert<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                space: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                tuple: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                ops: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.upsert(py, space, tuple, ops, timeout)
            }

            #[pyo3(signature = (space, key, index=None, timeout=None))]
            fn delete<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                space: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                key: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                index: Option<&::pyo3::Bound<'py, ::pyo3::PyAny>>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.delete(py, space, key, index, timeout)
            }

            /// Calls a function (`eval=False`) or evaluates Lua (`eval=True`); resolves to the
            /// list of returned values.
            #[pyo3(signature = (function, args=None, eval=false, timeout=None))]
            fn call<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                function: String,
                args: Option<&::pyo3::Bound<'py, ::pyo3::PyAny>>,
                eval: bool,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.call(py, function, args, eval, timeout)
            }

            /// Like `call`, with pushed messages: resolves to a `TntPushes`.
            #[pyo3(signature = (function, args=None, eval=false, timeout=None))]
            fn call_pushes<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                function: String,
                args: Option<&::pyo3::Bound<'py, ::pyo3::PyAny>>,
                eval: bool,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.call_pushes(py, function, args, eval, timeout)
            }

            /// SQL with bound parameters; `shape`: 0 all rows, 1 first row, 2 one value, 3
            /// status.
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
                self.target(py)?.query(py, sql, args, shape, column, timeout)
            }

            #[pyo3(signature = (stmt, args, shape=0, column=0, timeout=None))]
            fn query_prepared<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &$crate::tarantool::connection::TntStmt,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                shape: u8,
                column: usize,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?
                    .query_prepared(py, stmt, args, shape, column, timeout)
            }

            /// Runs one SQL statement without parameters; resolves to its status.
            #[pyo3(signature = (sql, timeout=None))]
            fn execute_script<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.execute_script(py, sql, timeout)
            }

            /// Runs `sql` once per parameter row, pipelined; not atomic unless inside a
            /// transaction.
            #[pyo3(signature = (sql, rows, timeout=None))]
            fn executemany<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                rows: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.executemany(py, sql, rows, timeout)
            }

            #[pyo3(signature = (sql, timeout=None))]
            fn prepare<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.prepare(py, sql, timeout)
            }

            #[pyo3(signature = (stmt, timeout=None))]
            fn unprepare<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &$crate::tarantool::connection::TntStmt,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.unprepare(py, stmt, timeout)
            }

            /// Opens an interactive transaction on a new stream; later calls join it until
            /// `end`. NotSupportedError before Tarantool 2.10.
            #[pyo3(signature = (isolation=None, txn_timeout=None, timeout=None))]
            fn begin<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                isolation: Option<&str>,
                txn_timeout: Option<f64>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.begin(py, isolation, txn_timeout, timeout)
            }

            /// Ends the open transaction (`commit=True` commits, else rolls back).
            #[pyo3(signature = (commit, timeout=None))]
            fn end<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                commit: bool,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.end(py, commit, timeout)
            }

            /// Watches a key (box.broadcast): resolves to a `TntWatcher`.
            fn watch<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                key: String,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.watch(py, key)
            }

            /// Server-side cursors do not exist in Tarantool SQL: always NotSupportedError.
            #[pyo3(signature = (stmt, args, prefetch, timeout=None))]
            fn cursor_open<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                prefetch: i32,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                let _ = (stmt, args, prefetch, timeout);
                Err($crate::tarantool::connection::no_cursors(py))
            }

            #[pyo3(signature = (stmt, portal, count, timeout=None))]
            fn cursor_fetch<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                portal: String,
                count: i32,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                let _ = (stmt, portal, count, timeout);
                Err($crate::tarantool::connection::no_cursors(py))
            }

            fn cursor_close(&self, portal: &str) {
                let _ = portal;
            }

            /// Closes gracefully (no reconnect): calls in flight get their answers for up to
            /// `timeout` seconds (default 10), then the socket closes.
            #[pyo3(signature = (timeout=None))]
            fn close<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.close(py, timeout)
            }

            fn is_connected(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<bool> {
                self.with_conn(py, ::ferrule_tarantool::TntConnection::is_connected)
            }

            fn reconnect_count(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<u64> {
                self.with_conn(py, ::ferrule_tarantool::TntConnection::reconnect_count)
            }

            fn transaction_status(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<&'static str> {
                self.with_conn(py, |_| {
                    if self.stream.load(::std::sync::atomic::Ordering::Relaxed) != 0 {
                        "transaction"
                    } else {
                        "idle"
                    }
                })
            }

            /// `(major, minor, patch)` from the greeting.
            fn server_version(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<(u32, u32, u32)> {
                self.with_conn(py, |c| {
                    c.server_info().greeting.map(|g| g.version).unwrap_or((0, 0, 0))
                })
            }

            /// IPROTO_ID features the server reported (empty before 2.10).
            fn features(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<Vec<u64>> {
                self.with_conn(py, |c| c.server_info().features)
            }

            fn schema_version(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<u64> {
                self.with_conn(py, |c| c.schema().version)
            }

            /// The schema as `{space name: {"id", "engine", "fields": [(name, type)],
            /// "indexes": {name: {"id", "type", "unique", "parts": [(field, type)]}}}}`.
            fn spaces<'py>(
                &self,
                py: ::pyo3::Python<'py>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::types::PyDict>> {
                let schema = self.with_conn(py, |c| c.schema())?;
                $crate::tarantool::connection::spaces(py, &schema)
            }

            /// Reads the schema again now.
            fn refresh_schema<'py>(
                &self,
                py: ::pyo3::Python<'py>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.target(py)?.refresh_schema(py)
            }
        }
    };
}

pub(crate) use tnt_connection_methods;
