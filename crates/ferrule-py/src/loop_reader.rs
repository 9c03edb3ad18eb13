//! Answers read on the event loop's thread (PostgreSQL and Tarantool plain connections).
//! While a connection's requests go out one at a time, the loop watches the socket
//! (`loop.add_reader`); when it is readable the answer is read, parsed and its future resolved
//! right there: a round trip then costs the loop one wake-up, as in a pure-Python driver,
//! instead of a hop through the runtime's reader task and the bridge's eventfd. As soon as
//! requests overlap, reading goes back to the task (see the backends' inbox.rs) and the watch
//! removes itself the next time it fires. The watch belongs to the connection, not to the
//! object the call came through (a connection, or a pool's loan of it).

use std::sync::atomic::{AtomicBool, Ordering};

use ferrule_core::socket::{InlineRead, LoopRead};
use pyo3::prelude::*;

use crate::bridge::Bridge;

/// After a request was sent for the loop thread to read its answer: make sure the loop
/// watches the socket. If it cannot, reading goes back to the task.
pub fn follow(py: Python<'_>, bridge: &Py<Bridge>, reader: impl LoopRead + Clone) {
    if reader.start_watch() && SocketWatch::start(py, bridge, Box::new(reader.clone())).is_err() {
        reader.watch_ended();
        reader.release();
    }
}

/// The loop's reader callback for one connection's socket; only the loop holds it. It
/// keeps the descriptor open until it is unregistered, so the loop never watches a closed
/// one.
#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct SocketWatch {
    reader: Box<dyn LoopRead>,
    bridge: Py<Bridge>,
    event_loop: Py<PyAny>,
    active: AtomicBool,
}

#[pymethods]
impl SocketWatch {
    fn __call__(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        match Bridge::complete_here(this.bridge.bind(py), || this.reader.read())? {
            InlineRead::Read | InlineRead::Busy => {}
            InlineRead::Released | InlineRead::Ended => this.stop(py),
        }
        Ok(())
    }
}

impl SocketWatch {
    fn start(py: Python<'_>, bridge: &Py<Bridge>, reader: Box<dyn LoopRead>) -> PyResult<()> {
        let event_loop = bridge.try_borrow(py)?.event_loop().clone_ref(py);
        let fd = reader.fd();
        let watch = Py::new(
            py,
            SocketWatch {
                reader,
                bridge: bridge.clone_ref(py),
                event_loop: event_loop.clone_ref(py),
                active: AtomicBool::new(true),
            },
        )?;
        event_loop.call_method1(py, pyo3::intern!(py, "add_reader"), (fd, watch))?;
        Ok(())
    }

    fn stop(&self, py: Python<'_>) {
        if self.active.swap(false, Ordering::Relaxed) {
            let remove = pyo3::intern!(py, "remove_reader");
            // A closed loop has forgotten its readers already.
            let _ = self
                .event_loop
                .call_method1(py, remove, (self.reader.fd(),));
            self.reader.watch_ended();
        }
    }
}
