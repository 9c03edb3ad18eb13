//! The native methods every SQLite connection class has (`SqliteConn` on a local file,
//! `LibsqlConn` on a remote server, `SqliteReplica` on both), declared once by
//! `sqlite_connection_methods!`. pyo3 wants one `#[pymethods]` block per class, so the
//! shared methods and the class's own (`$own`) are declared together. The macro converts the
//! Python arguments; each class runs the call its own way through `SqliteCalls`.

use ferrule_core::Value;
use pyo3::prelude::*;

use super::results::Shape;

/// How a SQLite connection class runs each call; `sql` stays borrowed where an inline run
/// needs no copy of it.
pub(super) trait SqliteCalls {
    fn detects_types(&self) -> bool;

    fn run<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        values: Vec<Value>,
        shape: Shape,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>>;

    fn script<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>>;

    fn many<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        rows: Vec<Vec<Value>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>>;

    fn describe<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>>;

    fn open_cursor<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        values: Vec<Value>,
        prefetch: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>>;

    fn fetch_cursor<'py>(
        &self,
        py: Python<'py>,
        id: u64,
        count: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>>;

    fn close_cursor(&self, id: u64);

    fn shut<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>>;

    fn kill(&self);

    fn closed(&self) -> bool;

    fn in_transaction(&self) -> bool;
}

macro_rules! sqlite_connection_methods {
    ($class:ident, { $($own:tt)* }) => {
        #[::pyo3::pymethods]
        impl $class {
            $($own)*

            /// Runs `sql` with `args`; `shape`: 0 all rows, 1 first row, 2 one value,
            /// 3 status. A single dict argument binds named parameters (`:name`, `@name`,
            /// `$name`).
            #[pyo3(signature = (sql, args, shape=0, column=0, timeout=None))]
            fn query<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: &str,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                shape: u8,
                column: usize,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                let values = $crate::convert::to_values(args, "?")?;
                let shape = $crate::sqlite::results::Shape::from_code(shape, column);
                $crate::sqlite::methods::SqliteCalls::run(self, py, sql, values, shape, timeout)
            }

            /// Runs a prepared statement; same shapes as `query`.
            #[pyo3(signature = (stmt, args, shape=0, column=0, timeout=None))]
            fn query_prepared<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &$crate::sqlite::connection::SqliteStmt,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                shape: u8,
                column: usize,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                let values = $crate::convert::to_values(args, "?")?;
                let shape = $crate::sqlite::results::Shape::from_code(shape, column);
                let sql = &stmt.meta().sql;
                $crate::sqlite::methods::SqliteCalls::run(self, py, sql, values, shape, timeout)
            }

            /// Runs every statement of `sql` in order; resolves to the last one's status.
            #[pyo3(signature = (sql, timeout=None))]
            fn execute_script<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: &str,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                $crate::sqlite::methods::SqliteCalls::script(self, py, sql, timeout)
            }

            /// Executes `sql` for every argument sequence in `rows`, all or nothing.
            #[pyo3(signature = (sql, rows, timeout=None))]
            fn executemany<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                rows: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                let rows = $crate::convert::rows_to_values(rows, "?")?;
                $crate::sqlite::methods::SqliteCalls::many(self, py, sql, rows, timeout)
            }

            /// Prepares (and caches) `sql`; resolves to a `SqliteStmt`.
            #[pyo3(signature = (sql, timeout=None))]
            fn prepare<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                sql: String,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                $crate::sqlite::methods::SqliteCalls::describe(self, py, sql, timeout)
            }

            /// Opens a cursor and reads its first batch: `(cursor id, (records, more))`.
            #[pyo3(signature = (stmt, args, prefetch, timeout=None))]
            fn cursor_open<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &$crate::sqlite::connection::SqliteStmt,
                args: &::pyo3::Bound<'py, ::pyo3::PyAny>,
                prefetch: usize,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                let values = $crate::convert::to_values(args, "?")?;
                let sql = stmt.meta().sql.clone();
                $crate::sqlite::methods::SqliteCalls::open_cursor(
                    self,
                    py,
                    sql,
                    values,
                    prefetch.max(1),
                    timeout,
                )
            }

            /// Reads up to `count` more rows of a cursor: `(records, more)`.
            #[pyo3(signature = (stmt, portal, count, timeout=None))]
            fn cursor_fetch<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                stmt: &$crate::sqlite::connection::SqliteStmt,
                portal: &str,
                count: usize,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                let _ = stmt;
                let id = $crate::sqlite::connection::cursor_id(portal)?;
                $crate::sqlite::methods::SqliteCalls::fetch_cursor(
                    self,
                    py,
                    id,
                    count.max(1),
                    timeout,
                )
            }

            /// Releases a cursor (after the calls already queued).
            fn cursor_close(&self, portal: &str) -> ::pyo3::PyResult<()> {
                let id = $crate::sqlite::connection::cursor_id(portal)?;
                $crate::sqlite::methods::SqliteCalls::close_cursor(self, id);
                Ok(())
            }

            /// Closes after the queued calls, or at once after `timeout` seconds
            /// (default 10).
            #[pyo3(signature = (timeout=None))]
            fn close<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                $crate::sqlite::methods::SqliteCalls::shut(self, py, timeout)
            }

            fn terminate(&self) {
                $crate::sqlite::methods::SqliteCalls::kill(self)
            }

            fn is_closed(&self) -> bool {
                $crate::sqlite::methods::SqliteCalls::closed(self)
            }

            /// `idle` or `transaction`.
            fn transaction_status(&self) -> &'static str {
                if $crate::sqlite::methods::SqliteCalls::in_transaction(self) {
                    "transaction"
                } else {
                    "idle"
                }
            }

            #[getter]
            fn detect_types(&self) -> bool {
                $crate::sqlite::methods::SqliteCalls::detects_types(self)
            }
        }
    };
}

pub(crate) use sqlite_connection_methods;
