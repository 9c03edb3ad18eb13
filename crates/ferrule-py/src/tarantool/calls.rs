//! The bodies of the native Tarantool calls are written once for every object that runs
//! them: a plain connection (`TntConn`), a connection lent by a pool (`TntPooledConn`), and
//! the pool itself (`TntPool`), whose calls acquire a connection, run, and release it in one
//! job. This module holds what they share: where a call's connection comes from, and how a
//! call is submitted. The bodies are in `space_calls.rs` and `sql_calls.rs`, the direct path
//! in `direct.rs`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ferrule_core::pool::Pooled;
use ferrule_core::Error;
use ferrule_tarantool::{CallCtl, TntConnection, TntManager};
use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::bridge::{Bridge, Deliver};
use crate::pool_native::PoolSource;
use crate::settings::seconds;

pub const BACKEND: &str = "tarantool";

/// A connection a job runs on, kept alive by the job until it ends.
pub trait ConnHandle: Send + Sync + 'static {
    fn conn(&self) -> &TntConnection;

    /// Told before a call sends `queries` requests (a pool's query budget).
    fn before_call(&self, _queries: u64) {}
}

/// A connection a caller holds: its own, or a pool's loan.
#[derive(Clone)]
pub enum Held {
    Conn(TntConnection),
    Loan(Arc<Pooled<TntManager>>),
}

impl ConnHandle for Held {
    fn conn(&self) -> &TntConnection {
        match self {
            Held::Conn(conn) => conn,
            Held::Loan(loan) => loan.conn(),
        }
    }

    fn before_call(&self, queries: u64) {
        if let Held::Loan(loan) = self {
            loan.count_queries(queries);
        }
    }
}

impl ConnHandle for Pooled<TntManager> {
    fn conn(&self) -> &TntConnection {
        self
    }

    fn before_call(&self, queries: u64) {
        self.count_queries(queries);
    }
}

/// Where a call gets its connection: one the caller holds, or one acquired from a pool
/// within the call's deadline.
pub trait HandleSource: Send + 'static {
    type Handle: ConnHandle;

    /// The connection held already, for the direct path; None for a pool's.
    fn ready(&self) -> Option<Held>;

    fn get(self, ctl: &CallCtl) -> impl Future<Output = Result<Self::Handle, Error>> + Send;
}

impl HandleSource for Held {
    type Handle = Held;

    fn ready(&self) -> Option<Held> {
        Some(self.clone())
    }

    async fn get(self, _ctl: &CallCtl) -> Result<Held, Error> {
        Ok(self)
    }
}

impl HandleSource for PoolSource<TntManager> {
    type Handle = Pooled<TntManager>;

    fn ready(&self) -> Option<Held> {
        None
    }

    async fn get(self, ctl: &CallCtl) -> Result<Pooled<TntManager>, Error> {
        self.acquire(ctl.deadline, ctl.cancel.as_ref()).await
    }
}

/// The call's target, the bridge that resolves its future, and the stream of the caller's
/// open interactive transaction (0: none), which every call joins.
pub struct Call<'a, S: HandleSource> {
    pub bridge: &'a Py<Bridge>,
    pub source: S,
    pub stream: Option<&'a AtomicU64>,
}

impl<S: HandleSource> Call<'_, S> {
    /// The call's limits: its deadline, its cancellation, and the transaction's stream.
    pub(super) fn ctl(&self, timeout: Option<f64>) -> PyResult<(CallCtl, CancellationToken)> {
        let token = CancellationToken::new();
        let mut ctl = CallCtl::with_timeout(seconds(timeout)?, Some(token.clone()));
        let stream = self.stream.map_or(0, |s| s.load(Ordering::Relaxed));
        ctl.stream = (stream != 0).then_some(stream);
        Ok((ctl, token))
    }

    /// Runs `job` (given the source) as one job on the runtime.
    pub(super) fn submit<'py, F, T>(
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
}
