//! SQLite results delivered to Python: records built from the compact rows on the loop
//! thread, with the record description (and conversions) cached on the statement.

use std::sync::Arc;

use ferrule_sqlite::{Keep, QueryResult, StmtMeta};
use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use super::convert::{conversion_error, convert, plain, Conv};
use crate::bridge::Deliver;
use crate::record::{Record, RecordDesc};

/// What the caller wants from the rows.
#[derive(Clone, Copy)]
pub enum Shape {
    All,
    Row,
    Value(usize),
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

    pub fn keep(self) -> Keep {
        match self {
            Shape::All | Shape::Batch => Keep::All,
            Shape::Row | Shape::Value(_) => Keep::First,
            Shape::Status => Keep::Count,
        }
    }
}

/// The record description and per-column conversions of a statement, built once.
struct Binding {
    desc: Py<RecordDesc>,
    /// Empty when no column needs a conversion.
    convs: Vec<Conv>,
}

fn binding<'a>(py: Python<'_>, meta: &'a Arc<StmtMeta>, detect: bool) -> PyResult<&'a Binding> {
    if let Some(b) = meta
        .binding_cache
        .get()
        .and_then(|b| b.downcast_ref::<Binding>())
    {
        return Ok(b);
    }
    let desc = RecordDesc::new(py, meta.columns.iter().map(|c| c.name.as_str()))?;
    let mut convs: Vec<Conv> = if detect {
        meta.columns
            .iter()
            .map(|c| Conv::for_decltype(c.decltype.as_deref()))
            .collect()
    } else {
        Vec::new()
    };
    if convs.iter().all(|c| *c == Conv::Plain) {
        convs.clear();
    }
    let _ = meta.binding_cache.set(Box::new(Binding { desc, convs }));
    meta.binding_cache
        .get()
        .and_then(|b| b.downcast_ref::<Binding>())
        .ok_or_else(|| PyValueError::new_err("statement binding cache holds another type"))
}

pub struct Rows {
    pub result: QueryResult,
    pub shape: Shape,
    pub detect_types: bool,
}

fn value(
    py: Python<'_>,
    result: &QueryResult,
    b: &Binding,
    row: usize,
    col: usize,
) -> PyResult<Py<PyAny>> {
    let cell = result.rows.get(row, col);
    let column = &result.rows.meta.columns[col];
    match b.convs.get(col) {
        Some(conv) if *conv != Conv::Plain => convert(py, *conv, cell).map_err(|e| {
            conversion_error(
                py,
                e,
                &column.name,
                column.decltype.as_deref().unwrap_or(""),
            )
        }),
        _ => plain(py, cell).map_err(|e| {
            let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
            PyValueError::new_err(format!("column {:?}: {msg}", column.name))
        }),
    }
}

fn record(py: Python<'_>, result: &QueryResult, b: &Binding, row: usize) -> PyResult<Py<PyAny>> {
    let n = result.rows.columns();
    let mut values = Vec::with_capacity(n);
    for col in 0..n {
        values.push(value(py, result, b, row, col)?);
    }
    Record::create(py, &b.desc, values)
}

fn records<'py>(
    py: Python<'py>,
    result: &QueryResult,
    b: &Binding,
) -> PyResult<Bound<'py, PyList>> {
    let mut out = Vec::with_capacity(result.rows.len());
    for row in 0..result.rows.len() {
        out.push(record(py, result, b, row)?);
    }
    PyList::new(py, out)
}

impl Deliver for Rows {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let result = &self.result;
        if let Shape::Status = self.shape {
            return Ok(PyString::new(py, &result.status()).into_any().unbind());
        }
        let b = binding(py, &result.rows.meta, self.detect_types)?;
        match self.shape {
            Shape::All => Ok(records(py, result, b)?.into_any().unbind()),
            Shape::Row if result.rows.is_empty() => Ok(py.None()),
            Shape::Row => record(py, result, b, 0),
            Shape::Value(col) => {
                let n = result.rows.meta.columns.len();
                if col >= n {
                    return Err(PyIndexError::new_err(format!(
                        "column {col} does not exist: the query returns {n} column(s)"
                    )));
                }
                if result.rows.is_empty() {
                    return Ok(py.None());
                }
                value(py, result, b, 0, col)
            }
            Shape::Batch | Shape::Status => {
                let recs = records(py, result, b)?;
                PyTuple::new(py, [recs.into_any(), result.more.into_bound_py_any(py)?])?
                    .into_py_any(py)
            }
        }
    }
}
