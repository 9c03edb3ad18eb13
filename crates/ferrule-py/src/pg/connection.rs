//! `PgConn` and `PgStmt`: thin pyo3 shells over `ferrule_pg::PgConnection`; the call bodies
//! live in `calls.rs`, shared with the pool's objects.

use std::sync::Arc;

use ferrule_pg::{PgConnection, Statement};
use parking_lot::Mutex;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};

use super::results::RowClass;
use crate::record::Record;
use ferrule_pg::typeinfo::{builtin_codec, Override};

use super::calls::{self, Call};
use super::config::from_dict;
use super::methods::pg_call_methods;
use super::results::Codecs;
use crate::bridge::{Bridge, Deliver};

// The call helpers as the other shells (COPY) know them.
pub(crate) use super::calls::{ctl, BACKEND};

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PgConn {
    conn: PgConnection,
    bridge: Py<Bridge>,
    /// Replaced, never mutated, so a query takes a snapshot with one Arc clone.
    codecs: Mutex<Codecs>,
}

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PgStmt {
    stmt: Arc<Statement>,
}

impl PgStmt {
    pub fn new(stmt: Arc<Statement>) -> PgStmt {
        PgStmt { stmt }
    }

    pub fn statement(&self) -> &Arc<Statement> {
        &self.stmt
    }
}

struct Connected {
    conn: PgConnection,
    bridge: Py<Bridge>,
}

impl Deliver for Connected {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PgConn::new(self.conn, self.bridge))?.into_any())
    }
}

/// Opens a connection; resolves to a `PgConn`.
#[pyfunction]
pub fn pg_connect<'py>(
    bridge: &Bound<'py, Bridge>,
    settings: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg = from_dict(settings)?;
    let handle = bridge.clone().unbind();
    Bridge::submit(bridge, BACKEND, None, async move {
        let conn = PgConnection::connect(&cfg).await?;
        Ok(Connected {
            conn,
            bridge: handle,
        })
    })
}

impl PgConn {
    pub fn new(conn: PgConnection, bridge: Py<Bridge>) -> PgConn {
        PgConn {
            conn,
            bridge,
            codecs: Mutex::default(),
        }
    }

    fn call(&self, _py: Python<'_>) -> PyResult<Call<'_, PgConnection>> {
        Ok(Call {
            bridge: &self.bridge,
            source: self.conn.clone(),
            codecs: calls::snapshot(&self.codecs),
        })
    }
}

pg_call_methods!(PgConn, {
    fn cursor_close(&self, portal: &str) {
        self.conn.portal_close(portal);
    }

    fn terminate(&self) {
        self.conn.terminate();
    }

    fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// `idle`, `transaction` or `failed` (from the server's last ReadyForQuery).
    fn transaction_status(&self) -> &'static str {
        calls::transaction_status(&self.conn)
    }

    fn process_id(&self) -> i32 {
        self.conn.process_id()
    }

    fn server_parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        server_parameters(py, &self.conn)
    }

    fn clear_statement_cache(&self) {
        self.conn.clear_statement_cache();
    }

    /// Routes notifications, notices and the end of the connection to `callback(kind, a, b,
    /// c)` on the event loop: `("notification", pid, channel, payload)`, `("notice",
    /// exception, None, None)`, `("terminated", exception, None, None)`.
    fn set_event_callback(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        calls::route_events(py, &self.bridge, &self.conn, callback);
        Ok(())
    }

    /// Decodes type `oid` with `decoder` (called with the value's text form), or restores
    /// ferrule's own decoding when `decoder` is None.
    #[pyo3(signature = (oid, decoder=None, binary=false))]
    fn set_type_decoder(&self, py: Python<'_>, oid: u32, decoder: Option<Py<PyAny>>, binary: bool) {
        calls::set_type_decoder(py, &self.codecs, &self.conn, oid, decoder, binary);
    }

    /// Handles type `oid` with the built-in codec `codec` (`int4`, `text`, `hstore`, ...),
    /// or with None as ferrule would by itself.
    #[pyo3(signature = (oid, codec=None))]
    fn set_builtin_codec(&self, oid: u32, codec: Option<&str>) -> PyResult<()> {
        set_builtin_codec(&self.conn, oid, codec)
    }

    /// Forgets the types read from pg_catalog and the cached statements.
    fn reload_schema_state(&self) {
        self.conn.reload_schema_state();
    }
});

pub fn server_parameters<'py>(
    py: Python<'py>,
    conn: &PgConnection,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in conn.server_parameters() {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// Makes `conn` handle type `oid` with the built-in codec named `codec` (None: as ferrule
/// would by itself).
pub(crate) fn set_builtin_codec(
    conn: &PgConnection,
    oid: u32,
    codec: Option<&str>,
) -> PyResult<()> {
    let choice = match codec {
        None => None,
        Some(name) => Some(Override::Like(builtin_codec(name).ok_or_else(|| {
            PyValueError::new_err(format!("{name:?} is not a built-in codec ferrule has"))
        })?)),
    };
    conn.set_type_override(oid, choice);
    Ok(())
}

/// The row class of a call from its `record_class` and `as_class` arguments.
pub(crate) fn row_class(
    record_class: Option<Bound<'_, PyType>>,
    as_class: Option<Py<PyAny>>,
) -> PyResult<Option<Arc<RowClass>>> {
    Ok(match (record_class, as_class) {
        (Some(_), Some(_)) => {
            return Err(PyValueError::new_err(
                "give record_class or as_class, not both",
            ))
        }
        (Some(cls), None) => {
            if !cls.is_subclass_of::<Record>()? {
                return Err(PyTypeError::new_err(
                    "record_class must be a subclass of ferrule.Record",
                ));
            }
            // Plain Records need no class at all: the fast path.
            (!cls.is(cls.py().get_type::<Record>()))
                .then(|| Arc::new(RowClass::Record(cls.unbind())))
        }
        (None, Some(cls)) => Some(Arc::new(RowClass::Kwargs(cls))),
        (None, None) => None,
    })
}

#[pymethods]
impl PgStmt {
    #[getter]
    fn sql(&self) -> &str {
        &self.stmt.sql
    }

    /// Type OIDs of the parameters.
    #[getter]
    fn param_oids(&self) -> Vec<u32> {
        self.stmt.params.clone()
    }

    /// `[(name, type oid)]` of the result columns.
    #[getter]
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            self.stmt
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.type_oid)),
        )
    }
}
