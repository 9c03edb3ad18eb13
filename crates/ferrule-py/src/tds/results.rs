//! Responses delivered to Python: records built from wire rows on the loop thread.

use std::sync::Arc;

use ferrule_tds::{Column, RawRow, Response, Statement};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use super::decode;
use crate::bridge::Deliver;
use crate::record::{Record, RecordDesc};

/// What the caller wants from a response.
#[derive(Clone, Copy)]
pub enum Shape {
    /// The first result set's rows.
    All,
    /// Its first row or None.
    Row,
    /// One column of its first row, or None.
    Value(usize),
    /// The status of the last counted statement (`UPDATE 3`).
    Status,
    /// Every result set: a list of lists of records.
    Sets,
}

impl Shape {
    pub fn from_code(code: u8, column: usize) -> Shape {
        match code {
            1 => Shape::Row,
            2 => Shape::Value(column),
            3 => Shape::Status,
            5 => Shape::Sets,
            _ => Shape::All,
        }
    }
}

pub struct Rows {
    pub resp: Response,
    pub shape: Shape,
    /// The prepared statement, whose record description is reused.
    pub stmt: Option<Arc<Statement>>,
}

struct CachedDesc {
    columns: Arc<[Column]>,
    desc: Py<RecordDesc>,
}

pub fn record_desc(
    py: Python<'_>,
    columns: &Arc<[Column]>,
    stmt: Option<&Arc<Statement>>,
) -> PyResult<Py<RecordDesc>> {
    if let Some(c) = stmt
        .and_then(|s| s.binding_cache.get())
        .and_then(|b| b.downcast_ref::<CachedDesc>())
    {
        if Arc::ptr_eq(&c.columns, columns) || c.columns == *columns {
            return Ok(c.desc.clone_ref(py));
        }
    }
    let desc = RecordDesc::new(py, columns.iter().map(|c| c.name.as_str()))?;
    if let Some(s) = stmt {
        let _ = s.binding_cache.set(Box::new(CachedDesc {
            columns: columns.clone(),
            desc: desc.clone_ref(py),
        }));
    }
    Ok(desc)
}

pub fn record(
    py: Python<'_>,
    desc: &Py<RecordDesc>,
    columns: &[Column],
    row: &RawRow,
) -> PyResult<Py<PyAny>> {
    Record::create(py, desc, decode::row(py, columns, row)?)
}

pub fn records<'py>(
    py: Python<'py>,
    columns: &Arc<[Column]>,
    rows: &[RawRow],
    stmt: Option<&Arc<Statement>>,
) -> PyResult<Bound<'py, PyList>> {
    let desc = record_desc(py, columns, stmt)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(record(py, &desc, columns, r)?);
    }
    PyList::new(py, out)
}

fn sets<'py>(py: Python<'py>, resp: &Response) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for set in &resp.result_sets {
        out.append(records(py, &set.columns, &set.rows, None)?)?;
    }
    Ok(out)
}

impl Deliver for Rows {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let stmt = self.stmt.as_ref();
        let first = self.resp.result_sets.first();
        match self.shape {
            Shape::All => match first {
                Some(set) => Ok(records(py, &set.columns, &set.rows, stmt)?
                    .into_any()
                    .unbind()),
                None => Ok(PyList::empty(py).into_any().unbind()),
            },
            Shape::Row => match first.and_then(|s| s.rows.first().map(|r| (s, r))) {
                Some((set, r)) => {
                    record(py, &record_desc(py, &set.columns, stmt)?, &set.columns, r)
                }
                None => Ok(py.None()),
            },
            Shape::Value(col) => {
                let Some(set) = first else {
                    return Ok(py.None());
                };
                if col >= set.columns.len() {
                    return Err(PyIndexError::new_err(format!(
                        "column {col} does not exist: the query returns {} column(s)",
                        set.columns.len()
                    )));
                }
                match set.rows.first() {
                    Some(r) => Ok(decode::row(py, &set.columns, r)?.swap_remove(col)),
                    None => Ok(py.None()),
                }
            }
            Shape::Status => Ok(PyString::new(py, &self.resp.status).into_any().unbind()),
            Shape::Sets => Ok(sets(py, &self.resp)?.into_any().unbind()),
        }
    }
}

/// `(return_status, {output name: value}, [result sets])` of a procedure call.
pub struct ProcResult(pub Response);

impl Deliver for ProcResult {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let resp = &self.0;
        let outputs = PyDict::new(py);
        for rv in &resp.return_values {
            let name = rv.name.trim_start_matches('@');
            let key = if name.is_empty() {
                rv.ordinal.to_string()
            } else {
                name.to_owned()
            };
            outputs.set_item(key, decode::raw_value(py, &rv.type_info, &rv.raw)?)?;
        }
        PyTuple::new(
            py,
            [
                resp.return_status.into_bound_py_any(py)?,
                outputs.into_any(),
                sets(py, resp)?.into_any(),
            ],
        )?
        .into_py_any(py)
    }
}

pub struct Count(pub u64);

impl Deliver for Count {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.0.into_py_any(py)
    }
}
