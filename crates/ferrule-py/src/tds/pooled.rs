//! `TdsPooledConn`: a connection lent by a `TdsPool`, with the same native calls as `TdsConn`
//! (`methods.rs`) for as long as the loan lasts (`crate::pool_native::Loan`).

use ferrule_core::pool::Pooled;
use ferrule_tds::manager::TdsManager;
use ferrule_tds::TdsConnection;
use pyo3::prelude::*;

use super::calls::{Call, ConnHandle, BACKEND};
use super::methods::tds_connection_methods;
use crate::bridge::Bridge;
use crate::pool_native::{release, Held, Loan};

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TdsPooledConn {
    loan: Loan<TdsManager>,
    bridge: Py<Bridge>,
}

/// Makes the Python object of a fresh loan (`TdsPool.acquire` resolves to it).
pub fn lend(pooled: Pooled<TdsManager>, bridge: Py<Bridge>, py: Python<'_>) -> PyResult<Py<PyAny>> {
    let conn = TdsPooledConn {
        loan: Loan::new(pooled),
        bridge,
    };
    Ok(Py::new(py, conn)?.into_any())
}

impl TdsPooledConn {
    fn call(&self, py: Python<'_>) -> PyResult<Call<'_, Held<TdsManager>>> {
        Ok(Call {
            bridge: &self.bridge,
            source: self.loan.held(py, BACKEND)?,
        })
    }

    fn with_conn<T>(&self, py: Python<'_>, f: impl FnOnce(&TdsConnection) -> T) -> PyResult<T> {
        Ok(f(self.loan.held(py, BACKEND)?.conn()))
    }
}

tds_connection_methods!(TdsPooledConn, {
    /// Closes the connection at once and releases it; the pool replaces it.
    fn terminate(&self) {
        if let Some(held) = self.loan.take() {
            held.conn().terminate();
        }
    }

    /// True once the connection is closed or released.
    fn is_closed(&self) -> bool {
        self.loan.peek(TdsConnection::is_closed).unwrap_or(true)
    }

    fn is_released(&self) -> bool {
        self.loan.is_released()
    }

    /// Gives the connection back; resolves once the pool has it again (after a session
    /// reset when one is needed). Calls still running keep it until they end. Releasing
    /// twice does nothing.
    fn release<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        release(py, &self.bridge, BACKEND, self.loan.take())
    }
});

impl Drop for TdsPooledConn {
    fn drop(&mut self) {
        // Collected without `release()`: the guard goes back to the pool as it drops.
        drop(self.loan.take());
    }
}
