//! `Ready`: the awaitable a call returns when its work was done inline. Awaiting it yields
//! its result at once, without an asyncio future, a loop callback or a trip through the
//! bridge; it is cheaper to create and to await than a resolved future. Awaiting it does not
//! let other tasks run, so every so often one is made to yield to the loop once first (a
//! bare `yield`, as `asyncio.sleep(0)` does): a task running many inline calls in a row
//! cannot starve the others.

use parking_lot::Mutex;
use pyo3::exceptions::{PyRuntimeError, PyStopIteration};
use pyo3::prelude::*;

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct Ready {
    outcome: Mutex<Option<PyResult<Py<PyAny>>>>,
    /// Yield to the event loop once before returning the result.
    pending_yield: Mutex<bool>,
}

impl Ready {
    pub fn new(outcome: PyResult<Py<PyAny>>, yield_first: bool) -> Ready {
        Ready {
            outcome: Mutex::new(Some(outcome)),
            pending_yield: Mutex::new(yield_first),
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
        if std::mem::take(&mut *self.pending_yield.lock()) {
            return Ok(py.None());
        }
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
