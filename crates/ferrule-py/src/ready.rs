//! The results of calls done inline. `Ready` holds its result: the caller takes it with
//! `result()` (no await, no exception for StopIteration) or awaits it. Awaiting a finished
//! call does not let other tasks run, so once a task has made inline calls back to back for a
//! time slice (`InlineSlice`) the call returns a `YieldingReady` instead, which yields to the
//! loop once (a bare `yield`, as `asyncio.sleep(0)` does) before giving its result: a task
//! making many inline calls in a row cannot starve the others.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use pyo3::exceptions::{PyRuntimeError, PyStopIteration};
use pyo3::prelude::*;

type Outcome = Mutex<Option<PyResult<Py<PyAny>>>>;

fn take(outcome: &Outcome) -> PyResult<Py<PyAny>> {
    match outcome.lock().take() {
        Some(result) => result,
        None => Err(PyRuntimeError::new_err(
            "cannot reuse an already awaited result",
        )),
    }
}

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct Ready {
    outcome: Outcome,
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
    /// The call's result (or its exception, raised).
    fn result(&self) -> PyResult<Py<PyAny>> {
        take(&self.outcome)
    }

    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Ends the iteration with the result (StopIteration carries it), or raises the error.
    fn __next__(&self) -> PyResult<Py<PyAny>> {
        let value = take(&self.outcome)?;
        Err(PyStopIteration::new_err((value,)))
    }

    /// Always true: the work is done (for code that checks an awaitable like a future).
    fn done(&self) -> bool {
        true
    }
}

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct YieldingReady {
    outcome: Outcome,
    yielded: Mutex<bool>,
}

impl YieldingReady {
    pub fn new(outcome: PyResult<Py<PyAny>>) -> YieldingReady {
        YieldingReady {
            outcome: Mutex::new(Some(outcome)),
            yielded: Mutex::new(false),
        }
    }
}

#[pymethods]
impl YieldingReady {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// First a bare yield (the loop runs other tasks), then the result.
    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if !std::mem::replace(&mut *self.yielded.lock(), true) {
            return Ok(py.None());
        }
        let value = take(&self.outcome)?;
        Err(PyStopIteration::new_err((value,)))
    }

    fn done(&self) -> bool {
        true
    }
}

/// How long a task may run inline calls back to back before it yields to the loop once.
const INLINE_SLICE: Duration = Duration::from_micros(50);
/// A pause between two inline calls longer than this means the loop ran something else in
/// between (or the caller was busy elsewhere): a new slice starts.
const INLINE_GAP: Duration = Duration::from_micros(20);

/// The time slice of one connection's inline calls: other tasks wait at most about
/// `INLINE_SLICE` for a task that keeps calling, whatever each call costs.
pub struct InlineSlice {
    // (start of the slice, end of the last call)
    times: Mutex<Option<(Instant, Instant)>>,
}

impl InlineSlice {
    pub fn new() -> InlineSlice {
        InlineSlice {
            times: Mutex::new(None),
        }
    }

    /// Called as an inline call ends: should its result yield to the loop first?
    pub fn should_yield(&self) -> bool {
        let now = Instant::now();
        let mut times = self.times.lock();
        match *times {
            Some((start, last)) if now.duration_since(last) <= INLINE_GAP => {
                if now.duration_since(start) >= INLINE_SLICE {
                    // The yield lets the loop run others; the next call opens a new slice.
                    *times = None;
                    return true;
                }
                *times = Some((start, now));
            }
            _ => *times = Some((now, now)),
        }
        false
    }

    /// A call went to the connection's thread (its await yields): a new slice starts.
    pub fn restart(&self) {
        *self.times.lock() = None;
    }
}

impl Default for InlineSlice {
    fn default() -> Self {
        InlineSlice::new()
    }
}
