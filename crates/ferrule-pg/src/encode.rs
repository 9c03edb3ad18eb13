//! Bound parameters: each `Value` encoded for the server's type of its placeholder, in binary
//! where ferrule knows the type and as text otherwise (enums, domains, extension types).

use bytes::{BufMut, BytesMut};
use ferrule_core::{Error, ErrorKind, Value};
use postgres_protocol::message::frontend;
use postgres_protocol::IsNull;

use crate::encode_rich;
use crate::statement::Statement;
use crate::types::{self, Oid};

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// Writes the Bind message for `stmt` with `params` into `buf`.
pub fn encode_bind(
    buf: &mut BytesMut,
    portal: &str,
    stmt: &Statement,
    params: &[Value],
) -> Result<(), Error> {
    let typed = |i: usize| stmt.param_types.get(i).and_then(Option::as_ref);
    // Per value, not per statement: a str for a typed parameter whose binary encoder takes
    // none (a range, a point) goes in text form for the server to parse.
    let wire_format = |i: usize, value: &Value| -> i16 {
        let format = stmt.param_formats.get(i).copied().unwrap_or(0);
        match (typed(i), value) {
            (Some(t), Value::Text(_)) if format == 1 && !encode_rich::takes_text(t) => 0,
            _ => format,
        }
    };
    let formats = params.iter().enumerate().map(|(i, v)| wire_format(i, v));
    let result_formats = stmt.columns.iter().map(|c| c.format);
    let mut index = 0usize;
    let res = frontend::bind(
        portal,
        &stmt.name,
        formats,
        params.iter().zip(stmt.params.iter()),
        |(value, &oid), out| {
            let i = index;
            index += 1;
            let binary = wire_format(i, value) == 1;
            match typed(i) {
                Some(_) if matches!(value, Value::Null) => Ok(IsNull::Yes),
                Some(t) if binary => encode_rich::encode_typed(value, t, out).map(|()| IsNull::No),
                Some(t) => encode_rich::encode_text_typed(value, t, out).map(|()| IsNull::No),
                None => encode_param(value, oid, binary, out),
            }
        },
        result_formats,
        buf,
    );
    res.map_err(|e| match e {
        frontend::BindError::Conversion(err) => Error::new(
            ErrorKind::Data,
            format!(
                "invalid argument ${index} ({}): {err}",
                match typed(index.saturating_sub(1)) {
                    Some(t) => t.name.as_str(),
                    None => stmt
                        .params
                        .get(index.saturating_sub(1))
                        .map(|&o| type_label(o))
                        .unwrap_or("?"),
                }
            ),
        ),
        frontend::BindError::Serialization(err) => {
            Error::interface(format!("cannot encode the arguments: {err}"))
        }
    })
}

fn encode_param(
    value: &Value,
    oid: Oid,
    binary: bool,
    out: &mut BytesMut,
) -> Result<IsNull, BoxError> {
    if matches!(value, Value::Null) {
        return Ok(IsNull::Yes);
    }
    if binary {
        encode_binary(value, oid, out)?;
    } else {
        encode_text(value, out)?;
    }
    Ok(IsNull::No)
}

fn mismatch(value: &Value, oid: Oid) -> BoxError {
    format!("a {} cannot be sent as {}", value.kind(), type_label(oid)).into()
}

/// A readable name for the built-in types ferrule encodes.
pub fn type_label(oid: Oid) -> &'static str {
    match oid {
        types::BOOL => "boolean",
        types::BYTEA => "bytea",
        types::CHAR => "\"char\"",
        types::NAME => "name",
        types::INT2 => "smallint",
        types::INT4 => "integer",
        types::INT8 => "bigint",
        types::OID => "oid",
        types::TEXT => "text",
        types::VARCHAR => "varchar",
        types::BPCHAR => "char(n)",
        types::JSON => "json",
        types::JSONB => "jsonb",
        types::XML => "xml",
        types::FLOAT4 => "real",
        types::FLOAT8 => "double precision",
        types::NUMERIC => "numeric",
        types::DATE => "date",
        types::TIME => "time",
        types::TIMETZ => "time with time zone",
        types::TIMESTAMP => "timestamp",
        types::TIMESTAMPTZ => "timestamp with time zone",
        types::INTERVAL => "interval",
        types::UUID => "uuid",
        types::INET => "inet",
        types::CIDR => "cidr",
        o if types::array_element(o).is_some() => "an array",
        _ => "a value of a user-defined type",
    }
}

pub(crate) fn encode_binary(value: &Value, oid: Oid, out: &mut BytesMut) -> Result<(), BoxError> {
    if let Some(elem) = types::array_element(oid) {
        return encode_array(value, oid, elem, out);
    }
    match (oid, value) {
        (types::BOOL, Value::Bool(b)) => out.put_u8(u8::from(*b)),
        (types::INT2, Value::Int(i)) => {
            out.put_i16(i16::try_from(*i).map_err(|_| format!("{i} is out of range for smallint"))?)
        }
        (types::INT4, Value::Int(i)) => {
            out.put_i32(i32::try_from(*i).map_err(|_| format!("{i} is out of range for integer"))?)
        }
        (types::INT8, Value::Int(i)) => out.put_i64(*i),
        (types::OID | types::XID, Value::Int(i)) => {
            out.put_u32(u32::try_from(*i).map_err(|_| format!("{i} is out of range for oid"))?)
        }
        (types::INT2 | types::INT4 | types::INT8, Value::BigInt(s)) => {
            return Err(format!("{s} is out of range for {}", type_label(oid)).into())
        }
        (types::FLOAT4, Value::Float(f)) => {
            let narrow = *f as f32;
            if narrow.is_infinite() && f.is_finite() {
                return Err(format!("{f:?} is out of range for real").into());
            }
            out.put_f32(narrow)
        }
        (types::FLOAT8, Value::Float(f)) => out.put_f64(*f),
        (types::FLOAT4, Value::Int(i)) => out.put_f32(*i as f32),
        (types::FLOAT8, Value::Int(i)) => out.put_f64(*i as f64),
        (types::NUMERIC, Value::Decimal(s) | Value::BigInt(s)) => encode_numeric(s, out)?,
        (types::NUMERIC, Value::Int(i)) => encode_numeric(&i.to_string(), out)?,
        (types::NUMERIC, Value::Float(f)) => encode_numeric(&float_repr(*f), out)?,
        (
            types::TEXT
            | types::VARCHAR
            | types::BPCHAR
            | types::NAME
            | types::XML
            | types::UNKNOWN,
            Value::Text(s),
        ) => put_text(s, out)?,
        (types::CHAR, Value::Text(s)) => {
            if s.len() != 1 {
                return Err("\"char\" takes exactly one byte".into());
            }
            out.put_slice(s.as_bytes())
        }
        (types::BYTEA, Value::Bytes(b)) => out.put_slice(b),
        (types::JSON, v) => write_json(v, out)?,
        (types::JSONB, v) => {
            out.put_u8(1);
            write_json(v, out)?
        }
        (types::UUID, Value::Uuid(u)) => out.put_slice(u),
        (types::UUID, Value::Text(s)) => out.put_slice(&parse_uuid(s)?),
        (types::DATE, Value::Date(d)) => out.put_i32(date_wire(*d)),
        (types::TIME, Value::Time { micros, .. }) => out.put_i64(*micros),
        (types::TIMETZ, Value::Time { micros, offset }) => {
            out.put_i64(*micros);
            // PostgreSQL stores the zone as seconds *west* of UTC.
            out.put_i32(-offset.unwrap_or(0));
        }
        // Aware datetimes arrive as UTC, naive ones as wall time; both are stored as given.
        (types::TIMESTAMP | types::TIMESTAMPTZ, Value::DateTime { micros, .. }) => {
            out.put_i64(timestamp_wire(*micros))
        }
        (
            types::INTERVAL,
            Value::Interval {
                months,
                days,
                micros,
            },
        ) => {
            out.put_i64(*micros);
            out.put_i32(*days);
            out.put_i32(*months);
        }
        (
            types::INET | types::CIDR,
            Value::Inet {
                addr,
                prefix,
                is_network,
            },
        ) => {
            let family = match addr.len() {
                4 => 2u8,
                16 => 3u8,
                n => return Err(format!("an IP address has 4 or 16 bytes, not {n}").into()),
            };
            out.put_u8(family);
            out.put_u8(*prefix);
            out.put_u8(u8::from(*is_network || oid == types::CIDR));
            out.put_u8(addr.len() as u8);
            out.put_slice(addr);
        }
        (types::VOID, _) => {}
        (_, v) => return Err(mismatch(v, oid)),
    }
    Ok(())
}

/// `datetime.max` / `datetime.min` stand for PostgreSQL's infinities, as asyncpg does.
const MAX_MICROS: i64 = 253_402_300_799_999_999;
const MIN_MICROS: i64 = -62_135_596_800_000_000;

/// `date.max` / `date.min` (9999-12-31, 0001-01-01) as days since 1970-01-01.
const MAX_DATE_DAYS: i32 = 2_932_896;
const MIN_DATE_DAYS: i32 = -719_162;

fn date_wire(unix_days: i32) -> i32 {
    match unix_days {
        MAX_DATE_DAYS => i32::MAX,
        MIN_DATE_DAYS => i32::MIN,
        d => d - types::PG_EPOCH_OFFSET_DAYS,
    }
}

/// PostgreSQL text cannot hold NUL; the server would refuse it without naming the argument.
fn put_text(s: &str, out: &mut BytesMut) -> Result<(), BoxError> {
    if s.contains('\0') {
        return Err(
            "text cannot contain NUL (\\x00) characters; send binary data as bytes \
                    (bytea)"
                .into(),
        );
    }
    out.put_slice(s.as_bytes());
    Ok(())
}

fn timestamp_wire(unix_micros: i64) -> i64 {
    match unix_micros {
        MAX_MICROS => i64::MAX,
        MIN_MICROS => i64::MIN,
        m => m - types::PG_EPOCH_OFFSET_MICROS,
    }
}

fn float_repr(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{f}")
    }
}

fn encode_array(value: &Value, oid: Oid, elem: Oid, out: &mut BytesMut) -> Result<(), BoxError> {
    let Value::List(items) = value else {
        return Err(mismatch(value, oid));
    };
    // Dimensions come from the first element at each level; every sublist must match. For
    // json/jsonb too, so that a multi-dimensional array read back binds the same way; a JSON
    // array as the first element goes as JSON text (a str).
    let mut dims = Vec::new();
    let mut level: &[Value] = items;
    loop {
        dims.push(level.len());
        match level.first() {
            Some(Value::List(inner)) => level = inner,
            _ => break,
        }
        if dims.len() > 6 {
            return Err("arrays have at most 6 dimensions".into());
        }
    }
    if items.is_empty() {
        dims.clear();
    }
    out.put_i32(dims.len() as i32);
    let has_null_at = out.len();
    out.put_i32(0);
    out.put_u32(elem);
    for &d in &dims {
        out.put_i32(i32::try_from(d).map_err(|_| "array too long")?);
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
    elem: Oid,
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
        if rest.is_empty() {
            if matches!(item, Value::Null) {
                *has_null = true;
                out.put_i32(-1);
                continue;
            }
            let at = out.len();
            out.put_i32(0);
            encode_binary(item, elem, out)?;
            let n = (out.len() - at - 4) as i32;
            out[at..at + 4].copy_from_slice(&n.to_be_bytes());
        } else {
            let Value::List(inner) = item else {
                return Err(
                    "multi-dimensional arrays must have sub-arrays of matching length".into(),
                );
            };
            write_elements(inner, rest, elem, out, has_null)?;
        }
    }
    Ok(())
}

/// The text form, for types ferrule has no binary codec for: the server parses it with the
/// type's own input function, so the value still travels as data, never as SQL.
pub(crate) fn encode_text(value: &Value, out: &mut BytesMut) -> Result<(), BoxError> {
    match value {
        Value::Text(s) => put_text(s, out)?,
        Value::Decimal(s) | Value::BigInt(s) | Value::Json(s) => out.put_slice(s.as_bytes()),
        Value::Bool(b) => out.put_slice(if *b { b"t" } else { b"f" }),
        Value::Int(i) => out.put_slice(i.to_string().as_bytes()),
        Value::Float(f) => out.put_slice(float_repr(*f).as_bytes()),
        Value::Bytes(b) => {
            out.put_slice(b"\\x");
            for byte in b {
                out.put_slice(format!("{byte:02x}").as_bytes());
            }
        }
        Value::Uuid(u) => out.put_slice(format_uuid(u).as_bytes()),
        // An array of a type ferrule has no codec for (enums, domains): its text literal.
        Value::List(items) => write_array_literal(items, out)?,
        v => {
            return Err(format!(
                "a {} cannot be sent to a type without a binary codec; pass a str",
                v.kind()
            )
            .into())
        }
    }
    Ok(())
}

/// `{"a","b",NULL,{"c"}}`: every element quoted (backslash before `"` and `\`), so no
/// element text can change the literal's structure; nested lists are sub-arrays.
fn write_array_literal(items: &[Value], out: &mut BytesMut) -> Result<(), BoxError> {
    out.put_u8(b'{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        match item {
            Value::Null => out.put_slice(b"NULL"),
            Value::List(inner) => write_array_literal(inner, out)?,
            v => {
                let mut text = BytesMut::new();
                encode_text(v, &mut text)?;
                out.put_u8(b'"');
                for &byte in text.iter() {
                    if byte == b'"' || byte == b'\\' {
                        out.put_u8(b'\\');
                    }
                    out.put_u8(byte);
                }
                out.put_u8(b'"');
            }
        }
    }
    out.put_u8(b'}');
    Ok(())
}

fn format_uuid(u: &[u8; 16]) -> String {
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn parse_uuid(s: &str) -> Result<[u8; 16], BoxError> {
    let hex: Vec<u8> = s.bytes().filter(|b| *b != b'-').collect();
    let hex = hex.strip_prefix(b"{").unwrap_or(&hex);
    let hex = hex.strip_suffix(b"}").unwrap_or(hex);
    if hex.len() != 32 {
        return Err(format!("{s:?} is not a UUID").into());
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).map_err(|_| format!("{s:?} is not a UUID"))?;
        out[i] = u8::from_str_radix(text, 16).map_err(|_| format!("{s:?} is not a UUID"))?;
    }
    Ok(out)
}

/// JSON text for a json/jsonb parameter: a str is taken as JSON text already (as asyncpg
/// does); lists, dicts and scalars are serialized.
fn write_json(value: &Value, out: &mut BytesMut) -> Result<(), BoxError> {
    match value {
        Value::Text(s) | Value::Json(s) => out.put_slice(s.as_bytes()),
        v => {
            let mut s = String::new();
            json_serialize(v, &mut s)?;
            out.put_slice(s.as_bytes());
        }
    }
    Ok(())
}

fn json_serialize(v: &Value, s: &mut String) -> Result<(), BoxError> {
    use std::fmt::Write;
    match v {
        Value::Null => s.push_str("null"),
        Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => write!(s, "{i}")?,
        Value::BigInt(d) | Value::Decimal(d) => s.push_str(d),
        Value::Float(f) if f.is_finite() => write!(s, "{f:?}")?,
        Value::Float(_) => return Err("NaN and infinities are not valid JSON".into()),
        Value::Text(t) => json_string(t, s),
        Value::Json(raw) => s.push_str(raw),
        Value::List(items) => {
            s.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                json_serialize(item, s)?;
            }
            s.push(']');
        }
        Value::Map(entries) => {
            s.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                json_string(k, s);
                s.push(':');
                json_serialize(item, s)?;
            }
            s.push('}');
        }
        other => return Err(format!("a {} is not JSON serializable", other.kind()).into()),
    }
    Ok(())
}

fn json_string(t: &str, s: &mut String) {
    use std::fmt::Write;
    s.push('"');
    for c in t.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

/// Encodes a decimal string (`-12.3400`, `NaN`, `Infinity`, `1E+5`) as binary numeric.
pub fn encode_numeric(text: &str, out: &mut BytesMut) -> Result<(), BoxError> {
    let t = text.trim();
    let special = match t {
        "NaN" | "nan" => Some(0xC000u16),
        "Infinity" | "inf" | "+Infinity" => Some(0xD000),
        "-Infinity" | "-inf" => Some(0xF000),
        _ => None,
    };
    if let Some(sign) = special {
        out.put_i16(0);
        out.put_i16(0);
        out.put_u16(sign);
        out.put_u16(0);
        return Ok(());
    }
    let bad = || -> BoxError { format!("{text:?} is not a decimal number").into() };
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // All digits with the decimal point position, then shifted by the exponent.
    let mut digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|b| b - b'0')
        .collect();
    let mut point = int_part.len() as i64 + i64::from(exp);
    let dscale = (frac_part.len() as i64 - i64::from(exp)).max(0);
    if dscale > 16383 || point.abs() > 131072 {
        return Err(format!("{text:?} is out of range for numeric").into());
    }
    // Pad so that the point falls on a base-10000 group boundary on both sides.
    if point < 0 {
        let pad = (-point) as usize;
        digits.splice(0..0, std::iter::repeat_n(0, pad));
        point = 0;
    }
    while (digits.len() as i64) < point {
        digits.push(0);
    }
    let lead = ((4 - point % 4) % 4) as usize;
    digits.splice(0..0, std::iter::repeat_n(0, lead));
    let point = point + lead as i64;
    while !digits.len().is_multiple_of(4) {
        digits.push(0);
    }
    let mut groups: Vec<i16> = digits
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + i16::from(*d)))
        .collect();
    let mut weight = point / 4 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i16(groups.len() as i16);
    out.put_i16(weight as i16);
    out.put_u16(if neg && !groups.is_empty() { 0x4000 } else { 0 });
    out.put_u16(dscale as u16);
    for g in groups {
        out.put_i16(g);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(s: &str) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode_numeric(s, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn numeric_golden_bytes() {
        // 12345.678: groups 1, 2345, 6780; weight 1; scale 3.
        assert_eq!(
            numeric("12345.678"),
            vec![0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]
        );
        assert_eq!(numeric("0"), vec![0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            numeric("-0.5"),
            vec![0, 1, 0xff, 0xff, 0x40, 0, 0, 1, 0x13, 0x88]
        );
        assert_eq!(numeric("NaN"), vec![0, 0, 0, 0, 0xC0, 0, 0, 0]);
        assert_eq!(numeric("1E+4"), vec![0, 1, 0, 1, 0, 0, 0, 0, 0, 1]);
        assert!(encode_numeric("12a", &mut BytesMut::new()).is_err());
        assert!(encode_numeric("", &mut BytesMut::new()).is_err());
    }

    #[test]
    fn array_literal_quotes_every_element() {
        let mut b = BytesMut::new();
        let items = vec![
            Value::Text("a\"b".into()),
            Value::Null,
            Value::List(vec![Value::Text("{},\\".into()), Value::Int(3)]),
        ];
        write_array_literal(&items, &mut b).unwrap();
        assert_eq!(&b[..], br#"{"a\"b",NULL,{"{},\\","3"}}"#);
    }

    #[test]
    fn uuid_parse_roundtrip() {
        let u = parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").unwrap();
        assert_eq!(format_uuid(&u), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        assert!(parse_uuid("nope").is_err());
    }

    #[test]
    fn json_escapes() {
        let mut s = String::new();
        json_serialize(
            &Value::Map(vec![(
                "a\"b".into(),
                Value::List(vec![Value::Int(1), Value::Null]),
            )]),
            &mut s,
        )
        .unwrap();
        assert_eq!(s, r#"{"a\"b":[1,null]}"#);
    }
}
