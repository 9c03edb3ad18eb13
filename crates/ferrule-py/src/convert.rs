//! Python values into `ferrule_core::Value`, done on the calling thread while it holds the GIL,
//! so no Python object ever crosses into the runtime.

use ferrule_core::calendar::{days_from_civil, MICROS_PER_DAY};
use ferrule_core::Value;
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{
    PyByteArray, PyBytes, PyDate, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyDict, PyList,
    PyMemoryView, PyString, PyTime, PyTimeAccess, PyTuple, PyTzInfoAccess,
};

use crate::pytypes;

/// Converts every argument, naming the placeholder (`$1`, `?2`, ...) of the one that fails.
/// `prefix` is the placeholder sigil of the backend (`$` for PostgreSQL).
pub fn to_values(args: &Bound<'_, PyAny>, prefix: &str) -> PyResult<Vec<Value>> {
    let seq = args
        .cast::<PyTuple>()
        .map(|t| t.clone().into_any())
        .unwrap_or(args.clone());
    let n = seq.len()?;
    let mut out = Vec::with_capacity(n);
    for (i, item) in seq.try_iter()?.enumerate() {
        let item = item?;
        out.push(to_value(&item).map_err(|e| in_argument(item.py(), e, prefix, i + 1))?);
    }
    Ok(out)
}

/// Converts each argument sequence of `rows` (for `executemany`), naming the row that fails.
pub fn rows_to_values(rows: &Bound<'_, PyAny>, prefix: &str) -> PyResult<Vec<Vec<Value>>> {
    let mut out = Vec::new();
    for (i, row) in rows.try_iter()?.enumerate() {
        let row = row?;
        out.push(to_values(&row, prefix).map_err(|e| {
            let msg = e
                .value(row.py())
                .str()
                .map(|s| s.to_string())
                .unwrap_or_default();
            PyTypeError::new_err(format!("row {i}: {msg}"))
        })?);
    }
    Ok(out)
}

fn in_argument(py: Python<'_>, e: PyErr, prefix: &str, n: usize) -> PyErr {
    let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    PyTypeError::new_err(format!("invalid argument {prefix}{n}: {msg}"))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

pub fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let ptr = obj.as_ptr();
    // SAFETY: type checks on a live object.
    unsafe {
        if ptr == ffi::Py_None() {
            return Ok(Value::Null);
        }
        if ffi::PyUnicode_CheckExact(ptr) != 0 {
            return Ok(Value::Text(
                obj.cast_unchecked::<PyString>().to_str()?.to_owned(),
            ));
        }
        if ffi::PyBool_Check(ptr) != 0 {
            return Ok(Value::Bool(ptr == ffi::Py_True()));
        }
        if ffi::PyLong_Check(ptr) != 0 {
            return Ok(match obj.extract::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => Value::BigInt(obj.str()?.to_string()),
            });
        }
        if ffi::PyFloat_Check(ptr) != 0 {
            return Ok(Value::Float(ffi::PyFloat_AsDouble(ptr)));
        }
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::Text(s.to_str()?.to_owned()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Bytes(b.to_vec()));
    }
    if obj.cast::<PyMemoryView>().is_ok() {
        let b = obj.call_method0("tobytes")?;
        return Ok(Value::Bytes(b.cast::<PyBytes>()?.as_bytes().to_vec()));
    }
    if let Ok(dt) = obj.cast::<PyDateTime>() {
        return datetime_value(dt);
    }
    if let Ok(d) = obj.cast::<PyDate>() {
        return Ok(Value::Date(days_from_civil(
            d.get_year(),
            u32::from(d.get_month()),
            u32::from(d.get_day()),
        )));
    }
    if let Ok(t) = obj.cast::<PyTime>() {
        return time_value(t);
    }
    if let Ok(td) = obj.cast::<PyDelta>() {
        return Ok(interval_value(td));
    }
    let py = obj.py();
    if obj.is_instance(pytypes::decimal(py)?)? {
        return decimal_value(obj);
    }
    if obj.is_instance(pytypes::uuid(py)?)? {
        let int: u128 = obj.getattr(pyo3::intern!(py, "int"))?.extract()?;
        return Ok(Value::Uuid(int.to_be_bytes()));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list
            .iter()
            .map(|v| to_value(&v))
            .collect::<PyResult<_>>()
            .map(Value::List);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple
            .iter()
            .map(|v| to_value(&v))
            .collect::<PyResult<_>>()
            .map(Value::List);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut entries = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!("dict keys must be str, not {}", type_name(&k)))
            })?;
            entries.push((key.to_str()?.to_owned(), to_value(&v)?));
        }
        return Ok(Value::Map(entries));
    }
    if let Some(v) = ip_value(obj)? {
        return Ok(v);
    }
    // A Range and a Record (a composite's fields) take the forms the typed encoders read.
    if let Ok(range) = obj.cast::<crate::pg::range::Range>() {
        return range.get().to_value(py);
    }
    if let Ok(rec) = obj.cast::<crate::record::Record>() {
        return rec.get().to_value(py);
    }
    Err(PyTypeError::new_err(format!(
        "cannot bind a value of type {}",
        type_name(obj)
    )))
}

fn decimal_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let text = obj.str()?.to_string();
    if text.starts_with("sNaN") || text.starts_with("-sNaN") {
        return Err(PyTypeError::new_err(
            "a signaling NaN Decimal cannot be bound",
        ));
    }
    Ok(Value::Decimal(if text.ends_with("NaN") {
        "NaN".into()
    } else {
        text
    }))
}

/// A timedelta as an interval whose days and time have one sign. Python normalizes
/// `-1 hour` to `days=-1, seconds=82800`, which PostgreSQL would apply as "-1 day" then
/// "+23 hours": a different instant across a daylight-saving change.
fn interval_value(td: &Bound<'_, PyDelta>) -> Value {
    let mut days = td.get_days();
    let mut micros = i64::from(td.get_seconds()) * 1_000_000 + i64::from(td.get_microseconds());
    if days < 0 && micros > 0 {
        days += 1;
        micros -= MICROS_PER_DAY;
    }
    Value::Interval {
        months: 0,
        days,
        micros,
    }
}

/// The offset of an aware datetime or time in seconds, or None for a naive one.
fn utc_offset(value: &Bound<'_, PyAny>) -> PyResult<Option<i32>> {
    let off = value.call_method0(pyo3::intern!(value.py(), "utcoffset"))?;
    if off.is_none() {
        return Ok(None);
    }
    let td = off.cast::<PyDelta>()?;
    Ok(Some(td.get_days() * 86_400 + td.get_seconds()))
}

fn datetime_value(dt: &Bound<'_, PyDateTime>) -> PyResult<Value> {
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
    let offset = match dt.get_tzinfo() {
        Some(_) => utc_offset(dt.as_any())?,
        None => None,
    };
    let micros = match offset {
        Some(off) => wall - i64::from(off) * 1_000_000,
        None => wall,
    };
    Ok(Value::DateTime { micros, offset })
}

fn time_value(t: &Bound<'_, PyTime>) -> PyResult<Value> {
    let micros = (i64::from(t.get_hour()) * 3600
        + i64::from(t.get_minute()) * 60
        + i64::from(t.get_second()))
        * 1_000_000
        + i64::from(t.get_microsecond());
    let offset = match t.get_tzinfo() {
        Some(_) => utc_offset(t.as_any())?,
        None => None,
    };
    Ok(Value::Time { micros, offset })
}

fn ip_value(obj: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
    let py = obj.py();
    let packed = |o: &Bound<'_, PyAny>| -> PyResult<Vec<u8>> {
        Ok(o.getattr(pyo3::intern!(py, "packed"))?
            .cast::<PyBytes>()?
            .as_bytes()
            .to_vec())
    };
    let prefix = |o: &Bound<'_, PyAny>| -> PyResult<u8> {
        o.getattr(pyo3::intern!(py, "prefixlen"))?.extract()
    };
    // Before the address check: IPv4Interface subclasses IPv4Address (and v6 alike).
    if obj.is_instance(pytypes::ipv4_interface(py)?)?
        || obj.is_instance(pytypes::ipv6_interface(py)?)?
    {
        let network = obj.getattr(pyo3::intern!(py, "network"))?;
        return Ok(Some(Value::Inet {
            addr: packed(obj)?,
            prefix: prefix(&network)?,
            is_network: false,
        }));
    }
    if obj.is_instance(pytypes::ipv4_address(py)?)?
        || obj.is_instance(pytypes::ipv6_address(py)?)?
    {
        let addr = packed(obj)?;
        let full = if addr.len() == 4 { 32 } else { 128 };
        return Ok(Some(Value::Inet {
            addr,
            prefix: full,
            is_network: false,
        }));
    }
    if obj.is_instance(pytypes::ipv4_network(py)?)?
        || obj.is_instance(pytypes::ipv6_network(py)?)?
    {
        let base = obj.getattr(pyo3::intern!(py, "network_address"))?;
        return Ok(Some(Value::Inet {
            addr: packed(&base)?,
            prefix: prefix(obj)?,
            is_network: true,
        }));
    }
    Ok(None)
}
