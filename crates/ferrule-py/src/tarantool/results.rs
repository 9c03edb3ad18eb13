//! Results delivered to Python: decoded from the reply bytes on the loop thread.

use bytes::Bytes;
use ferrule_tarantool::mp::MpReader;
use ferrule_tarantool::{Column, SqlResult, Tuples};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use super::decode;
use crate::bridge::Deliver;
use crate::record::RecordDesc;

/// What the caller wants from tuples.
pub enum TupleShape {
    All,
    /// The first tuple or None.
    One,
}

pub struct TupleResult {
    pub tuples: Tuples,
    pub shape: TupleShape,
}

impl Deliver for TupleResult {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let t = &self.tuples;
        match self.shape {
            TupleShape::All => Ok(decode::tuples(py, &t.data, &t.space)?.into_any().unbind()),
            TupleShape::One => decode::first_tuple(py, &t.data, &t.space),
        }
    }
}

/// Any MessagePack value (the array of a call's or eval's results, a pushed message).
pub struct MpObject(pub Bytes);

impl Deliver for MpObject {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        decode::value(py, &mut MpReader::new(&self.0))
    }
}

/// Result shapes of SQL (the common `query` contract).
#[derive(Clone, Copy)]
pub enum SqlShape {
    All,
    Row,
    Value(usize),
    Status,
}

impl SqlShape {
    pub fn from_code(code: u8, column: usize) -> SqlShape {
        match code {
            1 => SqlShape::Row,
            2 => SqlShape::Value(column),
            3 => SqlShape::Status,
            _ => SqlShape::All,
        }
    }
}

pub struct SqlRows {
    pub result: SqlResult,
    pub shape: SqlShape,
}

pub fn desc_of(py: Python<'_>, columns: &[Column]) -> PyResult<Py<RecordDesc>> {
    RecordDesc::new(py, columns.iter().map(|c| c.name.as_str()))
}

/// The command status of an SQL statement: `SELECT n` for queries, `ROWS n` for DML.
pub fn status(result: &SqlResult) -> String {
    match result.row_count {
        Some(n) => format!("ROWS {n}"),
        None => {
            let n = MpReader::new(&result.rows).read_array_len().unwrap_or(0);
            format!("SELECT {n}")
        }
    }
}

impl Deliver for SqlRows {
    fn deliver(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let r = &self.result;
        match self.shape {
            SqlShape::Status => Ok(PyString::new(py, &status(r)).into_any().unbind()),
            SqlShape::All => {
                let desc = desc_of(py, &r.columns)?;
                Ok(
                    PyList::new(py, decode::rows(py, &r.rows, &desc, usize::MAX)?)?
                        .into_any()
                        .unbind(),
                )
            }
            SqlShape::Row => {
                let desc = desc_of(py, &r.columns)?;
                Ok(decode::rows(py, &r.rows, &desc, 1)?
                    .pop()
                    .unwrap_or_else(|| py.None()))
            }
            SqlShape::Value(col) => {
                if col >= r.columns.len() {
                    return Err(PyIndexError::new_err(format!(
                        "column {col} does not exist: the query returns {} column(s)",
                        r.columns.len()
                    )));
                }
                let desc = desc_of(py, &r.columns)?;
                match decode::rows(py, &r.rows, &desc, 1)?.pop() {
                    Some(rec) => Ok(rec.bind(py).get_item(col)?.unbind()),
                    None => Ok(py.None()),
                }
            }
        }
    }
}
