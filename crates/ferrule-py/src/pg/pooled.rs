//! `PgPooledConn`: a connection lent by a `PgPool`, with the same native calls as `PgConn`
//! (the loan itself: `crate::pool_native::Loan`).
//!
//! Type decoders and the event callback set on a lent connection last for the loan: at
//! release the connection reads those types in ferrule's own format again and stops sending
//! events there, so that the next user inherits neither. (LISTEN itself is undone by the
//! reset.) A COPY must be finished before the release.

use ferrule_core::pool::Pooled;
use ferrule_pg::{PgConnection, PgManager};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::calls::{self, Call, ConnHandle, Event, BACKEND};
use super::connection::server_parameters;
use super::methods::pg_call_methods;
use super::results::Codecs;
use crate::bridge::{Bridge, Emitter};
use crate::pool_native::{release, Held, Loan};

type PgHeld = Held<PgManager>;

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PgPooledConn {
    loan: Loan<PgManager>,
    bridge: Py<Bridge>,
    codecs: Mutex<Codecs>,
    events: Mutex<Option<std::sync::Arc<Emitter>>>,
}

/// Makes the Python object of a fresh loan (`PgPool.acquire` resolves to it).
pub fn lend(pooled: Pooled<PgManager>, bridge: Py<Bridge>, py: Python<'_>) -> PyResult<Py<PyAny>> {
    let conn = PgPooledConn {
        loan: Loan::new(pooled),
        bridge,
        codecs: Mutex::default(),
        events: Mutex::new(None),
    };
    Ok(Py::new(py, conn)?.into_any())
}

impl PgPooledConn {
    fn held(&self, py: Python<'_>) -> PyResult<PgHeld> {
        self.loan.held(py, BACKEND)
    }

    fn call(&self, py: Python<'_>) -> PyResult<Call<'_, PgHeld>> {
        Ok(Call {
            bridge: &self.bridge,
            source: self.held(py)?,
            codecs: calls::snapshot(&self.codecs),
        })
    }

    /// Ends the loan: the caller's decoders no longer apply to the connection.
    fn take(&self) -> Option<PgHeld> {
        let held = self.loan.take()?;
        for oid in self.codecs.lock().keys() {
            held.conn().set_text_format(*oid, false);
        }
        if let Some(emitter) = self.events.lock().take() {
            held.conn().set_async_hook(None);
            emitter.emit(Box::new(Event::Released), true);
        }
        Some(held)
    }

    fn with_conn<T>(&self, py: Python<'_>, f: impl FnOnce(&PgConnection) -> T) -> PyResult<T> {
        Ok(f(self.held(py)?.conn()))
    }
}

pg_call_methods!(PgPooledConn, {
    fn cursor_close(&self, py: Python<'_>, portal: &str) -> PyResult<()> {
        self.with_conn(py, |c| c.portal_close(portal))
    }

    /// Closes the connection at once and releases it; the pool replaces it.
    fn terminate(&self) {
        if let Some(held) = self.take() {
            held.conn().terminate();
        }
    }

    /// True once the connection is closed or released.
    fn is_closed(&self) -> bool {
        self.loan.peek(PgConnection::is_closed).unwrap_or(true)
    }

    fn is_released(&self) -> bool {
        self.loan.is_released()
    }

    fn transaction_status(&self, py: Python<'_>) -> PyResult<&'static str> {
        self.with_conn(py, calls::transaction_status)
    }

    fn process_id(&self, py: Python<'_>) -> PyResult<i32> {
        self.with_conn(py, PgConnection::process_id)
    }

    fn server_parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let held = self.held(py)?;
        server_parameters(py, held.conn())
    }

    fn clear_statement_cache(&self, py: Python<'_>) -> PyResult<()> {
        self.with_conn(py, PgConnection::clear_statement_cache)
    }

    /// Routes the connection's events to `callback` for the rest of this loan.
    fn set_event_callback(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        let held = self.held(py)?;
        let emitter = calls::route_events(py, &self.bridge, held.conn(), callback);
        if let Some(previous) = self.events.lock().replace(emitter) {
            previous.emit(Box::new(Event::Released), true);
        }
        Ok(())
    }

    /// Decodes type `oid` with `decoder` for the rest of this loan (see the module notes).
    #[pyo3(signature = (oid, decoder=None, binary=false))]
    fn set_type_decoder(
        &self,
        py: Python<'_>,
        oid: u32,
        decoder: Option<Py<PyAny>>,
        binary: bool,
    ) -> PyResult<()> {
        let held = self.held(py)?;
        calls::set_type_decoder(py, &self.codecs, held.conn(), oid, decoder, binary);
        Ok(())
    }

    /// Handles type `oid` with the built-in codec `codec`, or with None as ferrule would.
    #[pyo3(signature = (oid, codec=None))]
    fn set_builtin_codec(&self, py: Python<'_>, oid: u32, codec: Option<&str>) -> PyResult<()> {
        let held = self.held(py)?;
        super::connection::set_builtin_codec(held.conn(), oid, codec)
    }

    /// Forgets the types read from pg_catalog and the cached statements.
    fn reload_schema_state(&self, py: Python<'_>) -> PyResult<()> {
        self.held(py)?.conn().reload_schema_state();
        Ok(())
    }

    /// Gives the connection back; resolves once the pool has it again (after a session
    /// reset when one is needed). Calls still running keep it until they end. Releasing
    /// twice does nothing.
    fn release<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        release(py, &self.bridge, BACKEND, self.take())
    }
});

impl Drop for PgPooledConn {
    fn drop(&mut self) {
        // Collected without `release()`: the guard goes back to the pool as it drops.
        drop(self.take());
    }
}
