//! Values of the types in `ferrule_pg::typeinfo` into Python objects: ranges (`Range`),
//! multiranges (lists of `Range`), composites (`Record`), hstore (dict), enums (str),
//! domains (as their base), geometric types (`ferrule.pg_types`), bit strings (str of 0/1),
//! arrays of them; and arrays and composites sent in text form, parsed.

use std::sync::Arc;

use ferrule_pg::typeinfo::{self as ti, known_type, PgType, TypeKind};
use ferrule_pg::types;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use pyo3::IntoPyObjectExt;

use super::decode;
use super::range::Range;
use super::results::Codecs;
use super::text_literal::{parse_array, parse_composite, Node};
use crate::pytypes;
use crate::record::{Record, RecordDesc};

type Obj = Py<PyAny>;

fn bad(what: &str) -> PyErr {
    PyValueError::new_err(format!("malformed {what} value from the server"))
}

/// A cursor over a binary value, every read bounds-checked.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8], what: &'static str) -> Self {
        Reader { b, pos: 0, what }
    }
    fn take(&mut self, n: usize) -> PyResult<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(|| bad(self.what))?;
        let s = self.b.get(self.pos..end).ok_or_else(|| bad(self.what))?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> PyResult<u8> {
        Ok(self.take(1)?[0])
    }
    fn i32(&mut self) -> PyResult<i32> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u32(&mut self) -> PyResult<u32> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn f64(&mut self) -> PyResult<f64> {
        Ok(f64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    /// A length-prefixed value; None for NULL (-1).
    fn value(&mut self) -> PyResult<Option<&'a [u8]>> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        self.take(len as usize).map(Some)
    }
    /// A count that cannot exceed what the remaining bytes could hold.
    fn count(&mut self, min_item_bytes: usize) -> PyResult<usize> {
        let n = self.i32()?;
        let rest = self.b.len() - self.pos;
        if n < 0 || (n as usize).saturating_mul(min_item_bytes) > rest {
            return Err(bad(self.what));
        }
        Ok(n as usize)
    }
    fn end(&self) -> PyResult<()> {
        if self.pos == self.b.len() {
            Ok(())
        } else {
            Err(bad(self.what))
        }
    }
}

/// Decodes one non-NULL value of type `t` in `format` (1 binary, 0 text).
pub fn decode_typed(
    py: Python<'_>,
    t: &PgType,
    format: i16,
    b: &[u8],
    codecs: Option<&Codecs>,
) -> PyResult<Obj> {
    if format == 0 {
        let s = std::str::from_utf8(b).map_err(|_| bad("text"))?;
        return decode_text(py, t, s, codecs);
    }
    match &t.kind {
        TypeKind::Builtin => builtin(py, t.oid, b),
        TypeKind::Domain(base) => decode_typed(py, base, 1, b, codecs),
        TypeKind::Enum | TypeKind::Text => decode::text(py, b),
        TypeKind::Array(elem) => array(py, elem, b, codecs),
        TypeKind::Range(sub) => range(py, sub, b, codecs),
        TypeKind::Multirange(r) => {
            let mut rd = Reader::new(b, "multirange");
            let n = rd.count(5)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let one = rd.value()?.ok_or_else(|| bad("multirange"))?;
                items.push(decode_typed(py, r, 1, one, codecs)?);
            }
            rd.end()?;
            Ok(PyList::new(py, items)?.into_any().unbind())
        }
        TypeKind::Composite(fields) => composite(py, t, fields, b, codecs),
        TypeKind::Hstore => hstore(py, b),
        TypeKind::UserBinary => {
            let raw = PyBytes::new(py, b).into_any();
            match codecs.and_then(|c| c.get(&t.oid)) {
                Some(codec) => Ok(codec.decoder.bind(py).call1((raw,))?.unbind()),
                None => Ok(raw.unbind()),
            }
        }
    }
}

fn builtin(py: Python<'_>, oid: u32, b: &[u8]) -> PyResult<Obj> {
    match oid {
        ti::POINT => {
            let mut r = Reader::new(b, "point");
            let p = point(py, &mut r)?;
            r.end()?;
            Ok(p)
        }
        ti::LINE => {
            let mut r = Reader::new(b, "line");
            let (a, bb, c) = (r.f64()?, r.f64()?, r.f64()?);
            r.end()?;
            Ok(pytypes::pg_line(py)?.call1((a, bb, c))?.unbind())
        }
        ti::LSEG | ti::BOX => {
            let mut r = Reader::new(b, "geometric");
            let (p1, p2) = (point(py, &mut r)?, point(py, &mut r)?);
            r.end()?;
            let cls = if oid == ti::LSEG {
                pytypes::pg_line_segment(py)?
            } else {
                pytypes::pg_box(py)?
            };
            Ok(cls.call1((p1, p2))?.unbind())
        }
        ti::CIRCLE => {
            let mut r = Reader::new(b, "circle");
            let center = point(py, &mut r)?;
            let radius = r.f64()?;
            r.end()?;
            Ok(pytypes::pg_circle(py)?.call1((center, radius))?.unbind())
        }
        ti::PATH => {
            let mut r = Reader::new(b, "path");
            let closed = r.u8()? != 0;
            let points = points(py, &mut r)?;
            r.end()?;
            Ok(pytypes::pg_path(py)?.call1((points, closed))?.unbind())
        }
        ti::POLYGON => {
            let mut r = Reader::new(b, "polygon");
            let points = points(py, &mut r)?;
            r.end()?;
            Ok(pytypes::pg_polygon(py)?.call1((points,))?.unbind())
        }
        ti::BIT | ti::VARBIT => bits(py, b),
        ti::RECORD => anonymous_record(py, b),
        _ => decode::decode(py, oid, 1, b),
    }
}

fn point(py: Python<'_>, r: &mut Reader<'_>) -> PyResult<Obj> {
    let (x, y) = (r.f64()?, r.f64()?);
    Ok(pytypes::pg_point(py)?.call1((x, y))?.unbind())
}

fn points<'py>(py: Python<'py>, r: &mut Reader<'_>) -> PyResult<Bound<'py, PyList>> {
    let n = r.count(16)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(point(py, r)?);
    }
    PyList::new(py, out)
}

fn bits(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    let mut r = Reader::new(b, "bit string");
    let n = r.i32()?;
    if n < 0 {
        return Err(bad("bit string"));
    }
    let n = n as usize;
    let bytes = r.take(n.div_ceil(8))?;
    r.end()?;
    let s: String = (0..n)
        .map(|i| {
            if bytes[i / 8] & (0x80 >> (i % 8)) != 0 {
                '1'
            } else {
                '0'
            }
        })
        .collect();
    Ok(PyString::new(py, &s).into_any().unbind())
}

fn array(py: Python<'_>, elem: &PgType, b: &[u8], codecs: Option<&Codecs>) -> PyResult<Obj> {
    let mut r = Reader::new(b, "array");
    let ndim = r.i32()?;
    if !(0..=6).contains(&ndim) {
        return Err(bad("array"));
    }
    r.take(8)?; // has-null flag and element type
    let mut dims = Vec::with_capacity(ndim as usize);
    for _ in 0..ndim {
        let d = r.i32()?;
        r.take(4)?; // lower bound
        if d < 0 {
            return Err(bad("array"));
        }
        dims.push(d as usize);
    }
    if dims.is_empty() {
        return Ok(PyList::empty(py).into_any().unbind());
    }
    let list = array_level(py, elem, &mut r, &dims, codecs)?;
    r.end()?;
    Ok(list)
}

fn array_level(
    py: Python<'_>,
    elem: &PgType,
    r: &mut Reader<'_>,
    dims: &[usize],
    codecs: Option<&Codecs>,
) -> PyResult<Obj> {
    let (&n, rest) = dims.split_first().ok_or_else(|| bad("array"))?;
    let mut items = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        if rest.is_empty() {
            items.push(match r.value()? {
                None => py.None(),
                Some(v) => decode_typed(py, elem, 1, v, codecs)?,
            });
        } else {
            items.push(array_level(py, elem, r, rest, codecs)?);
        }
    }
    Ok(PyList::new(py, items)?.into_any().unbind())
}

const RANGE_EMPTY: u8 = 0x01;
const RANGE_LB_INC: u8 = 0x02;
const RANGE_UB_INC: u8 = 0x04;
const RANGE_LB_INF: u8 = 0x08;
const RANGE_UB_INF: u8 = 0x10;
const RANGE_LB_NULL: u8 = 0x20;
const RANGE_UB_NULL: u8 = 0x40;

fn range(py: Python<'_>, sub: &PgType, b: &[u8], codecs: Option<&Codecs>) -> PyResult<Obj> {
    let mut r = Reader::new(b, "range");
    let flags = r.u8()?;
    if flags & RANGE_EMPTY != 0 {
        r.end()?;
        return Range::empty(py);
    }
    let mut bound = |absent: u8| -> PyResult<Option<Obj>> {
        if flags & absent != 0 {
            return Ok(None);
        }
        let v = r.value()?.ok_or_else(|| bad("range"))?;
        decode_typed(py, sub, 1, v, codecs).map(Some)
    };
    let lower = bound(RANGE_LB_INF | RANGE_LB_NULL)?;
    let upper = bound(RANGE_UB_INF | RANGE_UB_NULL)?;
    r.end()?;
    Range::create(
        py,
        lower,
        upper,
        flags & RANGE_LB_INC != 0,
        flags & RANGE_UB_INC != 0,
    )
}

/// The record description of a composite type, built once per type.
fn composite_desc(py: Python<'_>, t: &PgType, names: &[&str]) -> PyResult<Py<RecordDesc>> {
    if let Some(d) = t
        .binding_cache
        .get()
        .and_then(|b| b.downcast_ref::<Py<RecordDesc>>())
    {
        return Ok(d.clone_ref(py));
    }
    let desc = RecordDesc::new(py, names.iter().copied())?;
    let _ = t.binding_cache.set(Box::new(desc.clone_ref(py)));
    Ok(desc)
}

fn composite(
    py: Python<'_>,
    t: &PgType,
    fields: &[ti::Field],
    b: &[u8],
    codecs: Option<&Codecs>,
) -> PyResult<Obj> {
    let mut r = Reader::new(b, "composite");
    let n = r.count(8)?;
    if n != fields.len() {
        return Err(PyValueError::new_err(format!(
            "{} has {} field(s) but the server sent {n}; the type changed since the \
             connection read it: call conn.reload_schema_state()",
            t.name,
            fields.len()
        )));
    }
    let mut values = Vec::with_capacity(n);
    for f in fields {
        r.u32()?; // the field's type: known from the catalog
        values.push(match r.value()? {
            None => py.None(),
            Some(v) => {
                decode_typed(py, &f.ty, 1, v, codecs).map_err(|e| in_field(py, e, &f.name))?
            }
        });
    }
    r.end()?;
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    Record::create(py, &composite_desc(py, t, &names)?, values)
}

fn in_field(py: Python<'_>, e: PyErr, name: &str) -> PyErr {
    let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    PyValueError::new_err(format!("field {name:?}: {msg}"))
}

/// `SELECT ROW(1, 'a')`: fields named f1, f2, ... decoded by the type OIDs the value carries.
fn anonymous_record(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    let mut r = Reader::new(b, "record");
    let n = r.count(8)?;
    let mut values = Vec::with_capacity(n);
    let mut names = Vec::with_capacity(n);
    for i in 1..=n {
        let oid = r.u32()?;
        names.push(format!("f{i}"));
        let Some(v) = r.value()? else {
            values.push(py.None());
            continue;
        };
        let t: Arc<PgType> = known_type(oid).filter(|t| t.binary).ok_or_else(|| {
            PyValueError::new_err(format!(
                "field f{i} of an anonymous record has type OID {oid}, which ferrule reads \
                 only within a named composite type: cast the value (`ROW(...)::my_type`)"
            ))
        })?;
        values.push(decode_typed(py, &t, 1, v, None)?);
    }
    r.end()?;
    let desc = RecordDesc::new(py, names.iter().map(String::as_str))?;
    Record::create(py, &desc, values)
}

fn hstore(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    let mut r = Reader::new(b, "hstore");
    let n = r.count(8)?;
    let d = PyDict::new(py);
    for _ in 0..n {
        let key = r.value()?.ok_or_else(|| bad("hstore"))?;
        let key = decode::text(py, key)?;
        let value = match r.value()? {
            None => py.None(),
            Some(v) => decode::text(py, v)?,
        };
        d.set_item(key, value)?;
    }
    r.end()?;
    Ok(d.into_any().unbind())
}

/// A value in text form: a user text codec if there is one, arrays and composites parsed,
/// numbers and booleans converted, everything else a str.
fn decode_text(py: Python<'_>, t: &PgType, s: &str, codecs: Option<&Codecs>) -> PyResult<Obj> {
    if let Some(codec) = codecs.and_then(|c| c.get(&t.oid)) {
        if !codec.binary {
            return Ok(codec.decoder.bind(py).call1((s,))?.unbind());
        }
    }
    match &t.kind {
        TypeKind::Domain(base) => decode_text(py, base, s, codecs),
        TypeKind::Array(elem) => {
            let node = parse_array(s).map_err(|e| bad_text(t, e))?;
            node_to_py(py, &node, &|py, s| decode_text(py, elem, s, codecs))
        }
        TypeKind::Composite(fields) => {
            let parts = parse_composite(s).map_err(|e| bad_text(t, e))?;
            if parts.len() != fields.len() {
                return Err(bad_text(t, "wrong number of fields"));
            }
            let mut values = Vec::with_capacity(parts.len());
            for (part, f) in parts.iter().zip(fields) {
                values.push(match part {
                    None => py.None(),
                    Some(v) => decode_text(py, &f.ty, v, codecs)?,
                });
            }
            let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            Record::create(py, &composite_desc(py, t, &names)?, values)
        }
        TypeKind::Builtin => text_scalar(py, t.oid, s),
        _ => Ok(PyString::new(py, s).into_any().unbind()),
    }
}

fn bad_text(t: &PgType, e: &str) -> PyErr {
    PyValueError::new_err(format!("malformed {} value from the server: {e}", t.name))
}

fn node_to_py(
    py: Python<'_>,
    node: &Node,
    elem: &dyn Fn(Python<'_>, &str) -> PyResult<Obj>,
) -> PyResult<Obj> {
    match node {
        Node::Null => Ok(py.None()),
        Node::Item(s) => elem(py, s),
        Node::List(items) => {
            let objs = items
                .iter()
                .map(|n| node_to_py(py, n, elem))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyList::new(py, objs)?.into_any().unbind())
        }
    }
}

/// Built-in scalars inside a text-form array or composite.
fn text_scalar(py: Python<'_>, oid: u32, s: &str) -> PyResult<Obj> {
    Ok(match oid {
        types::INT2 | types::INT4 | types::INT8 | types::OID | types::XID => s
            .parse::<i64>()
            .map_err(|_| PyValueError::new_err(format!("malformed integer {s:?}")))?
            .into_py_any(py)?,
        types::FLOAT4 | types::FLOAT8 => s
            .parse::<f64>()
            .map_err(|_| PyValueError::new_err(format!("malformed float {s:?}")))?
            .into_py_any(py)?,
        types::NUMERIC => pytypes::decimal(py)?.call1((s,))?.unbind(),
        types::BOOL => (s == "t").into_py_any(py)?,
        _ => PyString::new(py, s).into_any().unbind(),
    })
}
