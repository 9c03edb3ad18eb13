//! The bodies of the native PostgreSQL calls, written once for every object that runs them:
//! a plain connection (`PgConn`), a connection lent by a pool (`PgPooledConn`), and the pool
//! itself (`PgPool`), whose calls acquire a connection, run, and release it in one job.
//!
//! Each call converts its arguments under the GIL, submits one job to the runtime and returns
//! an asyncio future resolved by the bridge.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ferrule_core::pool::Pooled;
use ferrule_core::turns::Turn;
use ferrule_core::Error;
use ferrule_pg::session::from_sql_text;
use ferrule_pg::{
    AsyncMessage, CallCtl, PgConnection, PgManager, QueryOpts, QueryResult, RowSink, Statement,
};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio_util::sync::CancellationToken;

use super::connection::PgStmt;
use super::copy::{OpenedIn, OpenedOut};
use super::direct::{run_waiting, try_direct, Output};
use super::results::{Codecs, PipelineResults, RowClass, Rows, Shape, UserCodec};
use crate::bridge::{Bridge, Completer, Deliver, Emitter, Text, Unit};
use crate::convert::{rows_to_values, to_values};
use crate::errors::to_pyerr;
use crate::settings::seconds;
use ferrule_pg::typeinfo::Override;

pub const BACKEND: &str = "postgresql";

/// A connection a job runs on, kept alive by the job until it ends.
pub trait ConnHandle: Send + Sync + 'static {
    fn conn(&self) -> &PgConnection;

    /// Told before a call runs `sql`, `queries` times (for a pool's reset and query budget).
    fn before_call(&self, _sql: &str, _queries: u64) {}
}

impl ConnHandle for PgConnection {
    fn conn(&self) -> &PgConnection {
        self
    }
}

impl ConnHandle for Pooled<PgManager> {
    fn conn(&self) -> &PgConnection {
        self
    }

    fn before_call(&self, sql: &str, queries: u64) {
        self.count_queries(queries);
        self.conn().mark_session_state(from_sql_text(sql));
    }
}

impl ConnHandle for Arc<Pooled<PgManager>> {
    fn conn(&self) -> &PgConnection {
        self.as_ref().conn()
    }

    fn before_call(&self, sql: &str, queries: u64) {
        self.as_ref().before_call(sql, queries);
    }
}

/// Where a job gets its connection: one it already has, or one acquired from a pool within
/// the call's deadline (`PoolSource`).
pub trait HandleSource: Send + 'static {
    type Handle: ConnHandle;

    fn get(self, ctl: &CallCtl) -> impl Future<Output = Result<Self::Handle, Error>> + Send;

    /// The call's place in line on its connection, taken when the call is made; none when
    /// the connection is not known yet (a pool lends a whole connection to the call).
    fn turn(&self) -> Option<Arc<Turn>> {
        None
    }

    /// The connection, when it is known as the call is made (the direct path's condition).
    fn conn_now(&self) -> Option<PgConnection> {
        None
    }

    /// Told when a call ran on the direct path (see `ConnHandle::before_call`).
    fn count(&self, _sql: &str) {}
}

impl<H: ConnHandle> HandleSource for H {
    type Handle = H;

    async fn get(self, _ctl: &CallCtl) -> Result<H, Error> {
        Ok(self)
    }

    fn turn(&self) -> Option<Arc<Turn>> {
        Some(self.conn().take_turn())
    }

    fn conn_now(&self) -> Option<PgConnection> {
        Some(self.conn().clone())
    }

    fn count(&self, sql: &str) {
        self.before_call(sql, 1);
    }
}

/// The job's target, the bridge that resolves its future, and the caller's type decoders.
pub struct Call<'a, S: HandleSource> {
    pub bridge: &'a Py<Bridge>,
    pub source: S,
    pub codecs: Option<Codecs>,
}

/// The decoders a call uses: a snapshot, None when there are none.
pub fn snapshot(codecs: &Mutex<Codecs>) -> Option<Codecs> {
    let codecs = codecs.lock();
    (!codecs.is_empty()).then(|| codecs.clone())
}

/// Registers (or with None removes) a decoder for `oid`: called with the value's text form,
/// or with `binary` its binary form.
pub fn set_type_decoder(
    py: Python<'_>,
    codecs: &Mutex<Codecs>,
    conn: &PgConnection,
    oid: u32,
    decoder: Option<Py<PyAny>>,
    binary: bool,
) {
    let mut codecs = codecs.lock();
    let mut map: HashMap<u32, UserCodec> = codecs
        .iter()
        .map(|(k, v)| {
            (
                *k,
                UserCodec {
                    decoder: v.decoder.clone_ref(py),
                    binary: v.binary,
                },
            )
        })
        .collect();
    let choice = match (&decoder, binary) {
        (None, _) => None,
        (Some(_), false) => Some(Override::Text),
        (Some(_), true) => Some(Override::Binary),
    };
    match decoder {
        Some(decoder) => map.insert(oid, UserCodec { decoder, binary }),
        None => map.remove(&oid),
    };
    *codecs = Arc::new(map);
    drop(codecs);
    // Text codecs are the connection's text-format types; a binary one is an override.
    conn.set_text_format(oid, matches!(choice, Some(Override::Text)));
    conn.set_type_override(
        oid,
        matches!(choice, Some(Override::Binary)).then_some(Override::Binary),
    );
}

/// Full results stream to the loop thread in batches; single-row shapes fetch one row.
fn query_opts(
    shape: Shape,
    completer: Completer,
    codecs: Option<Codecs>,
    class: Option<Arc<RowClass>>,
) -> QueryOpts {
    match shape {
        Shape::All => QueryOpts {
            max_rows: 0,
            sink: Some(Box::new(move |stmt: &Arc<Statement>| {
                let completer = completer.clone();
                let stmt = stmt.clone();
                let codecs = codecs.clone();
                let class = class.clone();
                Box::new(move |rows| {
                    let result = QueryResult {
                        statement: stmt.clone(),
                        rows,
                        status: String::new(),
                        suspended: true,
                    };
                    completer.partial(Box::new(Rows {
                        result,
                        shape: Shape::All,
                        codecs: codecs.clone(),
                        class: class.clone(),
                    }));
                }) as RowSink
            })),
        },
        Shape::Row | Shape::Value(_) => QueryOpts {
            max_rows: 1,
            sink: None,
        },
        Shape::Status | Shape::Batch => QueryOpts::default(),
    }
}

pub(crate) fn ctl(timeout: Option<f64>) -> PyResult<(CallCtl, CancellationToken)> {
    let token = CancellationToken::new();
    Ok((
        CallCtl::with_timeout(seconds(timeout)?, Some(token.clone())),
        token,
    ))
}

pub struct Prepared(pub Arc<Statement>);

impl Deliver for Prepared {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PgStmt::new(self.0))?.into_any())
    }
}

/// `(portal name, records, more rows remain)` for a cursor's first batch.
struct Opened {
    portal: String,
    rows: Rows,
}

impl Deliver for Opened {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let batch = Box::new(self.rows).deliver(py)?;
        Ok(PyTuple::new(
            py,
            [
                self.portal.into_pyobject(py)?.into_any(),
                batch.into_bound(py),
            ],
        )?
        .into_any()
        .unbind())
    }
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

    /// Runs `sql` with `args`; `shape`: 0 all rows, 1 first row, 2 one value, 3 status.
    #[allow(clippy::too_many_arguments)]
    pub fn query<'py>(
        self,
        py: Python<'py>,
        sql: String,
        args: &Bound<'py, PyAny>,
        shape: u8,
        column: usize,
        timeout: Option<f64>,
        class: Option<Arc<RowClass>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = Arc::new(to_values(args, "$")?);
        let (ctl, token) = self.ctl(timeout)?;
        let shape = Shape::from_code(shape, column);
        let codecs = self.codecs.clone();
        let (future, completer) =
            Bridge::register_completer(self.bridge.bind(py), BACKEND, Some(token))?;
        let opts = query_opts(shape, completer.clone(), codecs.clone(), class.clone());
        let slow = {
            let (sql, values, codecs, class) =
                (sql.clone(), values.clone(), codecs.clone(), class.clone());
            let completer = completer.clone();
            move |source: S, ctl: CallCtl| async move {
                let opts = query_opts(shape, completer, codecs.clone(), class.clone());
                let handle = source.get(&ctl).await?;
                handle.before_call(&sql, 1);
                let result = handle.conn().query(&sql, &values, opts, &ctl).await?;
                Ok(Box::new(Rows {
                    result,
                    shape,
                    codecs,
                    class,
                }) as Box<dyn Deliver>)
            }
        };
        let cached = self
            .source
            .conn_now()
            .and_then(|c| c.cached_statement(&sql));
        let source = match cached {
            Some(stmt) => {
                let output = Output {
                    shape,
                    codecs,
                    class,
                };
                match try_direct(
                    py,
                    self.bridge,
                    self.source,
                    &stmt,
                    &values,
                    &opts,
                    &ctl,
                    &completer,
                    output,
                    Some(sql),
                    slow.clone(),
                ) {
                    Ok(()) => return Ok(future),
                    Err(source) => source,
                }
            }
            None => self.source,
        };
        run_waiting(completer, source, ctl, slow);
        Ok(future)
    }

    /// Runs a prepared statement; same shapes as `query`.
    #[allow(clippy::too_many_arguments)]
    pub fn query_prepared<'py>(
        self,
        py: Python<'py>,
        stmt: &PgStmt,
        args: &Bound<'py, PyAny>,
        shape: u8,
        column: usize,
        timeout: Option<f64>,
        class: Option<Arc<RowClass>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = Arc::new(to_values(args, "$")?);
        let (ctl, token) = self.ctl(timeout)?;
        let stmt = stmt.statement().clone();
        let shape = Shape::from_code(shape, column);
        let codecs = self.codecs.clone();
        let (future, completer) =
            Bridge::register_completer(self.bridge.bind(py), BACKEND, Some(token))?;
        let opts = query_opts(shape, completer.clone(), codecs.clone(), class.clone());
        let slow = {
            let (stmt, values, codecs, class) =
                (stmt.clone(), values.clone(), codecs.clone(), class.clone());
            let completer = completer.clone();
            move |source: S, ctl: CallCtl| async move {
                let opts = query_opts(shape, completer, codecs.clone(), class.clone());
                let handle = source.get(&ctl).await?;
                handle.before_call(&stmt.sql, 1);
                let sink = opts.sink.as_ref().map(|f| f(&stmt));
                let result = handle
                    .conn()
                    .query_prepared(&stmt, &values, opts.max_rows, sink, &ctl)
                    .await?;
                Ok(Box::new(Rows {
                    result,
                    shape,
                    codecs,
                    class,
                }) as Box<dyn Deliver>)
            }
        };
        let output = Output {
            shape,
            codecs,
            class,
        };
        let source = match try_direct(
            py,
            self.bridge,
            self.source,
            &stmt,
            &values,
            &opts,
            &ctl,
            &completer,
            output,
            None,
            slow.clone(),
        ) {
            Ok(()) => return Ok(future),
            Err(source) => source,
        };
        run_waiting(completer, source, ctl, slow);
        Ok(future)
    }

    /// Runs one or more statements with the simple protocol; resolves to the last status.
    pub fn execute_script<'py>(
        self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(&sql, 1);
            handle.conn().simple_query(&sql, &ctl).await.map(Text)
        })
    }

    /// Executes `sql` for every argument sequence in `rows`, pipelined, all or nothing.
    pub fn executemany<'py>(
        self,
        py: Python<'py>,
        sql: String,
        rows: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = rows_to_values(rows, "$")?;
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(&sql, values.len().max(1) as u64);
            handle.conn().execute_many(&sql, &values, &ctl).await?;
            Ok(Unit)
        })
    }

    /// Prepares `sql`; resolves to a `PgStmt`.
    pub fn prepare<'py>(
        self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(&sql, 0);
            handle.conn().prepare(&sql, &ctl).await.map(Prepared)
        })
    }

    /// Opens a portal and fetches its first batch: `(portal, (records, more))`.
    pub fn cursor_open<'py>(
        self,
        py: Python<'py>,
        stmt: &PgStmt,
        args: &Bound<'py, PyAny>,
        prefetch: i32,
        timeout: Option<f64>,
        class: Option<Arc<RowClass>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = to_values(args, "$")?;
        let (ctl, token) = self.ctl(timeout)?;
        let stmt = stmt.statement().clone();
        let codecs = self.codecs.clone();
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(&stmt.sql, 1);
            let (portal, result) = handle
                .conn()
                .portal_open(&stmt, &values, prefetch, &ctl)
                .await?;
            let shape = Shape::Batch;
            Ok(Opened {
                portal,
                rows: Rows {
                    result,
                    shape,
                    codecs,
                    class,
                },
            })
        })
    }

    /// Fetches up to `count` more rows from a portal: `(records, more)`.
    pub fn cursor_fetch<'py>(
        self,
        py: Python<'py>,
        stmt: &PgStmt,
        portal: String,
        count: i32,
        timeout: Option<f64>,
        class: Option<Arc<RowClass>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        let stmt = stmt.statement().clone();
        let codecs = self.codecs.clone();
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            let result = handle
                .conn()
                .portal_fetch(&stmt, &portal, count, &ctl)
                .await?;
            let shape = Shape::Batch;
            Ok(Rows {
                result,
                shape,
                codecs,
                class,
            })
        })
    }

    /// Sends all `(sql, args)` items before reading any result; resolves to a list of
    /// record lists in order (see `PgConnection::pipeline` for the error semantics).
    pub fn pipeline<'py>(
        self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
        atomic: bool,
        return_exceptions: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut batch = Vec::new();
        for (i, item) in items.try_iter()?.enumerate() {
            let item = item?;
            let (sql, args): (String, Bound<'py, PyAny>) = item.extract().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "pipeline item {i} must be a (query, args) pair"
                ))
            })?;
            let values = to_values(&args, "$").map_err(|e| {
                let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                pyo3::exceptions::PyTypeError::new_err(format!("statement {i}: {msg}"))
            })?;
            batch.push((sql, values));
        }
        let (ctl, token) = self.ctl(timeout)?;
        let codecs = self.codecs.clone();
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            for (sql, _) in &batch {
                handle.before_call(sql, 1);
            }
            let results = handle.conn().pipeline(&batch, atomic, &ctl).await?;
            Ok(PipelineResults {
                results,
                return_exceptions,
                codecs,
            })
        })
    }

    /// Starts a `COPY ... FROM STDIN` statement; resolves to a `PgCopyIn`.
    pub fn copy_in<'py>(
        self,
        py: Python<'py>,
        sql: String,
        args: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = to_values(args, "$")?;
        let (ctl, token) = self.ctl(timeout)?;
        let bridge = self.bridge.clone_ref(py);
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(&sql, 1);
            let copy = handle.conn().copy_in(&sql, &values, &ctl).await?;
            Ok(OpenedIn(copy, bridge))
        })
    }

    /// Starts a `COPY ... TO STDOUT` statement; resolves to a `PgCopyOut`.
    pub fn copy_out<'py>(
        self,
        py: Python<'py>,
        sql: String,
        args: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = to_values(args, "$")?;
        let (ctl, token) = self.ctl(timeout)?;
        let bridge = self.bridge.clone_ref(py);
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(&sql, 1);
            let copy = handle.conn().copy_out(&sql, &values, &ctl).await?;
            Ok(OpenedOut(copy, bridge))
        })
    }

    /// Graceful close, waiting at most `timeout` seconds (default 10) for the server.
    pub fn close<'py>(self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout)?.unwrap_or(Duration::from_secs(10));
        self.submit(py, None, |source| async move {
            let handle = source.get(&CallCtl::default()).await?;
            handle.conn().close(timeout).await;
            Ok(Unit)
        })
    }
}

/// A notification, notice or termination, delivered as the callback's arguments; `Released`
/// is the last event of a lent connection's listener (`PgConnection` ignores the kind).
pub enum Event {
    Message(AsyncMessage),
    Released,
}

impl Deliver for Event {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let args = match *self {
            Event::Message(AsyncMessage::Notification {
                process_id,
                channel,
                payload,
            }) => (
                "notification",
                process_id.into_pyobject(py)?.into_any(),
                channel,
                payload,
            )
                .into_pyobject(py)?,
            Event::Message(AsyncMessage::Notice(e)) => {
                let exc = to_pyerr(py, &e, BACKEND).into_value(py).into_any();
                ("notice", exc.into_bound(py), py.None(), py.None()).into_pyobject(py)?
            }
            Event::Message(AsyncMessage::Terminated(e)) => {
                let exc = to_pyerr(py, &e, BACKEND).into_value(py).into_any();
                ("terminated", exc.into_bound(py), py.None(), py.None()).into_pyobject(py)?
            }
            Event::Released => ("released", py.None(), py.None(), py.None()).into_pyobject(py)?,
        };
        Ok(args.into_any().unbind())
    }
}

/// Routes the connection's notifications, notices and termination to `callback` on the
/// event loop; returns the emitter, which the connection's hook shares.
pub fn route_events(
    py: Python<'_>,
    bridge: &Py<Bridge>,
    conn: &PgConnection,
    callback: Py<PyAny>,
) -> Arc<Emitter> {
    let emitter = Arc::new(Bridge::add_listener(bridge.bind(py), callback));
    let hook_emitter = emitter.clone();
    conn.set_async_hook(Some(Box::new(move |msg| {
        let last = matches!(msg, AsyncMessage::Terminated(_));
        hook_emitter.emit(Box::new(Event::Message(msg)), last);
    })));
    emitter
}

/// `idle`, `transaction` or `failed` (from the server's last ReadyForQuery).
pub fn transaction_status(conn: &PgConnection) -> &'static str {
    match conn.transaction_status() {
        b'T' => "transaction",
        b'E' => "failed",
        _ => "idle",
    }
}
