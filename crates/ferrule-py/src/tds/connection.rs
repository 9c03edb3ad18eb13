//! `TdsConn` and `TdsStmt`: thin pyo3 shells over `ferrule_tds::TdsConnection`. Each method
//! converts its arguments under the GIL, submits one job to the runtime and returns an
//! asyncio future resolved by the bridge.

use std::sync::Arc;
use std::time::Duration;

use ferrule_core::{Error, Value};
use ferrule_tds::{CallCtl, Param, Statement, TdsConnection};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use tokio_util::sync::CancellationToken;

use super::config::from_dict;
use super::cursor::{CursorState, Fetched, Opened, TdsCursor};
use super::results::{Count, ProcResult, Rows, Shape};
use crate::bridge::{Bridge, Deliver, Text, Unit};
use crate::convert::{to_value, to_values};
use crate::settings::seconds;

const BACKEND: &str = "mssql";

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TdsConn {
    conn: TdsConnection,
    bridge: Py<Bridge>,
}

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TdsStmt {
    stmt: Arc<Statement>,
}

struct Connected {
    conn: TdsConnection,
    bridge: Py<Bridge>,
}

impl Deliver for Connected {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(
            py,
            TdsConn {
                conn: self.conn,
                bridge: self.bridge,
            },
        )?
        .into_any())
    }
}

struct Prepared(Arc<Statement>);

impl Deliver for Prepared {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, TdsStmt { stmt: self.0 })?.into_any())
    }
}

/// Opens a connection; resolves to a `TdsConn`.
#[pyfunction]
pub fn tds_connect<'py>(
    bridge: &Bound<'py, Bridge>,
    settings: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg = from_dict(settings)?;
    let handle = bridge.clone().unbind();
    Bridge::submit(bridge, BACKEND, None, async move {
        let conn = TdsConnection::connect(&cfg).await?;
        Ok(Connected {
            conn,
            bridge: handle,
        })
    })
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
                        let msg = e
                            .value(args.py())
                            .str()
                            .map(|s| s.to_string())
                            .unwrap_or_default();
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

impl TdsConn {
    fn submit<'py, F, T>(
        &self,
        py: Python<'py>,
        token: Option<CancellationToken>,
        job: F,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
        T: Deliver + 'static,
    {
        Bridge::submit(self.bridge.bind(py), BACKEND, token, job)
    }
}

#[pymethods]
impl TdsConn {
    /// Runs `sql`: with arguments through `sp_executesql`, without as a batch. `shape`: 0 all
    /// rows, 1 first row, 2 one value, 3 status, 5 every result set.
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
        let params = to_params(args)?;
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        let shape = Shape::from_code(shape, column);
        let discard = matches!(shape, Shape::Status);
        self.submit(py, Some(token), async move {
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
    #[pyo3(signature = (stmt, args, shape=0, column=0, timeout=None))]
    fn query_prepared<'py>(
        &self,
        py: Python<'py>,
        stmt: &TdsStmt,
        args: &Bound<'py, PyAny>,
        shape: u8,
        column: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = to_values(args, "@p")?;
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        let stmt = stmt.stmt.clone();
        let shape = Shape::from_code(shape, column);
        let discard = matches!(shape, Shape::Status);
        self.submit(py, Some(token), async move {
            let resp = conn.execute_prepared(&stmt, &values, discard, &ctl).await?;
            Ok(Rows {
                resp,
                shape,
                stmt: Some(stmt),
            })
        })
    }

    /// Runs a batch of one or more statements; resolves to the last status.
    #[pyo3(signature = (sql, timeout=None))]
    fn execute_script<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            conn.batch(&sql, true, &ctl).await.map(|r| Text(r.status))
        })
    }

    /// Runs `sql` for every argument sequence in `rows`, all or nothing.
    #[pyo3(signature = (sql, rows, timeout=None))]
    fn executemany<'py>(
        &self,
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
            all.push(to_params(&tuple).map_err(|e| {
                let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                PyTypeError::new_err(format!("row {i}: {msg}"))
            })?);
        }
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            conn.execute_many(&sql, &all, &ctl).await.map(|_| Unit)
        })
    }

    /// Prepares `sql`; resolves to a `TdsStmt`.
    #[pyo3(signature = (sql, timeout=None))]
    fn prepare<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            conn.prepare(&sql, &ctl).await.map(Prepared)
        })
    }

    /// Starts streaming a prepared statement's rows: `(cursor, (records, more))`.
    #[pyo3(signature = (stmt, args, prefetch, timeout=None))]
    fn cursor_open<'py>(
        &self,
        py: Python<'py>,
        stmt: &TdsStmt,
        args: &Bound<'py, PyAny>,
        prefetch: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values: Vec<Value> = to_values(args, "@p")?;
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        let stmt = stmt.stmt.clone();
        self.submit(py, Some(token), async move {
            let stream = conn.stream_prepared(&stmt, &values, prefetch, &ctl).await?;
            let cursor = Arc::new(tokio::sync::Mutex::new(CursorState::new(stream)));
            let mut first = cursor.lock().await.fetch(prefetch, &ctl).await?;
            first.stmt = Some(stmt);
            Ok(Opened { cursor, first })
        })
    }

    /// Up to `count` more rows of a cursor: `(records, more)`.
    #[pyo3(signature = (stmt, cursor, count, timeout=None))]
    fn cursor_fetch<'py>(
        &self,
        py: Python<'py>,
        stmt: &TdsStmt,
        cursor: &TdsCursor,
        count: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let state = cursor.state.clone();
        let stmt = stmt.stmt.clone();
        self.submit(py, Some(token), async move {
            let mut fetched: Fetched = state.lock().await.fetch(count, &ctl).await?;
            fetched.stmt = Some(stmt);
            Ok(fetched)
        })
    }

    /// Stops a cursor; what remains of its result is cancelled on the server.
    fn cursor_close(&self, cursor: &TdsCursor) {
        let state = cursor.state.clone();
        ferrule_core::runtime::runtime().spawn(async move { state.lock().await.close() });
    }

    /// Calls a stored procedure. `params`: `(name or None, value, is_output, type or None)`.
    /// Resolves to `(return_status, {output name: value}, [result sets])`.
    #[pyo3(signature = (name, params, timeout=None))]
    fn callproc<'py>(
        &self,
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
                let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                PyTypeError::new_err(format!("invalid argument {}: {msg}", i + 1))
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
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            conn.call_procedure(&name, &list, &ctl)
                .await
                .map(ProcResult)
        })
    }

    /// Bulk-loads `records` into `table`; resolves to the number of rows loaded.
    #[pyo3(signature = (table, records, columns=None, timeout=None))]
    fn copy_records_to_table<'py>(
        &self,
        py: Python<'py>,
        table: String,
        records: &Bound<'py, PyAny>,
        columns: Option<Vec<String>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut rows = Vec::new();
        for (i, rec) in records.try_iter()?.enumerate() {
            rows.push(to_values(&rec?, "column ").map_err(|e| {
                let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                PyTypeError::new_err(format!("record {i}: {msg}"))
            })?);
        }
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            conn.bulk_load(&table, columns.as_deref(), &rows, &ctl)
                .await
                .map(Count)
        })
    }

    /// Graceful close, waiting at most `timeout` seconds for queued calls.
    #[pyo3(signature = (timeout=None))]
    fn close<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout)?.unwrap_or(Duration::from_secs(10));
        let conn = self.conn.clone();
        self.submit(py, None, async move {
            conn.close(timeout).await;
            Ok(Unit)
        })
    }

    fn terminate(&self) {
        self.conn.terminate();
    }

    fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// `idle` or `transaction` (from the server's transaction ENVCHANGEs).
    fn transaction_status(&self) -> &'static str {
        if self.conn.in_transaction() {
            "transaction"
        } else {
            "idle"
        }
    }

    /// The next request resets the session first (the RESETCONNECTION flag).
    fn mark_reset(&self) {
        self.conn.mark_reset();
    }

    /// `(major, minor, build)` from PRELOGIN.
    fn server_version(&self) -> (u8, u8, u16) {
        self.conn.server_info().version
    }

    fn database(&self) -> String {
        self.conn.database()
    }

    fn is_encrypted(&self) -> bool {
        self.conn.server_info().encrypted
    }
}

#[pymethods]
impl TdsStmt {
    #[getter]
    fn sql(&self) -> &str {
        &self.stmt.sql
    }

    /// Parameter types are declared from the values at each execution.
    #[getter]
    fn param_oids(&self) -> Vec<u32> {
        Vec::new()
    }

    /// `[(name, type)]` of the result columns, once known.
    #[getter]
    fn columns(&self) -> Vec<(String, String)> {
        self.stmt
            .columns
            .lock()
            .as_ref()
            .map(|cols| {
                cols.iter()
                    .map(|c| (c.name.clone(), c.type_info.sql_name()))
                    .collect()
            })
            .unwrap_or_default()
    }
}
