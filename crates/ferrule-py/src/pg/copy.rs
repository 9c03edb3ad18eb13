//! COPY handles: data streams in and out of the server with backpressure, so any size runs
//! in bounded memory.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ferrule_core::Error;
use ferrule_pg::encode::{encode_copy_row, COPY_BINARY_HEADER, COPY_BINARY_TRAILER};
use ferrule_pg::{CopyIn, CopyOut};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::sync::Mutex;

use super::connection::{ctl, BACKEND};
use crate::bridge::{Bridge, Deliver, Text, Unit};
use crate::convert::to_values;

/// The Python end of a `COPY ... FROM STDIN`.
#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct PgCopyIn {
    pub(crate) copy: Arc<Mutex<CopyIn>>,
    pub(crate) bridge: Py<Bridge>,
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

struct Chunk(Option<Bytes>);

impl Deliver for Chunk {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self.0 {
            Some(b) => PyBytes::new(py, &b).into_any().unbind(),
            None => py.None(),
        })
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

    /// Starts a binary COPY stream (the header); call once before `send_records`.
    fn send_binary_header<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let copy = self.copy.clone();
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            copy.lock()
                .await
                .send(Bytes::from_static(COPY_BINARY_HEADER))
                .await
                .map(|()| Unit)
        })
    }

    /// Converts `records` (sequences of values) now and encodes them as binary COPY rows for
    /// the column types `oids` on the runtime, while Python prepares the next batch.
    fn send_records<'py>(
        &self,
        py: Python<'py>,
        records: &Bound<'py, PyAny>,
        oids: Vec<u32>,
        first_row: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut rows = Vec::new();
        for (i, record) in records.try_iter()?.enumerate() {
            let record = record?;
            rows.push(to_values(&record, "column ").map_err(|e| {
                let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                pyo3::exceptions::PyTypeError::new_err(format!("record {}: {msg}", first_row + i))
            })?);
        }
        let copy = self.copy.clone();
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            let mut out = BytesMut::with_capacity(rows.len() * 32);
            for (i, row) in rows.iter().enumerate() {
                encode_copy_row(row, &oids, &mut out).map_err(|mut e| {
                    e.message = format!("record {}: {}", first_row + i, e.message);
                    e
                })?;
            }
            copy.lock().await.send(out.freeze()).await.map(|()| Unit)
        })
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
        Bridge::submit(self.bridge.bind(py), BACKEND, Some(token), async move {
            let mut copy = copy.lock().await;
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
    /// The next chunk of data as bytes, or None at the end.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let copy = self.copy.clone();
        Bridge::submit(self.bridge.bind(py), BACKEND, None, async move {
            Ok::<_, Error>(Chunk(copy.lock().await.next().await))
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
