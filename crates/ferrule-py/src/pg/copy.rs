//! COPY handles: data streams in and out of the server with backpressure, so any size runs
//! in bounded memory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use ferrule_core::Error;
use ferrule_pg::copy_format::{CopyColumn, COPY_BINARY_HEADER, COPY_BINARY_TRAILER};
use ferrule_pg::{CopyIn, CopyOut};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::sync::Mutex;

use super::connection::{ctl, PgStmt, BACKEND};
use super::copy_records::RecordEncoder;
use crate::bridge::{Bridge, Deliver, Text, Unit};
use crate::errors::to_pyerr;

/// COPY data encoded per `write_records` call: large enough that the per-call cost vanishes,
/// small enough that the connection sends one batch while the next is encoded.
const BATCH_BYTES: usize = 256 * 1024;

/// The Python end of a `COPY ... FROM STDIN`.
#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PgCopyIn {
    copy: Arc<Mutex<CopyIn>>,
    bridge: Py<Bridge>,
    encoder: OnceLock<RecordEncoder>,
    /// The binary header went out (with the first records, or at `finish`).
    header_sent: AtomicBool,
}

/// The Python end of a `COPY ... TO STDOUT`.
#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PgCopyOut {
    pub(crate) copy: Arc<Mutex<CopyOut>>,
    pub(crate) bridge: Py<Bridge>,
}

pub(crate) struct OpenedIn(pub CopyIn, pub Py<Bridge>);

impl Deliver for OpenedIn {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let copy = PgCopyIn {
            copy: Arc::new(Mutex::new(self.0)),
            bridge: self.1,
            encoder: OnceLock::new(),
            header_sent: AtomicBool::new(false),
        };
        Ok(Py::new(py, copy)?.into_any())
    }
}

pub(crate) struct OpenedOut(pub CopyOut, pub Py<Bridge>);

impl Deliver for OpenedOut {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let copy = PgCopyOut {
            copy: Arc::new(Mutex::new(self.0)),
            bridge: self.1,
        };
        Ok(Py::new(py, copy)?.into_any())
    }
}

/// COPY TO STDOUT data handed to Python in one `bytes`: every chunk that had arrived, up to
/// `DELIVER_BYTES` (a consumer that lags takes several chunks per call).
struct Chunks(Vec<Bytes>);

/// Bound on the data one `PgCopyOut.next` call gathers.
const DELIVER_BYTES: usize = 1 << 20;

impl Deliver for Chunks {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.0.is_empty() {
            return Ok(py.None());
        }
        let total = self.0.iter().map(Bytes::len).sum();
        let bytes = PyBytes::new_with(py, total, |out| {
            let mut at = 0;
            for part in &self.0 {
                out[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            Ok(())
        })?;
        Ok(bytes.into_any().unbind())
    }
}

#[pymethods]
impl PgCopyIn {
    /// Sends raw COPY data (any format the COPY statement names).
    fn send<'py>(&self, py: Python<'py>, data: Vec<u8>) -> PyResult<Bound<'py, PyAny>> {
        let copy = self.copy.clone();
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            copy.lock()
                .await
                .send(Bytes::from(data))
                .await
                .map(|()| Unit)
        })
    }

    /// Takes the target columns from `stmt` (a `SELECT` of them, prepared and never run);
    /// raises when a column type has no binary codec. Call once before `write_records`.
    fn use_columns(&self, py: Python<'_>, stmt: &PgStmt) -> PyResult<()> {
        let columns =
            CopyColumn::from_statement(stmt.statement()).map_err(|e| to_pyerr(py, &e, BACKEND))?;
        self.encoder
            .set(RecordEncoder::new(columns))
            .map_err(|_| PyRuntimeError::new_err("the COPY's columns are already set"))
    }

    /// Encodes records from `start` (an index into a list or tuple, or the count an iterator
    /// gave so far) into about `BATCH_BYTES` of COPY data, under the GIL, and queues it for
    /// the connection. Returns `(next start, exhausted, waiter)`: `waiter` is None when the
    /// data is queued, else a future to await (the connection has no room yet) before the
    /// next call. Errors name the record as `number_from + index`.
    #[pyo3(signature = (records, start, number_from=0))]
    fn write_records<'py>(
        &self,
        py: Python<'py>,
        records: &Bound<'py, PyAny>,
        start: usize,
        number_from: usize,
    ) -> PyResult<(usize, bool, Option<Bound<'py, PyAny>>)> {
        let encoder = self
            .encoder
            .get()
            .ok_or_else(|| PyRuntimeError::new_err("use_columns must come before write_records"))?;
        let mut out = BytesMut::with_capacity(BATCH_BYTES + BATCH_BYTES / 8);
        if !self.header_sent.swap(true, Ordering::AcqRel) {
            out.extend_from_slice(COPY_BINARY_HEADER);
        }
        let (next, done) =
            encoder.encode_batch(records, start, number_from, BATCH_BYTES, &mut out)?;
        if out.is_empty() {
            return Ok((next, done, None));
        }
        let mut data = out.freeze();
        // From the loop thread, without waiting: the lock is free unless a waiter still runs.
        if let Ok(copy) = self.copy.try_lock() {
            match copy.try_send(data).map_err(|e| to_pyerr(py, &e, BACKEND))? {
                None => return Ok((next, done, None)),
                Some(back) => data = back,
            }
        }
        let copy = self.copy.clone();
        let waiter = Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            copy.lock().await.send(data).await.map(|()| Unit)
        })?;
        Ok((next, done, Some(waiter)))
    }

    /// Ends the data (with the binary trailer when `binary`); resolves to the status.
    #[pyo3(signature = (binary=false, timeout=None))]
    fn finish<'py>(
        &self,
        py: Python<'py>,
        binary: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let copy = self.copy.clone();
        // No record at all: the stream still needs its header.
        let header = binary && !self.header_sent.swap(true, Ordering::AcqRel);
        Bridge::submit(self.bridge.bind(py), BACKEND, Some(token), async move {
            let mut copy = copy.lock().await;
            if header {
                copy.send(Bytes::from_static(COPY_BINARY_HEADER)).await?;
            }
            if binary {
                copy.send(Bytes::from_static(COPY_BINARY_TRAILER)).await?;
            }
            copy.finish(&ctl).await.map(Text)
        })
    }

    /// Aborts the COPY; nothing it sent is kept.
    fn abort<'py>(&self, py: Python<'py>, reason: String) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, _) = ctl(Some(10.0))?;
        let copy = self.copy.clone();
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            copy.lock().await.abort(&reason, &ctl).await.map(|()| Unit)
        })
    }
}

#[pymethods]
impl PgCopyOut {
    /// The data that arrived since the last call, as bytes (waits for some), or None at the
    /// end.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let copy = self.copy.clone();
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            let mut copy = copy.lock().await;
            let mut parts = Vec::new();
            let mut total = 0;
            if let Some(first) = copy.next().await {
                total += first.len();
                parts.push(first);
            }
            while total > 0 && total < DELIVER_BYTES {
                let Some(more) = copy.next_ready() else { break };
                total += more.len();
                parts.push(more);
            }
            Ok::<_, Error>(Chunks(parts))
        })
    }

    /// The status once every chunk was read, or the server's error.
    #[pyo3(signature = (timeout=None))]
    fn finish<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = ctl(timeout)?;
        let copy = self.copy.clone();
        Bridge::submit(self.bridge.bind(py), BACKEND, Some(token), async move {
            let mut copy = copy.lock().await;
            while copy.next().await.is_some() {}
            copy.finish(&ctl).await.map(Text)
        })
    }
}
