//! `tds_connection_methods!`: the Python methods a SQL Server connection has, for both
//! classes that have them (`TdsConn`, and `TdsPooledConn` for the loan of a pool). pyo3 wants
//! one `#[pymethods]` block per class, so the shared methods and the class's own (`$own`)
//! are declared together. The class provides `call(py)` (a `Call` on its connection) and
//! `with_conn(py, f)`; the bodies are in `calls.rs`.

macro_rules! tds_connection_methods {
    ($class:ident, { $($own:tt)* }) => {
        #[::pyo3::pymethods]
        impl $class {
            $($own)*

            /// Runs `sql`: with arguments through `sp_executesql`, without as a batch.
            /// `shape`: 0 all rows, 1 first row, 2 one value, 3 status, 5 every result set.
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
                self.call(py)?.query(py, sql, args, shape, column, timeout)
            }

            /// Runs a prepared statement (`sp_execute`); same shapes as `query`.
            #[pyo3(signature = (stmt, args, shape=0, column=0, timeout=None))]
            fn query_prepared<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &$crate::tds::connection::TdsStmt,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                shape: u8,
                column: usize,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?
                    .query_prepared(py, stmt, args, shape, column, timeout)
            }

            /// Runs a batch of one or more statements; resolves to the last status.
            #[pyo3(signature = (sql, timeout=None))]
            fn execute_script<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?.execute_script(py, sql, timeout)
            }

            /// Runs `sql` for every argument sequence in `rows`, all or nothing.
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

            /// Prepares `sql`; resolves to a `TdsStmt`.
            #[pyo3(signature = (sql, timeout=None))]
            fn prepare<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?.prepare(py, sql, timeout)
            }

            /// Starts streaming a prepared statement's rows: `(cursor, (records, more))`.
            #[pyo3(signature = (stmt, args, prefetch, timeout=None))]
            fn cursor_open<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &$crate::tds::connection::TdsStmt,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                prefetch: usize,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?
                    .cursor_open(py, stmt, args, prefetch, timeout)
            }

            /// Up to `count` more rows of a cursor: `(records, more)`.
            #[pyo3(signature = (stmt, cursor, count, timeout=None))]
            fn cursor_fetch<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &$crate::tds::connection::TdsStmt,
                cursor: &$crate::tds::cursor::TdsCursor,
                count: usize,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?
                    .cursor_fetch(py, stmt, cursor, count, timeout)
            }

            /// Stops a cursor; what remains of its result is cancelled on the server.
            fn cursor_close(&self, cursor: &$crate::tds::cursor::TdsCursor) {
                $crate::tds::calls::cursor_close(cursor);
            }

            /// Calls a stored procedure. `params`: `(name or None, value, is_output, type or
            /// None)`. Resolves to `(return_status, {output name: value}, [result sets])`.
            #[pyo3(signature = (name, params, timeout=None))]
            fn callproc<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                name: String,
                params: &::pyo3::Bound<'py, ::pyo3::types::PyList>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?.callproc(py, name, params, timeout)
            }

            /// Bulk-loads `records` into `table`; resolves to the number of rows loaded.
            #[pyo3(signature = (table, records, columns=None, timeout=None))]
            fn copy_records_to_table<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                table: String,
                records: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                columns: Option<Vec<String>>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?
                    .copy_records_to_table(py, table, records, columns, timeout)
            }

            /// Graceful close, waiting at most `timeout` seconds for queued calls.
            #[pyo3(signature = (timeout=None))]
            fn close<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.call(py)?.close(py, timeout)
            }

            /// `idle` or `transaction` (from the server's transaction ENVCHANGEs).
            fn transaction_status(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<&'static str> {
                self.with_conn(py, $crate::tds::calls::transaction_status)
            }

            /// The next request resets the session first (the RESETCONNECTION flag).
            fn mark_reset(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<()> {
                self.with_conn(py, ::ferrule_tds::TdsConnection::mark_reset)
            }

            /// `(major, minor, build)` from PRELOGIN.
            fn server_version(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<(u8, u8, u16)> {
                self.with_conn(py, |c| c.server_info().version)
            }

            fn database(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<String> {
                self.with_conn(py, ::ferrule_tds::TdsConnection::database)
            }

            fn is_encrypted(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<bool> {
                self.with_conn(py, |c| c.server_info().encrypted)
            }
        }
    };
}

pub(crate) use tds_connection_methods;
