//! `SqliteConn` and `SqliteStmt`: thin pyo3 shells over `ferrule_sqlite::SqliteConnection`.
//! A call converts its arguments under the GIL and then either runs inline (a short cached
//! statement on an idle connection: the future comes back already resolved) or is queued to
//! the connection's thread, whose reply resolves the future through the bridge.

use std::sync::Arc;
use std::time::Duration;

use ferrule_core::{Error, Value};
use ferrule_sqlite::{CallCtl, Reply, SqliteConnection, StmtMeta};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use tokio_util::sync::CancellationToken;

use super::config::from_dict;
use super::methods::{sqlite_connection_methods, SqliteCalls};
use super::results::{Rows, Shape};
use crate::bridge::{Bridge, Deliver, Text, Unit};
use crate::ready::InlineSlice;
use crate::settings::seconds;

const BACKEND: &str = "sqlite";

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct SqliteConn {
    conn: SqliteConnection,
    bridge: Py<Bridge>,
    detect_types: bool,
    /// Inline calls back to back; when their slice is used up one lets the loop run others.
    inline_slice: InlineSlice,
    releaser: ReadReleaser,
}

/// Ends a connection's held read transaction at the event loop's next turn: short reads keep
/// theirs open for the reads that follow (see `SqliteConnection::read_release_due`).
pub(super) struct ReadReleaser {
    /// `loop.call_soon`, and the `ReadRelease` it is given.
    call_soon: Py<PyAny>,
    release: Py<PyAny>,
}

impl ReadReleaser {
    pub fn new(py: Python<'_>, call_soon: Py<PyAny>, conn: &SqliteConnection) -> PyResult<Self> {
        let conn = conn.clone();
        let release = Py::new(py, ReadRelease { conn })?.into_any();
        Ok(ReadReleaser { call_soon, release })
    }

    /// `loop.call_soon` of the bridge's event loop, to give `new`.
    pub fn call_soon(bridge: &Bound<'_, Bridge>) -> PyResult<Py<PyAny>> {
        bridge
            .borrow()
            .event_loop()
            .getattr(bridge.py(), "call_soon")
    }

    /// After an inline call on `conn`: schedules the end of the read transaction it left
    /// open, if any. If the loop cannot take the callback, the transaction ends now.
    pub fn after_inline(&self, py: Python<'_>, conn: &SqliteConnection) {
        if conn.read_release_due()
            && self
                .call_soon
                .call1(py, (self.release.clone_ref(py),))
                .is_err()
        {
            conn.release_read();
        }
    }
}

#[pyclass(module = "ferrule._ferrule", frozen)]
struct ReadRelease {
    conn: SqliteConnection,
}

#[pymethods]
impl ReadRelease {
    fn __call__(&self) {
        self.conn.release_read();
    }
}

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct SqliteStmt {
    meta: Arc<StmtMeta>,
}

struct Opened {
    conn: SqliteConnection,
    bridge: Py<Bridge>,
    detect_types: bool,
    call_soon: Py<PyAny>,
}

impl Deliver for Opened {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let releaser = ReadReleaser::new(py, self.call_soon, &self.conn)?;
        Ok(Py::new(
            py,
            SqliteConn {
                conn: self.conn,
                bridge: self.bridge,
                detect_types: self.detect_types,
                inline_slice: InlineSlice::new(),
                releaser,
            },
        )?
        .into_any())
    }
}

pub(super) struct Prepared(pub Arc<StmtMeta>);

impl SqliteStmt {
    pub fn meta(&self) -> &Arc<StmtMeta> {
        &self.meta
    }

    /// What a job resolves to when it prepared (or described) a statement.
    pub fn deliverable(meta: Arc<StmtMeta>) -> impl Deliver {
        Prepared(meta)
    }
}

impl Deliver for Prepared {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, SqliteStmt { meta: self.0 })?.into_any())
    }
}

/// A cursor's first batch: `(cursor id, (records, more))`.
pub(super) struct CursorOpened {
    pub id: u64,
    pub rows: Rows,
}

impl Deliver for CursorOpened {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let batch = Box::new(self.rows).deliver(py)?;
        let id = PyString::new(py, &self.id.to_string()).into_any();
        Ok(PyTuple::new(py, [id, batch.into_bound(py)])?
            .into_any()
            .unbind())
    }
}

/// Opens a connection on its own thread; resolves to a `SqliteConn`.
#[pyfunction]
pub fn sqlite_connect<'py>(
    bridge: &Bound<'py, Bridge>,
    settings: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let (cfg, detect_types) = from_dict(settings)?;
    let handle = bridge.clone().unbind();
    let call_soon = ReadReleaser::call_soon(bridge)?;
    let (future, completion) = Bridge::register(bridge, BACKEND, None)?;
    SqliteConnection::open(
        cfg,
        Box::new(move |r| {
            completion.complete(r.map(|conn| Opened {
                conn,
                bridge: handle,
                detect_types,
                call_soon,
            }))
        }),
    );
    Ok(future)
}

pub(super) fn ctl(timeout: Option<f64>) -> PyResult<(CallCtl, CancellationToken)> {
    let token = CancellationToken::new();
    Ok((CallCtl::new(seconds(timeout)?, Some(token.clone())), token))
}

pub(super) fn cursor_id(portal: &str) -> PyResult<u64> {
    portal
        .parse()
        .map_err(|_| PyValueError::new_err(format!("not a SQLite cursor id: {portal:?}")))
}

impl SqliteConn {
    /// The awaitable of a call done inline.
    fn inline_ready<'py, T: Deliver + 'static>(
        &self,
        py: Python<'py>,
        outcome: Result<T, Error>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.releaser.after_inline(py, &self.conn);
        let yield_first = self.inline_slice.should_yield();
        Bridge::ready_yielding(self.bridge.bind(py), BACKEND, outcome, yield_first)
    }

    /// A future for a queued job and the reply that resolves it from the connection's thread.
    fn pending<'py, T, D>(
        &self,
        py: Python<'py>,
        token: Option<CancellationToken>,
        wrap: impl FnOnce(T) -> D + Send + 'static,
    ) -> PyResult<(Bound<'py, PyAny>, Reply<T>)>
    where
        T: Send + 'static,
        D: Deliver + 'static,
    {
        let (future, completion) = Bridge::register(self.bridge.bind(py), BACKEND, token)?;
        Ok((
            future,
            Box::new(move |r: Result<T, Error>| completion.complete(r.map(wrap))),
        ))
    }
}

impl SqliteCalls for SqliteConn {
    fn detects_types(&self) -> bool {
        self.detect_types
    }

    fn run<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        values: Vec<Value>,
        shape: Shape,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let detect_types = self.detect_types;
        let keep = shape.keep();
        if let Some(outcome) = self.conn.query_inline(sql, &values, keep) {
            let rows = outcome.map(|result| Rows {
                result,
                shape,
                detect_types,
            });
            return self.inline_ready(py, rows);
        }
        self.inline_slice.restart();
        let (ctl, token) = ctl(timeout)?;
        let (future, reply) = self.pending(py, Some(token), move |result| Rows {
            result,
            shape,
            detect_types,
        })?;
        self.conn.query(sql.to_owned(), values, keep, ctl, reply);
        Ok(future)
    }

    fn script<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(outcome) = self.conn.query_inline(sql, &[], Shape::Status.keep()) {
            return self.inline_ready(py, outcome.map(|r| Text(r.status())));
        }
        let (ctl, token) = ctl(timeout)?;
        let (future, reply) = self.pending(py, Some(token), Text)?;
        self.conn.execute_script(sql.to_owned(), ctl, reply);
        Ok(future)
    }

    fn many<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        rows: Vec<Vec<Value>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let (future, reply) = self.pending(py, Some(token), |_: u64| Unit)?;
        self.conn.execute_many(sql, rows, ctl, reply);
        Ok(future)
    }

    fn describe<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let (future, reply) = self.pending(py, Some(token), Prepared)?;
        self.conn.prepare(sql, ctl, reply);
        Ok(future)
    }

    fn open_cursor<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        values: Vec<Value>,
        prefetch: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let detect_types = self.detect_types;
        let (future, reply) = self.pending(py, Some(token), move |(id, result)| CursorOpened {
            id,
            rows: Rows {
                result,
                shape: Shape::Batch,
                detect_types,
            },
        })?;
        self.conn.cursor_open(sql, values, prefetch, ctl, reply);
        Ok(future)
    }

    fn fetch_cursor<'py>(
        &self,
        py: Python<'py>,
        id: u64,
        count: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let detect_types = self.detect_types;
        let (future, reply) = self.pending(py, Some(token), move |result| Rows {
            result,
            shape: Shape::Batch,
            detect_types,
        })?;
        self.conn.cursor_fetch(id, count, ctl, reply);
        Ok(future)
    }

    fn close_cursor(&self, id: u64) {
        self.conn.cursor_close(id);
    }

    fn shut<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout)?.unwrap_or(Duration::from_secs(10));
        let conn = self.conn.clone();
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            conn.close(Box::new(move |r| {
                let _ = tx.send(r);
            }));
            if tokio::time::timeout(timeout, rx).await.is_err() {
                conn.terminate();
            }
            Ok(Unit)
        })
    }

    fn kill(&self) {
        self.conn.terminate();
    }

    fn closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// SQLite's autocommit flag after the last statement.
    fn in_transaction(&self) -> bool {
        self.conn.in_transaction()
    }
}

sqlite_connection_methods!(SqliteConn, {
    /// Online backup into `target`: a file path or another `SqliteConn`.
    #[pyo3(signature = (target, timeout=None))]
    fn backup<'py>(
        &self,
        py: Python<'py>,
        target: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let (future, reply) = self.pending(py, Some(token), |()| Unit)?;
        start_backup(&self.conn, target, ctl, reply)?;
        Ok(future)
    }
});

/// Starts an online backup of `conn` into `target` (a file path or a `SqliteConn`).
pub(super) fn start_backup(
    conn: &SqliteConnection,
    target: &Bound<'_, PyAny>,
    ctl: CallCtl,
    reply: Reply<()>,
) -> PyResult<()> {
    if let Ok(dest) = target.cast::<SqliteConn>() {
        conn.backup_to(&dest.get().conn, ctl, reply);
    } else if let Ok(path) = target.extract::<String>() {
        conn.backup_to_path(path, ctl, reply);
    } else {
        return Err(PyTypeError::new_err(
            "backup target must be a file path or a SQLite connection",
        ));
    }
    Ok(())
}

#[pymethods]
impl SqliteStmt {
    #[getter]
    fn sql(&self) -> &str {
        &self.meta.sql
    }

    /// The parameter names (`:id`, `?2`), None for a bare `?`.
    #[getter]
    fn param_names(&self) -> Vec<Option<String>> {
        self.meta.params.to_vec()
    }

    /// `[(name, declared type)]` of the result columns; the type is "" for an expression.
    #[getter]
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            self.meta
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.decltype.clone().unwrap_or_default())),
        )
    }

    #[getter]
    fn readonly(&self) -> bool {
        self.meta.readonly
    }
}
