//! The native calls `PgConn` and `PgPooledConn` share, declared once by `pg_call_methods!`.
//! pyo3 wants one `#[pymethods]` block per class, so each class's own methods are declared
//! with them (`$own`). Each class provides `fn call(&self, py) -> PyResult<Call<'_, _>>`, the
//! connection a call runs on (a lent connection fails once it is released); the call bodies
//! are in `calls.rs`.

macro_rules! pg_call_methods {
    ($class:ident, { $($own:tt)* }) => {
        #[::pyo3::pymethods]
        impl $class {
            $($own)*

            /// Runs `sql` with `args`; `shape`: 0 all rows, 1 first row, 2 one value, 3 status.
            #[allow(clippy::too_many_arguments)]
            #[pyo3(signature = (sql, args, shape=0, column=0, timeout=None, record_class=None, as_class=None))]
            fn query<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                shape: u8,
                column: usize,
                timeout: Option<f64>,
                record_class: Option<::pyo3::Bound<'py, ::pyo3::types::PyType>>,
                as_class: Option<::pyo3::Py<::pyo3::PyAny>>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                let class = $crate::pg::connection::row_class(record_class, as_class)?;
                self.call(py)?
                        .query(py, sql, args, shape, column, timeout, class)
            }

            /// Runs a prepared statement; same shapes as `query`.
            #[allow(clippy::too_many_arguments)]
            #[pyo3(signature = (stmt, args, shape=0, column=0, timeout=None, record_class=None, as_class=None))]
            fn query_prepared<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &$crate::pg::connection::PgStmt,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                shape: u8,
                column: usize,
                timeout: Option<f64>,
                record_class: Option<::pyo3::Bound<'py, ::pyo3::types::PyType>>,
                as_class: Option<::pyo3::Py<::pyo3::PyAny>>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                let class = $crate::pg::connection::row_class(record_class, as_class)?;
                self.call(py)?
                        .query_prepared(py, stmt, args, shape, column, timeout, class)
            }

            /// Runs one or more statements with the simple protocol; resolves to the last status.
            #[pyo3(signature = (sql, timeout=None))]
            fn execute_script<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?.execute_script(py, sql, timeout)
            }

            /// Executes `sql` for every argument sequence in `rows`, pipelined, all or nothing.
            #[pyo3(signature = (sql, rows, timeout=None))]
            fn executemany<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                rows: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?.executemany(py, sql, rows, timeout)
            }

            /// Prepares `sql`; resolves to a `PgStmt`.
            #[pyo3(signature = (sql, timeout=None))]
            fn prepare<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?.prepare(py, sql, timeout)
            }

            /// Opens a portal and fetches its first batch: `(portal, (records, more))`.
            #[allow(clippy::too_many_arguments)]
            #[pyo3(signature = (stmt, args, prefetch, timeout=None, record_class=None, as_class=None))]
            fn cursor_open<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &$crate::pg::connection::PgStmt,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                prefetch: i32,
                timeout: Option<f64>,
                record_class: Option<::pyo3::Bound<'py, ::pyo3::types::PyType>>,
                as_class: Option<::pyo3::Py<::pyo3::PyAny>>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                let class = $crate::pg::connection::row_class(record_class, as_class)?;
                self.call(py)?
                        .cursor_open(py, stmt, args, prefetch, timeout, class)
            }

            /// Fetches up to `count` more rows from a portal: `(records, more)`.
            #[allow(clippy::too_many_arguments)]
            #[pyo3(signature = (stmt, portal, count, timeout=None, record_class=None, as_class=None))]
            fn cursor_fetch<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &$crate::pg::connection::PgStmt,
                portal: String,
                count: i32,
                timeout: Option<f64>,
                record_class: Option<::pyo3::Bound<'py, ::pyo3::types::PyType>>,
                as_class: Option<::pyo3::Py<::pyo3::PyAny>>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                let class = $crate::pg::connection::row_class(record_class, as_class)?;
                self.call(py)?
                        .cursor_fetch(py, stmt, portal, count, timeout, class)
            }

            /// Graceful close, waiting at most `timeout` seconds for the server.
            #[pyo3(signature = (timeout=None))]
            fn close<'py>(&self, py: ::pyo3::Python<'py>, timeout: Option<f64>) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?.close(py, timeout)
            }

            /// Sends all `(sql, args)` items before reading any result; resolves to a list of
            /// record lists in order (see `PgConnection::pipeline` for the error semantics).
            #[pyo3(signature = (items, atomic=false, return_exceptions=false, timeout=None))]
            fn pipeline<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                items: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                atomic: bool,
                return_exceptions: bool,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?
                        .pipeline(py, items, atomic, return_exceptions, timeout)
            }

            /// Starts a `COPY ... FROM STDIN` statement; resolves to a `PgCopyIn`.
            #[pyo3(signature = (sql, args, timeout=None))]
            fn copy_in<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?.copy_in(py, sql, args, timeout)
            }

            /// Starts a `COPY ... TO STDOUT` statement; resolves to a `PgCopyOut`.
            #[pyo3(signature = (sql, args, timeout=None))]
            fn copy_out<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?.copy_out(py, sql, args, timeout)
            }
        }
    };
}

pub(crate) use pg_call_methods;
