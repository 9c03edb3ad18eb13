//! `SqliteReplica`: a libSQL embedded replica on the native connection protocol. Statements
//! that read run on the local copy, inline when they are short, exactly as on `SqliteConn`;
//! the local session answers any other statement unrun (`is_route_remote`), and it then goes
//! to the primary over Hrana. While the primary holds a transaction for this connection,
//! every statement goes there (it must see the transaction's writes). After a write outside
//! a transaction, or a COMMIT, the replica pulls the primary's new frames before answering
//! (unless `read_your_writes` is off), so the caller reads what it wrote.

use std::future::Future;
use std::time::{Duration, Instant};

use ferrule_core::{Error, ErrorKind, Value};
use ferrule_sqlite::replica::is_route_remote;
use ferrule_sqlite::{
    QueryResult, RemoteConfig, RemoteConnection, Replica, ReplicaConfig, Reply, SqliteConnection,
    Synced,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio_util::sync::CancellationToken;

use super::config::from_dict;
use super::connection::{ctl, start_backup, CursorOpened, Prepared, ReadReleaser};
use super::methods::{sqlite_connection_methods, SqliteCalls};
use super::remote::{within, RemoteCursors};
use super::results::{Rows, Shape};
use crate::bridge::{Bridge, Deliver, Text, Unit};
use crate::ready::InlineSlice;
use crate::settings::{get, seconds};

const BACKEND: &str = "sqlite";
/// Cursors run on the primary have ids from here; local ones count up from 1.
const REMOTE_CURSORS: u64 = 1 << 48;

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct SqliteReplica {
    local: SqliteConnection,
    remote: RemoteConnection,
    replica: Replica,
    bridge: Py<Bridge>,
    detect_types: bool,
    read_your_writes: bool,
    inline_slice: InlineSlice,
    releaser: ReadReleaser,
    cursors: RemoteCursors,
    /// Stops the periodic sync (`sync_interval`) when the connection closes or goes away.
    stop: CancellationToken,
}

impl Drop for SqliteReplica {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Opened {
    local: SqliteConnection,
    remote: RemoteConnection,
    replica: Replica,
    bridge: Py<Bridge>,
    detect_types: bool,
    read_your_writes: bool,
    stop: CancellationToken,
    call_soon: Py<PyAny>,
}

impl Deliver for Opened {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let releaser = ReadReleaser::new(py, self.call_soon, &self.local)?;
        Ok(Py::new(
            py,
            SqliteReplica {
                local: self.local,
                remote: self.remote,
                replica: self.replica,
                bridge: self.bridge,
                detect_types: self.detect_types,
                read_your_writes: self.read_your_writes,
                inline_slice: InlineSlice::new(),
                releaser,
                cursors: RemoteCursors::new(REMOTE_CURSORS),
                stop: self.stop,
            },
        )?
        .into_any())
    }
}

/// What `sync()` resolves to: a dict of counts.
struct SyncReport(Synced);

impl Deliver for SyncReport {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        d.set_item("frames", self.0.frames)?;
        d.set_item("transactions", self.0.transactions)?;
        d.set_item("generation", self.0.generation)?;
        d.set_item("frame", self.0.frame)?;
        Ok(d.into_any().unbind())
    }
}

/// Opens (first creating, from the primary, when the file is new) an embedded replica;
/// resolves to a `SqliteReplica`.
#[pyfunction]
pub fn sqlite_replica_connect<'py>(
    bridge: &Bound<'py, Bridge>,
    settings: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let (mut cfg, detect_types) = from_dict(settings)?;
    // The local copy only ever reads; query_only also guards against a statement that
    // SQLite calls read-only and yet writes.
    cfg.replica = true;
    cfg.query_only = true;
    let sync_url: String = get(settings, "sync_url")?
        .ok_or_else(|| PyValueError::new_err("an embedded replica needs sync_url"))?;
    let auth_token: Option<String> = get(settings, "auth_token")?;
    let connect_timeout =
        seconds(get(settings, "connect_timeout")?)?.unwrap_or(Duration::from_secs(30));
    let sync_interval = seconds(get(settings, "sync_interval")?)?;
    let read_your_writes = get(settings, "read_your_writes")?.unwrap_or(true);
    let replica_cfg = ReplicaConfig {
        path: cfg.path.clone(),
        sync_url: sync_url.clone(),
        auth_token: auth_token.clone(),
        connect_timeout,
    };
    let remote = RemoteConnection::unopened(&RemoteConfig {
        url: sync_url,
        auth_token,
        connect_timeout,
    })
    .map_err(|e| PyValueError::new_err(e.message))?;
    let handle = bridge.clone().unbind();
    let call_soon = ReadReleaser::call_soon(bridge)?;
    Bridge::submit(bridge, BACKEND, None, async move {
        let (replica, created) = Replica::open(&replica_cfg).await?;
        if created {
            // A new copy starts where the primary's generation began: bring it up to date.
            replica.sync().await?;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        SqliteConnection::open(
            cfg,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        let local = rx
            .await
            .map_err(|_| Error::closed("the replica's local connection did not open"))??;
        let stop = CancellationToken::new();
        if let Some(every) = sync_interval {
            spawn_periodic_sync(replica.clone(), every, stop.clone());
        }
        Ok(Opened {
            local,
            remote,
            replica,
            bridge: handle,
            detect_types,
            read_your_writes,
            stop,
            call_soon,
        })
    })
}

/// Syncs every `every` until `stop`. A failed pull (the primary out of reach) is tried again
/// at the next tick; the local copy stays readable meanwhile.
fn spawn_periodic_sync(replica: Replica, every: Duration, stop: CancellationToken) {
    ferrule_core::runtime::runtime().spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = replica.sync() => {}
            }
        }
    });
}

/// Runs a statement on the primary; after a write that left no transaction open, pulls the
/// primary's frames so that the local copy shows it. The write stands even when that pull
/// fails (the primary went out of reach just after): the next sync catches up.
async fn on_primary<T>(
    remote: RemoteConnection,
    replica: Replica,
    read_your_writes: bool,
    job: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let out = job.await?;
    if read_your_writes && !remote.in_transaction() {
        let _ = replica.sync().await;
    }
    Ok(out)
}

/// Waits for `job` until `deadline`, or until the caller cancels.
async fn bounded<T>(
    deadline: Option<Instant>,
    token: CancellationToken,
    job: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let limit = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    tokio::select! {
        r = within(limit, job) => r,
        _ = token.cancelled() => Err(Error::new(ErrorKind::Cancelled, "the call was cancelled")),
    }
}

impl SqliteReplica {
    /// Whether the primary holds a transaction for this connection: then it runs everything.
    fn on_primary_now(&self) -> bool {
        self.remote.in_transaction()
    }

    /// A future for `job` run on the primary.
    fn primary<'py, T, D>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
        job: impl Future<Output = Result<T, Error>> + Send + 'static,
        wrap: impl FnOnce(T) -> D + Send + 'static,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: Send + 'static,
        D: Deliver + 'static,
    {
        let timeout = seconds(timeout)?;
        let job = on_primary(
            self.remote.clone(),
            self.replica.clone(),
            self.read_your_writes,
            job,
        );
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            within(timeout, job).await.map(wrap)
        })
    }

    /// Submits a local job; when the local copy declines it, `fallback` runs it on the
    /// primary, within what is left of the call's timeout.
    fn local_or_primary<'py, T, D>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
        submit: impl FnOnce(ferrule_sqlite::CallCtl, Reply<T>),
        fallback: impl Future<Output = Result<T, Error>> + Send + 'static,
        wrap: impl FnOnce(T) -> D + Send + 'static,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: Send + 'static,
        D: Deliver + 'static,
    {
        let (ctl, token) = ctl(timeout)?;
        let deadline = ctl.deadline;
        let (future, completion) =
            Bridge::register(self.bridge.bind(py), BACKEND, Some(token.clone()))?;
        let fallback = on_primary(
            self.remote.clone(),
            self.replica.clone(),
            self.read_your_writes,
            fallback,
        );
        let reply: Reply<T> = Box::new(move |r| match r {
            Err(e) if is_route_remote(&e) => {
                ferrule_core::runtime::runtime().spawn(async move {
                    let r = bounded(deadline, token, fallback).await;
                    completion.complete(r.map(wrap));
                });
            }
            r => completion.complete(r.map(wrap)),
        });
        submit(ctl, reply);
        Ok(future)
    }
}

impl SqliteCalls for SqliteReplica {
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
        let wrap = move |result: QueryResult| Rows {
            result,
            shape,
            detect_types,
        };
        let remote = self.remote.clone();
        if !self.on_primary_now() {
            match self.local.query_inline(sql, &values, keep) {
                Some(Err(e)) if is_route_remote(&e) => {}
                Some(outcome) => {
                    self.releaser.after_inline(py, &self.local);
                    let yield_first = self.inline_slice.should_yield();
                    let bridge = self.bridge.bind(py);
                    return Bridge::ready_yielding(bridge, BACKEND, outcome.map(wrap), yield_first);
                }
                None => {
                    self.inline_slice.restart();
                    let local = self.local.clone();
                    let (local_sql, local_values) = (sql.to_owned(), values.clone());
                    let sql = sql.to_owned();
                    let fallback = async move { remote.query(&sql, &values, keep).await };
                    return self.local_or_primary(
                        py,
                        timeout,
                        move |ctl, reply| local.query(local_sql, local_values, keep, ctl, reply),
                        fallback,
                        wrap,
                    );
                }
            }
        }
        let sql = sql.to_owned();
        let job = async move { remote.query(&sql, &values, keep).await };
        self.primary(py, timeout, job, wrap)
    }

    fn script<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let remote = self.remote.clone();
        let sql = sql.to_owned();
        if self.on_primary_now() {
            let job = async move { remote.execute_script(&sql).await };
            return self.primary(py, timeout, job, Text);
        }
        let local = self.local.clone();
        let local_sql = sql.clone();
        let fallback = async move { remote.execute_script(&sql).await };
        self.local_or_primary(
            py,
            timeout,
            move |ctl, reply| local.execute_script(local_sql, ctl, reply),
            fallback,
            Text,
        )
    }

    /// Always on the primary: running a statement many times is for writes.
    fn many<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        rows: Vec<Vec<Value>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let remote = self.remote.clone();
        let job = async move { remote.execute_many(&sql, &rows).await };
        self.primary(py, timeout, job, |_: u64| Unit)
    }

    /// Describes `sql` from the local copy, or from the primary when it does not prepare
    /// locally (a table the copy does not have yet).
    fn describe<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let remote = self.remote.clone();
        let local = self.local.clone();
        let local_sql = sql.clone();
        let fallback = async move { remote.describe(&sql).await };
        self.local_or_primary(
            py,
            timeout,
            move |ctl, reply| local.prepare(local_sql, ctl, reply),
            fallback,
            Prepared,
        )
    }

    fn open_cursor<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        values: Vec<Value>,
        prefetch: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let detect_types = self.detect_types;
        let on_remote = self.cursors.open(
            self.remote.clone(),
            sql.clone(),
            values.clone(),
            prefetch,
            seconds(timeout)?,
            detect_types,
        );
        if self.on_primary_now() {
            return self.primary(py, timeout, on_remote, |opened| opened);
        }
        let local = self.local.clone();
        let wrap = move |(id, result)| CursorOpened {
            id,
            rows: Rows {
                result,
                shape: Shape::Batch,
                detect_types,
            },
        };
        let fallback = async move {
            let opened = on_remote.await?;
            Ok((opened.id, opened.rows.result))
        };
        self.local_or_primary(
            py,
            timeout,
            move |ctl, reply| local.cursor_open(sql, values, prefetch, ctl, reply),
            fallback,
            wrap,
        )
    }

    fn fetch_cursor<'py>(
        &self,
        py: Python<'py>,
        id: u64,
        count: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let detect_types = self.detect_types;
        if self.cursors.owns(id) {
            let rows = self.cursors.fetch(id, count, detect_types)?;
            return Bridge::ready(self.bridge.bind(py), BACKEND, Ok(rows));
        }
        let (ctl, token) = ctl(timeout)?;
        let (future, completion) = Bridge::register(self.bridge.bind(py), BACKEND, Some(token))?;
        let reply: Reply<QueryResult> = Box::new(move |r| {
            completion.complete(r.map(|result| Rows {
                result,
                shape: Shape::Batch,
                detect_types,
            }))
        });
        self.local.cursor_fetch(id, count, ctl, reply);
        Ok(future)
    }

    fn close_cursor(&self, id: u64) {
        if self.cursors.owns(id) {
            self.cursors.close(id);
        } else {
            self.local.cursor_close(id);
        }
    }

    /// Closes the local copy after its queued calls, and the primary's stream.
    fn shut<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        self.stop.cancel();
        let timeout = seconds(timeout)?.unwrap_or(Duration::from_secs(10));
        let (local, remote) = (self.local.clone(), self.remote.clone());
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            local.close(Box::new(move |r| {
                let _ = tx.send(r);
            }));
            let both = async {
                let _ = rx.await;
                remote.close().await;
            };
            if tokio::time::timeout(timeout, both).await.is_err() {
                local.terminate();
                remote.terminate();
            }
            Ok(Unit)
        })
    }

    fn kill(&self) {
        self.stop.cancel();
        self.local.terminate();
        self.remote.terminate();
    }

    fn closed(&self) -> bool {
        self.local.is_closed()
    }

    /// While the primary holds a transaction for this connection.
    fn in_transaction(&self) -> bool {
        self.remote.in_transaction()
    }
}

sqlite_connection_methods!(SqliteReplica, {
    /// Pulls the primary's new frames; resolves to `{"frames", "transactions", "generation",
    /// "frame"}`.
    #[pyo3(signature = (timeout=None))]
    fn sync<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout)?;
        let replica = self.replica.clone();
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            within(timeout, replica.sync()).await.map(SyncReport)
        })
    }

    /// Online backup of the local copy into `target`: a file path or a `SqliteConn`.
    #[pyo3(signature = (target, timeout=None))]
    fn backup<'py>(
        &self,
        py: Python<'py>,
        target: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let (future, completion) = Bridge::register(self.bridge.bind(py), BACKEND, Some(token))?;
        let reply: Reply<()> = Box::new(move |r| completion.complete(r.map(|()| Unit)));
        start_backup(&self.local, target, ctl, reply)?;
        Ok(future)
    }
});
