//! `TdsConn` and `TdsStmt`: thin pyo3 shells over `ferrule_tds::TdsConnection`. The call
//! bodies are in `calls.rs`, the Python methods in `methods.rs` (shared with the connections
//! a pool lends).

use std::sync::Arc;

use ferrule_tds::{Statement, TdsConnection};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::calls::{Call, BACKEND};
use super::config::from_dict;
use super::methods::tds_connection_methods;
use crate::bridge::{Bridge, Deliver};
use crate::pool_native::HookConnection;

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TdsConn {
    conn: TdsConnection,
    bridge: Py<Bridge>,
}

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TdsStmt {
    pub(super) stmt: Arc<Statement>,
}

impl HookConnection for TdsConnection {
    fn to_python(self, bridge: Py<Bridge>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, TdsConn { conn: self, bridge })?.into_any())
    }
}

struct Connected {
    conn: TdsConnection,
    bridge: Py<Bridge>,
}

impl Deliver for Connected {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.conn.to_python(self.bridge, py)
    }
}

/// Opens a connection; resolves to a `TdsConn`.
#[pyfunction]
pub fn tds_connect<'py>(
    bridge: &Bound<'py, Bridge>,
    settings: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg = from_dict(settings)?;
    let handle = bridge.clone().unbind();
    Bridge::submit(bridge, BACKEND, None, async move {
        let conn = TdsConnection::connect(&cfg).await?;
        Ok(Connected {
            conn,
            bridge: handle,
        })
    })
}

impl TdsConn {
    fn call(&self, _py: Python<'_>) -> PyResult<Call<'_, TdsConnection>> {
        Ok(Call {
            bridge: &self.bridge,
            source: self.conn.clone(),
        })
    }

    fn with_conn<T>(&self, _py: Python<'_>, f: impl FnOnce(&TdsConnection) -> T) -> PyResult<T> {
        Ok(f(&self.conn))
    }
}

tds_connection_methods!(TdsConn, {
    fn terminate(&self) {
        self.conn.terminate();
    }

    fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }
});

#[pymethods]
impl TdsStmt {
    #[getter]
    fn sql(&self) -> &str {
        &self.stmt.sql
    }

    /// Parameter types are declared from the values at each execution.
    #[getter]
    fn param_oids(&self) -> Vec<u32> {
        Vec::new()
    }

    /// `[(name, type)]` of the result columns, once known.
    #[getter]
    fn columns(&self) -> Vec<(String, String)> {
        self.stmt
            .columns
            .lock()
            .as_ref()
            .map(|cols| {
                cols.iter()
                    .map(|c| (c.name.clone(), c.type_info.sql_name()))
                    .collect()
            })
            .unwrap_or_default()
    }
}
