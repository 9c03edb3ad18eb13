//! The pool's Python hooks (`init`, `reset`), run on the event loop for the Rust pool.
//!
//! Rust never calls Python from the runtime's threads (that would take the GIL there). A hook
//! call is queued instead; the Python pool's hook service awaits `PgPool.next_hook()`, runs
//! the coroutine on its loop, and reports back with `PgHookCall.finish()`. The pool's
//! connect or reset waits for that report. This costs one trip through the event loop per
//! new connection (`init`) or per release (`reset`).

use std::sync::Arc;

use ferrule_core::Error;
use ferrule_pg::pool::HookFuture;
use ferrule_pg::{PgConnection, SessionHooks};
use parking_lot::Mutex;
use pyo3::prelude::*;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

use super::connection::PgConn;
use crate::bridge::{Bridge, Deliver};

#[derive(Clone, Copy)]
enum HookKind {
    Init,
    Reset,
}

impl HookKind {
    fn name(self) -> &'static str {
        match self {
            HookKind::Init => "init",
            HookKind::Reset => "reset",
        }
    }
}

/// One hook to run: on which connection, and where to report the outcome.
pub struct HookCall {
    kind: HookKind,
    conn: PgConnection,
    done: oneshot::Sender<Result<(), Error>>,
}

/// The pool's side: queues hook calls for the Python hook service.
pub struct PyHooks {
    tx: UnboundedSender<HookCall>,
    init: bool,
    reset: bool,
}

/// The binding's side: where `next_hook` takes the queued calls from.
pub struct HookQueue {
    rx: tokio::sync::Mutex<UnboundedReceiver<HookCall>>,
}

/// Hooks for a pool with the given Python hooks set, and the queue their calls go to.
pub fn hooks(init: bool, reset: bool) -> (Arc<PyHooks>, Arc<HookQueue>) {
    let (tx, rx) = unbounded_channel();
    let queue = HookQueue {
        rx: tokio::sync::Mutex::new(rx),
    };
    (Arc::new(PyHooks { tx, init, reset }), Arc::new(queue))
}

impl PyHooks {
    fn call(&self, kind: HookKind, conn: &PgConnection) -> HookFuture {
        let (done, outcome) = oneshot::channel();
        let call = HookCall {
            kind,
            conn: conn.clone(),
            done,
        };
        let queued = self.tx.send(call).is_ok();
        Box::pin(async move {
            if !queued {
                return Err(Error::closed("the pool's hook service has stopped"));
            }
            // A call dropped unfinished (its Python object collected, the service stopped).
            outcome.await.unwrap_or_else(|_| {
                Err(Error::interface(format!(
                    "the pool's {} hook did not finish",
                    kind.name()
                )))
            })
        })
    }
}

impl SessionHooks for PyHooks {
    fn init(&self, conn: &PgConnection) -> Option<HookFuture> {
        self.init.then(|| self.call(HookKind::Init, conn))
    }

    fn has_reset(&self) -> bool {
        self.reset
    }

    fn reset(&self, conn: &PgConnection) -> HookFuture {
        self.call(HookKind::Reset, conn)
    }
}

impl HookQueue {
    /// The next hook call; waits until there is one.
    pub async fn next(&self) -> Option<HookCall> {
        self.rx.lock().await.recv().await
    }
}

/// What `next_hook` resolves to: a `PgHookCall`, or None when there is none to come.
pub struct NextHook {
    pub call: Option<HookCall>,
    pub bridge: Py<Bridge>,
}

impl Deliver for NextHook {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let NextHook { call, bridge } = *self;
        let Some(call) = call else {
            return Ok(py.None());
        };
        let conn = Py::new(py, PgConn::new(call.conn, bridge))?;
        let hook = PgHookCall {
            kind: call.kind.name(),
            conn,
            done: Mutex::new(Some(call.done)),
        };
        Ok(Py::new(py, hook)?.into_any())
    }
}

/// A hook call handed to Python: run the hook on `connection`, then call `finish`.
#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PgHookCall {
    kind: &'static str,
    conn: Py<PgConn>,
    done: Mutex<Option<oneshot::Sender<Result<(), Error>>>>,
}

#[pymethods]
impl PgHookCall {
    /// `"init"` or `"reset"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    #[getter]
    fn connection(&self, py: Python<'_>) -> Py<PgConn> {
        self.conn.clone_ref(py)
    }

    /// Reports the outcome: `None` when the hook succeeded, else a description of its error,
    /// which fails the connect (`init`) or closes the connection (`reset`).
    #[pyo3(signature = (error=None))]
    fn finish(&self, error: Option<String>) {
        if let Some(done) = self.done.lock().take() {
            let outcome = match error {
                None => Ok(()),
                Some(what) => Err(Error::interface(format!(
                    "the pool's {} hook raised {what}",
                    self.kind
                ))),
            };
            let _ = done.send(outcome);
        }
    }
}
