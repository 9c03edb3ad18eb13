//! `TntConn`: a thin pyo3 shell over `ferrule_tarantool::TntConnection`. Arguments are encoded
//! to MessagePack under the GIL, one request runs (on the direct path when it can), and the
//! reply bytes are decoded into Python objects on the loop thread. The call bodies are in
//! `space_calls.rs` and `sql_calls.rs`, the Python methods in `methods.rs` (shared with the
//! connections a pool lends).

use std::sync::atomic::AtomicU64;

use ferrule_core::Error;
use ferrule_tarantool::{Schema, TntConnection};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::calls::{Call, Held, BACKEND};
use super::config::from_dict;
use super::methods::tnt_connection_methods;
use crate::bridge::{Bridge, Deliver};
use crate::pool_native::HookConnection;

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TntConn {
    conn: TntConnection,
    bridge: Py<Bridge>,
    /// The stream of the open interactive transaction (0: none); every call joins it.
    stream: AtomicU64,
}

/// A prepared SQL statement (IPROTO_PREPARE).
#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TntStmt {
    #[pyo3(get)]
    pub(super) stmt_id: u64,
    #[pyo3(get)]
    sql: String,
    info: ferrule_tarantool::PreparedInfo,
}

impl HookConnection for TntConnection {
    fn to_python(self, bridge: Py<Bridge>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let conn = TntConn {
            conn: self,
            bridge,
            stream: AtomicU64::new(0),
        };
        Ok(Py::new(py, conn)?.into_any())
    }
}

struct Connected {
    conn: TntConnection,
    bridge: Py<Bridge>,
}

impl Deliver for Connected {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.conn.to_python(self.bridge, py)
    }
}

pub(super) struct Prepared(pub String, pub ferrule_tarantool::PreparedInfo);

impl Deliver for Prepared {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let stmt = TntStmt {
            stmt_id: self.1.stmt_id,
            sql: self.0,
            info: self.1,
        };
        Ok(Py::new(py, stmt)?.into_any())
    }
}

/// Opens a connection; resolves to a `TntConn`.
#[pyfunction]
pub fn tnt_connect<'py>(
    bridge: &Bound<'py, Bridge>,
    settings: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg = from_dict(settings)?;
    let handle = bridge.clone().unbind();
    Bridge::submit(bridge, BACKEND, None, async move {
        let conn = TntConnection::connect(cfg).await?;
        Ok(Connected {
            conn,
            bridge: handle,
        })
    })
}

impl TntConn {
    fn target(&self, _py: Python<'_>) -> PyResult<Call<'_, Held>> {
        Ok(Call {
            bridge: &self.bridge,
            source: Held::Conn(self.conn.clone()),
            stream: Some(&self.stream),
        })
    }

    fn with_conn<T>(&self, _py: Python<'_>, f: impl FnOnce(&TntConnection) -> T) -> PyResult<T> {
        Ok(f(&self.conn))
    }
}

tnt_connection_methods!(TntConn, {
    fn terminate(&self) {
        self.conn.close();
    }

    fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }
});

#[pymethods]
impl TntStmt {
    /// Number of parameters.
    #[getter]
    fn bind_count(&self) -> u64 {
        self.info.bind_count
    }

    /// `[(name, type)]` of the parameters.
    #[getter]
    fn params(&self) -> Vec<(String, String)> {
        self.info
            .params
            .iter()
            .map(|c| (c.name.clone(), c.type_name.clone()))
            .collect()
    }

    /// `[(name, type)]` of the result columns.
    #[getter]
    fn columns(&self) -> Vec<(String, String)> {
        self.info
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.type_name.clone()))
            .collect()
    }
}

/// The schema as a dict (see `spaces()` in `methods.rs`).
pub fn spaces<'py>(py: Python<'py>, schema: &Schema) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    for (name, sp) in &schema.by_name {
        let d = PyDict::new(py);
        d.set_item("id", sp.id)?;
        d.set_item("engine", &sp.engine)?;
        let fields: Vec<(String, String)> = sp
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.type_name.clone()))
            .collect();
        d.set_item("fields", fields)?;
        let idx = PyDict::new(py);
        for i in &sp.indexes {
            let id = PyDict::new(py);
            id.set_item("id", i.id)?;
            id.set_item("type", &i.kind)?;
            id.set_item("unique", i.unique)?;
            id.set_item("parts", i.parts.clone())?;
            idx.set_item(&i.name, id)?;
        }
        d.set_item("indexes", idx)?;
        out.set_item(name, d)?;
    }
    Ok(out)
}

pub fn no_cursors(py: Python<'_>) -> PyErr {
    let e = Error::new(
        ferrule_core::ErrorKind::NotSupported,
        "Tarantool has no server-side cursors; use fetch() with LIMIT",
    );
    crate::errors::to_pyerr(py, &e, BACKEND)
}
