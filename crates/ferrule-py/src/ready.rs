//! `Ready`: the awaitable a call returns when its work was done inline. Awaiting it yields
//! its result at once, without an asyncio future, a loop callback or a trip through the
//! bridge; it is cheaper to create and to await than a resolved future.

use parking_lot::Mutex;
use pyo3::exceptions::{PyRuntimeError, PyStopIteration};
use pyo3::prelude::*;

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct Ready {
    outcome: Mutex<Option<PyResult<Py<PyAny>>>>,
}

impl Ready {
    pub fn new(outcome: PyResult<Py<PyAny>>) -> Ready {
        Ready {
            outcome: Mutex::new(Some(outcome)),
        }
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Ends the iteration with the result (StopIteration carries it), or raises the error.
    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.outcome.lock().take() {
            Some(Ok(value)) => Err(PyStopIteration::new_err((value,))),
            Some(Err(err)) => Err(err),
            None => {
                let _ = py;
                Err(PyRuntimeError::new_err(
                    "cannot reuse an already awaited result",
                ))
            }
        }
    }

    /// Always true: the work is done (for code that checks an awaitable like a future).
    fn done(&self) -> bool {
        true
    }
}
