//! The asyncio bridge. A finished job never takes the GIL: it pushes its outcome onto a
//! completion queue and, only when the queue was empty, writes to an eventfd the event loop
//! watches. The loop's reader callback drains the whole queue at once, builds the Python
//! objects and resolves the futures, so under load one wake-up completes many calls.

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ferrule_core::runtime::runtime;
use ferrule_core::Error;
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyList;
use tokio_util::sync::CancellationToken;

use crate::errors::to_pyerr;

/// A job's result, still in Rust memory; turned into a Python object on the loop thread.
pub trait Deliver: Send {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>>;
}

type Outcome = Result<Box<dyn Deliver>, Error>;

enum Item {
    /// A batch of a result still arriving: its delivered list is appended to the call's
    /// accumulator, so decoding overlaps the transfer of the rest.
    Partial(Box<dyn Deliver>),
    /// The call's end: its value (appended to the accumulator if there is one) or its error
    /// (the accumulator is dropped: no partial result passes as success).
    Final(Outcome),
    /// An event for a registered listener (notifications, notices); `last` unregisters it.
    Event { last: bool, event: Box<dyn Deliver> },
}

pub struct CompletionQueue {
    items: Mutex<Vec<(usize, Item)>>,
    wake: OwnedFd,
    /// Set while the loop thread completes calls that it drains right after
    /// (`Bridge::complete_here`): pushes meanwhile need not wake it.
    drains_next: AtomicBool,
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
            drains_next: AtomicBool::new(false),
        })
    }

    fn push(&self, id: usize, item: Item) {
        let was_empty = {
            let mut items = self.items.lock();
            let empty = items.is_empty();
            items.push((id, item));
            empty
        };
        if was_empty && !self.drains_next.load(Ordering::SeqCst) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
            unsafe {
                write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8);
            }
        }
    }

    /// Resets the eventfd, then takes everything queued. In that order: an outcome pushed
    /// after the reset either lands in this batch or writes the eventfd again.
    fn take(&self) -> Vec<(usize, Item)> {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own non-blocking eventfd.
        unsafe {
            read(self.wake.as_raw_fd(), (&mut counter as *mut u64).cast(), 8);
        }
        self.take_quietly()
    }

    /// Takes everything queued, leaving the eventfd as it is: a wake-up written meanwhile
    /// only costs the loop one empty drain.
    fn take_quietly(&self) -> Vec<(usize, Item)> {
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

/// Hands partial results of one call to the loop thread.
#[derive(Clone)]
pub struct Completer {
    queue: Arc<CompletionQueue>,
    id: usize,
}

impl Completer {
    pub fn partial(&self, part: Box<dyn Deliver>) {
        self.queue.push(self.id, Item::Partial(part));
    }

    /// Ends the call registered with `Bridge::register_completer`, from any thread.
    pub fn finish(&self, outcome: Result<Box<dyn Deliver>, Error>) {
        self.queue.push(self.id, Item::Final(outcome));
    }
}

/// Sends events to one listener registered with `Bridge::add_listener`.
pub struct Emitter {
    queue: Arc<CompletionQueue>,
    id: usize,
}

impl Emitter {
    /// Queues `event`; `last` unregisters the listener once it has been called.
    pub fn emit(&self, event: Box<dyn Deliver>, last: bool) {
        self.queue.push(self.id, Item::Event { last, event });
    }
}

struct Entry {
    future: Py<PyAny>,
    /// Lists delivered by partial batches, in order.
    acc: Option<Py<PyList>>,
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
    listeners: HashMap<usize, Py<PyAny>>,
    next_listener: usize,
    create_future: Py<PyAny>,
    event_loop: Py<PyAny>,
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
            listeners: HashMap::new(),
            next_listener: 0,
            create_future: event_loop.getattr("create_future")?.unbind(),
            event_loop: event_loop.clone().unbind(),
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
        let batch = slf.borrow().queue.take();
        Self::resolve_batch(slf, batch)
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

impl Bridge {
    /// Builds the Python objects of a batch of completions and resolves their futures.
    fn resolve_batch(slf: &Bound<'_, Self>, batch: Vec<(usize, Item)>) -> PyResult<()> {
        let py = slf.py();
        for (id, item) in batch {
            match item {
                Item::Partial(part) => {
                    let target = {
                        let mut this = slf.borrow_mut();
                        this.futures.get_mut(&id).map(|e| {
                            let acc = e.acc.get_or_insert_with(|| PyList::empty(py).unbind());
                            (e.future.clone_ref(py), acc.clone_ref(py))
                        })
                    };
                    if let Some((future, acc)) = target {
                        let future = future.bind(py);
                        if let Err(err) = append_partial(py, future, acc.bind(py), part) {
                            err.write_unraisable(py, Some(future));
                        }
                    }
                }
                Item::Event { last, event } => {
                    let callback = {
                        let mut this = slf.borrow_mut();
                        if last {
                            this.listeners.remove(&id)
                        } else {
                            this.listeners.get(&id).map(|c| c.clone_ref(py))
                        }
                    };
                    if let Some(callback) = callback {
                        let callback = callback.bind(py);
                        let called = event.deliver(py).and_then(|args| {
                            callback.call1(args.bind(py).cast::<pyo3::types::PyTuple>()?)
                        });
                        if let Err(err) = called {
                            err.write_unraisable(py, Some(callback));
                        }
                    }
                }
                Item::Final(outcome) => {
                    let entry = slf.borrow_mut().futures.remove(&id);
                    if let Some(entry) = entry {
                        let future = entry.future.bind(py);
                        let acc = entry.acc.as_ref().map(|a| a.bind(py));
                        if let Err(err) = resolve(py, future, acc, entry.backend, outcome) {
                            err.write_unraisable(py, Some(future));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_done(py: Python<'_>, future: &Bound<'_, PyAny>) -> PyResult<bool> {
    future.call_method0(pyo3::intern!(py, "done"))?.is_truthy()
}

/// Decodes one partial batch into the accumulator; a decode error fails the call at once.
fn append_partial(
    py: Python<'_>,
    future: &Bound<'_, PyAny>,
    acc: &Bound<'_, PyList>,
    part: Box<dyn Deliver>,
) -> PyResult<()> {
    // A cancelled caller's future is already done: its rows are not decoded.
    if is_done(py, future)? {
        return Ok(());
    }
    match part.deliver(py) {
        Ok(list) => {
            acc.call_method1(pyo3::intern!(py, "extend"), (list,))?;
        }
        Err(err) => {
            future.call_method1(pyo3::intern!(py, "set_exception"), (err.into_value(py),))?;
        }
    }
    Ok(())
}

/// Sets the result or exception of one future; a cancelled caller's future is already done
/// and its result is dropped.
fn resolve(
    py: Python<'_>,
    future: &Bound<'_, PyAny>,
    acc: Option<&Bound<'_, PyList>>,
    backend: &str,
    outcome: Outcome,
) -> PyResult<()> {
    if is_done(py, future)? {
        return Ok(());
    }
    let result = match outcome {
        Ok(value) => value.deliver(py).and_then(|obj| match acc {
            Some(acc) => {
                acc.call_method1(pyo3::intern!(py, "extend"), (obj,))?;
                Ok(acc.clone().into_any().unbind())
            }
            None => Ok(obj),
        }),
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
    /// The event loop this bridge serves.
    pub fn event_loop(&self) -> &Py<PyAny> {
        &self.event_loop
    }

    /// Runs `work` on the loop thread, then resolves every completed call: what `work`
    /// completes is resolved without a wake-up of the loop. A call completed meanwhile by
    /// another thread is resolved here too; one completed after `work` wakes the loop as ever.
    pub fn complete_here<R>(slf: &Bound<'_, Self>, work: impl FnOnce() -> R) -> PyResult<R> {
        struct Quiet(Arc<CompletionQueue>);
        impl Drop for Quiet {
            fn drop(&mut self) {
                self.0.drains_next.store(false, Ordering::SeqCst);
            }
        }
        let queue = slf.borrow().queue.clone();
        queue.drains_next.store(true, Ordering::SeqCst);
        let quiet = Quiet(queue);
        let r = work();
        // Cleared before the queue is taken: a later push finds it empty and wakes the loop.
        drop(quiet);
        let batch = slf.borrow().queue.take_quietly();
        Self::resolve_batch(slf, batch)?;
        Ok(r)
    }

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
        Self::submit_streaming(slf, backend, cancel, |_| job)
    }

    /// Registers `callback`, called on the loop thread with the tuple each event delivers.
    pub fn add_listener(slf: &Bound<'_, Self>, callback: Py<PyAny>) -> Emitter {
        let mut this = slf.borrow_mut();
        this.next_listener += 1;
        let id = this.next_listener;
        this.listeners.insert(id, callback);
        Emitter {
            queue: this.queue.clone(),
            id,
        }
    }

    /// Like `submit`, for jobs that hand over partial results through the `Completer`.
    pub fn submit_streaming<'py, B, F, T>(
        slf: &Bound<'py, Self>,
        backend: &'static str,
        cancel: Option<CancellationToken>,
        build: B,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        B: FnOnce(Completer) -> F,
        F: Future<Output = Result<T, Error>> + Send + 'static,
        T: Deliver + 'static,
    {
        let py = slf.py();
        let mut this = slf.borrow_mut();
        let future = this.create_future.bind(py).call0()?;
        let id = future.as_ptr() as usize;
        let entry = Entry {
            future: future.clone().unbind(),
            acc: None,
            cancel,
            backend,
        };
        this.futures.insert(id, entry);
        let queue = this.queue.clone();
        drop(this);
        let job = build(Completer {
            queue: queue.clone(),
            id,
        });
        runtime().spawn(async move {
            let outcome = job.await.map(|v| Box::new(v) as Box<dyn Deliver>);
            queue.push(id, Item::Final(outcome));
        });
        Ok(future)
    }
}

/// Where a job that runs outside the runtime (a SQLite connection's thread) delivers its
/// outcome: pushing it wakes the loop exactly as a runtime job does. Dropped unused, it
/// reports the connection as closed, so its future never hangs.
pub struct Completion {
    queue: Option<Arc<CompletionQueue>>,
    id: usize,
}

impl Completion {
    pub fn complete<T: Deliver + 'static>(mut self, outcome: Result<T, Error>) {
        if let Some(queue) = self.queue.take() {
            let outcome = outcome.map(|v| Box::new(v) as Box<dyn Deliver>);
            queue.push(self.id, Item::Final(outcome));
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(queue) = self.queue.take() {
            let closed = Error::closed("the connection is closed");
            queue.push(self.id, Item::Final(Err(closed)));
        }
    }
}

impl Bridge {
    /// A pending future and the `Completion` that will resolve it, from any thread.
    pub fn register<'py>(
        slf: &Bound<'py, Self>,
        backend: &'static str,
        cancel: Option<CancellationToken>,
    ) -> PyResult<(Bound<'py, PyAny>, Completion)> {
        let py = slf.py();
        let mut this = slf.borrow_mut();
        let future = this.create_future.bind(py).call0()?;
        let id = future.as_ptr() as usize;
        this.futures.insert(
            id,
            Entry {
                future: future.clone().unbind(),
                acc: None,
                cancel,
                backend,
            },
        );
        let queue = Some(this.queue.clone());
        Ok((future, Completion { queue, id }))
    }

    /// Like `register`, with a `Completer`: it clones, for a call that one of several
    /// places finishes (a protocol reader answering from its own task, or a fallback job).
    pub fn register_completer<'py>(
        slf: &Bound<'py, Self>,
        backend: &'static str,
        cancel: Option<CancellationToken>,
    ) -> PyResult<(Bound<'py, PyAny>, Completer)> {
        let (future, mut completion) = Self::register(slf, backend, cancel)?;
        match completion.queue.take() {
            Some(queue) => Ok((
                future,
                Completer {
                    queue,
                    id: completion.id,
                },
            )),
            None => Err(pyo3::exceptions::PyRuntimeError::new_err(
                "a new completion has no queue",
            )),
        }
    }

    /// An awaitable already holding `outcome`: the result of work done inline.
    pub fn ready<'py, T: Deliver + 'static>(
        slf: &Bound<'py, Self>,
        backend: &'static str,
        outcome: Result<T, Error>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::ready_yielding(slf, backend, outcome, false)
    }

    /// Like `ready`; with `yield_first`, awaiting it lets the loop run other tasks once.
    pub fn ready_yielding<'py, T: Deliver + 'static>(
        slf: &Bound<'py, Self>,
        backend: &'static str,
        outcome: Result<T, Error>,
        yield_first: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let value = match outcome {
            Ok(v) => Box::new(v).deliver(py),
            Err(e) => Err(to_pyerr(py, &e, backend)),
        };
        if yield_first {
            let ready = crate::ready::YieldingReady::new(value);
            return Ok(Bound::new(py, ready)?.into_any());
        }
        Ok(Bound::new(py, crate::ready::Ready::new(value))?.into_any())
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
