//! ferrule_core::Error into a Python exception, built by the factory the Python package
//! registers (`ferrule.exceptions._make_error`), so the exception classes live in Python.

use ferrule_core::{Error, ErrorKind};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

static FACTORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

#[pyfunction]
pub fn set_error_factory(py: Python<'_>, factory: Py<PyAny>) -> PyResult<()> {
    FACTORY
        .set(py, factory)
        .map_err(|_| PyRuntimeError::new_err("the error factory is already set"))
}

pub fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Interface => "interface",
        ErrorKind::Database => "database",
        ErrorKind::ConnectionFailure => "connection_failure",
        ErrorKind::ConnectionLost => "connection_lost",
        ErrorKind::Protocol => "protocol",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Cancelled => "cancelled",
        ErrorKind::Closed => "closed",
        ErrorKind::Authentication => "authentication",
        ErrorKind::Data => "data",
        ErrorKind::NotSupported => "not_supported",
        ErrorKind::PoolTimeout => "pool_timeout",
    }
}

/// Builds the Python exception for `e`, raised by `backend`.
pub fn to_pyerr(py: Python<'_>, e: &Error, backend: &str) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let Some(factory) = FACTORY.get(py) else {
            return Ok(PyRuntimeError::new_err(e.message.clone()));
        };
        let fields = PyDict::new(py);
        for (k, v) in &e.fields {
            fields.set_item(*k, v)?;
        }
        let exc = factory.bind(py).call1((
            kind_name(e.kind),
            backend,
            e.code.as_deref(),
            e.message.as_str(),
            fields,
        ))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|err| err)
}
