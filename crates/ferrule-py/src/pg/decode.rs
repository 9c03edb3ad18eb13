//! PostgreSQL wire values (binary for built-in types, text otherwise) straight into Python
//! objects, on the event-loop thread, with no intermediate value per cell.

use ferrule_core::calendar::civil_from_days;
use ferrule_pg::types::{self, Oid};
use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDate, PyDateTime, PyDelta, PyList, PyTime, PyTzInfo};

use crate::pytypes;

type Obj = Py<PyAny>;

fn bad(what: &str) -> PyErr {
    PyValueError::new_err(format!("malformed {what} value from the server"))
}

fn be_i16(b: &[u8]) -> PyResult<i16> {
    Ok(i16::from_be_bytes(b.try_into().map_err(|_| bad("int2"))?))
}
fn be_i32(b: &[u8]) -> PyResult<i32> {
    Ok(i32::from_be_bytes(b.try_into().map_err(|_| bad("int4"))?))
}
fn be_i64(b: &[u8]) -> PyResult<i64> {
    Ok(i64::from_be_bytes(b.try_into().map_err(|_| bad("int8"))?))
}

fn own(py: Python<'_>, ptr: *mut ffi::PyObject) -> PyResult<Obj> {
    // SAFETY: `ptr` is a new reference returned by a CPython constructor, or NULL with an
    // exception set, which `from_owned_ptr_or_err` turns into the error.
    unsafe { Bound::from_owned_ptr_or_err(py, ptr).map(Bound::unbind) }
}

pub fn text(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    // SAFETY: pointer and length describe a live slice; CPython validates the UTF-8.
    own(py, unsafe {
        ffi::PyUnicode_FromStringAndSize(b.as_ptr().cast(), b.len() as isize)
    })
}

/// Decodes one non-NULL value of type `oid` in `format` (1 binary, 0 text).
pub fn decode(py: Python<'_>, oid: Oid, format: i16, b: &[u8]) -> PyResult<Obj> {
    if format == 0 {
        return text(py, b);
    }
    match oid {
        types::INT4 => own(py, unsafe { ffi::PyLong_FromLong(be_i32(b)?.into()) }),
        types::INT8 => own(py, unsafe { ffi::PyLong_FromLongLong(be_i64(b)?) }),
        types::INT2 => own(py, unsafe { ffi::PyLong_FromLong(be_i16(b)?.into()) }),
        types::TEXT
        | types::VARCHAR
        | types::BPCHAR
        | types::NAME
        | types::XML
        | types::UNKNOWN => text(py, b),
        types::CHAR => text(py, b),
        types::BOOL => match b {
            [v] => Ok(pyo3::types::PyBool::new(py, *v != 0)
                .to_owned()
                .into_any()
                .unbind()),
            _ => Err(bad("bool")),
        },
        types::FLOAT8 => {
            let v = f64::from_be_bytes(b.try_into().map_err(|_| bad("float8"))?);
            own(py, unsafe { ffi::PyFloat_FromDouble(v) })
        }
        types::FLOAT4 => {
            let v = f32::from_be_bytes(b.try_into().map_err(|_| bad("float4"))?);
            own(py, unsafe { ffi::PyFloat_FromDouble(f64::from(v)) })
        }
        types::OID | types::XID => {
            let v = u32::from_be_bytes(b.try_into().map_err(|_| bad("oid"))?);
            own(py, unsafe { ffi::PyLong_FromUnsignedLong(v.into()) })
        }
        types::BYTEA => Ok(PyBytes::new(py, b).into_any().unbind()),
        types::NUMERIC => numeric(py, b),
        types::DATE => date(py, b),
        types::TIMESTAMP => timestamp(py, b, false),
        types::TIMESTAMPTZ => timestamp(py, b, true),
        types::TIME => time(py, b),
        types::TIMETZ => timetz(py, b),
        types::INTERVAL => interval(py, b),
        types::UUID => uuid(py, b),
        types::JSON => json(py, b),
        types::JSONB => match b.split_first() {
            Some((1, rest)) => json(py, rest),
            _ => Err(bad("jsonb")),
        },
        types::INET | types::CIDR => inet(py, b),
        types::VOID => Ok(py.None()),
        o => match types::array_element(o) {
            Some(elem) => array(py, elem, b),
            None => text(py, b),
        },
    }
}

fn json(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    let s = text(py, b)?;
    Ok(pytypes::json_loads(py)?.call1((s,))?.unbind())
}

/// Binary numeric: base-10000 digit groups, weight, sign and display scale, turned into the
/// exact decimal text and then a `Decimal`.
fn numeric(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    if b.len() < 8 {
        return Err(bad("numeric"));
    }
    let ndigits = be_i16(&b[0..2])? as usize;
    let weight = i32::from(be_i16(&b[2..4])?);
    let sign = u16::from_be_bytes([b[4], b[5]]);
    let dscale = u16::from_be_bytes([b[6], b[7]]) as usize;
    let special = match sign {
        0xC000 => Some("NaN"),
        0xD000 => Some("Infinity"),
        0xF000 => Some("-Infinity"),
        _ => None,
    };
    let text = if let Some(s) = special {
        s.to_owned()
    } else {
        if b.len() != 8 + ndigits * 2 {
            return Err(bad("numeric"));
        }
        let digit = |i: i32| -> u16 {
            if i < 0 || i as usize >= ndigits {
                0
            } else {
                let at = 8 + i as usize * 2;
                u16::from_be_bytes([b[at], b[at + 1]])
            }
        };
        let mut s = String::with_capacity(ndigits * 4 + dscale + 3);
        if sign == 0x4000 {
            s.push('-');
        }
        if weight < 0 {
            s.push('0');
        } else {
            for i in 0..=weight {
                let d = digit(i);
                if i == 0 {
                    s.push_str(&d.to_string());
                } else {
                    s.push_str(&format!("{d:04}"));
                }
            }
        }
        if dscale > 0 {
            s.push('.');
            let mut frac = String::with_capacity(dscale + 4);
            let mut i = weight + 1;
            while frac.len() < dscale {
                frac.push_str(&format!("{:04}", digit(i)));
                i += 1;
            }
            frac.truncate(dscale);
            s.push_str(&frac);
        }
        s
    };
    Ok(pytypes::decimal(py)?.call1((text,))?.unbind())
}

fn date(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    let days = be_i32(b)?;
    match days {
        i32::MAX => return date_sentinel(py, "max"),
        i32::MIN => return date_sentinel(py, "min"),
        _ => {}
    }
    let (y, m, d) = civil_from_days(i64::from(days) + i64::from(types::PG_EPOCH_OFFSET_DAYS));
    if !(1..=9999).contains(&y) {
        return Err(out_of_range("date", y));
    }
    Ok(PyDate::new(py, y as i32, m as u8, d as u8)?
        .into_any()
        .unbind())
}

fn out_of_range(what: &str, year: i64) -> PyErr {
    PyValueError::new_err(format!(
        "{what} with year {year} is outside Python's range (1-9999); \
         convert it in SQL (e.g. to text) to read it"
    ))
}

/// PostgreSQL's infinities come back as `date.max` / `datetime.max` (and `min`), as in
/// asyncpg; they are encoded back the same way.
fn date_sentinel(py: Python<'_>, which: &str) -> PyResult<Obj> {
    Ok(py
        .import("datetime")?
        .getattr("date")?
        .getattr(which)?
        .unbind())
}

fn timestamp(py: Python<'_>, b: &[u8], aware: bool) -> PyResult<Obj> {
    let raw = be_i64(b)?;
    let utc = PyTzInfo::utc(py)?;
    if raw == i64::MAX || raw == i64::MIN {
        let which = if raw == i64::MAX { "max" } else { "min" };
        let dt = py.import("datetime")?.getattr("datetime")?.getattr(which)?;
        if !aware {
            return Ok(dt.unbind());
        }
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("tzinfo", utc.as_any())?;
        return Ok(dt.call_method("replace", (), Some(&kwargs))?.unbind());
    }
    let micros = raw + types::PG_EPOCH_OFFSET_MICROS;
    let days = micros.div_euclid(86_400_000_000);
    let rem = micros.rem_euclid(86_400_000_000);
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return Err(out_of_range("timestamp", y));
    }
    let secs = rem / 1_000_000;
    let tz = if aware { Some(&*utc) } else { None };
    Ok(PyDateTime::new(
        py,
        y as i32,
        m as u8,
        d as u8,
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
        (rem % 1_000_000) as u32,
        tz,
    )?
    .into_any()
    .unbind())
}

fn time_parts(micros: i64) -> (u8, u8, u8, u32) {
    let secs = micros / 1_000_000;
    // 24:00:00 is valid in PostgreSQL but not in Python; it is clamped to the last microsecond.
    if secs >= 86_400 {
        return (23, 59, 59, 999_999);
    }
    (
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
        (micros % 1_000_000) as u32,
    )
}

fn time(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    let (h, m, s, us) = time_parts(be_i64(b)?);
    Ok(PyTime::new(py, h, m, s, us, None)?.into_any().unbind())
}

fn timetz(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    if b.len() != 12 {
        return Err(bad("timetz"));
    }
    let (h, m, s, us) = time_parts(be_i64(&b[..8])?);
    let west = be_i32(&b[8..])?;
    let offset = PyDelta::new(py, 0, -west, 0, true)?;
    let tz = PyTzInfo::fixed_offset(py, offset)?;
    Ok(PyTime::new(py, h, m, s, us, Some(&tz))?.into_any().unbind())
}

/// Months have no fixed length in a timedelta: a month counts as 30 days, as in asyncpg.
fn interval(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    if b.len() != 16 {
        return Err(bad("interval"));
    }
    let micros = be_i64(&b[..8])?;
    let days = i64::from(be_i32(&b[8..12])?) + i64::from(be_i32(&b[12..16])?) * 30;
    let total_days = days + micros.div_euclid(86_400_000_000);
    let rem = micros.rem_euclid(86_400_000_000);
    let days = i32::try_from(total_days)
        .map_err(|_| PyValueError::new_err("interval is outside timedelta's range"))?;
    Ok(PyDelta::new(
        py,
        days,
        (rem / 1_000_000) as i32,
        (rem % 1_000_000) as i32,
        true,
    )?
    .into_any()
    .unbind())
}

fn uuid(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    let bytes: [u8; 16] = b.try_into().map_err(|_| bad("uuid"))?;
    pytypes::new_uuid(py, u128::from_be_bytes(bytes))
}

fn inet(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    if b.len() < 4 || b.len() != 4 + b[3] as usize {
        return Err(bad("inet"));
    }
    let (family, bits, is_cidr, addr) = (b[0], b[1], b[2] != 0, &b[4..]);
    let text = match (family, addr.len()) {
        (2, 4) => std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
        (3, 16) => {
            let a: [u8; 16] = addr.try_into().map_err(|_| bad("inet"))?;
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => return Err(bad("inet")),
    };
    let full = if family == 2 { 32 } else { 128 };
    let with_prefix = format!("{text}/{bits}");
    let obj = if is_cidr {
        pytypes::ip_network(py)?.call1((with_prefix,))?
    } else if bits == full {
        pytypes::ip_address(py)?.call1((text,))?
    } else {
        pytypes::ip_interface(py)?.call1((with_prefix,))?
    };
    Ok(obj.unbind())
}

/// Binary array: dimensions, then elements in row-major order; nested lists for more than
/// one dimension. Lower bounds other than 1 are not represented in the list.
fn array(py: Python<'_>, elem: Oid, b: &[u8]) -> PyResult<Obj> {
    if b.len() < 12 {
        return Err(bad("array"));
    }
    let ndim = be_i32(&b[0..4])?;
    if !(0..=6).contains(&ndim) {
        return Err(bad("array"));
    }
    let ndim = ndim as usize;
    let mut dims = Vec::with_capacity(ndim);
    let mut pos = 12;
    for _ in 0..ndim {
        if b.len() < pos + 8 {
            return Err(bad("array"));
        }
        let d = be_i32(&b[pos..pos + 4])?;
        if d < 0 {
            return Err(bad("array"));
        }
        dims.push(d as usize);
        pos += 8;
    }
    if ndim == 0 {
        return Ok(PyList::empty(py).into_any().unbind());
    }
    let mut cursor = pos;
    let list = array_level(py, elem, b, &dims, &mut cursor)?;
    if cursor != b.len() {
        return Err(bad("array"));
    }
    Ok(list)
}

fn array_level(
    py: Python<'_>,
    elem: Oid,
    b: &[u8],
    dims: &[usize],
    pos: &mut usize,
) -> PyResult<Obj> {
    let (&n, rest) = dims.split_first().ok_or_else(|| bad("array"))?;
    let mut items = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        if rest.is_empty() {
            if b.len() < *pos + 4 {
                return Err(bad("array"));
            }
            let len = be_i32(&b[*pos..*pos + 4])?;
            *pos += 4;
            if len < 0 {
                items.push(py.None());
                continue;
            }
            let end = *pos + len as usize;
            if end > b.len() {
                return Err(bad("array"));
            }
            items.push(decode(py, elem, 1, &b[*pos..end])?);
            *pos = end;
        } else {
            items.push(array_level(py, elem, b, rest, pos)?);
        }
    }
    Ok(PyList::new(py, items)?.into_any().unbind())
}
