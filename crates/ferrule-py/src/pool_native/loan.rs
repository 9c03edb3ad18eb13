//! The loan behind a lent connection's Python object (`PgPooledConn`, `TdsPooledConn`,
//! `TntPooledConn`).
//!
//! Each call's job keeps the loan alive (it holds the guard), so the connection goes back to
//! the pool once it is released *and* the calls made before have ended. After `release()`
//! every call fails with `ConnectionClosedError`; an object dropped without `release()` gives
//! its connection back when it is collected.

use std::sync::Arc;

use ferrule_core::pool::{Manager, Pooled};
use ferrule_core::Error;
use parking_lot::Mutex;
use pyo3::prelude::*;

use crate::bridge::{Bridge, Deliver, Unit};
use crate::errors::to_pyerr;

/// The guard as the calls of a loan share it.
pub type Held<M> = Arc<Pooled<M>>;

/// Makes a backend's lent-connection object around a fresh loan.
pub type LendFn<M> = fn(Pooled<M>, Py<Bridge>, Python<'_>) -> PyResult<Py<PyAny>>;

pub struct Loan<M: Manager> {
    held: Mutex<Option<Held<M>>>,
}

impl<M: Manager> Loan<M> {
    pub fn new(pooled: Pooled<M>) -> Self {
        Loan {
            held: Mutex::new(Some(Arc::new(pooled))),
        }
    }

    /// The guard for a call; `ConnectionClosedError` once the loan has ended.
    pub fn held(&self, py: Python<'_>, backend: &str) -> PyResult<Held<M>> {
        self.held.lock().clone().ok_or_else(|| {
            let e = Error::closed("the connection was released back to the pool; acquire another");
            to_pyerr(py, &e, backend)
        })
    }

    /// Ends the loan; `None` when it had already ended.
    pub fn take(&self) -> Option<Held<M>> {
        self.held.lock().take()
    }

    pub fn is_released(&self) -> bool {
        self.held.lock().is_none()
    }

    /// `f` of the connection while the loan lasts.
    pub fn peek<T>(&self, f: impl FnOnce(&M::Conn) -> T) -> Option<T> {
        self.held.lock().as_ref().map(|held| f(held.conn()))
    }
}

/// Gives the guard back; resolves once the pool has the connection again (after a session
/// reset when one is needed). Calls still running keep it until they end, and their end
/// gives it back.
pub fn release<'py, M: Manager>(
    py: Python<'py>,
    bridge: &Py<Bridge>,
    backend: &'static str,
    held: Option<Held<M>>,
) -> PyResult<Bound<'py, PyAny>> {
    Bridge::submit(bridge.bind(py), backend, None, async move {
        if let Some(held) = held {
            if let Ok(pooled) = Arc::try_unwrap(held) {
                pooled.release().await;
            }
        }
        Ok(Unit)
    })
}

/// What a native pool's `acquire` resolves to. Dropped undelivered (the caller was
/// cancelled while the result was on its way), it gives the connection back.
pub struct Acquired<M: Manager> {
    pub pooled: Pooled<M>,
    pub bridge: Py<Bridge>,
    pub lend: LendFn<M>,
}

impl<M: Manager> Deliver for Acquired<M> {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let Acquired {
            pooled,
            bridge,
            lend,
        } = *self;
        lend(pooled, bridge, py)
    }
}
