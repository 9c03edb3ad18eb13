//! The bodies of the native SQL Server calls, written once for every object that runs them:
//! a plain connection (`TdsConn`), a connection lent by a pool (`TdsPooledConn`), and the
//! pool itself (`TdsPool`), whose calls acquire a connection, run, and release it in one job.
//!
//! Each call converts its arguments under the GIL, submits one job to the runtime and returns
//! an asyncio future resolved by the bridge.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ferrule_core::pool::Pooled;
use ferrule_core::turns::Turn;
use ferrule_core::{Error, Value};
use ferrule_tds::manager::TdsManager;
use ferrule_tds::{CallCtl, Param, Statement, TdsConnection};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use tokio_util::sync::CancellationToken;

use super::connection::TdsStmt;
use super::cursor::{CursorState, Fetched, Opened, TdsCursor};
use super::results::{Count, ProcResult, Rows, Shape};
use crate::bridge::{Bridge, Deliver, Text, Unit};
use crate::convert::{to_value, to_values};
use crate::settings::seconds;

pub const BACKEND: &str = "mssql";

/// A connection a job runs on, kept alive by the job until it ends.
pub trait ConnHandle: Send + Sync + 'static {
    fn conn(&self) -> &TdsConnection;

    /// Told before a call runs `queries` statements (a pool's query budget).
    fn before_call(&self, _queries: u64) {}
}

impl ConnHandle for TdsConnection {
    fn conn(&self) -> &TdsConnection {
        self
    }
}

impl ConnHandle for Pooled<TdsManager> {
    fn conn(&self) -> &TdsConnection {
        self
    }

    fn before_call(&self, queries: u64) {
        self.count_queries(queries);
    }
}

impl ConnHandle for Arc<Pooled<TdsManager>> {
    fn conn(&self) -> &TdsConnection {
        self.as_ref().conn()
    }

    fn before_call(&self, queries: u64) {
        self.as_ref().before_call(queries);
    }
}

/// Where a job gets its connection: one it already has, or one acquired from a pool within
/// the call's deadline.
pub trait HandleSource: Send + 'static {
    type Handle: ConnHandle;

    fn get(self, ctl: &CallCtl) -> impl Future<Output = Result<Self::Handle, Error>> + Send;

    /// The call's place in line on its connection, taken when the call is made; none when
    /// the connection is not known yet (a pool lends a whole connection to the call).
    fn turn(&self) -> Option<Arc<Turn>> {
        None
    }
}

impl<H: ConnHandle> HandleSource for H {
    type Handle = H;

    async fn get(self, _ctl: &CallCtl) -> Result<H, Error> {
        Ok(self)
    }

    fn turn(&self) -> Option<Arc<Turn>> {
        Some(self.conn().take_turn())
    }
}

/// The job's target and the bridge that resolves its future.
pub struct Call<'a, S: HandleSource> {
    pub bridge: &'a Py<Bridge>,
    pub source: S,
}

struct Prepared(Arc<Statement>);

impl Deliver for Prepared {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, TdsStmt { stmt: self.0 })?.into_any())
    }
}

fn ctl(timeout: Option<f64>) -> PyResult<(CallCtl, CancellationToken)> {
    let token = CancellationToken::new();
    Ok((
        CallCtl::with_timeout(seconds(timeout)?, Some(token.clone())),
        token,
    ))
}

fn param_name(name: &str) -> String {
    if name.starts_with('@') {
        name.to_owned()
    } else {
        format!("@{name}")
    }
}

/// The message of a conversion error, to be prefixed with where it happened.
fn message(py: Python<'_>, e: &PyErr) -> String {
    e.value(py).str().map(|s| s.to_string()).unwrap_or_default()
}

/// Positional arguments bind to `@p1, @p2, ...`; a single dict binds by name (`@name`).
fn to_params(args: &Bound<'_, PyAny>) -> PyResult<Vec<Param>> {
    if let Ok(t) = args.cast::<PyTuple>() {
        if t.len() == 1 {
            if let Ok(d) = t.get_item(0)?.cast::<PyDict>() {
                let mut out = Vec::with_capacity(d.len());
                for (k, v) in d.iter() {
                    let key = k
                        .cast::<PyString>()
                        .map_err(|_| PyTypeError::new_err("named parameters need str keys"))?;
                    let name = param_name(key.to_str()?);
                    let value = to_value(&v).map_err(|e| {
                        let msg = message(args.py(), &e);
                        PyTypeError::new_err(format!("invalid argument {name}: {msg}"))
                    })?;
                    out.push(Param {
                        name,
                        value,
                        output: false,
                        type_hint: None,
                    });
                }
                return Ok(out);
            }
        }
    }
    Ok(to_values(args, "@p")?
        .into_iter()
        .enumerate()
        .map(|(i, v)| Param::positional(i, v))
        .collect())
}

impl<S: HandleSource> Call<'_, S> {
    /// The limits of a call made now, with its place in line.
    fn ctl(&self, timeout: Option<f64>) -> PyResult<(CallCtl, CancellationToken)> {
        let (mut ctl, token) = ctl(timeout)?;
        ctl.turn = self.source.turn();
        Ok((ctl, token))
    }

    fn submit<'py, F, T>(
        self,
        py: Python<'py>,
        token: Option<CancellationToken>,
        job: impl FnOnce(S) -> F,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        F: Future<Output = Result<T, Error>> + Send + 'static,
        T: Deliver + 'static,
    {
        Bridge::submit(self.bridge.bind(py), BACKEND, token, job(self.source))
    }

    /// Runs `sql`: with arguments through `sp_executesql`, without as a batch. `shape`: 0 all
    /// rows, 1 first row, 2 one value, 3 status, 5 every result set.
    pub fn query<'py>(
        self,
        py: Python<'py>,
        sql: String,
        args: &Bound<'py, PyAny>,
        shape: u8,
        column: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = to_params(args)?;
        let (ctl, token) = self.ctl(timeout)?;
        let shape = Shape::from_code(shape, column);
        let discard = matches!(shape, Shape::Status);
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(1);
            let conn = handle.conn();
            let resp = if params.is_empty() {
                conn.batch(&sql, discard, &ctl).await?
            } else {
                conn.execute_sql(&sql, &params, discard, &ctl).await?
            };
            Ok(Rows {
                resp,
                shape,
                stmt: None,
            })
        })
    }

    /// Runs a prepared statement (`sp_execute`); same shapes as `query`.
    pub fn query_prepared<'py>(
        self,
        py: Python<'py>,
        stmt: &TdsStmt,
        args: &Bound<'py, PyAny>,
        shape: u8,
        column: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = to_values(args, "@p")?;
        let (ctl, token) = self.ctl(timeout)?;
        let stmt = stmt.stmt.clone();
        let shape = Shape::from_code(shape, column);
        let discard = matches!(shape, Shape::Status);
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(1);
            let resp = handle
                .conn()
                .execute_prepared(&stmt, &values, discard, &ctl)
                .await?;
            Ok(Rows {
                resp,
                shape,
                stmt: Some(stmt),
            })
        })
    }

    /// Runs a batch of one or more statements; resolves to the last status.
    pub fn execute_script<'py>(
        self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(1);
            let resp = handle.conn().batch(&sql, true, &ctl).await?;
            Ok(Text(resp.status))
        })
    }

    /// Runs `sql` for every argument sequence in `rows`, all or nothing.
    pub fn executemany<'py>(
        self,
        py: Python<'py>,
        sql: String,
        rows: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut all = Vec::new();
        for (i, row) in rows.try_iter()?.enumerate() {
            let row = row?;
            let tuple = match row.cast::<PyDict>() {
                Ok(_) => PyTuple::new(py, [row.clone()])?.into_any(),
                Err(_) => row.clone(),
            };
            all.push(
                to_params(&tuple)
                    .map_err(|e| PyTypeError::new_err(format!("row {i}: {}", message(py, &e))))?,
            );
        }
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(all.len().max(1) as u64);
            handle.conn().execute_many(&sql, &all, &ctl).await?;
            Ok(Unit)
        })
    }

    /// Prepares `sql`; resolves to a `TdsStmt`.
    pub fn prepare<'py>(
        self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.conn().prepare(&sql, &ctl).await.map(Prepared)
        })
    }

    /// Starts streaming a prepared statement's rows: `(cursor, (records, more))`. The cursor
    /// keeps the connection (and a pool's loan) until it is exhausted or closed.
    pub fn cursor_open<'py>(
        self,
        py: Python<'py>,
        stmt: &TdsStmt,
        args: &Bound<'py, PyAny>,
        prefetch: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values: Vec<Value> = to_values(args, "@p")?;
        let (ctl, token) = self.ctl(timeout)?;
        let stmt = stmt.stmt.clone();
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(1);
            let stream = handle
                .conn()
                .stream_prepared(&stmt, &values, prefetch, &ctl)
                .await?;
            let state = CursorState::new(stream, Box::new(handle));
            let cursor = Arc::new(tokio::sync::Mutex::new(state));
            let mut first = cursor.lock().await.fetch(prefetch, &ctl).await?;
            first.stmt = Some(stmt);
            Ok(Opened { cursor, first })
        })
    }

    /// Up to `count` more rows of a cursor: `(records, more)`.
    pub fn cursor_fetch<'py>(
        self,
        py: Python<'py>,
        stmt: &TdsStmt,
        cursor: &TdsCursor,
        count: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        let state = cursor.state.clone();
        let stmt = stmt.stmt.clone();
        self.submit(py, Some(token), |_| async move {
            let mut fetched: Fetched = state.lock().await.fetch(count, &ctl).await?;
            fetched.stmt = Some(stmt);
            Ok(fetched)
        })
    }

    /// Calls a stored procedure. `params`: `(name or None, value, is_output, type or None)`.
    /// Resolves to `(return_status, {output name: value}, [result sets])`.
    pub fn callproc<'py>(
        self,
        py: Python<'py>,
        name: String,
        params: &Bound<'py, PyList>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut list = Vec::with_capacity(params.len());
        for (i, item) in params.iter().enumerate() {
            let (pname, value, output, hint): (
                Option<String>,
                Bound<'py, PyAny>,
                bool,
                Option<String>,
            ) = item.extract()?;
            let value = to_value(&value).map_err(|e| {
                PyTypeError::new_err(format!("invalid argument {}: {}", i + 1, message(py, &e)))
            })?;
            let name = pname.map(|n| param_name(&n)).unwrap_or_default();
            if output && name.is_empty() {
                return Err(PyTypeError::new_err(format!(
                    "output parameter {} needs a name (the procedure's @name)",
                    i + 1
                )));
            }
            list.push(Param {
                name,
                value,
                output,
                type_hint: hint,
            });
        }
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(1);
            handle
                .conn()
                .call_procedure(&name, &list, &ctl)
                .await
                .map(ProcResult)
        })
    }

    /// Bulk-loads `records` into `table`; resolves to the number of rows loaded.
    pub fn copy_records_to_table<'py>(
        self,
        py: Python<'py>,
        table: String,
        records: &Bound<'py, PyAny>,
        columns: Option<Vec<String>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut rows = Vec::new();
        for (i, rec) in records.try_iter()?.enumerate() {
            rows.push(
                to_values(&rec?, "column ").map_err(|e| {
                    PyTypeError::new_err(format!("record {i}: {}", message(py, &e)))
                })?,
            );
        }
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(1);
            handle
                .conn()
                .bulk_load(&table, columns.as_deref(), &rows, &ctl)
                .await
                .map(Count)
        })
    }

    /// Graceful close, waiting at most `timeout` seconds for queued calls.
    pub fn close<'py>(self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout)?.unwrap_or(Duration::from_secs(10));
        self.submit(py, None, |source| async move {
            let handle = source.get(&CallCtl::default()).await?;
            handle.conn().close(timeout).await;
            Ok(Unit)
        })
    }
}

/// Stops a cursor; what remains of its result is cancelled on the server.
pub fn cursor_close(cursor: &TdsCursor) {
    let state = cursor.state.clone();
    ferrule_core::runtime::runtime().spawn(async move { state.lock().await.close() });
}

/// `idle` or `transaction` (from the server's transaction ENVCHANGEs).
pub fn transaction_status(conn: &TdsConnection) -> &'static str {
    if conn.in_transaction() {
        "transaction"
    } else {
        "idle"
    }
}
