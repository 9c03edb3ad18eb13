//! The direct path of a query on a held connection: when the connection is idle and the
//! statement is already prepared, Bind/Execute/Sync go to the socket from the loop thread
//! and the answer goes straight to the asyncio bridge, from the reader task or, while
//! queries go out one at a time, from the loop thread itself (loop_reader.rs): a query then
//! costs no runtime task. Anything else (a statement to prepare, a busy connection, TLS, a
//! pool's own calls) takes the waiting path on the runtime.

use std::future::Future;
use std::sync::Arc;

use ferrule_core::runtime::runtime;
use ferrule_core::{Error, Value};
use ferrule_pg::{is_stale_statement, CallCtl, QueryOpts, QueryResult, Statement};
use parking_lot::Mutex;
use pyo3::prelude::*;

use super::calls::HandleSource;
use super::results::{Codecs, RowClass, Rows, Shape};
use crate::bridge::{Bridge, Completer, Deliver};
use crate::loop_reader;

/// What a query's rows become.
pub struct Output {
    pub shape: Shape,
    pub codecs: Option<Codecs>,
    pub class: Option<Arc<RowClass>>,
}

impl Output {
    fn rows(&self, result: QueryResult) -> Box<dyn Deliver> {
        Box::new(Rows {
            result,
            shape: self.shape,
            codecs: self.codecs.clone(),
            class: self.class.clone(),
        })
    }
}

/// Runs `slow` on the runtime with the call's source and ends the call with its outcome.
pub fn run_waiting<S, Sl, Fut>(done: Completer, source: S, ctl: CallCtl, slow: Sl)
where
    S: HandleSource,
    Sl: FnOnce(S, CallCtl) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Box<dyn Deliver>, Error>> + Send + 'static,
{
    runtime().spawn(async move {
        let outcome = slow(source, ctl).await;
        done.finish(outcome);
    });
}

/// Tries to send `stmt` now (see the module); `Err(source)` when the caller must take the
/// waiting path. `retry_sql`: the query's text, re-prepared once on the waiting path when
/// the cached statement went stale (outside a transaction).
#[allow(clippy::too_many_arguments)]
pub fn try_direct<S, Sl, Fut>(
    py: Python<'_>,
    bridge: &Py<Bridge>,
    source: S,
    stmt: &Arc<Statement>,
    values: &Arc<Vec<Value>>,
    opts: &QueryOpts,
    ctl: &CallCtl,
    done: &Completer,
    output: Output,
    retry_sql: Option<String>,
    slow: Sl,
) -> Result<(), S>
where
    S: HandleSource + Send + 'static,
    Sl: FnOnce(S, CallCtl) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Box<dyn Deliver>, Error>> + Send + 'static,
{
    let Some(conn) = source.conn_now() else {
        return Err(source);
    };
    let sink = opts.sink.as_ref().map(|f| f(stmt));
    // Before the query can be answered: the answer may come (and the loan end) at once.
    source.count(&stmt.sql);
    // The loan (a pool's connection) lasts until the answer.
    let keep = Arc::new(Mutex::new(Some(source)));
    let kept = keep.clone();
    let finish = done.clone();
    let retry_ctl = CallCtl {
        turn: None,
        ..ctl.clone()
    };
    let answer_conn = conn.clone();
    let on_answer = move |answer: Result<QueryResult, Error>| {
        let source = kept.lock().take();
        match answer {
            Ok(result) => finish.finish(Ok(output.rows(result))),
            Err(e) if is_stale_statement(&e) && retry_sql.is_some() => {
                let sql = retry_sql.unwrap_or_default();
                match (answer_conn.stale_statement(&sql, e), source) {
                    (Ok(()), Some(source)) => run_waiting(finish, source, retry_ctl, slow),
                    (Ok(()), None) => finish.finish(Err(Error::closed("the connection is closed"))),
                    (Err(e), _) => finish.finish(Err(e)),
                }
            }
            Err(e) => finish.finish(Err(e)),
        }
    };
    let sent = conn.query_now(stmt, values, opts.max_rows, sink, ctl, on_answer);
    match sent {
        Ok(sent) => {
            follow(py, bridge, sent);
            Ok(())
        }
        Err(_) => match keep.lock().take() {
            Some(source) => Err(source),
            None => Ok(()),
        },
    }
}

/// When the loop thread is to read the answer, make sure the loop watches the socket.
fn follow(py: Python<'_>, bridge: &Py<Bridge>, sent: ferrule_pg::Sent) {
    if let ferrule_pg::Sent::Inline(reader) = sent {
        loop_reader::follow(py, bridge, reader);
    }
}
