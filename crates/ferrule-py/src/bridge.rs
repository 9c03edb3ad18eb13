//! The asyncio bridge. A finished job never takes the GIL: it pushes its outcome onto a
//! completion queue and, only when the queue was empty, writes to an eventfd the event loop
//! watches. The loop's reader callback drains the whole queue at once, builds the Python
//! objects and resolves the futures, so under load one wake-up completes many calls.

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use ferrule_core::runtime::runtime;
use ferrule_core::Error;
use parking_lot::Mutex;
use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::errors::to_pyerr;

/// A job's result, still in Rust memory; turned into a Python object on the loop thread.
pub trait Deliver: Send {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>>;
}

type Outcome = Result<Box<dyn Deliver>, Error>;

pub struct CompletionQueue {
    items: Mutex<Vec<(usize, Outcome)>>,
    wake: OwnedFd,
}

impl CompletionQueue {
    fn new() -> std::io::Result<CompletionQueue> {
        // SAFETY: eventfd has no memory preconditions; the result is checked.
        let fd = unsafe { libc_eventfd() };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor owned by nobody else.
        let wake = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(CompletionQueue {
            items: Mutex::new(Vec::with_capacity(64)),
            wake,
        })
    }

    fn push(&self, id: usize, outcome: Outcome) {
        let was_empty = {
            let mut items = self.items.lock();
            let empty = items.is_empty();
            items.push((id, outcome));
            empty
        };
        if was_empty {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
            unsafe {
                write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8);
            }
        }
    }

    /// Resets the eventfd, then takes everything queued. In that order: an outcome pushed
    /// after the reset either lands in this batch or writes the eventfd again.
    fn take(&self) -> Vec<(usize, Outcome)> {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own non-blocking eventfd.
        unsafe {
            read(self.wake.as_raw_fd(), (&mut counter as *mut u64).cast(), 8);
        }
        std::mem::take(&mut *self.items.lock())
    }
}

const EFD_CLOEXEC: i32 = 0o2000000;
const EFD_NONBLOCK: i32 = 0o4000;

extern "C" {
    fn eventfd(initval: u32, flags: i32) -> i32;
    fn write(fd: i32, buf: *const std::ffi::c_void, count: usize) -> isize;
    fn read(fd: i32, buf: *mut std::ffi::c_void, count: usize) -> isize;
}

unsafe fn libc_eventfd() -> i32 {
    eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
}

struct Entry {
    future: Py<PyAny>,
    cancel: Option<CancellationToken>,
    /// Which backend's codes the error factory should read.
    backend: &'static str,
}

/// One per event loop: created by `ferrule._bridge.get_bridge()`, which registers `drain` with
/// `loop.add_reader(bridge.fileno(), bridge.drain)`.
#[pyclass(module = "ferrule._ferrule")]
pub struct Bridge {
    queue: Arc<CompletionQueue>,
    futures: HashMap<usize, Entry>,
    create_future: Py<PyAny>,
}

#[pymethods]
impl Bridge {
    #[new]
    fn new(event_loop: &Bound<'_, PyAny>) -> PyResult<Self> {
        let queue = CompletionQueue::new().map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!("cannot create the eventfd: {e}"))
        })?;
        Ok(Bridge {
            queue: Arc::new(queue),
            futures: HashMap::new(),
            create_future: event_loop.getattr("create_future")?.unbind(),
        })
    }

    fn fileno(&self) -> i32 {
        self.queue.wake.as_raw_fd()
    }

    /// Calls waiting for their completion.
    fn pending(&self) -> usize {
        self.futures.len()
    }

    /// Resolves every completed call: the event loop's reader callback.
    fn drain(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let batch = slf.borrow().queue.take();
        if batch.is_empty() {
            return Ok(());
        }
        let mut resolved = Vec::with_capacity(batch.len());
        {
            let mut this = slf.borrow_mut();
            for (id, outcome) in batch {
                if let Some(entry) = this.futures.remove(&id) {
                    resolved.push((entry.future, entry.backend, outcome));
                }
            }
        }
        for (future, backend, outcome) in resolved {
            let future = future.bind(py);
            if let Err(err) = resolve(py, future, backend, outcome) {
                err.write_unraisable(py, Some(future));
            }
        }
        Ok(())
    }

    /// Asks the job behind `future` to stop: the caller's task was cancelled.
    fn cancel(&self, future: &Bound<'_, PyAny>) {
        if let Some(entry) = self.futures.get(&(future.as_ptr() as usize)) {
            if let Some(token) = &entry.cancel {
                token.cancel();
            }
        }
    }
}

/// Sets the result or exception of one future; a cancelled caller's future is already done
/// and its result is dropped.
fn resolve(
    py: Python<'_>,
    future: &Bound<'_, PyAny>,
    backend: &str,
    outcome: Outcome,
) -> PyResult<()> {
    if future
        .call_method0(pyo3::intern!(py, "done"))?
        .is_truthy()?
    {
        return Ok(());
    }
    let result = match outcome {
        Ok(value) => value.deliver(py),
        Err(e) => Err(to_pyerr(py, &e, backend)),
    };
    match result {
        Ok(obj) => future.call_method1(pyo3::intern!(py, "set_result"), (obj,))?,
        Err(err) => {
            future.call_method1(pyo3::intern!(py, "set_exception"), (err.into_value(py),))?
        }
    };
    Ok(())
}

impl Bridge {
    /// Runs `job` on the runtime and returns the asyncio future it will resolve.
    pub fn submit<'py, F, T>(
        slf: &Bound<'py, Self>,
        backend: &'static str,
        cancel: Option<CancellationToken>,
        job: F,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        F: Future<Output = Result<T, Error>> + Send + 'static,
        T: Deliver + 'static,
    {
        let py = slf.py();
        let mut this = slf.borrow_mut();
        let future = this.create_future.bind(py).call0()?;
        let id = future.as_ptr() as usize;
        this.futures.insert(
            id,
            Entry {
                future: future.clone().unbind(),
                cancel,
                backend,
            },
        );
        let queue = this.queue.clone();
        drop(this);
        runtime().spawn(async move {
            let outcome = job.await.map(|v| Box::new(v) as Box<dyn Deliver>);
            queue.push(id, outcome);
        });
        Ok(future)
    }
}

/// A result that is already a Python-independent value.
pub struct Unit;

impl Deliver for Unit {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(py.None())
    }
}

pub struct Text(pub String);

impl Deliver for Text {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(pyo3::types::PyString::new(py, &self.0).into_any().unbind())
    }
}
