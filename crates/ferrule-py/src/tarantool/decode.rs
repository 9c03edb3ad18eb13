//! MessagePack from Tarantool straight into Python objects, on the event-loop thread: tuples
//! become Records named by the space format, extensions become Decimal, UUID, datetime,
//! timedelta and exception objects.

use std::collections::HashMap;
use std::sync::Arc;

use ferrule_core::calendar::civil_from_days;
use ferrule_core::Error;
use ferrule_tarantool::consts::ext as ext_type;
use ferrule_tarantool::ext::{decimal_to_string, Datetime, Interval};
use ferrule_tarantool::mp::{Int, MpReader};
use ferrule_tarantool::Space;
use parking_lot::Mutex;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDateTime, PyDelta, PyDict, PyList, PyTzInfo};
use rmp::Marker;

use crate::errors::to_pyerr;
use crate::pytypes;
use crate::record::{Record, RecordDesc};

type Obj = Py<PyAny>;

const MAX_DEPTH: usize = 256;

pub fn proto_err(py: Python<'_>, e: Error) -> PyErr {
    to_pyerr(py, &e, "tarantool")
}

fn own(py: Python<'_>, ptr: *mut ffi::PyObject) -> PyResult<Obj> {
    // SAFETY: `ptr` is a new reference from a CPython constructor, or NULL with an exception.
    unsafe { Bound::from_owned_ptr_or_err(py, ptr).map(Bound::unbind) }
}

/// Decodes one value.
pub fn value(py: Python<'_>, r: &mut MpReader<'_>) -> PyResult<Obj> {
    value_at(py, r, 0)
}

fn value_at(py: Python<'_>, r: &mut MpReader<'_>, depth: usize) -> PyResult<Obj> {
    if depth > MAX_DEPTH {
        return Err(proto_err(
            py,
            Error::protocol("MessagePack nested too deeply"),
        ));
    }
    let e = |err| proto_err(py, err);
    let m = r.peek_marker().map_err(e)?;
    match m {
        Marker::Null => {
            r.marker().map_err(e)?;
            Ok(py.None())
        }
        Marker::True | Marker::False => {
            r.marker().map_err(e)?;
            Ok(pyo3::types::PyBool::new(py, m == Marker::True)
                .to_owned()
                .into_any()
                .unbind())
        }
        Marker::F32 | Marker::F64 => {
            let f = r.read_f64().map_err(e)?;
            // SAFETY: plain constructor.
            own(py, unsafe { ffi::PyFloat_FromDouble(f) })
        }
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
            let b = r.read_str_bytes().map_err(e)?;
            match std::str::from_utf8(b) {
                // SAFETY: pointer and length of a live, valid UTF-8 slice.
                Ok(_) => own(py, unsafe {
                    ffi::PyUnicode_FromStringAndSize(b.as_ptr().cast(), b.len() as isize)
                }),
                // Tarantool strings need not be UTF-8; such a one is returned as bytes.
                Err(_) => Ok(PyBytes::new(py, b).into_any().unbind()),
            }
        }
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
            Ok(PyBytes::new(py, r.read_bin().map_err(e)?)
                .into_any()
                .unbind())
        }
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
            let n = r.read_array_len().map_err(e)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(value_at(py, r, depth + 1)?);
            }
            Ok(PyList::new(py, items)?.into_any().unbind())
        }
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
            let n = r.read_map_len().map_err(e)?;
            let d = PyDict::new(py);
            for _ in 0..n {
                let k = value_at(py, r, depth + 1)?;
                let v = value_at(py, r, depth + 1)?;
                let k = k.bind(py);
                if k.hash().is_err() {
                    // A map key Python cannot hash (an array): use its tuple form.
                    let t = pyo3::types::PyTuple::new(
                        py,
                        k.try_iter()?.collect::<PyResult<Vec<_>>>()?,
                    )?;
                    d.set_item(t, v)?;
                } else {
                    d.set_item(k, v)?;
                }
            }
            Ok(d.into_any().unbind())
        }
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => {
            r.marker().map_err(e)?;
            let (ty, len) = r.ext_header(m).map_err(e)?;
            let data = r.take(len).map_err(e)?;
            extension(py, ty, data)
        }
        Marker::Reserved => Err(proto_err(
            py,
            Error::protocol("reserved MessagePack marker"),
        )),
        _ => match r.read_int().map_err(e)? {
            // SAFETY: plain constructors.
            Int::I(i) => own(py, unsafe { ffi::PyLong_FromLongLong(i) }),
            Int::U(u) => own(py, unsafe { ffi::PyLong_FromUnsignedLongLong(u) }),
        },
    }
}

fn extension(py: Python<'_>, ty: i8, data: &[u8]) -> PyResult<Obj> {
    let e = |err| proto_err(py, err);
    match ty {
        ext_type::DECIMAL => {
            let text = decimal_to_string(data).map_err(e)?;
            Ok(pytypes::decimal(py)?.call1((text,))?.unbind())
        }
        ext_type::UUID => {
            let bytes: [u8; 16] = data
                .try_into()
                .map_err(|_| e(Error::protocol("UUID extension of a wrong size")))?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("int", u128::from_be_bytes(bytes))?;
            Ok(pytypes::uuid(py)?.call((), Some(&kwargs))?.unbind())
        }
        ext_type::DATETIME => datetime(py, Datetime::decode(data).map_err(e)?),
        ext_type::INTERVAL => interval(py, Interval::decode(data).map_err(e)?),
        ext_type::ERROR => {
            let err =
                ferrule_tarantool::error::box_error(&mut MpReader::new(data), None).map_err(e)?;
            Ok(to_pyerr(py, &err, "tarantool").into_value(py).into_any())
        }
        // An extension this driver does not know stays readable: (type, payload).
        _ => Ok((ty, PyBytes::new(py, data))
            .into_pyobject(py)?
            .into_any()
            .unbind()),
    }
}

fn datetime(py: Python<'_>, d: Datetime) -> PyResult<Obj> {
    let local = d.seconds + i64::from(d.tzoffset) * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, day) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "datetime year {y} is outside Python's range"
        )));
    }
    let offset = PyDelta::new(py, 0, i32::from(d.tzoffset) * 60, 0, true)?;
    let tz = if d.tzoffset == 0 {
        PyTzInfo::utc(py)?.to_owned()
    } else {
        PyTzInfo::fixed_offset(py, offset)?
    };
    Ok(PyDateTime::new(
        py,
        y as i32,
        m as u8,
        day as u8,
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
        (d.nsec.max(0) / 1000) as u32,
        Some(&tz),
    )?
    .into_any()
    .unbind())
}

fn interval(py: Python<'_>, iv: Interval) -> PyResult<Obj> {
    if iv.year == 0 && iv.month == 0 {
        let days = iv.week * 7 + iv.day;
        let secs = iv.hour * 3600 + iv.minute * 60 + iv.second;
        let micros = iv.nsec / 1000;
        let delta = pyo3::types::PyDelta::new(
            py,
            i32::try_from(days).unwrap_or(i32::MAX),
            i32::try_from(secs).unwrap_or(i32::MAX),
            i32::try_from(micros).unwrap_or(0),
            true,
        )?;
        return Ok(delta.into_any().unbind());
    }
    // Months and years have no fixed length: keep every field.
    let d = PyDict::new(py);
    for (k, v) in [
        ("year", iv.year),
        ("month", iv.month),
        ("week", iv.week),
        ("day", iv.day),
        ("hour", iv.hour),
        ("minute", iv.minute),
        ("second", iv.second),
        ("nsec", iv.nsec),
        ("adjust", iv.adjust),
    ] {
        d.set_item(k, v)?;
    }
    Ok(d.into_any().unbind())
}

/// Record descriptions of a space, by tuple length, kept with the space.
type DescCache = Mutex<HashMap<usize, Py<RecordDesc>>>;

fn tuple_desc(py: Python<'_>, space: &Arc<Space>, len: usize) -> PyResult<Py<RecordDesc>> {
    let cache = space
        .binding_cache
        .get_or_init(|| Box::new(DescCache::default()))
        .downcast_ref::<DescCache>()
        .expect("the space's binding cache holds record descriptions");
    if let Some(d) = cache.lock().get(&len) {
        return Ok(d.clone_ref(py));
    }
    // Fields beyond the format are named by their position.
    let names: Vec<String> = (0..len)
        .map(|i| match space.fields.get(i) {
            Some(f) if !f.name.is_empty() => f.name.clone(),
            _ => i.to_string(),
        })
        .collect();
    let desc = RecordDesc::new(py, names.iter().map(String::as_str))?;
    cache.lock().insert(len, desc.clone_ref(py));
    Ok(desc)
}

/// One tuple (a MessagePack array) as a Record.
pub fn tuple(py: Python<'_>, r: &mut MpReader<'_>, space: &Arc<Space>) -> PyResult<Obj> {
    let n = r.read_array_len().map_err(|e| proto_err(py, e))?;
    let mut values = Vec::with_capacity(n);
    for _ in 0..n {
        values.push(value_at(py, r, 1)?);
    }
    Record::create(py, &tuple_desc(py, space, n)?, values)
}

/// An array of tuples as a list of Records.
pub fn tuples<'py>(
    py: Python<'py>,
    data: &[u8],
    space: &Arc<Space>,
) -> PyResult<Bound<'py, PyList>> {
    let mut r = MpReader::new(data);
    let n = r.read_array_len().map_err(|e| proto_err(py, e))?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(tuple(py, &mut r, space)?);
    }
    PyList::new(py, out)
}

/// The first tuple of an array, or None.
pub fn first_tuple(py: Python<'_>, data: &[u8], space: &Arc<Space>) -> PyResult<Obj> {
    let mut r = MpReader::new(data);
    let n = r.read_array_len().map_err(|e| proto_err(py, e))?;
    if n == 0 {
        return Ok(py.None());
    }
    tuple(py, &mut r, space)
}

/// SQL rows (arrays) as Records with the given description.
pub fn rows(
    py: Python<'_>,
    data: &[u8],
    desc: &Py<RecordDesc>,
    limit: usize,
) -> PyResult<Vec<Obj>> {
    let mut r = MpReader::new(data);
    let n = r.read_array_len().map_err(|e| proto_err(py, e))?;
    let width = desc.get().len(py);
    let mut out = Vec::with_capacity(n.min(limit));
    for _ in 0..n.min(limit) {
        let cells = r.read_array_len().map_err(|e| proto_err(py, e))?;
        if cells != width {
            return Err(proto_err(
                py,
                Error::protocol("an SQL row does not match its metadata"),
            ));
        }
        let mut values = Vec::with_capacity(cells);
        for _ in 0..cells {
            values.push(value_at(py, &mut r, 1)?);
        }
        out.push(Record::create(py, desc, values)?);
    }
    Ok(out)
}
