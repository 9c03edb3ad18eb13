//! Records straight from Python objects into binary COPY rows, on the calling thread, a batch
//! at a time. Cells of the common built-in types are written from the objects themselves;
//! every other cell goes through `to_value` and the same typed encoders as parameters.

use bytes::{BufMut, BytesMut};
use ferrule_core::Error;
use ferrule_pg::copy_format::{encode_copy_field, CopyColumn};
use ferrule_pg::types;
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyIterator, PyList, PyTuple};

use super::connection::BACKEND;
use crate::convert::to_value;
use crate::errors::to_pyerr;

/// Column types whose cells are written from the Python object when it has exactly the
/// expected type; anything else (subclasses, None aside) takes the general path, which also
/// produces the error for a wrong value.
#[derive(Clone, Copy)]
enum Direct {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Text,
    Bool,
    Bytea,
    No,
}

impl Direct {
    fn of(column: &CopyColumn) -> Direct {
        if column.ty.is_some() {
            return Direct::No;
        }
        match column.oid {
            types::INT2 => Direct::Int2,
            types::INT4 => Direct::Int4,
            types::INT8 => Direct::Int8,
            types::FLOAT4 => Direct::Float4,
            types::FLOAT8 => Direct::Float8,
            types::TEXT | types::VARCHAR | types::BPCHAR | types::NAME => Direct::Text,
            types::BOOL => Direct::Bool,
            types::BYTEA => Direct::Bytea,
            _ => Direct::No,
        }
    }

    /// Writes the length word and value of `obj` when it can, and says whether it did.
    fn put(self, obj: &Bound<'_, PyAny>, out: &mut BytesMut) -> bool {
        let p = obj.as_ptr();
        // SAFETY: type checks and accessors of the exact types on a live object; a failed
        // conversion clears its exception and falls back to the general path.
        unsafe {
            match self {
                Direct::Int8 | Direct::Int4 | Direct::Int2 if ffi::PyLong_CheckExact(p) != 0 => {
                    let mut overflow = 0;
                    let v = ffi::PyLong_AsLongLongAndOverflow(p, &mut overflow);
                    if overflow != 0 || (v == -1 && !ffi::PyErr_Occurred().is_null()) {
                        ffi::PyErr_Clear();
                        return false;
                    }
                    match self {
                        Direct::Int8 => {
                            out.put_i32(8);
                            out.put_i64(v);
                        }
                        Direct::Int4 => match i32::try_from(v) {
                            Ok(v) => {
                                out.put_i32(4);
                                out.put_i32(v);
                            }
                            Err(_) => return false,
                        },
                        _ => match i16::try_from(v) {
                            Ok(v) => {
                                out.put_i32(2);
                                out.put_i16(v);
                            }
                            Err(_) => return false,
                        },
                    }
                    true
                }
                Direct::Float8 if ffi::PyFloat_CheckExact(p) != 0 => {
                    out.put_i32(8);
                    out.put_f64(ffi::PyFloat_AS_DOUBLE(p));
                    true
                }
                Direct::Float4 if ffi::PyFloat_CheckExact(p) != 0 => {
                    let v = ffi::PyFloat_AS_DOUBLE(p);
                    let narrow = v as f32;
                    if narrow.is_infinite() && v.is_finite() {
                        return false;
                    }
                    out.put_i32(4);
                    out.put_f32(narrow);
                    true
                }
                Direct::Text if ffi::PyUnicode_CheckExact(p) != 0 => {
                    let mut size: ffi::Py_ssize_t = 0;
                    let data = ffi::PyUnicode_AsUTF8AndSize(p, &mut size);
                    if data.is_null() {
                        ffi::PyErr_Clear();
                        return false;
                    }
                    let s = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
                    let Ok(len) = i32::try_from(s.len()) else {
                        return false;
                    };
                    // NUL cannot be stored in text: the general path says so.
                    if s.contains(&0) {
                        return false;
                    }
                    out.put_i32(len);
                    out.put_slice(s);
                    true
                }
                Direct::Bool if p == ffi::Py_True() || p == ffi::Py_False() => {
                    out.put_i32(1);
                    out.put_u8(u8::from(p == ffi::Py_True()));
                    true
                }
                Direct::Bytea if ffi::PyBytes_CheckExact(p) != 0 => {
                    let size = ffi::PyBytes_Size(p);
                    let Ok(len) = i32::try_from(size) else {
                        return false;
                    };
                    let data = ffi::PyBytes_AsString(p);
                    out.put_i32(len);
                    out.put_slice(std::slice::from_raw_parts(data.cast::<u8>(), size as usize));
                    true
                }
                _ => false,
            }
        }
    }
}

/// Encodes records for the columns of one COPY.
pub struct RecordEncoder {
    columns: Vec<CopyColumn>,
    direct: Vec<Direct>,
}

impl RecordEncoder {
    pub fn new(columns: Vec<CopyColumn>) -> RecordEncoder {
        let direct = columns.iter().map(Direct::of).collect();
        RecordEncoder { columns, direct }
    }

    /// Encodes records until about `budget` bytes are written or they run out: from a list or
    /// tuple starting at index `start`, or from an iterator (`start` then counts the records
    /// it gave before). Returns the count after the last record taken and whether the
    /// records are exhausted. Errors name the record as `number_from + index`.
    pub fn encode_batch(
        &self,
        records: &Bound<'_, PyAny>,
        start: usize,
        number_from: usize,
        budget: usize,
        out: &mut BytesMut,
    ) -> PyResult<(usize, bool)> {
        let limit = out.len() + budget;
        let mut index = start;
        if let Ok(list) = records.cast::<PyList>() {
            while out.len() < limit {
                let Ok(record) = list.get_item(index) else {
                    return Ok((index, true));
                };
                self.encode_record(&record, number_from + index, out)?;
                index += 1;
            }
            return Ok((index, index >= list.len()));
        }
        if let Ok(tuple) = records.cast::<PyTuple>() {
            while out.len() < limit {
                let Ok(record) = tuple.get_item(index) else {
                    return Ok((index, true));
                };
                self.encode_record(&record, number_from + index, out)?;
                index += 1;
            }
            return Ok((index, index >= tuple.len()));
        }
        let iter = records
            .cast::<PyIterator>()
            .map_err(|_| PyTypeError::new_err("records must be a list, a tuple or an iterator"))?;
        while out.len() < limit {
            // SAFETY: `iter` is a live iterator; PyIter_Next returns a new reference, or NULL
            // at the end (no exception) or on an error (exception set).
            let next = unsafe { ffi::PyIter_Next(iter.as_ptr()) };
            if next.is_null() {
                return match PyErr::take(records.py()) {
                    Some(e) => Err(e),
                    None => Ok((index, true)),
                };
            }
            // SAFETY: a new, non-NULL reference.
            let record = unsafe { Bound::from_owned_ptr(records.py(), next) };
            self.encode_record(&record, number_from + index, out)?;
            index += 1;
        }
        Ok((index, false))
    }

    fn encode_record(
        &self,
        record: &Bound<'_, PyAny>,
        number: usize,
        out: &mut BytesMut,
    ) -> PyResult<()> {
        let start = out.len();
        let result = if let Ok(tuple) = record.cast::<PyTuple>() {
            self.check_len(record.py(), tuple.len(), number)?;
            out.put_i16(self.columns.len() as i16);
            tuple
                .iter_borrowed()
                .enumerate()
                .try_for_each(|(i, cell)| self.encode_cell(&cell, i, number, out))
        } else if let Ok(list) = record.cast::<PyList>() {
            self.check_len(record.py(), list.len(), number)?;
            out.put_i16(self.columns.len() as i16);
            (0..list.len()).try_for_each(|i| self.encode_cell(&list.get_item(i)?, i, number, out))
        } else {
            let cells = record
                .try_iter()
                .and_then(|it| it.collect::<PyResult<Vec<_>>>())
                .map_err(|e| {
                    let why = e.value(record.py()).to_string();
                    PyTypeError::new_err(format!("record {number} is not a sequence: {why}"))
                })?;
            self.check_len(record.py(), cells.len(), number)?;
            out.put_i16(self.columns.len() as i16);
            cells
                .iter()
                .enumerate()
                .try_for_each(|(i, cell)| self.encode_cell(cell, i, number, out))
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn check_len(&self, py: Python<'_>, n: usize, number: usize) -> PyResult<()> {
        if n == self.columns.len() {
            return Ok(());
        }
        let e = Error::interface(format!(
            "record {number} has {n} values for {} columns",
            self.columns.len()
        ));
        Err(to_pyerr(py, &e, BACKEND))
    }

    fn encode_cell(
        &self,
        cell: &Bound<'_, PyAny>,
        i: usize,
        number: usize,
        out: &mut BytesMut,
    ) -> PyResult<()> {
        if cell.is_none() {
            out.put_i32(-1);
            return Ok(());
        }
        if self.direct[i].put(cell, out) {
            return Ok(());
        }
        let column = &self.columns[i];
        let value = to_value(cell).map_err(|e| {
            let why = e.value(cell.py()).to_string();
            PyTypeError::new_err(format!(
                "record {number}, column {} ({}): {why}",
                i + 1,
                column.name
            ))
        })?;
        encode_copy_field(&value, column, i + 1, out).map_err(|mut e| {
            e.message = format!("record {number}: {}", e.message);
            to_pyerr(cell.py(), &e, BACKEND)
        })
    }
}
