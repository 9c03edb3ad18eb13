//! TDS values straight from wire bytes into Python objects, on the event-loop thread.

use ferrule_core::calendar::{civil_from_days, MICROS_PER_DAY};
use ferrule_tds::decode as wire;
use ferrule_tds::token::nbc_is_null;
use ferrule_tds::types::{code, read_cell, TypeInfo};
use ferrule_tds::wire::Cur;
use ferrule_tds::{Column, RawRow};
use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDate, PyDateTime, PyDelta, PyTime, PyTzInfo};

use crate::pytypes;

type Obj = Py<PyAny>;

fn own(py: Python<'_>, ptr: *mut ffi::PyObject) -> PyResult<Obj> {
    // SAFETY: `ptr` is a new reference returned by a CPython constructor, or NULL with an
    // exception set, which `from_owned_ptr_or_err` turns into the error.
    unsafe { Bound::from_owned_ptr_or_err(py, ptr).map(Bound::unbind) }
}

fn err(msg: String) -> PyErr {
    PyValueError::new_err(msg)
}

fn utf16(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    let mut order: i32 = -1;
    // SAFETY: pointer and length describe a live slice; CPython validates the UTF-16.
    own(py, unsafe {
        ffi::PyUnicode_DecodeUTF16(
            b.as_ptr().cast(),
            b.len() as isize,
            c"strict".as_ptr(),
            &mut order,
        )
    })
}

fn single_byte_text(py: Python<'_>, ti: &TypeInfo, b: &[u8]) -> PyResult<Obj> {
    if b.is_ascii() {
        // SAFETY: ASCII is valid UTF-8; pointer and length describe a live slice.
        return own(py, unsafe {
            ffi::PyUnicode_FromStringAndSize(b.as_ptr().cast(), b.len() as isize)
        });
    }
    let cp = wire::code_page(ti.collation.as_ref());
    if cp == 65001 {
        // SAFETY: as above; CPython validates the UTF-8.
        return own(py, unsafe {
            ffi::PyUnicode_FromStringAndSize(b.as_ptr().cast(), b.len() as isize)
        });
    }
    let name = std::ffi::CString::new(format!("cp{cp}")).map_err(|e| err(e.to_string()))?;
    // SAFETY: pointer and length describe a live slice; the codec name is NUL-terminated.
    own(py, unsafe {
        ffi::PyUnicode_Decode(
            b.as_ptr().cast(),
            b.len() as isize,
            name.as_ptr(),
            c"replace".as_ptr(),
        )
    })
}

fn decimal(py: Python<'_>, text: String) -> PyResult<Obj> {
    Ok(pytypes::decimal(py)?.call1((text,))?.unbind())
}

fn date(py: Python<'_>, unix_days: i64) -> PyResult<Bound<'_, PyDate>> {
    let (y, m, d) = civil_from_days(unix_days);
    if !(1..=9999).contains(&y) {
        return Err(err(format!("date with year {y} is outside Python's range")));
    }
    PyDate::new(py, y as i32, m as u8, d as u8)
}

fn hms(micros: i64) -> (u8, u8, u8, u32) {
    let secs = micros / 1_000_000;
    (
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
        (micros % 1_000_000) as u32,
    )
}

fn datetime(py: Python<'_>, micros: i64, tz: Option<&Bound<'_, PyTzInfo>>) -> PyResult<Obj> {
    let (y, mo, d) = civil_from_days(micros.div_euclid(MICROS_PER_DAY));
    if !(1..=9999).contains(&y) {
        return Err(err(format!(
            "datetime with year {y} is outside Python's range"
        )));
    }
    let (h, mi, s, us) = hms(micros.rem_euclid(MICROS_PER_DAY));
    Ok(
        PyDateTime::new(py, y as i32, mo as u8, d as u8, h, mi, s, us, tz)?
            .into_any()
            .unbind(),
    )
}

/// One non-NULL value of type `ti`.
pub fn value(py: Python<'_>, ti: &TypeInfo, b: &[u8]) -> PyResult<Obj> {
    match ti.code {
        code::INT1 | code::INT2 | code::INT4 | code::INT8 | code::INTN => {
            let v = wire::int(ti, b).map_err(err)?;
            // SAFETY: plain constructor.
            own(py, unsafe { ffi::PyLong_FromLongLong(v) })
        }
        code::BIT | code::BITN => Ok(pyo3::types::PyBool::new(py, wire::bit(ti, b).map_err(err)?)
            .to_owned()
            .into_any()
            .unbind()),
        code::FLT4 | code::FLT8 | code::FLTN => {
            let v = wire::float(ti, b).map_err(err)?;
            // SAFETY: plain constructor.
            own(py, unsafe { ffi::PyFloat_FromDouble(v) })
        }
        code::NVARCHAR | code::NCHAR | code::NTEXT | code::XML => utf16(py, b),
        code::BIGVARCHAR | code::BIGCHAR | code::VARCHAR | code::CHAR | code::TEXT => {
            single_byte_text(py, ti, b)
        }
        code::BIGVARBINARY
        | code::BIGBINARY
        | code::VARBINARY
        | code::BINARY
        | code::IMAGE
        | code::UDT => Ok(PyBytes::new(py, b).into_any().unbind()),
        code::DECIMAL | code::NUMERIC | code::DECIMALN | code::NUMERICN => {
            decimal(py, wire::decimal(ti, b).map_err(err)?)
        }
        code::MONEY | code::MONEY4 | code::MONEYN => decimal(py, wire::money(ti, b).map_err(err)?),
        code::GUID => {
            let g = wire::guid(ti, b).map_err(err)?;
            let bytes = PyBytes::new(py, &g);
            Ok(pytypes::uuid(py)?.call1((py.None(), bytes))?.unbind())
        }
        code::DATEN => Ok(date(py, wire::date_days(ti, b).map_err(err)?)?
            .into_any()
            .unbind()),
        code::TIMEN => {
            let (h, m, s, us) = hms(wire::time_micros(ti, b, ti.scale).map_err(err)?);
            Ok(PyTime::new(py, h, m, s, us, None)?.into_any().unbind())
        }
        code::DATETIME | code::DATETIM4 | code::DATETIMN | code::DATETIME2N => {
            datetime(py, wire::timestamp(ti, b).map_err(err)?.micros, None)
        }
        code::DATETIMEOFFSETN => {
            let ts = wire::timestamp(ti, b).map_err(err)?;
            let minutes = i64::from(ts.offset_minutes.unwrap_or(0));
            let offset = PyDelta::new(py, 0, (minutes * 60) as i32, 0, true)?;
            let tz = PyTzInfo::fixed_offset(py, offset)?;
            // The wire holds UTC; the datetime shows the local time at that offset.
            datetime(py, ts.micros + minutes * 60_000_000, Some(&tz))
        }
        code::SSVARIANT => {
            let (inner, data) = wire::variant(b).map_err(err)?;
            value(py, &inner, data)
        }
        other => Err(err(format!("cannot read values of type {other:#04x}"))),
    }
}

/// A cell as written on the wire (length prefix included), or None for NULL.
pub fn raw_value(py: Python<'_>, ti: &TypeInfo, raw: &[u8]) -> PyResult<Obj> {
    let mut c = Cur::new(raw);
    match read_cell(&mut c, ti) {
        Ok(Some(b)) => value(py, ti, &b),
        Ok(None) => Ok(py.None()),
        Err(_) => Err(err(format!(
            "malformed {} value from the server",
            ti.sql_name()
        ))),
    }
}

/// Every value of a row.
pub fn row(py: Python<'_>, columns: &[Column], r: &RawRow) -> PyResult<Vec<Obj>> {
    let mut out = Vec::with_capacity(columns.len());
    let mut c = Cur::new(&r.body);
    let bitmap = if r.nbc {
        let n = columns.len().div_ceil(8);
        Some(
            c.take(n)
                .map_err(|_| err("malformed row from the server".into()))?,
        )
    } else {
        None
    };
    for (i, col) in columns.iter().enumerate() {
        if bitmap.is_some_and(|bm| nbc_is_null(bm, i)) {
            out.push(py.None());
            continue;
        }
        let cell = read_cell(&mut c, &col.type_info)
            .map_err(|_| err("malformed row from the server".into()))?;
        out.push(match cell {
            None => py.None(),
            Some(b) => value(py, &col.type_info, &b).map_err(|e| {
                let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                err(format!("column {:?}: {msg}", col.name))
            })?,
        });
    }
    Ok(out)
}
