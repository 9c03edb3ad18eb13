//! Parameters of the types in `typeinfo`: ranges, multiranges, composites, hstore, enums,
//! domains, geometric and bit-string types and arrays of them, in their binary form; and the
//! text form of arrays and composites whose tree has a type without a binary codec.

use bytes::{BufMut, BytesMut};
use ferrule_core::Value;

use crate::encode;
use crate::typeinfo::{self as ti, PgType, TypeKind};
use crate::types;

type BoxError = Box<dyn std::error::Error + Sync + Send>;

fn mismatch(value: &Value, t: &PgType, hint: &str) -> BoxError {
    format!("a {} cannot be sent as {}{hint}", value.kind(), t.name).into()
}

/// Whether the binary encoder of `t` takes a str; a str for any other typed parameter is
/// sent in text form, for the server to parse (`'[1,5)'` for an int4range, say).
pub(crate) fn takes_text(t: &PgType) -> bool {
    let base = t.base();
    match base.kind {
        TypeKind::Enum => true,
        TypeKind::Builtin => matches!(
            base.oid,
            types::TEXT
                | types::VARCHAR
                | types::BPCHAR
                | types::NAME
                | types::XML
                | types::CHAR
                | types::UNKNOWN
                | types::JSON
                | types::JSONB
                | types::UUID
                | ti::BIT
                | ti::VARBIT
        ),
        _ => false,
    }
}

/// Writes the binary form of non-NULL `value` as type `t`.
pub(crate) fn encode_typed(value: &Value, t: &PgType, out: &mut BytesMut) -> Result<(), BoxError> {
    match &t.kind {
        TypeKind::Builtin => encode_builtin(value, t, out),
        TypeKind::Domain(base) => encode_typed(value, base, out),
        TypeKind::Enum => match value {
            Value::Text(s) => {
                out.put_slice(s.as_bytes());
                Ok(())
            }
            v => Err(mismatch(v, t, " (an enum takes a str)")),
        },
        TypeKind::Array(elem) => encode_array(value, t, elem, out),
        TypeKind::Range(sub) => encode_range(value, t, sub, out),
        TypeKind::Multirange(range) => {
            let Value::List(items) = value else {
                return Err(mismatch(value, t, " (a multirange takes a list of ranges)"));
            };
            out.put_i32(len_i32(items.len())?);
            for item in items {
                if matches!(item, Value::Null) {
                    return Err("a multirange cannot hold NULL".into());
                }
                with_length(out, |out| encode_typed(item, range, out))?;
            }
            Ok(())
        }
        TypeKind::Composite(fields) => encode_composite(value, t, fields, out),
        TypeKind::Hstore => encode_hstore(value, t, out),
        TypeKind::UserBinary => match value {
            Value::Bytes(b) => {
                out.put_slice(b);
                Ok(())
            }
            v => Err(format!(
                "the encoder of a type with a binary codec must return bytes, not a {}",
                v.kind()
            )
            .into()),
        },
        TypeKind::Text => Err(mismatch(value, t, "")),
    }
}

fn len_i32(n: usize) -> Result<i32, BoxError> {
    i32::try_from(n).map_err(|_| "value too long".into())
}

/// Writes a length-prefixed value: the length is filled in once the value is written.
fn with_length(
    out: &mut BytesMut,
    write: impl FnOnce(&mut BytesMut) -> Result<(), BoxError>,
) -> Result<(), BoxError> {
    let at = out.len();
    out.put_i32(0);
    write(out)?;
    let n = len_i32(out.len() - at - 4)?;
    out[at..at + 4].copy_from_slice(&n.to_be_bytes());
    Ok(())
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// `n` numbers from a list (a point's x and y, a line's a, b and c).
fn numbers<const N: usize>(v: &Value) -> Option<[f64; N]> {
    let Value::List(items) = v else { return None };
    if items.len() != N {
        return None;
    }
    let mut out = [0.0; N];
    for (slot, item) in out.iter_mut().zip(items) {
        *slot = number(item)?;
    }
    Some(out)
}

fn put_point(v: &Value, out: &mut BytesMut) -> Option<()> {
    let [x, y] = numbers::<2>(v)?;
    out.put_f64(x);
    out.put_f64(y);
    Some(())
}

/// Two points: a line segment's ends, a box's corners.
fn put_two_points(v: &Value, out: &mut BytesMut) -> Option<()> {
    let Value::List(items) = v else { return None };
    let [a, b] = items.as_slice() else {
        return None;
    };
    put_point(a, out)?;
    put_point(b, out)
}

fn put_points(items: &[Value], out: &mut BytesMut) -> Option<()> {
    out.put_i32(i32::try_from(items.len()).ok()?);
    for p in items {
        put_point(p, out)?;
    }
    Some(())
}

fn encode_builtin(value: &Value, t: &PgType, out: &mut BytesMut) -> Result<(), BoxError> {
    let shape = match t.oid {
        ti::POINT => put_point(value, out).ok_or(" (a point takes (x, y))"),
        ti::LINE => numbers::<3>(value)
            .map(|abc| abc.iter().for_each(|n| out.put_f64(*n)))
            .ok_or(" (a line takes (a, b, c) of ax + by + c = 0)"),
        ti::LSEG | ti::BOX => put_two_points(value, out).ok_or(" (it takes two points)"),
        ti::CIRCLE => match value {
            Value::List(items) if items.len() == 2 => put_point(&items[0], out)
                .and_then(|()| number(&items[1]).map(|r| out.put_f64(r)))
                .ok_or(" (a circle takes ((x, y), radius))"),
            _ => Err(" (a circle takes ((x, y), radius))"),
        },
        ti::POLYGON => match value {
            Value::List(items) => put_points(items, out).ok_or(" (a polygon takes points)"),
            _ => Err(" (a polygon takes points)"),
        },
        // A Path is (points, closed); a plain list of points is an open path.
        ti::PATH => match value {
            Value::List(items) => {
                let (points, closed) = match items.as_slice() {
                    [Value::List(points), Value::Bool(closed)] => (points.as_slice(), *closed),
                    _ => (items.as_slice(), false),
                };
                out.put_u8(u8::from(closed));
                put_points(points, out).ok_or(" (a path takes (points, closed))")
            }
            _ => Err(" (a path takes (points, closed))"),
        },
        ti::BIT | ti::VARBIT => match value {
            Value::Text(s) => return encode_bits(s, out),
            _ => Err(" (a bit string takes a str of 0 and 1)"),
        },
        ti::RECORD => {
            return Err(
                "an anonymous record cannot be sent; cast the parameter to a \
                        composite type (`$1::my_type`)"
                    .into(),
            )
        }
        oid => return encode::encode_binary(value, oid, out),
    };
    shape.map_err(|hint| mismatch(value, t, hint))
}

fn encode_bits(s: &str, out: &mut BytesMut) -> Result<(), BoxError> {
    out.put_i32(len_i32(s.len())?);
    let mut byte = 0u8;
    for (i, c) in s.bytes().enumerate() {
        match c {
            b'0' => {}
            b'1' => byte |= 0x80 >> (i % 8),
            _ => return Err(format!("{s:?} is not a bit string (only 0 and 1)").into()),
        }
        if i % 8 == 7 {
            out.put_u8(byte);
            byte = 0;
        }
    }
    if !s.len().is_multiple_of(8) {
        out.put_u8(byte);
    }
    Ok(())
}

/// Elements whose own value is a list (a composite, a point, a range as (lower, upper)):
/// arrays of them are one-dimensional, since a nested list is the element itself.
fn list_valued(t: &PgType) -> bool {
    let base = t.base();
    match base.kind {
        TypeKind::Composite(_) | TypeKind::Range(_) | TypeKind::Multirange(_) => true,
        TypeKind::Builtin => matches!(
            base.oid,
            ti::POINT | ti::LINE | ti::LSEG | ti::BOX | ti::CIRCLE | ti::POLYGON | ti::PATH
        ),
        _ => false,
    }
}

/// Array dimensions from the first element at each level (every sublist must match).
fn dimensions(items: &[Value], elem: &PgType) -> Result<Vec<usize>, BoxError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut dims = vec![items.len()];
    if list_valued(elem) {
        return Ok(dims);
    }
    let mut level = items;
    while let Some(Value::List(inner)) = level.first() {
        dims.push(inner.len());
        level = inner;
        if dims.len() > 6 {
            return Err("arrays have at most 6 dimensions".into());
        }
    }
    Ok(dims)
}

fn encode_array(
    value: &Value,
    t: &PgType,
    elem: &PgType,
    out: &mut BytesMut,
) -> Result<(), BoxError> {
    let Value::List(items) = value else {
        return Err(mismatch(value, t, " (an array takes a list)"));
    };
    let dims = dimensions(items, elem)?;
    out.put_i32(dims.len() as i32);
    let has_null_at = out.len();
    out.put_i32(0);
    // The declared element type, even for a domain: the server checks it.
    out.put_u32(elem.oid);
    for &d in &dims {
        out.put_i32(len_i32(d)?);
        out.put_i32(1);
    }
    let mut has_null = false;
    write_elements(items, &dims, elem, out, &mut has_null)?;
    if has_null {
        out[has_null_at..has_null_at + 4].copy_from_slice(&1i32.to_be_bytes());
    }
    Ok(())
}

fn write_elements(
    items: &[Value],
    dims: &[usize],
    elem: &PgType,
    out: &mut BytesMut,
    has_null: &mut bool,
) -> Result<(), BoxError> {
    let Some((&len, rest)) = dims.split_first() else {
        return Ok(());
    };
    if items.len() != len {
        return Err("multi-dimensional arrays must have sub-arrays of matching length".into());
    }
    for item in items {
        if !rest.is_empty() {
            let Value::List(inner) = item else {
                return Err(
                    "multi-dimensional arrays must have sub-arrays of matching length".into(),
                );
            };
            write_elements(inner, rest, elem, out, has_null)?;
        } else if matches!(item, Value::Null) {
            *has_null = true;
            out.put_i32(-1);
        } else {
            with_length(out, |out| encode_typed(item, elem, out))?;
        }
    }
    Ok(())
}

const RANGE_EMPTY: u8 = 0x01;
const RANGE_LB_INC: u8 = 0x02;
const RANGE_UB_INC: u8 = 0x04;
const RANGE_LB_INF: u8 = 0x08;
const RANGE_UB_INF: u8 = 0x10;

/// A range from a `ferrule.Range` (a map with lower, upper, lower_inc, upper_inc, empty) or a
/// `(lower, upper)` pair (`[lower, upper)`); None as a bound is infinite.
fn encode_range(
    value: &Value,
    t: &PgType,
    sub: &PgType,
    out: &mut BytesMut,
) -> Result<(), BoxError> {
    let null = Value::Null;
    let (lower, upper, lower_inc, upper_inc, empty) = match value {
        Value::List(items) if items.len() == 2 => (&items[0], &items[1], true, false, false),
        Value::Map(entries) => {
            let get = |k: &str| entries.iter().find(|(n, _)| n == k).map(|(_, v)| v);
            let flag = |k: &str| matches!(get(k), Some(Value::Bool(true)));
            (
                get("lower").unwrap_or(&null),
                get("upper").unwrap_or(&null),
                flag("lower_inc"),
                flag("upper_inc"),
                flag("empty"),
            )
        }
        v => {
            return Err(mismatch(
                v,
                t,
                " (a range takes a ferrule.Range or a (lower, upper) tuple)",
            ))
        }
    };
    if empty {
        out.put_u8(RANGE_EMPTY);
        return Ok(());
    }
    let lower_inf = matches!(lower, Value::Null);
    let upper_inf = matches!(upper, Value::Null);
    let mut flags = 0;
    if lower_inf {
        flags |= RANGE_LB_INF;
    } else if lower_inc {
        flags |= RANGE_LB_INC;
    }
    if upper_inf {
        flags |= RANGE_UB_INF;
    } else if upper_inc {
        flags |= RANGE_UB_INC;
    }
    out.put_u8(flags);
    if !lower_inf {
        with_length(out, |out| encode_typed(lower, sub, out))?;
    }
    if !upper_inf {
        with_length(out, |out| encode_typed(upper, sub, out))?;
    }
    Ok(())
}

/// A composite from a tuple or Record (fields in order) or a dict (fields by name; missing
/// ones are NULL).
fn encode_composite(
    value: &Value,
    t: &PgType,
    fields: &[ti::Field],
    out: &mut BytesMut,
) -> Result<(), BoxError> {
    let values: Vec<&Value> = match value {
        Value::List(items) => {
            if items.len() != fields.len() {
                return Err(format!(
                    "{} has {} field(s), {} given",
                    t.name,
                    fields.len(),
                    items.len()
                )
                .into());
            }
            items.iter().collect()
        }
        Value::Map(entries) => {
            if let Some((k, _)) = entries
                .iter()
                .find(|(k, _)| !fields.iter().any(|f| &f.name == k))
            {
                return Err(format!("{} has no field {k:?}", t.name).into());
            }
            fields
                .iter()
                .map(|f| {
                    entries
                        .iter()
                        .find(|(k, _)| k == &f.name)
                        .map_or(&Value::Null, |(_, v)| v)
                })
                .collect()
        }
        v => {
            return Err(mismatch(
                v,
                t,
                " (a composite takes a tuple, a Record or a dict)",
            ))
        }
    };
    out.put_i32(len_i32(fields.len())?);
    for (field, v) in fields.iter().zip(values) {
        out.put_u32(field.ty.oid);
        if matches!(v, Value::Null) {
            out.put_i32(-1);
        } else {
            with_length(out, |out| encode_typed(v, &field.ty, out))
                .map_err(|e| format!("field {:?}: {e}", field.name))?;
        }
    }
    Ok(())
}

fn encode_hstore(value: &Value, t: &PgType, out: &mut BytesMut) -> Result<(), BoxError> {
    let Value::Map(entries) = value else {
        return Err(mismatch(
            value,
            t,
            " (hstore takes a dict of str to str or None)",
        ));
    };
    out.put_i32(len_i32(entries.len())?);
    for (k, v) in entries {
        out.put_i32(len_i32(k.len())?);
        out.put_slice(k.as_bytes());
        match v {
            Value::Null => out.put_i32(-1),
            Value::Text(s) => {
                out.put_i32(len_i32(s.len())?);
                out.put_slice(s.as_bytes());
            }
            other => {
                return Err(format!(
                    "hstore values are str or None, not {} (key {k:?})",
                    other.kind()
                )
                .into())
            }
        }
    }
    Ok(())
}

/// The text form of a typed parameter sent in text format: arrays and composites as their
/// literals (every element quoted, so no value can change the structure), the rest as
/// `encode::encode_text` writes it.
pub(crate) fn encode_text_typed(
    value: &Value,
    t: &PgType,
    out: &mut BytesMut,
) -> Result<(), BoxError> {
    match (&t.base().kind, value) {
        (TypeKind::Array(elem), Value::List(items)) => {
            out.put_u8(b'{');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put_u8(b',');
                }
                match item {
                    Value::Null => out.put_slice(b"NULL"),
                    // A nested list is a sub-array unless the element itself takes a list.
                    Value::List(_) if !list_valued(elem) => {
                        let mut inner = BytesMut::new();
                        encode_text_typed(item, t, &mut inner)?;
                        out.put_slice(&inner);
                    }
                    v => quoted(v, elem, out)?,
                }
            }
            out.put_u8(b'}');
            Ok(())
        }
        (TypeKind::Composite(fields), Value::List(items)) => {
            if items.len() != fields.len() {
                return Err(format!(
                    "{} has {} field(s), {} given",
                    t.name,
                    fields.len(),
                    items.len()
                )
                .into());
            }
            out.put_u8(b'(');
            for (i, (item, field)) in items.iter().zip(fields).enumerate() {
                if i > 0 {
                    out.put_u8(b',');
                }
                // An empty field is NULL in a composite literal.
                if !matches!(item, Value::Null) {
                    quoted(item, &field.ty, out)?;
                }
            }
            out.put_u8(b')');
            Ok(())
        }
        _ => encode::encode_text(value, out),
    }
}

/// `"..."` with `"` and `\` escaped by a backslash.
fn quoted(v: &Value, t: &PgType, out: &mut BytesMut) -> Result<(), BoxError> {
    let mut text = BytesMut::new();
    encode_text_typed(v, t, &mut text)?;
    out.put_u8(b'"');
    for &byte in text.iter() {
        if byte == b'"' || byte == b'\\' {
            out.put_u8(b'\\');
        }
        out.put_u8(byte);
    }
    out.put_u8(b'"');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn int4() -> Arc<PgType> {
        Arc::new(PgType::new(types::INT4, "integer", TypeKind::Builtin))
    }

    fn bytes_of(v: &Value, t: &PgType) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode_typed(v, t, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn range_golden_bytes() {
        let r = PgType::new(3904, "int4range", TypeKind::Range(int4()));
        let v = Value::List(vec![Value::Int(1), Value::Int(5)]);
        assert_eq!(
            bytes_of(&v, &r),
            vec![RANGE_LB_INC, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 5]
        );
        let inf = Value::Map(vec![
            ("lower".into(), Value::Null),
            ("upper".into(), Value::Int(3)),
            ("upper_inc".into(), Value::Bool(true)),
        ]);
        assert_eq!(
            bytes_of(&inf, &r),
            vec![RANGE_LB_INF | RANGE_UB_INC, 0, 0, 0, 4, 0, 0, 0, 3]
        );
        let empty = Value::Map(vec![("empty".into(), Value::Bool(true))]);
        assert_eq!(bytes_of(&empty, &r), vec![RANGE_EMPTY]);
    }

    #[test]
    fn composite_and_hstore_bytes() {
        let c = PgType::new(
            70_000,
            "public.pair",
            TypeKind::Composite(vec![
                ti::Field {
                    name: "a".into(),
                    ty: int4(),
                },
                ti::Field {
                    name: "b".into(),
                    ty: int4(),
                },
            ]),
        );
        let v = Value::Map(vec![("b".into(), Value::Int(7))]);
        let mut want = vec![0, 0, 0, 2, 0, 0, 0, 23, 0xff, 0xff, 0xff, 0xff];
        want.extend_from_slice(&[0, 0, 0, 23, 0, 0, 0, 4, 0, 0, 0, 7]);
        assert_eq!(bytes_of(&v, &c), want);
        let bad = Value::Map(vec![("zz".into(), Value::Int(7))]);
        assert!(encode_typed(&bad, &c, &mut BytesMut::new()).is_err());

        let h = PgType::new(70_001, "public.hstore", TypeKind::Hstore);
        let v = Value::Map(vec![("k".into(), Value::Null)]);
        assert_eq!(
            bytes_of(&v, &h),
            vec![0, 0, 0, 1, 0, 0, 0, 1, b'k', 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn bits_and_text_literals() {
        let mut b = BytesMut::new();
        encode_bits("101000001", &mut b).unwrap();
        assert_eq!(b.to_vec(), vec![0, 0, 0, 9, 0b1010_0000, 0b1000_0000]);
        assert!(encode_bits("12", &mut BytesMut::new()).is_err());

        let money = Arc::new(PgType::new(790, "money", TypeKind::Text));
        let arr = PgType::new(791, "money[]", TypeKind::Array(money));
        let mut out = BytesMut::new();
        let v = Value::List(vec![Value::Text("1\"2".into()), Value::Null]);
        encode_text_typed(&v, &arr, &mut out).unwrap();
        assert_eq!(&out[..], br#"{"1\"2",NULL}"#);
    }
}
