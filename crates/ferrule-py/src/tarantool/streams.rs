//! Results that arrive over time: pushed messages of a call (IPROTO_CHUNK) and watcher
//! events (IPROTO_EVENT). Each `next()` is one bridge future.

use std::sync::Arc;

use bytes::Bytes;
use ferrule_core::Error;
use ferrule_tarantool::mp::MpReader;
use ferrule_tarantool::{CallEvent, TntConnection};
use pyo3::prelude::*;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::calls::BACKEND;
use super::decode;
use crate::bridge::{Bridge, Deliver, Unit};

/// The pushes of one call, then its result.
#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TntPushes {
    rx: Arc<Mutex<UnboundedReceiver<CallEvent>>>,
    bridge: Py<Bridge>,
    deadline: Option<Instant>,
}

pub struct Pushes(TntPushes);

impl Pushes {
    pub fn new(
        rx: UnboundedReceiver<CallEvent>,
        bridge: Py<Bridge>,
        deadline: Option<Instant>,
    ) -> Self {
        Pushes(TntPushes {
            rx: Arc::new(Mutex::new(rx)),
            bridge,
            deadline,
        })
    }
}

impl Deliver for Pushes {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, self.0)?.into_any())
    }
}

/// `(0, message)` for a push, `(1, results)` for the call's answer.
struct PushItem {
    done: bool,
    data: Bytes,
}

impl Deliver for PushItem {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut r = MpReader::new(&self.data);
        let value = if self.done {
            decode::value(py, &mut r)?
        } else {
            // A chunk's data is an array holding the one pushed value.
            let n = r.read_array_len().map_err(|e| decode::proto_err(py, e))?;
            if n == 0 {
                py.None()
            } else {
                decode::value(py, &mut r)?
            }
        };
        Ok((u8::from(self.done), value)
            .into_pyobject(py)?
            .into_any()
            .unbind())
    }
}

#[pymethods]
impl TntPushes {
    /// The next event; after the answer it fails with a closed-connection error.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rx = self.rx.clone();
        let deadline = self.deadline;
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            let mut rx = rx.lock().await;
            let event = match deadline {
                Some(d) => tokio::time::timeout_at(d, rx.recv())
                    .await
                    .map_err(|_| Error::timeout("the call timed out while waiting for pushes"))?,
                None => rx.recv().await,
            };
            match event {
                Some(CallEvent::Push(data)) => Ok(PushItem { done: false, data }),
                Some(CallEvent::Done(Ok(resp))) => {
                    if resp.is_error() {
                        return Err(resp.to_error());
                    }
                    Ok(PushItem {
                        done: true,
                        data: resp.data()?,
                    })
                }
                Some(CallEvent::Done(Err(e))) => Err(e),
                None => Err(Error::interface("the call has already finished")),
            }
        })
    }
}

/// Events of one watched key.
#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TntWatcher {
    conn: TntConnection,
    key: String,
    rx: Arc<Mutex<UnboundedReceiver<Option<Bytes>>>>,
    bridge: Py<Bridge>,
}

pub struct Watcher(TntWatcher);

impl Watcher {
    pub fn new(
        conn: TntConnection,
        key: String,
        rx: UnboundedReceiver<Option<Bytes>>,
        bridge: Py<Bridge>,
    ) -> Self {
        Watcher(TntWatcher {
            conn,
            key,
            rx: Arc::new(Mutex::new(rx)),
            bridge,
        })
    }
}

impl Deliver for Watcher {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, self.0)?.into_any())
    }
}

struct EventValue(Option<Bytes>);

impl Deliver for EventValue {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.0 {
            Some(b) => decode::value(py, &mut MpReader::new(&b)),
            None => Ok(py.None()),
        }
    }
}

#[pymethods]
impl TntWatcher {
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }

    /// The key's next value (its current one first).
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rx = self.rx.clone();
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            match rx.lock().await.recv().await {
                Some(v) => Ok(EventValue(v)),
                None => Err(Error::closed("the watcher is closed")),
            }
        })
    }

    /// Stops watching.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let conn = self.conn.clone();
        let key = self.key.clone();
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            conn.unwatch(&key).await.map(|()| Unit)
        })
    }
}
