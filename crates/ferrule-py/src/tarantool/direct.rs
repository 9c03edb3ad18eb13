//! The direct path of `TntConn`: the request is encoded and queued on the caller's (loop)
//! thread and the reader task hands the reply straight to the asyncio bridge, so a request
//! costs no task and no thread hop besides the socket's own. When it cannot be sent now (no
//! session, stale schema, unknown space) or the server refuses it for a stale schema, the
//! waiting path runs it on the runtime instead.

use std::future::Future;
use std::sync::Arc;

use ferrule_core::runtime::runtime;
use ferrule_core::Error;
use ferrule_tarantool::consts::code;
use ferrule_tarantool::{
    CallCtl, Header, Request, Response, Schema, Space, SpaceRef, TntConnection,
};
use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

use super::connection::{TntConn, BACKEND};
use crate::bridge::{Bridge, Completer, Deliver};

/// Turns a successful reply into what the caller receives.
pub type Outcome = Result<Box<dyn Deliver>, Error>;

fn run_waiting<S, Fut, T>(done: Completer, conn: TntConnection, ctl: CallCtl, slow: S)
where
    S: FnOnce(TntConnection, CallCtl) -> Fut,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
    T: Deliver + 'static,
{
    let job = slow(conn, ctl);
    runtime().spawn(async move {
        done.finish(job.await.map(|v| Box::new(v) as Box<dyn Deliver>));
    });
}

impl TntConn {
    /// Runs a request that does not depend on the schema; `make` builds the result from the
    /// reply, `slow` is the waiting path.
    pub(super) fn direct<'py, M, S, Fut, T>(
        &self,
        py: Python<'py>,
        r: &Request<'_>,
        ctl: CallCtl,
        token: CancellationToken,
        make: M,
        slow: S,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        M: FnOnce(Response) -> Outcome + Send + 'static,
        S: FnOnce(TntConnection, CallCtl) -> Fut,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
        T: Deliver + 'static,
    {
        let (future, done) =
            Bridge::register_completer(self.bridge.bind(py), BACKEND, Some(token))?;
        let finish = done.clone();
        let sent = self.conn.send_now(r, &ctl, move |reply| {
            finish.finish(reply.and_then(|resp| {
                if resp.is_error() {
                    Err(resp.to_error())
                } else {
                    make(resp)
                }
            }));
        });
        if sent.is_err() {
            run_waiting(done, self.conn.clone(), ctl, slow);
        }
        Ok(future)
    }

    /// Runs a request on a space (see `direct`); a refusal for a stale schema (the server did
    /// not execute the request) goes to the waiting path, which reads the schema again.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn direct_space<'py, E, M, S, Fut, T>(
        &self,
        py: Python<'py>,
        space: &SpaceRef,
        ctl: CallCtl,
        token: CancellationToken,
        encode: E,
        make: M,
        slow: S,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        E: FnOnce(&Schema, &Arc<Space>, &Header, &mut Vec<u8>) -> Result<(), Error>,
        M: FnOnce(Response, Arc<Space>) -> Outcome + Send + 'static,
        S: FnOnce(TntConnection, CallCtl) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
        T: Deliver + 'static,
    {
        let (future, done) =
            Bridge::register_completer(self.bridge.bind(py), BACKEND, Some(token))?;
        let finish = done.clone();
        let (conn, retry_ctl, retry) = (self.conn.clone(), ctl.clone(), slow.clone());
        let sent = self
            .conn
            .send_space_now(space, &ctl, encode, move |reply, sp| match reply {
                Ok(resp) if resp.error_code() == Some(code::ER_WRONG_SCHEMA_VERSION) => {
                    run_waiting(finish, conn, retry_ctl, retry);
                }
                Ok(resp) if resp.is_error() => finish.finish(Err(resp.to_error())),
                Ok(resp) => finish.finish(make(resp, sp)),
                Err(e) => finish.finish(Err(e)),
            });
        if sent.is_err() {
            run_waiting(done, self.conn.clone(), ctl, slow);
        }
        Ok(future)
    }
}
