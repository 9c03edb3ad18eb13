//! `LibsqlConn`: the pyo3 shell over `ferrule_sqlite::RemoteConnection` (Hrana over HTTP).
//! Same native methods as `SqliteConn`; results are delivered by the same code. Cursors read
//! the whole result in one request and hand it out in batches (Hrana's HTTP pipeline has no
//! server-side cursor).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ferrule_core::{Error, Value};
use ferrule_sqlite::{Keep, QueryResult, RemoteConfig, RemoteConnection};
use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::connection::{CursorOpened, SqliteStmt};
use super::methods::{sqlite_connection_methods, SqliteCalls};
use super::results::{Rows, Shape};
use crate::bridge::{Bridge, Deliver, Text, Unit};
use crate::settings::seconds;

const BACKEND: &str = "sqlite";

/// Cursors over a remote database: each reads its whole result in one request and hands it
/// out in batches (Hrana's HTTP pipeline has no server-side cursor). Ids start at `first_id`.
#[derive(Clone)]
pub(super) struct RemoteCursors {
    open: Arc<Mutex<HashMap<u64, (QueryResult, usize)>>>,
    first_id: u64,
}

impl RemoteCursors {
    pub fn new(first_id: u64) -> RemoteCursors {
        RemoteCursors {
            open: Arc::default(),
            first_id,
        }
    }

    pub fn owns(&self, id: u64) -> bool {
        id >= self.first_id
    }

    /// Runs the cursor's statement and resolves to its first batch.
    pub fn open(
        &self,
        conn: RemoteConnection,
        sql: String,
        values: Vec<Value>,
        prefetch: usize,
        timeout: Option<Duration>,
        detect_types: bool,
    ) -> impl Future<Output = Result<CursorOpened, Error>> + Send + 'static {
        let open = self.open.clone();
        let first_id = self.first_id;
        let prefetch = prefetch.max(1);
        async move {
            let all = within(timeout, conn.query(&sql, &values, Keep::All)).await?;
            let first = slice(&all, 0, prefetch);
            let mut map = open.lock();
            let id = map.keys().max().map_or(first_id, |m| m + 1);
            if first.more {
                map.insert(id, (all, prefetch));
            }
            Ok(CursorOpened {
                id,
                rows: Rows {
                    result: first,
                    shape: Shape::Batch,
                    detect_types,
                },
            })
        }
    }

    /// The next `count` rows of cursor `id`; the last batch releases it.
    pub fn fetch(&self, id: u64, count: usize, detect_types: bool) -> PyResult<Rows> {
        let count = count.max(1);
        let mut map = self.open.lock();
        let Some((all, pos)) = map.get_mut(&id) else {
            return Err(PyValueError::new_err("the cursor is closed"));
        };
        let part = slice(all, *pos, count);
        *pos += count;
        if !part.more {
            map.remove(&id);
        }
        Ok(Rows {
            result: part,
            shape: Shape::Batch,
            detect_types,
        })
    }

    pub fn close(&self, id: u64) {
        self.open.lock().remove(&id);
    }
}

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct LibsqlConn {
    conn: RemoteConnection,
    bridge: Py<Bridge>,
    detect_types: bool,
    cursors: RemoteCursors,
}

struct Opened {
    conn: RemoteConnection,
    bridge: Py<Bridge>,
    detect_types: bool,
}

impl Deliver for Opened {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(
            py,
            LibsqlConn {
                conn: self.conn,
                bridge: self.bridge,
                detect_types: self.detect_types,
                cursors: RemoteCursors::new(1),
            },
        )?
        .into_any())
    }
}

/// Connects to a libSQL server; resolves to a `LibsqlConn`.
#[pyfunction]
pub fn libsql_connect<'py>(
    bridge: &Bound<'py, Bridge>,
    settings: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let url: String = settings
        .get_item("url")?
        .ok_or_else(|| PyValueError::new_err("no libSQL URL"))?
        .extract()?;
    let auth_token: Option<String> = match settings.get_item("auth_token")? {
        Some(v) if !v.is_none() => Some(v.extract()?),
        _ => None,
    };
    let connect_timeout: Option<f64> = match settings.get_item("connect_timeout")? {
        Some(v) if !v.is_none() => Some(v.extract()?),
        _ => None,
    };
    let detect_types: bool = match settings.get_item("detect_types")? {
        Some(v) if !v.is_none() => v.extract()?,
        _ => false,
    };
    let cfg = RemoteConfig {
        url,
        auth_token,
        connect_timeout: seconds(connect_timeout)?.unwrap_or(Duration::from_secs(30)),
    };
    let handle = bridge.clone().unbind();
    Bridge::submit(bridge, BACKEND, None, async move {
        let conn = RemoteConnection::connect(&cfg).await?;
        Ok(Opened {
            conn,
            bridge: handle,
            detect_types,
        })
    })
}

/// Runs `job` within `timeout`; an expired call is abandoned (the connection replaces its
/// stream before the next call).
pub(super) async fn within<T>(
    timeout: Option<Duration>,
    job: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match timeout {
        None => job.await,
        Some(t) => tokio::time::timeout(t, job).await.unwrap_or_else(|_| {
            Err(Error::timeout(format!(
                "the libSQL server did not answer within the {:.3}s timeout",
                t.as_secs_f64()
            )))
        }),
    }
}

impl LibsqlConn {
    fn submit<'py, F, T>(&self, py: Python<'py>, job: F) -> PyResult<Bound<'py, PyAny>>
    where
        F: Future<Output = Result<T, Error>> + Send + 'static,
        T: Deliver + 'static,
    {
        Bridge::submit(self.bridge.bind(py), BACKEND, None, job)
    }
}

impl SqliteCalls for LibsqlConn {
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
        let timeout = seconds(timeout)?;
        let conn = self.conn.clone();
        let detect_types = self.detect_types;
        let sql = sql.to_owned();
        self.submit(py, async move {
            let result = within(timeout, conn.query(&sql, &values, shape.keep())).await?;
            Ok(Rows {
                result,
                shape,
                detect_types,
            })
        })
    }

    fn script<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout)?;
        let conn = self.conn.clone();
        let sql = sql.to_owned();
        self.submit(py, async move {
            within(timeout, conn.execute_script(&sql)).await.map(Text)
        })
    }

    fn many<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        rows: Vec<Vec<Value>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, async move {
            within(timeout, conn.execute_many(&sql, &rows))
                .await
                .map(|_| Unit)
        })
    }

    fn describe<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout)?;
        let conn = self.conn.clone();
        self.submit(py, async move {
            within(timeout, conn.describe(&sql))
                .await
                .map(SqliteStmt::deliverable)
        })
    }

    fn open_cursor<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        values: Vec<Value>,
        prefetch: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let job = self.cursors.open(
            self.conn.clone(),
            sql,
            values,
            prefetch,
            seconds(timeout)?,
            self.detect_types,
        );
        self.submit(py, job)
    }

    fn fetch_cursor<'py>(
        &self,
        py: Python<'py>,
        id: u64,
        count: usize,
        _timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let rows = self.cursors.fetch(id, count, self.detect_types)?;
        Bridge::ready(self.bridge.bind(py), BACKEND, Ok(rows))
    }

    fn close_cursor(&self, id: u64) {
        self.cursors.close(id);
    }

    fn shut<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout)?.unwrap_or(Duration::from_secs(10));
        let conn = self.conn.clone();
        self.submit(py, async move {
            if tokio::time::timeout(timeout, conn.close()).await.is_err() {
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

    fn in_transaction(&self) -> bool {
        self.conn.in_transaction()
    }
}

sqlite_connection_methods!(LibsqlConn, {});

/// A batch of rows `[from, from + n)` of a result, as a new result.
pub(super) fn slice(result: &QueryResult, from: usize, n: usize) -> QueryResult {
    let mut part = ferrule_sqlite::RowSet::empty_like(&result.rows);
    let end = (from + n).min(result.rows.len());
    for row in from..end {
        for col in 0..result.rows.columns() {
            part.push(result.rows.get(row, col));
        }
    }
    QueryResult {
        rows: part,
        row_count: (end - from) as u64,
        changes: 0,
        more: end < result.rows.len(),
    }
}
