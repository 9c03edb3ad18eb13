//! Query results delivered to Python: records built from wire rows on the loop thread.

use std::collections::HashMap;
use std::sync::Arc;

use ferrule_pg::{QueryResult, Statement};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple, PyType};
use pyo3::IntoPyObjectExt;

use super::{decode, decode_rich};
use crate::bridge::Deliver;
use crate::pytypes;
use crate::record::{Record, RecordDesc};

/// What the caller wants from the rows.
#[derive(Clone, Copy)]
pub enum Shape {
    /// Every row as a list of records.
    All,
    /// The first row or None.
    Row,
    /// One column of the first row, or None.
    Value(usize),
    /// The command status string.
    Status,
    /// `(records, more_rows_remain)` for cursors.
    Batch,
}

impl Shape {
    pub fn from_code(code: u8, column: usize) -> Shape {
        match code {
            1 => Shape::Row,
            2 => Shape::Value(column),
            3 => Shape::Status,
            4 => Shape::Batch,
            _ => Shape::All,
        }
    }
}

/// A user-registered decoder: it receives the value's text form (a str) or, with `binary`,
/// its binary form (bytes).
pub struct UserCodec {
    pub decoder: Py<PyAny>,
    pub binary: bool,
}

/// User-registered decoders by type OID.
pub type Codecs = Arc<HashMap<u32, UserCodec>>;

/// What each row becomes instead of a plain Record.
pub enum RowClass {
    /// A subclass of Record (`record_class=`).
    Record(Py<PyType>),
    /// Any callable taking the columns as keyword arguments (`as_class=`).
    Kwargs(Py<PyAny>),
}

pub struct Rows {
    pub result: QueryResult,
    pub shape: Shape,
    pub codecs: Option<Codecs>,
    pub class: Option<Arc<RowClass>>,
}

/// Builds the rows of one delivery as the caller asked: Records, a Record subclass, or
/// instances of their class (positional arguments when its fields are the columns in order,
/// keyword arguments otherwise; decided once per delivery).
struct RowMaker<'a> {
    desc: Py<RecordDesc>,
    class: Option<&'a RowClass>,
    positional: bool,
}

impl<'a> RowMaker<'a> {
    fn new(py: Python<'_>, stmt: &Arc<Statement>, class: Option<&'a RowClass>) -> PyResult<Self> {
        let desc = record_desc(py, stmt)?;
        let positional = match class {
            Some(RowClass::Kwargs(cls)) => pytypes::takes_columns_in_order(py)?
                .call1((cls.bind(py), desc.get().names().bind(py)))?
                .is_truthy()?,
            _ => false,
        };
        Ok(RowMaker {
            desc,
            class,
            positional,
        })
    }

    fn make(&self, py: Python<'_>, values: Vec<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        match self.class {
            None => Record::create(py, &self.desc, values),
            Some(RowClass::Record(cls)) => Record::create_of(py, cls.bind(py), &self.desc, values),
            Some(RowClass::Kwargs(cls)) => {
                Record::call_with_columns(py, cls.bind(py), &self.desc, values, self.positional)
            }
        }
    }
}

/// The record description of a statement, built once and kept with the statement.
fn record_desc(py: Python<'_>, stmt: &Arc<Statement>) -> PyResult<Py<RecordDesc>> {
    if let Some(d) = stmt
        .binding_cache
        .get()
        .and_then(|b| b.downcast_ref::<Py<RecordDesc>>())
    {
        return Ok(d.clone_ref(py));
    }
    let desc = RecordDesc::new(py, stmt.columns.iter().map(|c| c.name.as_str()))?;
    let _ = stmt.binding_cache.set(Box::new(desc.clone_ref(py)));
    Ok(desc)
}

fn decode_row(
    py: Python<'_>,
    stmt: &Statement,
    row: &ferrule_pg::DataRowBody,
    codecs: Option<&Codecs>,
) -> PyResult<Vec<Py<PyAny>>> {
    let buf = row.buffer();
    let mut out = Vec::with_capacity(stmt.columns.len());
    let mut pos = 0usize;
    for (i, col) in stmt.columns.iter().enumerate() {
        let Some(len) = buf.get(pos..pos + 4) else {
            return Err(malformed());
        };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        pos += 4;
        if len < 0 {
            out.push(py.None());
            continue;
        }
        let end = pos + len as usize;
        let Some(cell) = buf.get(pos..end) else {
            return Err(malformed());
        };
        let custom = codecs.and_then(|c| c.get(&col.type_oid));
        let decoded = match (custom, stmt.column_types.get(i).and_then(Option::as_ref)) {
            (Some(codec), _) => {
                let raw = if codec.binary {
                    Ok(PyBytes::new(py, cell).into_any().unbind())
                } else {
                    decode::decode(py, col.type_oid, 0, cell)
                };
                raw.and_then(|raw| codec.decoder.bind(py).call1((raw,)).map(Bound::unbind))
            }
            (None, Some(t)) => decode_rich::decode_typed(py, t, col.format, cell, codecs),
            (None, None) => decode::decode(py, col.type_oid, col.format, cell),
        };
        let value = decoded.map_err(|e| {
            let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
            pyo3::exceptions::PyValueError::new_err(format!("column {:?}: {msg}", col.name))
        })?;
        out.push(value);
        pos = end;
    }
    if pos != buf.len() {
        return Err(malformed());
    }
    Ok(out)
}

fn malformed() -> PyErr {
    pyo3::exceptions::PyValueError::new_err("malformed data row from the server")
}

fn records<'py>(
    py: Python<'py>,
    result: &QueryResult,
    codecs: Option<&Codecs>,
    class: Option<&RowClass>,
) -> PyResult<Bound<'py, PyList>> {
    let stmt = &result.statement;
    let maker = RowMaker::new(py, stmt, class)?;
    let mut recs = Vec::with_capacity(result.rows.len());
    for row in &result.rows {
        recs.push(maker.make(py, decode_row(py, stmt, row, codecs)?)?);
    }
    PyList::new(py, recs)
}

impl Deliver for Rows {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let result = &self.result;
        let codecs = self.codecs.as_ref();
        let class = self.class.as_deref();
        match self.shape {
            Shape::All => Ok(records(py, result, codecs, class)?.into_any().unbind()),
            Shape::Row => match result.rows.first() {
                Some(row) => {
                    let maker = RowMaker::new(py, &result.statement, class)?;
                    maker.make(py, decode_row(py, &result.statement, row, codecs)?)
                }
                None => Ok(py.None()),
            },
            Shape::Value(col) => {
                if col >= result.statement.columns.len() {
                    return Err(PyIndexError::new_err(format!(
                        "column {col} does not exist: the query returns {} column(s)",
                        result.statement.columns.len()
                    )));
                }
                match result.rows.first() {
                    Some(row) => {
                        let mut values = decode_row(py, &result.statement, row, codecs)?;
                        Ok(values.swap_remove(col))
                    }
                    None => Ok(py.None()),
                }
            }
            Shape::Status => Ok(PyString::new(py, &result.status).into_any().unbind()),
            Shape::Batch => {
                let recs = records(py, result, codecs, class)?;
                PyTuple::new(
                    py,
                    [recs.into_any(), result.suspended.into_bound_py_any(py)?],
                )?
                .into_py_any(py)
            }
        }
    }
}

/// The results of a pipeline, each a list of records or (with `return_exceptions`) the
/// exception of a statement that failed.
pub struct PipelineResults {
    pub results: Vec<Result<QueryResult, ferrule_core::Error>>,
    pub return_exceptions: bool,
    pub codecs: Option<Codecs>,
}

impl Deliver for PipelineResults {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let out = PyList::empty(py);
        for result in &self.results {
            match result {
                Ok(r) => out.append(records(py, r, self.codecs.as_ref(), None)?)?,
                Err(e) => {
                    let err = crate::errors::to_pyerr(py, e, "postgresql");
                    if !self.return_exceptions {
                        return Err(err);
                    }
                    out.append(err.into_value(py))?;
                }
            }
        }
        Ok(out.into_any().unbind())
    }
}
