//! `PgPooledConn`: a connection lent by a `PgPool`, with the same native calls as `PgConn`.
//!
//! Each call's job keeps the loan alive (it holds the guard), so the connection goes back to
//! the pool once it is released *and* the calls made before have ended. After `release()`
//! every call fails with `ConnectionClosedError`; an object dropped without `release()` gives
//! its connection back when it is collected.
//!
//! Type decoders and the event callback set on a lent connection last for the loan: at
//! release the connection reads those types in ferrule's own format again and stops sending
//! events there, so that the next user inherits neither. (LISTEN itself is undone by the
//! reset.) A COPY must be finished before the release.

use std::sync::Arc;

use ferrule_core::pool::Pooled;
use ferrule_core::Error;
use ferrule_pg::{PgConnection, PgManager};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use super::calls::{self, Call, ConnHandle, Event, BACKEND};
use super::connection::row_class;
use super::connection::{server_parameters, PgStmt};
use super::results::Codecs;
use crate::bridge::{Bridge, Deliver, Emitter, Unit};
use crate::errors::to_pyerr;

type Held = Arc<Pooled<PgManager>>;

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PgPooledConn {
    held: Mutex<Option<Held>>,
    bridge: Py<Bridge>,
    codecs: Mutex<Codecs>,
    events: Mutex<Option<Arc<Emitter>>>,
}

/// What `PgPool.acquire` resolves to. Dropped undelivered (the caller was cancelled while
/// the result was on its way), it gives the connection back.
pub struct Acquired {
    pub pooled: Pooled<PgManager>,
    pub bridge: Py<Bridge>,
}

impl Deliver for Acquired {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let conn = PgPooledConn {
            held: Mutex::new(Some(Arc::new(self.pooled))),
            bridge: self.bridge,
            codecs: Mutex::default(),
            events: Mutex::new(None),
        };
        Ok(Py::new(py, conn)?.into_any())
    }
}

fn released(py: Python<'_>) -> PyErr {
    let e = Error::closed("the connection was released back to the pool; acquire another");
    to_pyerr(py, &e, BACKEND)
}

impl PgPooledConn {
    fn held(&self, py: Python<'_>) -> PyResult<Held> {
        self.held.lock().clone().ok_or_else(|| released(py))
    }

    fn call(&self, py: Python<'_>) -> PyResult<Call<'_, Held>> {
        Ok(Call {
            bridge: &self.bridge,
            source: self.held(py)?,
            codecs: calls::snapshot(&self.codecs),
        })
    }

    /// Ends the loan: the caller's decoders no longer apply to the connection.
    fn take(&self) -> Option<Held> {
        let held = self.held.lock().take()?;
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

#[pymethods]
impl PgPooledConn {
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (sql, args, shape=0, column=0, timeout=None, record_class=None, as_class=None))]
    fn query<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        args: &Bound<'py, PyAny>,
        shape: u8,
        column: usize,
        timeout: Option<f64>,
        record_class: Option<Bound<'py, PyType>>,
        as_class: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let class = row_class(record_class, as_class)?;
        self.call(py)?
            .query(py, sql, args, shape, column, timeout, class)
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (stmt, args, shape=0, column=0, timeout=None, record_class=None, as_class=None))]
    fn query_prepared<'py>(
        &self,
        py: Python<'py>,
        stmt: &PgStmt,
        args: &Bound<'py, PyAny>,
        shape: u8,
        column: usize,
        timeout: Option<f64>,
        record_class: Option<Bound<'py, PyType>>,
        as_class: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let class = row_class(record_class, as_class)?;
        self.call(py)?
            .query_prepared(py, stmt, args, shape, column, timeout, class)
    }

    #[pyo3(signature = (sql, timeout=None))]
    fn execute_script<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call(py)?.execute_script(py, sql, timeout)
    }

    #[pyo3(signature = (sql, rows, timeout=None))]
    fn executemany<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        rows: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call(py)?.executemany(py, sql, rows, timeout)
    }

    #[pyo3(signature = (sql, timeout=None))]
    fn prepare<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call(py)?.prepare(py, sql, timeout)
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (stmt, args, prefetch, timeout=None, record_class=None, as_class=None))]
    fn cursor_open<'py>(
        &self,
        py: Python<'py>,
        stmt: &PgStmt,
        args: &Bound<'py, PyAny>,
        prefetch: i32,
        timeout: Option<f64>,
        record_class: Option<Bound<'py, PyType>>,
        as_class: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let class = row_class(record_class, as_class)?;
        self.call(py)?
            .cursor_open(py, stmt, args, prefetch, timeout, class)
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (stmt, portal, count, timeout=None, record_class=None, as_class=None))]
    fn cursor_fetch<'py>(
        &self,
        py: Python<'py>,
        stmt: &PgStmt,
        portal: String,
        count: i32,
        timeout: Option<f64>,
        record_class: Option<Bound<'py, PyType>>,
        as_class: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let class = row_class(record_class, as_class)?;
        self.call(py)?
            .cursor_fetch(py, stmt, portal, count, timeout, class)
    }

    fn cursor_close(&self, py: Python<'_>, portal: &str) -> PyResult<()> {
        self.with_conn(py, |c| c.portal_close(portal))
    }

    /// Closes the connection itself (the pool replaces it once it is released).
    #[pyo3(signature = (timeout=None))]
    fn close<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py)?.close(py, timeout)
    }

    /// Closes the connection at once and releases it; the pool replaces it.
    fn terminate(&self) {
        if let Some(held) = self.take() {
            held.conn().terminate();
        }
    }

    /// True once the connection is closed or released.
    fn is_closed(&self) -> bool {
        match self.held.lock().as_ref() {
            Some(held) => held.conn().is_closed(),
            None => true,
        }
    }

    fn is_released(&self) -> bool {
        self.held.lock().is_none()
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

    #[pyo3(signature = (items, atomic=false, return_exceptions=false, timeout=None))]
    fn pipeline<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
        atomic: bool,
        return_exceptions: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call(py)?
            .pipeline(py, items, atomic, return_exceptions, timeout)
    }

    #[pyo3(signature = (sql, args, timeout=None))]
    fn copy_in<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        args: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call(py)?.copy_in(py, sql, args, timeout)
    }

    #[pyo3(signature = (sql, args, timeout=None))]
    fn copy_out<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        args: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call(py)?.copy_out(py, sql, args, timeout)
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
        let held = self.take();
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            if let Some(held) = held {
                if let Ok(pooled) = Arc::try_unwrap(held) {
                    pooled.release().await;
                }
            }
            Ok(Unit)
        })
    }
}

impl Drop for PgPooledConn {
    fn drop(&mut self) {
        // Collected without `release()`: the guard goes back to the pool as it drops.
        drop(self.take());
    }
}
