//! SQL calls (`query`, `query_prepared`, `execute_script`, `executemany`, `prepare`,
//! `unprepare`), interactive transactions (`begin`, `end`), watchers, and `close`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ferrule_core::Error;
use ferrule_tarantool::request::isolation_code;
use ferrule_tarantool::sql::sql_result;
use ferrule_tarantool::{CallCtl, Request};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::calls::{Call, ConnHandle, HandleSource, Held, BACKEND};
use super::connection::{Prepared, TntStmt};
use super::encode::encode_bind;
use super::results::{SqlRows, SqlShape};
use super::streams::Watcher;
use crate::bridge::Unit;
use crate::errors::to_pyerr;
use crate::settings::seconds;

impl<S: HandleSource> Call<'_, S> {
    /// SQL with bound parameters; `shape`: 0 all rows, 1 first row, 2 one value, 3 status.
    pub fn query<'py>(
        self,
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

    pub fn query_prepared<'py>(
        self,
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
            let result = handle.conn().execute(&sql, &[0x90], &ctl).await?;
            Ok(SqlRows {
                result,
                shape: SqlShape::Status,
            })
        })
    }

    /// Runs `sql` once per parameter row, all sent at once (pipelined); not atomic unless
    /// inside a transaction. Fails with the first row's error, naming the row.
    pub fn executemany<'py>(
        self,
        py: Python<'py>,
        sql: String,
        rows: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut binds = Vec::new();
        for (i, row) in rows.try_iter()?.enumerate() {
            let row = row?;
            let row = match row.cast::<PyDict>() {
                Ok(_) => PyTuple::new(py, [row])?.into_any(),
                Err(_) => row,
            };
            binds.push(
                encode_bind(&row)
                    .map_err(|e| PyTypeError::new_err(format!("row {i}: {}", e.value(py))))?,
            );
        }
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(binds.len().max(1) as u64);
            let conn = handle.conn();
            let sql = Arc::new(sql);
            let tasks: Vec<_> = binds
                .into_iter()
                .map(|bind| {
                    let (conn, sql, ctl) = (conn.clone(), sql.clone(), ctl.clone());
                    tokio::spawn(async move { conn.execute(&sql, &bind, &ctl).await.map(|_| ()) })
                })
                .collect();
            let mut first: Option<Error> = None;
            for (i, task) in tasks.into_iter().enumerate() {
                let r = task
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

    pub fn prepare<'py>(
        self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            let info = handle.conn().prepare(&sql, &ctl).await?;
            Ok(Prepared(sql, info))
        })
    }

    pub fn unprepare<'py>(
        self,
        py: Python<'py>,
        stmt: &TntStmt,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        let id = stmt.stmt_id;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.conn().unprepare(id, &ctl).await.map(|()| Unit)
        })
    }

    /// Closes gracefully (no reconnect): calls in flight get their answers for up to
    /// `timeout` seconds (default 10), then the socket closes and any still waiting fail.
    pub fn close<'py>(self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let grace = seconds(timeout)?.unwrap_or(Duration::from_secs(10));
        self.submit(py, None, |source| async move {
            let handle = source.get(&CallCtl::default()).await?;
            handle.conn().close_within(grace).await;
            Ok(Unit)
        })
    }
}

/// Calls that need the connection at once: only a held one has them.
impl Call<'_, Held> {
    /// Opens an interactive transaction on a new stream; later calls join it until
    /// `end`. NotSupportedError before Tarantool 2.10.
    pub fn begin<'py>(
        self,
        py: Python<'py>,
        isolation: Option<&str>,
        txn_timeout: Option<f64>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Some(slot) = self.stream else {
            return Err(to_pyerr(py, &Error::interface("no stream here"), BACKEND));
        };
        if slot.load(Ordering::Relaxed) != 0 {
            let e = Error::interface("a transaction is already open on this connection");
            return Err(to_pyerr(py, &e, BACKEND));
        }
        let iso = match isolation {
            None => None,
            Some(name) => Some(isolation_code(name).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "isolation must be default, read_committed, read_confirmed or best_effort, \
                     not {name:?}"
                ))
            })?),
        };
        let stream = self
            .source
            .conn()
            .new_stream()
            .map_err(|e| to_pyerr(py, &e, BACKEND))?;
        slot.store(stream, Ordering::Relaxed);
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |held| async move {
            held.conn()
                .begin(txn_timeout, iso, &ctl)
                .await
                .map(|()| Unit)
        })
    }

    /// Ends the open transaction (`commit=True` commits, else rolls back).
    pub fn end<'py>(
        self,
        py: Python<'py>,
        commit: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        if let Some(slot) = self.stream {
            slot.store(0, Ordering::Relaxed);
        }
        if ctl.stream.is_none() {
            return Err(to_pyerr(
                py,
                &Error::interface("no transaction is open"),
                BACKEND,
            ));
        }
        self.submit(py, Some(token), |held| async move {
            let conn = held.conn();
            if commit {
                conn.commit(&ctl).await
            } else {
                conn.rollback(&ctl).await
            }
            .map(|()| Unit)
        })
    }

    /// Watches a key (box.broadcast): resolves to a `TntWatcher`. NotSupportedError before
    /// 2.10.
    pub fn watch<'py>(self, py: Python<'py>, key: String) -> PyResult<Bound<'py, PyAny>> {
        let bridge = self.bridge.clone_ref(py);
        self.submit(py, None, |held| async move {
            let conn = held.conn().clone();
            let rx = conn.watch(&key).await?;
            Ok(Watcher::new(conn, key, rx, bridge))
        })
    }

    /// Reads the schema again now.
    pub fn refresh_schema<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.submit(py, None, |held| async move {
            let ctl = CallCtl::with_timeout(Some(Duration::from_secs(30)), None);
            held.conn().refresh_schema(&ctl).await.map(|()| Unit)
        })
    }
}
