//! `TntConn`: a thin pyo3 shell over `ferrule_tarantool::TntConnection`. Arguments are encoded
//! to MessagePack under the GIL, one job runs on the runtime, and the reply bytes are decoded
//! into Python objects on the loop thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrule_core::Error;
use ferrule_tarantool::encode::MpWriter;
use ferrule_tarantool::request::isolation_code;
use ferrule_tarantool::sql::sql_result;
use ferrule_tarantool::{
    CallCtl, IndexRef, Iterator, Request, Response, SelectOpts, Space, SpaceRef, TntConnection,
    Tuples,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use tokio_util::sync::CancellationToken;

use super::config::from_dict;
use super::encode::{encode, encode_array, encode_bind};
use super::results::{MpObject, SqlRows, SqlShape, TupleResult, TupleShape};
use super::streams::{Pushes, Watcher};
use crate::bridge::{Bridge, Deliver, Unit};
use crate::settings::seconds;

pub const BACKEND: &str = "tarantool";

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TntConn {
    pub(super) conn: TntConnection,
    pub(super) bridge: Py<Bridge>,
    /// The stream of the open interactive transaction (0: none); every call joins it.
    stream: AtomicU64,
}

/// A prepared SQL statement (IPROTO_PREPARE).
#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TntStmt {
    #[pyo3(get)]
    stmt_id: u64,
    #[pyo3(get)]
    sql: String,
    info: ferrule_tarantool::PreparedInfo,
}

struct Connected {
    conn: TntConnection,
    bridge: Py<Bridge>,
}

impl Deliver for Connected {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(
            py,
            TntConn {
                conn: self.conn,
                bridge: self.bridge,
                stream: AtomicU64::new(0),
            },
        )?
        .into_any())
    }
}

struct Prepared(String, ferrule_tarantool::PreparedInfo);

impl Deliver for Prepared {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(
            py,
            TntStmt {
                stmt_id: self.1.stmt_id,
                sql: self.0,
                info: self.1,
            },
        )?
        .into_any())
    }
}

/// Opens a connection; resolves to a `TntConn`.
#[pyfunction]
pub fn tnt_connect<'py>(
    bridge: &Bound<'py, Bridge>,
    settings: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg = from_dict(settings)?;
    let handle = bridge.clone().unbind();
    Bridge::submit(bridge, BACKEND, None, async move {
        let conn = TntConnection::connect(cfg).await?;
        Ok(Connected {
            conn,
            bridge: handle,
        })
    })
}

fn space_ref(space: &Bound<'_, PyAny>) -> PyResult<SpaceRef> {
    if let Ok(s) = space.cast::<PyString>() {
        return Ok(SpaceRef::Name(s.to_str()?.to_owned()));
    }
    space
        .extract::<u32>()
        .map(SpaceRef::Id)
        .map_err(|_| PyTypeError::new_err("space must be a name (str) or an id (int)"))
}

fn index_ref(index: Option<&Bound<'_, PyAny>>) -> PyResult<IndexRef> {
    let Some(index) = index else {
        return Ok(IndexRef::Id(0));
    };
    if let Ok(s) = index.cast::<PyString>() {
        return Ok(IndexRef::Name(s.to_str()?.to_owned()));
    }
    index
        .extract::<u32>()
        .map(IndexRef::Id)
        .map_err(|_| PyTypeError::new_err("index must be a name (str) or an id (int)"))
}

fn iterator(it: Option<&Bound<'_, PyAny>>) -> PyResult<Iterator> {
    let Some(it) = it else {
        return Ok(Iterator::Eq);
    };
    if let Ok(s) = it.cast::<PyString>() {
        let name = s.to_str()?;
        return Iterator::parse(name)
            .ok_or_else(|| PyValueError::new_err(format!("unknown iterator {name:?}")));
    }
    let code: u32 = it
        .extract()
        .map_err(|_| PyTypeError::new_err("iterator must be a name or a number"))?;
    Iterator::from_code(code)
        .ok_or_else(|| PyValueError::new_err(format!("unknown iterator {code}")))
}

/// A key: a scalar is a one-part key, a list or tuple a multi-part one.
fn encode_key(key: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if key.is_none() || key.cast::<pyo3::types::PyTuple>().is_ok() || key.cast::<PyList>().is_ok() {
        return encode_array(key, "key");
    }
    let mut out = Vec::with_capacity(16);
    MpWriter(&mut out).array(1);
    encode(&mut out, key)?;
    Ok(out)
}

impl TntConn {
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

    fn ctl(&self, timeout: Option<f64>) -> PyResult<(CallCtl, CancellationToken)> {
        let token = CancellationToken::new();
        let mut ctl = CallCtl::with_timeout(seconds(timeout)?, Some(token.clone()));
        let stream = self.stream.load(Ordering::Relaxed);
        ctl.stream = (stream != 0).then_some(stream);
        Ok((ctl, token))
    }

    /// Update operations: `[op, field, arg, ...]` each; a field given by name is turned into
    /// its number with the space format known now (JSON paths pass through as text).
    fn encode_ops(&self, space: &SpaceRef, ops: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
        let schema = self.conn.schema();
        let sp = schema.space(space).ok();
        let items: Vec<Bound<'_, PyAny>> = ops.try_iter()?.collect::<PyResult<_>>()?;
        let mut out = Vec::with_capacity(16 * items.len() + 4);
        MpWriter(&mut out).array(items.len() as u32);
        for (i, op) in items.iter().enumerate() {
            let parts: Vec<Bound<'_, PyAny>> = op
                .try_iter()
                .map_err(|_| PyTypeError::new_err(format!("operation {i} must be a list")))?
                .collect::<PyResult<_>>()?;
            if parts.len() < 2 {
                return Err(PyValueError::new_err(format!(
                    "operation {i} must be [op, field, argument...]"
                )));
            }
            MpWriter(&mut out).array(parts.len() as u32);
            for (j, part) in parts.iter().enumerate() {
                if j == 1 {
                    if let Ok(name) = part.cast::<PyString>() {
                        let name = name.to_str()?;
                        if let Some(n) = sp.and_then(|s| s.field_number(name)) {
                            MpWriter(&mut out).uint(u64::from(n));
                            continue;
                        }
                    }
                }
                encode(&mut out, part)?;
            }
        }
        Ok(out)
    }
}

#[pymethods]
impl TntConn {
    #[pyo3(signature = (timeout=None))]
    fn ping<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        self.direct(
            py,
            &Request::Ping,
            ctl,
            token,
            |_| Ok(Box::new(Unit)),
            |conn, ctl| async move { conn.ping(&ctl).await.map(|()| Unit) },
        )
    }

    #[pyo3(signature = (space, key=None, index=None, iterator=None, limit=None, offset=0, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn select<'py>(
        &self,
        py: Python<'py>,
        space: &Bound<'py, PyAny>,
        key: Option<&Bound<'py, PyAny>>,
        index: Option<&Bound<'py, PyAny>>,
        iterator: Option<&Bound<'py, PyAny>>,
        limit: Option<u32>,
        offset: u32,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = space_ref(space)?;
        let key = match key {
            Some(k) => encode_key(k)?,
            None => vec![0x90],
        };
        let mut it = self::iterator(iterator)?;
        if key == [0x90] && iterator.is_none() {
            it = Iterator::All;
        }
        let opts = SelectOpts {
            index: index_ref(index)?,
            iterator: it,
            limit: limit.unwrap_or(u32::MAX),
            offset,
        };
        let (ctl, token) = self.ctl(timeout)?;
        let args = Arc::new((space, key, opts));
        let slow_args = args.clone();
        let (space, key, opts) = &*args;
        self.direct_space(
            py,
            space,
            ctl,
            token,
            |schema, sp, h, out| {
                let index = schema.index(sp, &opts.index)?;
                Request::Select {
                    space: sp.id,
                    index,
                    limit: opts.limit,
                    offset: opts.offset,
                    iterator: opts.iterator,
                    key,
                }
                .encode(h, out);
                Ok(())
            },
            |resp, space| tuples(resp, space, TupleShape::All),
            move |conn, ctl| async move {
                let (space, key, opts) = &*slow_args;
                let tuples = conn.select(space, key, opts, &ctl).await?;
                Ok(TupleResult {
                    tuples,
                    shape: TupleShape::All,
                })
            },
        )
    }

    #[pyo3(signature = (space, tuple, replace=false, timeout=None))]
    fn insert<'py>(
        &self,
        py: Python<'py>,
        space: &Bound<'py, PyAny>,
        tuple: &Bound<'py, PyAny>,
        replace: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = space_ref(space)?;
        let tuple = encode_array(tuple, "tuple")?;
        let (ctl, token) = self.ctl(timeout)?;
        let args = Arc::new((space, tuple));
        let slow_args = args.clone();
        let (space, tuple) = &*args;
        self.direct_space(
            py,
            space,
            ctl,
            token,
            |_, sp, h, out| {
                if replace {
                    Request::Replace {
                        space: sp.id,
                        tuple,
                    }
                    .encode(h, out);
                } else {
                    Request::Insert {
                        space: sp.id,
                        tuple,
                    }
                    .encode(h, out);
                }
                Ok(())
            },
            |resp, space| tuples(resp, space, TupleShape::One),
            move |conn, ctl| async move {
                let (space, tuple) = &*slow_args;
                let tuples = conn.insert(space, tuple, replace, &ctl).await?;
                Ok(TupleResult {
                    tuples,
                    shape: TupleShape::One,
                })
            },
        )
    }

    #[pyo3(signature = (space, key, ops, index=None, timeout=None))]
    fn update<'py>(
        &self,
        py: Python<'py>,
        space: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
        ops: &Bound<'py, PyAny>,
        index: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = space_ref(space)?;
        let key = encode_key(key)?;
        let ops = self.encode_ops(&space, ops)?;
        let index = index_ref(index)?;
        let (ctl, token) = self.ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            let tuples = conn.update(&space, &index, &key, &ops, &ctl).await?;
            Ok(TupleResult {
                tuples,
                shape: TupleShape::One,
            })
        })
    }

    #[pyo3(signature = (space, tuple, ops, timeout=None))]
    fn upsert<'py>(
        &self,
        py: Python<'py>,
        space: &Bound<'py, PyAny>,
        tuple: &Bound<'py, PyAny>,
        ops: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = space_ref(space)?;
        let tuple = encode_array(tuple, "tuple")?;
        let ops = self.encode_ops(&space, ops)?;
        let (ctl, token) = self.ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            conn.upsert(&space, &tuple, &ops, &ctl).await.map(|()| Unit)
        })
    }

    #[pyo3(signature = (space, key, index=None, timeout=None))]
    fn delete<'py>(
        &self,
        py: Python<'py>,
        space: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
        index: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = space_ref(space)?;
        let key = encode_key(key)?;
        let index = index_ref(index)?;
        let (ctl, token) = self.ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            let tuples = conn.delete(&space, &index, &key, &ctl).await?;
            Ok(TupleResult {
                tuples,
                shape: TupleShape::One,
            })
        })
    }

    /// Calls a function (`eval=False`) or evaluates Lua (`eval=True`); resolves to the list of
    /// returned values.
    #[pyo3(signature = (function, args=None, eval=false, timeout=None))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        function: String,
        args: Option<&Bound<'py, PyAny>>,
        eval: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = match args {
            Some(a) => encode_array(a, "arguments")?,
            None => vec![0x90],
        };
        let (ctl, token) = self.ctl(timeout)?;
        let owned = Arc::new((function, args));
        let slow_args = owned.clone();
        let (function, args) = &*owned;
        let r = if eval {
            Request::Eval {
                expr: function,
                args,
            }
        } else {
            Request::Call { function, args }
        };
        self.direct(
            py,
            &r,
            ctl,
            token,
            |resp| Ok(Box::new(MpObject(resp.data()?))),
            move |conn, ctl| async move {
                let (function, args) = &*slow_args;
                let data = if eval {
                    conn.eval(function, args, &ctl).await?
                } else {
                    conn.call(function, args, &ctl).await?
                };
                Ok(MpObject(data))
            },
        )
    }

    /// Like `call`, with pushed messages: resolves to a `TntPushes`.
    #[pyo3(signature = (function, args=None, eval=false, timeout=None))]
    fn call_pushes<'py>(
        &self,
        py: Python<'py>,
        function: String,
        args: Option<&Bound<'py, PyAny>>,
        eval: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = match args {
            Some(a) => encode_array(a, "arguments")?,
            None => vec![0x90],
        };
        let (ctl, token) = self.ctl(timeout)?;
        let conn = self.conn.clone();
        let bridge = self.bridge.clone_ref(py);
        let deadline = ctl.deadline;
        self.submit(py, Some(token), async move {
            let rx = conn.call_with_pushes(&function, &args, &ctl, eval).await?;
            Ok(Pushes::new(rx, bridge, deadline))
        })
    }

    /// SQL with bound parameters; `shape`: 0 all rows, 1 first row, 2 one value, 3 status.
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
        let bind = encode_bind(args)?;
        let (ctl, token) = self.ctl(timeout)?;
        let shape = SqlShape::from_code(shape, column);
        let owned = Arc::new((sql, bind));
        let slow_args = owned.clone();
        let (sql, bind) = &*owned;
        self.direct(
            py,
            &Request::Execute { sql, bind },
            ctl,
            token,
            move |resp| {
                let result = sql_result(&resp)?;
                Ok(Box::new(SqlRows { result, shape }))
            },
            move |conn, ctl| async move {
                let (sql, bind) = &*slow_args;
                let result = conn.execute(sql, bind, &ctl).await?;
                Ok(SqlRows { result, shape })
            },
        )
    }

    #[pyo3(signature = (stmt, args, shape=0, column=0, timeout=None))]
    fn query_prepared<'py>(
        &self,
        py: Python<'py>,
        stmt: &TntStmt,
        args: &Bound<'py, PyAny>,
        shape: u8,
        column: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let bind = encode_bind(args)?;
        let (ctl, token) = self.ctl(timeout)?;
        let stmt_id = stmt.stmt_id;
        let shape = SqlShape::from_code(shape, column);
        let bind = Arc::new(bind);
        let slow_bind = bind.clone();
        self.direct(
            py,
            &Request::ExecutePrepared {
                stmt_id,
                bind: &bind,
            },
            ctl,
            token,
            move |resp| {
                let result = sql_result(&resp)?;
                Ok(Box::new(SqlRows { result, shape }))
            },
            move |conn, ctl| async move {
                let result = conn.execute_prepared(stmt_id, &slow_bind, &ctl).await?;
                Ok(SqlRows { result, shape })
            },
        )
    }

    /// Runs one SQL statement without parameters; resolves to its status.
    #[pyo3(signature = (sql, timeout=None))]
    fn execute_script<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            let result = conn.execute(&sql, &[0x90], &ctl).await?;
            Ok(SqlRows {
                result,
                shape: SqlShape::Status,
            })
        })
    }

    /// Runs `sql` once per parameter row, all sent at once (pipelined); not atomic unless
    /// inside a transaction. Fails with the first row's error, naming the row.
    #[pyo3(signature = (sql, rows, timeout=None))]
    fn executemany<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        rows: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut binds = Vec::new();
        for (i, row) in rows.try_iter()?.enumerate() {
            let row = row?;
            let row = match row.cast::<pyo3::types::PyDict>() {
                Ok(_) => pyo3::types::PyTuple::new(py, [row])?.into_any(),
                Err(_) => row,
            };
            binds.push(
                encode_bind(&row)
                    .map_err(|e| PyTypeError::new_err(format!("row {i}: {}", e.value(py))))?,
            );
        }
        let (ctl, token) = self.ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            let sql = std::sync::Arc::new(sql);
            let handles: Vec<_> = binds
                .into_iter()
                .map(|bind| {
                    let (conn, sql, ctl) = (conn.clone(), sql.clone(), ctl.clone());
                    tokio::spawn(async move { conn.execute(&sql, &bind, &ctl).await.map(|_| ()) })
                })
                .collect();
            let mut first: Option<Error> = None;
            for (i, h) in handles.into_iter().enumerate() {
                let r = h
                    .await
                    .unwrap_or_else(|e| Err(Error::interface(format!("row task failed: {e}"))));
                if let (Err(mut e), None) = (r, &first) {
                    e.message = format!("row {i}: {}", e.message);
                    first = Some(e);
                }
            }
            first.map_or(Ok(Unit), Err)
        })
    }

    #[pyo3(signature = (sql, timeout=None))]
    fn prepare<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            let info = conn.prepare(&sql, &ctl).await?;
            Ok(Prepared(sql, info))
        })
    }

    #[pyo3(signature = (stmt, timeout=None))]
    fn unprepare<'py>(
        &self,
        py: Python<'py>,
        stmt: &TntStmt,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        let conn = self.conn.clone();
        let id = stmt.stmt_id;
        self.submit(py, Some(token), async move {
            conn.unprepare(id, &ctl).await.map(|()| Unit)
        })
    }

    /// Opens an interactive transaction on a new stream; later calls join it until
    /// `commit`/`rollback`. NotSupportedError before Tarantool 2.10.
    #[pyo3(signature = (isolation=None, txn_timeout=None, timeout=None))]
    fn begin<'py>(
        &self,
        py: Python<'py>,
        isolation: Option<&str>,
        txn_timeout: Option<f64>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if self.stream.load(Ordering::Relaxed) != 0 {
            return Err(crate::errors::to_pyerr(
                py,
                &Error::interface("a transaction is already open on this connection"),
                BACKEND,
            ));
        }
        let iso = match isolation {
            None => None,
            Some(name) => Some(isolation_code(name).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "isolation must be default, read_committed, read_confirmed or best_effort, not {name:?}"
                ))
            })?),
        };
        let stream = self
            .conn
            .new_stream()
            .map_err(|e| crate::errors::to_pyerr(py, &e, BACKEND))?;
        self.stream.store(stream, Ordering::Relaxed);
        let (ctl, token) = self.ctl(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            conn.begin(txn_timeout, iso, &ctl).await.map(|()| Unit)
        })
    }

    /// Ends the open transaction (`commit=True` commits, else rolls back).
    #[pyo3(signature = (commit, timeout=None))]
    fn end<'py>(
        &self,
        py: Python<'py>,
        commit: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        self.stream.store(0, Ordering::Relaxed);
        if ctl.stream.is_none() {
            return Err(crate::errors::to_pyerr(
                py,
                &Error::interface("no transaction is open"),
                BACKEND,
            ));
        }
        let conn = self.conn.clone();
        self.submit(py, Some(token), async move {
            if commit {
                conn.commit(&ctl).await
            } else {
                conn.rollback(&ctl).await
            }
            .map(|()| Unit)
        })
    }

    /// Watches a key (box.broadcast): resolves to a `TntWatcher`. NotSupportedError before 2.10.
    fn watch<'py>(&self, py: Python<'py>, key: String) -> PyResult<Bound<'py, PyAny>> {
        let conn = self.conn.clone();
        let bridge = self.bridge.clone_ref(py);
        self.submit(py, None, async move {
            let rx = conn.watch(&key).await?;
            Ok(Watcher::new(conn, key, rx, bridge))
        })
    }

    /// Server-side cursors do not exist in Tarantool SQL: always NotSupportedError.
    #[pyo3(signature = (stmt, args, prefetch, timeout=None))]
    fn cursor_open<'py>(
        &self,
        py: Python<'py>,
        stmt: &Bound<'py, PyAny>,
        args: &Bound<'py, PyAny>,
        prefetch: i32,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = (stmt, args, prefetch, timeout);
        Err(no_cursors(py))
    }

    #[pyo3(signature = (stmt, portal, count, timeout=None))]
    fn cursor_fetch<'py>(
        &self,
        py: Python<'py>,
        stmt: &Bound<'py, PyAny>,
        portal: String,
        count: i32,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = (stmt, portal, count, timeout);
        Err(no_cursors(py))
    }

    fn cursor_close(&self, portal: &str) {
        let _ = portal;
    }

    /// Closes gracefully (no reconnect): calls in flight get their answers for up to
    /// `timeout` seconds (default 10), then the socket closes and any still waiting fail.
    #[pyo3(signature = (timeout=None))]
    fn close<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let grace = seconds(timeout)?.unwrap_or(Duration::from_secs(10));
        let conn = self.conn.clone();
        self.submit(py, None, async move {
            conn.close_within(grace).await;
            Ok(Unit)
        })
    }

    fn terminate(&self) {
        self.conn.close();
    }

    fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    fn is_connected(&self) -> bool {
        self.conn.is_connected()
    }

    fn reconnect_count(&self) -> u64 {
        self.conn.reconnect_count()
    }

    fn transaction_status(&self) -> &'static str {
        if self.stream.load(Ordering::Relaxed) != 0 {
            "transaction"
        } else {
            "idle"
        }
    }

    /// `(major, minor, patch)` from the greeting.
    fn server_version(&self) -> (u32, u32, u32) {
        self.conn
            .server_info()
            .greeting
            .map(|g| g.version)
            .unwrap_or((0, 0, 0))
    }

    /// IPROTO_ID features the server reported (empty before 2.10).
    fn features(&self) -> Vec<u64> {
        self.conn.server_info().features
    }

    fn schema_version(&self) -> u64 {
        self.conn.schema().version
    }

    /// The schema as `{space name: {"id", "engine", "fields": [(name, type)], "indexes":
    /// {name: {"id", "type", "unique", "parts": [(field, type)]}}}}`.
    fn spaces<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let schema = self.conn.schema();
        let out = PyDict::new(py);
        for (name, sp) in &schema.by_name {
            let d = PyDict::new(py);
            d.set_item("id", sp.id)?;
            d.set_item("engine", &sp.engine)?;
            let fields: Vec<(String, String)> = sp
                .fields
                .iter()
                .map(|f| (f.name.clone(), f.type_name.clone()))
                .collect();
            d.set_item("fields", fields)?;
            let idx = PyDict::new(py);
            for i in &sp.indexes {
                let id = PyDict::new(py);
                id.set_item("id", i.id)?;
                id.set_item("type", &i.kind)?;
                id.set_item("unique", i.unique)?;
                id.set_item("parts", i.parts.clone())?;
                idx.set_item(&i.name, id)?;
            }
            d.set_item("indexes", idx)?;
            out.set_item(name, d)?;
        }
        Ok(out)
    }

    /// Reads the schema again now.
    fn refresh_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let conn = self.conn.clone();
        self.submit(py, None, async move {
            conn.refresh_schema(&CallCtl::with_timeout(Some(Duration::from_secs(30)), None))
                .await
                .map(|()| Unit)
        })
    }
}

#[pymethods]
impl TntStmt {
    /// Number of parameters.
    #[getter]
    fn bind_count(&self) -> u64 {
        self.info.bind_count
    }

    /// `[(name, type)]` of the parameters.
    #[getter]
    fn params(&self) -> Vec<(String, String)> {
        self.info
            .params
            .iter()
            .map(|c| (c.name.clone(), c.type_name.clone()))
            .collect()
    }

    /// `[(name, type)]` of the result columns.
    #[getter]
    fn columns(&self) -> Vec<(String, String)> {
        self.info
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.type_name.clone()))
            .collect()
    }
}

/// The tuples of a space request's reply.
fn tuples(resp: Response, space: Arc<Space>, shape: TupleShape) -> super::direct::Outcome {
    let tuples = Tuples {
        data: resp.data()?,
        space,
    };
    Ok(Box::new(TupleResult { tuples, shape }))
}

fn no_cursors(py: Python<'_>) -> PyErr {
    let e = Error::new(
        ferrule_core::ErrorKind::NotSupported,
        "Tarantool has no server-side cursors; use fetch() with LIMIT",
    );
    crate::errors::to_pyerr(py, &e, BACKEND)
}
