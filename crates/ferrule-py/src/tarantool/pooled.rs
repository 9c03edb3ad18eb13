//! `TntPooledConn`: a connection lent by a `TntPool`, with the same native calls as `TntConn`
//! (`methods.rs`) for as long as the loan lasts (`crate::pool_native::Loan`). An interactive
//! transaction it opens, watchers and calls still pushing messages are cleared when the
//! connection goes back (`TntManager`).

use std::sync::atomic::AtomicU64;

use ferrule_core::pool::Pooled;
use ferrule_tarantool::{TntConnection, TntManager};
use pyo3::prelude::*;

use super::calls::{Call, Held, BACKEND};
use super::methods::tnt_connection_methods;
use crate::bridge::Bridge;
use crate::pool_native::{release, Loan};

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TntPooledConn {
    loan: Loan<TntManager>,
    bridge: Py<Bridge>,
    /// The stream of the transaction this loan opened (0: none); every call joins it.
    stream: AtomicU64,
}

/// Makes the Python object of a fresh loan (`TntPool.acquire` resolves to it).
pub fn lend(pooled: Pooled<TntManager>, bridge: Py<Bridge>, py: Python<'_>) -> PyResult<Py<PyAny>> {
    let conn = TntPooledConn {
        loan: Loan::new(pooled),
        bridge,
        stream: AtomicU64::new(0),
    };
    Ok(Py::new(py, conn)?.into_any())
}

impl TntPooledConn {
    fn target(&self, py: Python<'_>) -> PyResult<Call<'_, Held>> {
        Ok(Call {
            bridge: &self.bridge,
            source: Held::Loan(self.loan.held(py, BACKEND)?),
            stream: Some(&self.stream),
        })
    }

    fn with_conn<T>(&self, py: Python<'_>, f: impl FnOnce(&TntConnection) -> T) -> PyResult<T> {
        Ok(f(self.loan.held(py, BACKEND)?.conn()))
    }
}

tnt_connection_methods!(TntPooledConn, {
    /// Closes the connection at once and releases it; the pool replaces it.
    fn terminate(&self) {
        if let Some(held) = self.loan.take() {
            held.conn().close();
        }
    }

    /// True once the connection is closed or released.
    fn is_closed(&self) -> bool {
        self.loan.peek(TntConnection::is_closed).unwrap_or(true)
    }

    fn is_released(&self) -> bool {
        self.loan.is_released()
    }

    /// Gives the connection back; resolves once the pool has it again (after the session
    /// state is cleared when there is any). Calls still running keep it until they end.
    /// Releasing twice does nothing.
    fn release<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        release(py, &self.bridge, BACKEND, self.loan.take())
    }
});

impl Drop for TntPooledConn {
    fn drop(&mut self) {
        // Collected without `release()`: the guard goes back to the pool as it drops.
        drop(self.loan.take());
    }
}
