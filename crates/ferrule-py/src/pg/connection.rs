//! `PgConn` and `PgStmt`: thin pyo3 shells over `ferrule_pg::PgConnection`. Each method
//! converts its arguments under the GIL, submits one job to the runtime and returns an
//! asyncio future resolved by the bridge.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferrule_core::{Error, Value};
use ferrule_pg::typeinfo::{builtin_codec, Override};
use ferrule_pg::{AsyncMessage, CallCtl, PgConnection, QueryOpts, QueryResult, RowSink, Statement};
use parking_lot::Mutex;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};
use tokio_util::sync::CancellationToken;

use super::config::from_dict;
use super::copy::{OpenedIn, OpenedOut};
use super::results::{Codecs, PipelineResults, RowClass, Rows, Shape, UserCodec};
use crate::bridge::{Bridge, Completer, Deliver, Text, Unit};
use crate::convert::to_values;
use crate::errors::to_pyerr;
use crate::record::Record;
use crate::settings::seconds;

pub(crate) const BACKEND: &str = "postgresql";

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PgConn {
    conn: PgConnection,
    bridge: Py<Bridge>,
    /// Replaced, never mutated, so a query takes a snapshot with one Arc clone.
    codecs: Mutex<Codecs>,
}

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PgStmt {
    stmt: Arc<Statement>,
}

struct Connected {
    conn: PgConnection,
    bridge: Py<Bridge>,
}

impl Deliver for Connected {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let conn = PgConn {
            conn: self.conn,
            bridge: self.bridge,
            codecs: Mutex::default(),
        };
        Ok(Py::new(py, conn)?.into_any())
    }
}

struct Prepared(Arc<Statement>);

impl Deliver for Prepared {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PgStmt { stmt: self.0 })?.into_any())
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

/// A notification, notice or termination, delivered as the callback's arguments.
struct Event(AsyncMessage);

impl Deliver for Event {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let args = match self.0 {
            AsyncMessage::Notification {
                process_id,
                channel,
                payload,
            } => (
                "notification",
                process_id.into_pyobject(py)?.into_any(),
                channel,
                payload,
            )
                .into_pyobject(py)?,
            AsyncMessage::Notice(e) => {
                let exc = to_pyerr(py, &e, BACKEND).into_value(py).into_any();
                ("notice", exc.into_bound(py), py.None(), py.None()).into_pyobject(py)?
            }
            AsyncMessage::Terminated(e) => {
                let exc = to_pyerr(py, &e, BACKEND).into_value(py).into_any();
                ("terminated", exc.into_bound(py), py.None(), py.None()).into_pyobject(py)?
            }
        };
        Ok(args.into_any().unbind())
    }
}

/// Opens a connection; resolves to a `PgConn`.
#[pyfunction]
pub fn pg_connect<'py>(
    bridge: &Bound<'py, Bridge>,
    settings: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg = from_dict(settings)?;
    let handle = bridge.clone().unbind();
    Bridge::submit(bridge, BACKEND, None, async move {
        let conn = PgConnection::connect(&cfg).await?;
        Ok(Connected {
            conn,
            bridge: handle,
        })
    })
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

impl PgConn {
    fn codecs(&self) -> Option<Codecs> {
        let codecs = self.codecs.lock();
        (!codecs.is_empty()).then(|| codecs.clone())
    }

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
impl PgConn {
    /// Runs `sql` with `args`; `shape`: 0 all rows, 1 first row, 2 one value, 3 status.
    /// Rows are instances of `record_class` (a Record subclass) or built by calling
    /// `as_class` with the columns as keyword arguments, when given.
    #[pyo3(signature = (sql, args, shape=0, column=0, timeout=None, record_class=None, as_class=None))]
    #[allow(clippy::too_many_arguments)]
    fn query<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        args: &Bound<'py, PyAny>,
        shape: u8,
        column: usize,
        timeout: Option<f64>,
        record_class: Option<Bound<'py, PyType>>,
        as_class: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = to_values(args, "$")?;
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        let shape = Shape::from_code(shape, column);
        let codecs = self.codecs();
        let class = row_class(record_class, as_class)?;
        Bridge::submit_streaming(
            self.bridge.bind(py),
            BACKEND,
            Some(token),
            move |completer| {
                let opts = query_opts(shape, completer, codecs.clone(), class.clone());
                async move {
                    let result = conn.query(&sql, &values, opts, &ctl).await?;
                    Ok(Rows {
                        result,
                        shape,
                        codecs,
                        class,
                    })
                }
            },
        )
    }

    /// Runs a prepared statement; same shapes and row classes as `query`.
    #[pyo3(signature = (stmt, args, shape=0, column=0, timeout=None, record_class=None, as_class=None))]
    #[allow(clippy::too_many_arguments)]
    fn query_prepared<'py>(
        &self,
        py: Python<'py>,
        stmt: &PgStmt,
        args: &Bound<'py, PyAny>,
        shape: u8,
        column: usize,
        timeout: Option<f64>,
        record_class: Option<Bound<'py, PyType>>,
        as_class: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = to_values(args, "$")?;
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        let stmt = stmt.stmt.clone();
        let shape = Shape::from_code(shape, column);
        let codecs = self.codecs();
        let class = row_class(record_class, as_class)?;
        Bridge::submit_streaming(
            self.bridge.bind(py),
            BACKEND,
            Some(token),
            move |completer| {
                let opts = query_opts(shape, completer, codecs.clone(), class.clone());
                async move {
                    let sink = opts.sink.as_ref().map(|f| f(&stmt));
                    let result = conn
                        .query_prepared(&stmt, &values, opts.max_rows, sink, &ctl)
                        .await?;
                    Ok(Rows {
                        result,
                        shape,
                        codecs,
                        class,
                    })
                }
            },
        )
    }

    /// Runs one or more statements with the simple protocol; resolves to the last status.
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
            conn.simple_query(&sql, &ctl).await.map(Text)
        })
    }

    /// Executes `sql` for every argument sequence in `rows`, pipelined, all or nothing.
    #[pyo3(signature = (sql, rows, timeout=None))]
    fn executemany<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        rows: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut values = Vec::new();
        for (i, row) in rows.try_iter()?.enumerate() {
            let row = row?;
            values.push(to_values(&row, "$").map_err(|e| {
                let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                pyo3::exceptions::PyTypeError::new_err(format!("row {i}: {msg}"))
            })?);
        }
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            conn.execute_many(&sql, &values, &ctl).await.map(|()| Unit)
        })
    }

    /// Prepares `sql`; resolves to a `PgStmt`.
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

    /// Opens a portal and fetches its first batch: `(portal, (records, more))`.
    #[pyo3(signature = (stmt, args, prefetch, timeout=None, record_class=None, as_class=None))]
    #[allow(clippy::too_many_arguments)]
    fn cursor_open<'py>(
        &self,
        py: Python<'py>,
        stmt: &PgStmt,
        args: &Bound<'py, PyAny>,
        prefetch: i32,
        timeout: Option<f64>,
        record_class: Option<Bound<'py, PyType>>,
        as_class: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values: Vec<Value> = to_values(args, "$")?;
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        let stmt = stmt.stmt.clone();
        let codecs = self.codecs();
        let class = row_class(record_class, as_class)?;
        self.submit(py, Some(token), async move {
            let (portal, result) = conn.portal_open(&stmt, &values, prefetch, &ctl).await?;
            let rows = Rows {
                result,
                shape: Shape::Batch,
                codecs,
                class,
            };
            Ok(Opened { portal, rows })
        })
    }

    /// Fetches up to `count` more rows from a portal: `(records, more)`.
    #[pyo3(signature = (stmt, portal, count, timeout=None, record_class=None, as_class=None))]
    #[allow(clippy::too_many_arguments)]
    fn cursor_fetch<'py>(
        &self,
        py: Python<'py>,
        stmt: &PgStmt,
        portal: String,
        count: i32,
        timeout: Option<f64>,
        record_class: Option<Bound<'py, PyType>>,
        as_class: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        let stmt = stmt.stmt.clone();
        let codecs = self.codecs();
        let class = row_class(record_class, as_class)?;
        self.submit(py, Some(token), async move {
            let result = conn.portal_fetch(&stmt, &portal, count, &ctl).await?;
            Ok(Rows {
                result,
                shape: Shape::Batch,
                codecs,
                class,
            })
        })
    }

    fn cursor_close(&self, portal: &str) {
        self.conn.portal_close(portal);
    }

    /// Graceful close, waiting at most `timeout` seconds for the server.
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

    /// `idle`, `transaction` or `failed` (from the server's last ReadyForQuery).
    fn transaction_status(&self) -> &'static str {
        match self.conn.transaction_status() {
            b'T' => "transaction",
            b'E' => "failed",
            _ => "idle",
        }
    }

    fn process_id(&self) -> i32 {
        self.conn.process_id()
    }

    fn server_parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.conn.server_parameters() {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn clear_statement_cache(&self) {
        self.conn.clear_statement_cache();
    }

    /// Sends all `(sql, args)` items before reading any result; resolves to a list of
    /// record lists in order (see `PgConnection::pipeline` for the error semantics).
    #[pyo3(signature = (items, atomic=false, return_exceptions=false, timeout=None))]
    fn pipeline<'py>(
        &self,
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
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        let codecs = self.codecs();
        self.submit(py, Some(token), async move {
            let results = conn.pipeline(&batch, atomic, &ctl).await?;
            Ok(PipelineResults {
                results,
                return_exceptions,
                codecs,
            })
        })
    }

    /// Starts a `COPY ... FROM STDIN` statement; resolves to a `PgCopyIn`.
    #[pyo3(signature = (sql, args, timeout=None))]
    fn copy_in<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        args: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = to_values(args, "$")?;
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        let bridge = self.bridge.clone_ref(py);
        self.submit(py, Some(token), async move {
            let copy = conn.copy_in(&sql, &values, &ctl).await?;
            Ok(OpenedIn(copy, bridge))
        })
    }

    /// Starts a `COPY ... TO STDOUT` statement; resolves to a `PgCopyOut`.
    #[pyo3(signature = (sql, args, timeout=None))]
    fn copy_out<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        args: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = to_values(args, "$")?;
        let (ctl, token) = ctl(timeout)?;
        let conn = self.conn.clone();
        let bridge = self.bridge.clone_ref(py);
        self.submit(py, Some(token), async move {
            let copy = conn.copy_out(&sql, &values, &ctl).await?;
            Ok(OpenedOut(copy, bridge))
        })
    }

    /// Routes notifications, notices and the end of the connection to `callback(kind, a, b,
    /// c)` on the event loop: `("notification", pid, channel, payload)`, `("notice",
    /// exception, None, None)`, `("terminated", exception, None, None)`.
    fn set_event_callback(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        let emitter = Bridge::add_listener(self.bridge.bind(py), callback);
        self.conn.set_async_hook(Some(Box::new(move |msg| {
            let last = matches!(msg, AsyncMessage::Terminated(_));
            emitter.emit(Box::new(Event(msg)), last);
        })));
        Ok(())
    }

    /// Decodes type `oid` with `decoder`, called with the value's text form (a str) or, with
    /// `binary`, its binary form (bytes); None restores ferrule's own decoding.
    #[pyo3(signature = (oid, decoder=None, binary=false))]
    fn set_type_decoder(&self, py: Python<'_>, oid: u32, decoder: Option<Py<PyAny>>, binary: bool) {
        let mut codecs = self.codecs.lock();
        let mut map: HashMap<u32, UserCodec> = codecs
            .iter()
            .map(|(k, v)| {
                let codec = UserCodec {
                    decoder: v.decoder.clone_ref(py),
                    binary: v.binary,
                };
                (*k, codec)
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
        self.conn
            .set_text_format(oid, matches!(choice, Some(Override::Text)));
        let binary_choice = matches!(choice, Some(Override::Binary)).then_some(Override::Binary);
        self.conn.set_type_override(oid, binary_choice);
    }

    /// Handles type `oid` with the built-in codec `codec` (`int4`, `text`, `hstore`, ...),
    /// or with None as ferrule would by itself.
    #[pyo3(signature = (oid, codec=None))]
    fn set_builtin_codec(&self, oid: u32, codec: Option<&str>) -> PyResult<()> {
        let choice = match codec {
            None => None,
            Some(name) => Some(Override::Like(builtin_codec(name).ok_or_else(|| {
                PyValueError::new_err(format!("{name:?} is not a built-in codec ferrule has"))
            })?)),
        };
        self.conn.set_type_override(oid, choice);
        Ok(())
    }

    /// Forgets the types read from pg_catalog and the cached statements.
    fn reload_schema_state(&self) {
        self.conn.reload_schema_state();
    }
}

/// The row class of a call from its `record_class` and `as_class` arguments.
fn row_class(
    record_class: Option<Bound<'_, PyType>>,
    as_class: Option<Py<PyAny>>,
) -> PyResult<Option<Arc<RowClass>>> {
    Ok(match (record_class, as_class) {
        (Some(_), Some(_)) => {
            return Err(PyValueError::new_err(
                "give record_class or as_class, not both",
            ))
        }
        (Some(cls), None) => {
            if !cls.is_subclass_of::<Record>()? {
                return Err(PyTypeError::new_err(
                    "record_class must be a subclass of ferrule.Record",
                ));
            }
            // Plain Records need no class at all: the fast path.
            (!cls.is(cls.py().get_type::<Record>()))
                .then(|| Arc::new(RowClass::Record(cls.unbind())))
        }
        (None, Some(cls)) => Some(Arc::new(RowClass::Kwargs(cls))),
        (None, None) => None,
    })
}

#[pymethods]
impl PgStmt {
    #[getter]
    fn sql(&self) -> &str {
        &self.stmt.sql
    }

    /// Type OIDs of the parameters.
    #[getter]
    fn param_oids(&self) -> Vec<u32> {
        self.stmt.params.clone()
    }

    /// `[(name, type oid)]` of the result columns.
    #[getter]
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            self.stmt
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.type_oid)),
        )
    }
}
