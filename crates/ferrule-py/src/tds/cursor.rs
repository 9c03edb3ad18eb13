//! `TdsCursor`: rows of one request streamed in bounded batches. The connection stays busy
//! with it until it is exhausted or closed (then the rest is cancelled with ATTENTION), and
//! a connection lent by a pool stays on loan until then.

use std::collections::VecDeque;
use std::sync::Arc;

use ferrule_core::Error;
use ferrule_tds::{CallCtl, Column, RawRow, RowStream, Statement};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use pyo3::IntoPyObjectExt;

use super::results::{record, record_desc};
use crate::bridge::Deliver;

pub struct CursorState {
    stream: RowStream,
    buffered: VecDeque<(Arc<[Column]>, RawRow)>,
    /// The connection handle the cursor was opened on (a pool's loan included), let go of
    /// once the rows are all read or the cursor is closed.
    handle: Option<Box<dyn Send + Sync>>,
}

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct TdsCursor {
    pub state: Arc<tokio::sync::Mutex<CursorState>>,
}

impl CursorState {
    pub fn new(stream: RowStream, handle: Box<dyn Send + Sync>) -> Self {
        CursorState {
            stream,
            buffered: VecDeque::new(),
            handle: Some(handle),
        }
    }

    /// Up to `n` rows, reading batches as needed; `more` is false once nothing remains.
    pub async fn fetch(&mut self, n: usize, ctl: &CallCtl) -> Result<Fetched, Error> {
        while self.buffered.len() < n && !self.stream.is_done() {
            let batch = self.stream.next(ctl).await?;
            let columns = batch.columns;
            self.buffered
                .extend(batch.rows.into_iter().map(|r| (columns.clone(), r)));
        }
        let take = n.min(self.buffered.len());
        let rows: Vec<_> = self.buffered.drain(..take).collect();
        let more = !self.buffered.is_empty() || !self.stream.is_done();
        if self.stream.is_done() {
            self.handle = None;
        }
        Ok(Fetched {
            rows,
            more,
            stmt: None,
        })
    }

    pub fn close(&mut self) {
        self.buffered.clear();
        self.stream.close();
        self.handle = None;
    }
}

/// `(records, more)` of one fetch.
pub struct Fetched {
    pub rows: Vec<(Arc<[Column]>, RawRow)>,
    pub more: bool,
    pub stmt: Option<Arc<Statement>>,
}

impl Fetched {
    pub fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let mut out = Vec::with_capacity(self.rows.len());
        let mut current: Option<(Arc<[Column]>, Py<crate::record::RecordDesc>)> = None;
        for (cols, row) in &self.rows {
            let same = current.as_ref().is_some_and(|(c, _)| Arc::ptr_eq(c, cols));
            if !same {
                current = Some((cols.clone(), record_desc(py, cols, self.stmt.as_ref())?));
            }
            if let Some((c, desc)) = &current {
                out.push(record(py, desc, c, row)?);
            }
        }
        PyTuple::new(
            py,
            [
                PyList::new(py, out)?.into_any(),
                self.more.into_bound_py_any(py)?,
            ],
        )
    }
}

impl Deliver for Fetched {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self.to_py(py)?.into_any().unbind())
    }
}

/// `(cursor, (records, more))` for a cursor's first batch.
pub struct Opened {
    pub cursor: Arc<tokio::sync::Mutex<CursorState>>,
    pub first: Fetched,
}

impl Deliver for Opened {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let cursor = Py::new(py, TdsCursor { state: self.cursor })?;
        let first = self.first.to_py(py)?;
        PyTuple::new(py, [cursor.into_any().into_bound(py), first.into_any()])?.into_py_any(py)
    }
}
