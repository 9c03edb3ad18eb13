//! The direct path of a call on a held connection: the request is encoded and queued on the
//! caller's (loop) thread and the reply goes straight to the asyncio bridge, from the reader
//! task or, while requests go out one at a time, from the loop thread itself
//! (loop_reader.rs), so a request costs no task. When it cannot be sent now (no session,
//! stale schema, unknown space), when the server refuses it for a stale schema, or when the
//! connection must first be acquired from a pool, the waiting path runs it on the runtime
//! instead.

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

use super::calls::{Call, ConnHandle, HandleSource, BACKEND};
use crate::bridge::{Bridge, Completer, Deliver};
use crate::loop_reader;

/// Turns a successful reply into what the caller receives.
pub type Outcome = Result<Box<dyn Deliver>, Error>;

/// The waiting path: gets the connection from `source`, runs `slow` on it and keeps it until
/// `slow` ends. `counted`: the direct path already counted the request.
fn run_waiting<S, Sl, Fut, T>(done: Completer, source: S, ctl: CallCtl, slow: Sl, counted: bool)
where
    S: HandleSource,
    Sl: FnOnce(TntConnection, CallCtl) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
    T: Deliver + 'static,
{
    runtime().spawn(async move {
        let outcome = async {
            let handle = source.get(&ctl).await?;
            if !counted {
                handle.before_call(1);
            }
            let result = slow(handle.conn().clone(), ctl).await;
            drop(handle);
            result
        };
        done.finish(outcome.await.map(|v| Box::new(v) as Box<dyn Deliver>));
    });
}

impl<S: HandleSource> Call<'_, S> {
    /// Runs a request that does not depend on the schema; `make` builds the result from the
    /// reply, `slow` is the waiting path.
    pub(super) fn direct<'py, M, Sl, Fut, T>(
        self,
        py: Python<'py>,
        r: &Request<'_>,
        ctl: CallCtl,
        token: CancellationToken,
        make: M,
        slow: Sl,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        M: FnOnce(Response) -> Outcome + Send + 'static,
        Sl: FnOnce(TntConnection, CallCtl) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
        T: Deliver + 'static,
    {
        let (future, done) =
            Bridge::register_completer(self.bridge.bind(py), BACKEND, Some(token))?;
        let Some(held) = self.source.ready() else {
            run_waiting(done, self.source, ctl, slow, false);
            return Ok(future);
        };
        held.before_call(1);
        let finish = done.clone();
        let conn = held.conn().clone();
        let sent = conn.send_now(r, &ctl, true, move |reply| {
            finish.finish(reply.and_then(|resp| {
                if resp.is_error() {
                    Err(resp.to_error())
                } else {
                    make(resp)
                }
            }));
            // A loan lasts until the reply.
            drop(held);
        });
        match sent {
            Ok(sent) => follow(py, self.bridge, sent),
            Err(_) => run_waiting(done, self.source, ctl, slow, true),
        }
        Ok(future)
    }

    /// Runs a request on a space (see `direct`); a refusal for a stale schema (the server did
    /// not execute the request) goes to the waiting path, which reads the schema again.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn direct_space<'py, E, M, Sl, Fut, T>(
        self,
        py: Python<'py>,
        space: &SpaceRef,
        ctl: CallCtl,
        token: CancellationToken,
        encode: E,
        make: M,
        slow: Sl,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        E: FnOnce(&Schema, &Arc<Space>, &Header, &mut Vec<u8>) -> Result<(), Error>,
        M: FnOnce(Response, Arc<Space>) -> Outcome + Send + 'static,
        Sl: FnOnce(TntConnection, CallCtl) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
        T: Deliver + 'static,
    {
        let (future, done) =
            Bridge::register_completer(self.bridge.bind(py), BACKEND, Some(token))?;
        let Some(held) = self.source.ready() else {
            run_waiting(done, self.source, ctl, slow, false);
            return Ok(future);
        };
        held.before_call(1);
        let finish = done.clone();
        let conn = held.conn().clone();
        let (retry_ctl, retry) = (ctl.clone(), slow.clone());
        let sent = conn.send_space_now(space, &ctl, true, encode, move |reply, sp| match reply {
            Ok(resp) if resp.error_code() == Some(code::ER_WRONG_SCHEMA_VERSION) => {
                run_waiting(finish, held, retry_ctl, retry, true);
            }
            Ok(resp) if resp.is_error() => finish.finish(Err(resp.to_error())),
            Ok(resp) => finish.finish(make(resp, sp)),
            Err(e) => finish.finish(Err(e)),
        });
        match sent {
            Ok(sent) => follow(py, self.bridge, sent),
            Err(_) => run_waiting(done, self.source, ctl, slow, true),
        }
        Ok(future)
    }
}

/// When the loop thread is to read the answer, make sure the loop watches the socket.
fn follow(py: Python<'_>, bridge: &Py<Bridge>, sent: ferrule_tarantool::Sent) {
    if let ferrule_tarantool::Sent::Inline(reader) = sent {
        loop_reader::follow(py, bridge, reader);
    }
}
