//! Python objects straight into MessagePack on the calling thread (no intermediate value):
//! tuples, keys, update operations, call arguments and SQL parameters. Decimal, UUID,
//! datetime and timedelta become Tarantool's extensions.

use ferrule_core::calendar::{days_from_civil, MICROS_PER_DAY};
use ferrule_tarantool::consts::ext as ext_type;
use ferrule_tarantool::encode::MpWriter;
use ferrule_tarantool::ext::{decimal_from_str, Datetime, Interval};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{
    PyByteArray, PyBytes, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyDict, PyList,
    PyString, PyTimeAccess, PyTuple, PyTzInfoAccess,
};

use crate::pytypes;
use crate::record::Record;

const MAX_DEPTH: usize = 128;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn len32(n: usize) -> PyResult<u32> {
    u32::try_from(n).map_err(|_| PyValueError::new_err("container too large for MessagePack"))
}

/// Encodes `obj` as one MessagePack value.
pub fn encode(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
    encode_at(out, obj, 0)
}

/// Encodes a sequence as an array (a tuple, a key, arguments); a non-sequence is refused.
pub fn encode_array(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    let mut out = Vec::with_capacity(32);
    if obj.is_none() {
        MpWriter(&mut out).array(0);
        return Ok(out);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        MpWriter(&mut out).array(len32(t.len())?);
        for item in t.iter() {
            encode_at(&mut out, &item, 1).map_err(|e| at(obj.py(), e, what))?;
        }
        return Ok(out);
    }
    if obj.cast::<PyList>().is_ok() || obj.cast::<Record>().is_ok() {
        encode_at(&mut out, obj, 0).map_err(|e| at(obj.py(), e, what))?;
        return Ok(out);
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be a list or tuple, not {}",
        type_name(obj)
    )))
}

fn at(py: Python<'_>, e: PyErr, what: &str) -> PyErr {
    let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    if e.is_instance_of::<PyValueError>(py) {
        PyValueError::new_err(format!("{what}: {msg}"))
    } else {
        PyTypeError::new_err(format!("{what}: {msg}"))
    }
}

fn encode_at(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(
            "value nested too deeply (or recursive)",
        ));
    }
    let ptr = obj.as_ptr();
    // SAFETY: type checks on a live object.
    unsafe {
        if ptr == ffi::Py_None() {
            MpWriter(out).nil();
            return Ok(());
        }
        if ffi::PyUnicode_CheckExact(ptr) != 0 {
            let s = obj.cast_unchecked::<PyString>().to_str()?;
            len32(s.len())?;
            MpWriter(out).str(s);
            return Ok(());
        }
        if ffi::PyBool_Check(ptr) != 0 {
            MpWriter(out).bool(ptr == ffi::Py_True());
            return Ok(());
        }
        if ffi::PyLong_Check(ptr) != 0 {
            if let Ok(i) = obj.extract::<i64>() {
                MpWriter(out).sint(i);
                return Ok(());
            }
            if let Ok(u) = obj.extract::<u64>() {
                MpWriter(out).uint(u);
                return Ok(());
            }
            return Err(PyValueError::new_err(format!(
                "integer {} does not fit MessagePack (64 bits); pass a Decimal",
                obj.str()?
            )));
        }
        if ffi::PyFloat_Check(ptr) != 0 {
            MpWriter(out).f64(ffi::PyFloat_AsDouble(ptr));
            return Ok(());
        }
    }
    if let Ok(l) = obj.cast::<PyList>() {
        MpWriter(out).array(len32(l.len())?);
        for item in l.iter() {
            encode_at(out, &item, depth + 1)?;
        }
        return Ok(());
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        MpWriter(out).array(len32(t.len())?);
        for item in t.iter() {
            encode_at(out, &item, depth + 1)?;
        }
        return Ok(());
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        MpWriter(out).map(len32(d.len())?);
        for (k, v) in d.iter() {
            encode_at(out, &k, depth + 1)?;
            encode_at(out, &v, depth + 1)?;
        }
        return Ok(());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        MpWriter(out).str(s.to_str()?);
        return Ok(());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        len32(b.as_bytes().len())?;
        MpWriter(out).bin(b.as_bytes());
        return Ok(());
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        MpWriter(out).bin(&b.to_vec());
        return Ok(());
    }
    if let Ok(r) = obj.cast::<Record>() {
        let items: Vec<Bound<'_, PyAny>> = r.try_iter()?.collect::<PyResult<_>>()?;
        MpWriter(out).array(len32(items.len())?);
        for item in items {
            encode_at(out, &item, depth + 1)?;
        }
        return Ok(());
    }
    if let Ok(dt) = obj.cast::<PyDateTime>() {
        let micros_and_offset = datetime_parts(dt)?;
        let d = Datetime::from_micros(micros_and_offset.0, micros_and_offset.1)
            .map_err(|e| PyValueError::new_err(e.message))?;
        MpWriter(out).ext(ext_type::DATETIME, &d.encode());
        return Ok(());
    }
    if let Ok(td) = obj.cast::<PyDelta>() {
        let micros = i64::from(td.get_seconds()) * 1_000_000 + i64::from(td.get_microseconds());
        let iv = Interval::from_parts(0, td.get_days(), micros);
        MpWriter(out).ext(ext_type::INTERVAL, &iv.encode());
        return Ok(());
    }
    let py = obj.py();
    if obj.is_instance(pytypes::decimal(py)?)? {
        let text = obj.str()?.to_string();
        let payload = decimal_from_str(&text).map_err(|e| PyValueError::new_err(e.message))?;
        MpWriter(out).ext(ext_type::DECIMAL, &payload);
        return Ok(());
    }
    if obj.is_instance(pytypes::uuid(py)?)? {
        let int: u128 = obj.getattr(pyo3::intern!(py, "int"))?.extract()?;
        MpWriter(out).ext(ext_type::UUID, &int.to_be_bytes());
        return Ok(());
    }
    if obj.hasattr(pyo3::intern!(py, "__iter__"))? && obj.cast::<PyDict>().is_err() {
        let items: Vec<Bound<'_, PyAny>> = obj.try_iter()?.collect::<PyResult<_>>()?;
        MpWriter(out).array(len32(items.len())?);
        for item in items {
            encode_at(out, &item, depth + 1)?;
        }
        return Ok(());
    }
    Err(PyTypeError::new_err(format!(
        "cannot encode a value of type {} for Tarantool",
        type_name(obj)
    )))
}

/// `(UTC microseconds, offset seconds)`; a naive datetime is taken as UTC.
fn datetime_parts(dt: &Bound<'_, PyDateTime>) -> PyResult<(i64, i32)> {
    let days = days_from_civil(
        dt.get_year(),
        u32::from(dt.get_month()),
        u32::from(dt.get_day()),
    );
    let wall = i64::from(days) * MICROS_PER_DAY
        + (i64::from(dt.get_hour()) * 3600
            + i64::from(dt.get_minute()) * 60
            + i64::from(dt.get_second()))
            * 1_000_000
        + i64::from(dt.get_microsecond());
    if dt.get_tzinfo().is_none() {
        return Ok((wall, 0));
    }
    let off = dt.call_method0(pyo3::intern!(dt.py(), "utcoffset"))?;
    if off.is_none() {
        return Ok((wall, 0));
    }
    let td = off.cast::<PyDelta>()?;
    let offset = td.get_days() * 86_400 + td.get_seconds();
    Ok((wall - i64::from(offset) * 1_000_000, offset))
}

/// SQL parameters: positional values, or one dict of named ones (`{"name": v}` binds `:name`;
/// a key may carry its own sigil, `@name` or `$name`).
pub fn encode_bind(args: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(t) = args.cast::<PyTuple>() {
        if t.len() == 1 {
            if let Ok(d) = t.get_item(0)?.cast::<PyDict>() {
                let mut out = Vec::with_capacity(16 * d.len() + 4);
                MpWriter(&mut out).array(len32(d.len())?);
                for (k, v) in d.iter() {
                    let name = k
                        .cast::<PyString>()
                        .map_err(|_| PyTypeError::new_err("named parameters need str keys"))?;
                    let name = name.to_str()?;
                    MpWriter(&mut out).map(1);
                    if name.starts_with([':', '@', '$']) {
                        MpWriter(&mut out).str(name);
                    } else {
                        MpWriter(&mut out).str(&format!(":{name}"));
                    }
                    encode_at(&mut out, &v, 1).map_err(|e| at(args.py(), e, name))?;
                }
                return Ok(out);
            }
        }
    }
    encode_array(args, "parameters")
}
