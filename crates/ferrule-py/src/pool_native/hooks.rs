//! The pool's Python hooks (`init`, `reset`), run on the event loop for the Rust pool of any
//! backend.
//!
//! Rust never calls Python from the runtime's threads (that would take the GIL there). A hook
//! call is queued instead; the Python pool's hook service awaits the native pool's
//! `next_hook()`, runs the coroutine on its loop, and reports back with
//! `PoolHookCall.finish()`. The manager's connect or reset waits for that report. This costs
//! one trip through the event loop per new connection (`init`) or per release (`reset`).

use std::sync::Arc;

use ferrule_core::pool::{HookFuture, SessionHooks};
use ferrule_core::Error;
use parking_lot::Mutex;
use pyo3::prelude::*;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

use crate::bridge::{Bridge, Deliver};

/// A backend connection a hook runs on, as the binding shows it to Python (`PgConn`,
/// `TdsConn`, `TntConn`).
pub trait HookConnection: Clone + Send + Sync + 'static {
    fn to_python(self, bridge: Py<Bridge>, py: Python<'_>) -> PyResult<Py<PyAny>>;
}

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
pub struct HookCall<C> {
    kind: HookKind,
    conn: C,
    done: oneshot::Sender<Result<(), Error>>,
}

/// The manager's side: queues hook calls for the Python hook service.
pub struct PyHooks<C> {
    tx: UnboundedSender<HookCall<C>>,
    init: bool,
    reset: bool,
}

/// The binding's side: where `next_hook` takes the queued calls from.
pub struct HookQueue<C> {
    rx: tokio::sync::Mutex<UnboundedReceiver<HookCall<C>>>,
}

/// Hooks for a pool with the given Python hooks set, and the queue their calls go to.
pub fn hooks<C: HookConnection>(init: bool, reset: bool) -> (Arc<PyHooks<C>>, Arc<HookQueue<C>>) {
    let (tx, rx) = unbounded_channel();
    let queue = HookQueue {
        rx: tokio::sync::Mutex::new(rx),
    };
    (Arc::new(PyHooks { tx, init, reset }), Arc::new(queue))
}

impl<C: HookConnection> PyHooks<C> {
    fn call(&self, kind: HookKind, conn: &C) -> HookFuture {
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

impl<C: HookConnection> SessionHooks<C> for PyHooks<C> {
    fn init(&self, conn: &C) -> Option<HookFuture> {
        self.init.then(|| self.call(HookKind::Init, conn))
    }

    fn has_reset(&self) -> bool {
        self.reset
    }

    fn reset(&self, conn: &C) -> HookFuture {
        self.call(HookKind::Reset, conn)
    }
}

impl<C> HookQueue<C> {
    /// The next hook call; waits until there is one.
    pub async fn next(&self) -> Option<HookCall<C>> {
        self.rx.lock().await.recv().await
    }
}

/// What `next_hook` resolves to: a `PoolHookCall`, or None when there is none to come.
pub struct NextHook<C> {
    pub call: Option<HookCall<C>>,
    pub bridge: Py<Bridge>,
}

impl<C: HookConnection> Deliver for NextHook<C> {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let NextHook { call, bridge } = *self;
        let Some(call) = call else {
            return Ok(py.None());
        };
        let hook = PoolHookCall {
            kind: call.kind.name(),
            conn: call.conn.to_python(bridge, py)?,
            done: Mutex::new(Some(call.done)),
        };
        Ok(Py::new(py, hook)?.into_any())
    }
}

/// A hook call handed to Python: run the hook on `connection` (the backend's native
/// connection), then call `finish`.
#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PoolHookCall {
    kind: &'static str,
    conn: Py<PyAny>,
    done: Mutex<Option<oneshot::Sender<Result<(), Error>>>>,
}

#[pymethods]
impl PoolHookCall {
    /// `"init"` or `"reset"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    #[getter]
    fn connection(&self, py: Python<'_>) -> Py<PyAny> {
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
