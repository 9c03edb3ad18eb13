//! Bulk load (MS-TDS 2.2.6.1): `INSERT BULK` names the target, then a BULK LOAD message
//! carries COLMETADATA, the rows encoded in the columns' own types, and DONE.

use bytes::{BufMut, BytesMut};
use ferrule_core::calendar::MICROS_PER_DAY;
use ferrule_core::{Error, Value};

use crate::conn::{batch_message, CallCtl, TdsConnection};
use crate::decode::code_page;
use crate::job::Message;
use crate::packet::kind;
use crate::params::{guid_bytes, parse_decimal, put_date, put_plp, put_plp_null};
use crate::token::Column;
use crate::types::{code, time_len, LenKind, TypeInfo};
use crate::wire::{put_b_varchar, put_utf16, utf16_len};

/// `[part]` with `]` doubled: a name is never pasted unquoted into SQL text.
pub fn quote_ident(part: &str) -> String {
    format!("[{}]", part.replace(']', "]]"))
}

/// Splits `db.schema.table` (parts may be bracketed or double-quoted) and quotes each part.
pub fn quote_multipart(name: &str) -> Result<String, Error> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' | '"' if cur.is_empty() => {
                let close = if c == '[' { ']' } else { '"' };
                loop {
                    match chars.next() {
                        Some(x) if x == close && chars.peek() == Some(&close) => {
                            chars.next();
                            cur.push(close);
                        }
                        Some(x) if x == close => break,
                        Some(x) => cur.push(x),
                        None => {
                            return Err(Error::interface(format!("unclosed quote in {name:?}")))
                        }
                    }
                }
                if !matches!(chars.peek(), None | Some('.')) {
                    return Err(Error::interface(format!("bad table name {name:?}")));
                }
            }
            '.' => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    if parts.iter().any(|p| p.is_empty()) || parts.len() > 4 {
        return Err(Error::interface(format!("bad table name {name:?}")));
    }
    Ok(parts
        .iter()
        .map(|p| quote_ident(p))
        .collect::<Vec<_>>()
        .join("."))
}

fn put_type_info(out: &mut BytesMut, col: &Column) -> Result<(), Error> {
    let ti = &col.type_info;
    out.put_u8(ti.code);
    match ti.len_kind {
        LenKind::Fixed(_) => {}
        LenKind::Byte => match ti.code {
            code::DATEN => {}
            code::TIMEN | code::DATETIME2N | code::DATETIMEOFFSETN => out.put_u8(ti.scale),
            code::DECIMAL | code::NUMERIC | code::DECIMALN | code::NUMERICN => {
                out.extend_from_slice(&[ti.max_len as u8, ti.precision, ti.scale]);
            }
            _ => out.put_u8(ti.max_len as u8),
        },
        LenKind::UShort | LenKind::Plp if ti.code != code::XML => {
            out.put_u16_le(ti.max_len as u16);
            if let Some(c) = ti.collation {
                out.extend_from_slice(&c);
            }
        }
        LenKind::Plp => out.put_u8(0),
        _ => {
            return Err(unsupported(&col.name, ti));
        }
    }
    Ok(())
}

fn unsupported(name: &str, ti: &TypeInfo) -> Error {
    Error::new(
        ferrule_core::ErrorKind::NotSupported,
        format!(
            "bulk load into column {name:?} of type {} is not supported",
            ti.sql_name()
        ),
    )
}

/// The BULK LOAD payload: COLMETADATA, one ROW per record, DONE.
pub fn bulk_payload(columns: &[Column], rows: &[Vec<Value>]) -> Result<BytesMut, Error> {
    let mut out = BytesMut::with_capacity(64 + rows.len() * columns.len() * 8);
    out.put_u8(0x81);
    out.put_u16_le(columns.len() as u16);
    for col in columns {
        out.put_u32_le(0);
        out.put_u16_le(col.flags);
        put_type_info(&mut out, col)?;
        put_b_varchar(&mut out, &col.name)?;
    }
    for (r, row) in rows.iter().enumerate() {
        if row.len() != columns.len() {
            return Err(Error::interface(format!(
                "record {r} has {} values for {} columns",
                row.len(),
                columns.len()
            )));
        }
        out.put_u8(0xD1);
        for (col, v) in columns.iter().zip(row) {
            put_value(&mut out, col, v).map_err(|mut e| {
                e.message = format!("record {r}, column {:?}: {}", col.name, e.message);
                e
            })?;
        }
    }
    out.extend_from_slice(&[0xFD, 0, 0, 0, 0]);
    out.put_u64_le(rows.len() as u64);
    Ok(out)
}

fn mismatch(ti: &TypeInfo, v: &Value) -> Error {
    Error::interface(format!(
        "a {} cannot be stored in a {} column",
        v.kind(),
        ti.sql_name()
    ))
}

fn put_null(out: &mut BytesMut, col: &Column) -> Result<(), Error> {
    match col.type_info.len_kind {
        LenKind::Fixed(_) => return Err(Error::interface("the column is NOT NULL")),
        LenKind::Byte => out.put_u8(0),
        LenKind::UShort => out.put_u16_le(0xFFFF),
        LenKind::Plp => put_plp_null(out),
        _ => return Err(Error::interface("unsupported column type")),
    }
    Ok(())
}

/// Writes a length prefix (for nullable types) then `data`.
fn put_sized(out: &mut BytesMut, ti: &TypeInfo, data: &[u8]) -> Result<(), Error> {
    match ti.len_kind {
        LenKind::Fixed(n) if n as usize == data.len() => {}
        LenKind::Byte => out.put_u8(data.len() as u8),
        LenKind::UShort => {
            if data.len() > ti.max_len as usize {
                return Err(Error::interface(format!(
                    "{} bytes do not fit a {} column",
                    data.len(),
                    ti.sql_name()
                )));
            }
            out.put_u16_le(data.len() as u16);
        }
        LenKind::Plp => {
            put_plp(out, data);
            return Ok(());
        }
        _ => return Err(Error::interface("unsupported column type")),
    }
    out.extend_from_slice(data);
    Ok(())
}

fn int_bytes(ti: &TypeInfo, i: i64) -> Result<Vec<u8>, Error> {
    let size = match ti.len_kind {
        LenKind::Fixed(n) => n,
        _ => ti.max_len as u8,
    };
    let range = || Error::interface(format!("{i} is out of range for {}", ti.sql_name()));
    Ok(match size {
        1 => vec![u8::try_from(i).map_err(|_| range())?],
        2 => i16::try_from(i)
            .map_err(|_| range())?
            .to_le_bytes()
            .to_vec(),
        4 => i32::try_from(i)
            .map_err(|_| range())?
            .to_le_bytes()
            .to_vec(),
        _ => i.to_le_bytes().to_vec(),
    })
}

/// The decimal text of `v` for numeric targets.
fn numeric_text(ti: &TypeInfo, v: &Value) -> Result<String, Error> {
    Ok(match v {
        Value::Int(i) => i.to_string(),
        Value::BigInt(s) | Value::Decimal(s) => s.clone(),
        Value::Float(f) if f.is_finite() => format!("{f}"),
        Value::Bool(b) => u8::from(*b).to_string(),
        _ => return Err(mismatch(ti, v)),
    })
}

/// Rescales to `scale`, rounding half away from zero.
fn rescale(text: &str, scale: u8) -> Result<(bool, u128), Error> {
    let (neg, mut mag, s) = parse_decimal(text)?;
    if s < scale {
        mag = mag
            .checked_mul(10u128.pow(u32::from(scale - s)))
            .ok_or_else(|| Error::interface(format!("{text} is too large")))?;
    } else if s > scale {
        let div = 10u128.pow(u32::from(s - scale));
        mag = mag / div + u128::from(mag % div * 2 >= div);
    }
    Ok((neg, mag))
}

fn put_value(out: &mut BytesMut, col: &Column, v: &Value) -> Result<(), Error> {
    let ti = &col.type_info;
    if *v == Value::Null {
        return put_null(out, col);
    }
    match ti.code {
        code::INT1 | code::INT2 | code::INT4 | code::INT8 | code::INTN => {
            let i = match v {
                Value::Int(i) => *i,
                Value::Bool(b) => i64::from(*b),
                _ => return Err(mismatch(ti, v)),
            };
            put_sized(out, ti, &int_bytes(ti, i)?)
        }
        code::BIT | code::BITN => {
            let b = match v {
                Value::Bool(b) => *b,
                Value::Int(i) => *i != 0,
                _ => return Err(mismatch(ti, v)),
            };
            put_sized(out, ti, &[u8::from(b)])
        }
        code::FLT4 | code::FLT8 | code::FLTN => {
            let f = match v {
                Value::Float(f) => *f,
                Value::Int(i) => *i as f64,
                Value::Decimal(s) => s.parse().map_err(|_| mismatch(ti, v))?,
                _ => return Err(mismatch(ti, v)),
            };
            if ti.max_len == 4 {
                put_sized(out, ti, &(f as f32).to_le_bytes())
            } else {
                put_sized(out, ti, &f.to_le_bytes())
            }
        }
        code::DECIMAL | code::NUMERIC | code::DECIMALN | code::NUMERICN => {
            let (neg, mag) = rescale(&numeric_text(ti, v)?, ti.scale)?;
            if mag >= 10u128.pow(u32::from(ti.precision)) {
                return Err(Error::interface(format!(
                    "value does not fit {}",
                    ti.sql_name()
                )));
            }
            let size = match ti.precision {
                1..=9 => 4,
                10..=19 => 8,
                20..=28 => 12,
                _ => 16,
            };
            let mut data = vec![u8::from(!neg || mag == 0)];
            data.extend_from_slice(&mag.to_le_bytes()[..size]);
            put_sized(out, ti, &data)
        }
        code::MONEY | code::MONEY4 | code::MONEYN => {
            let (neg, mag) = rescale(&numeric_text(ti, v)?, 4)?;
            let units = i64::try_from(mag).map_err(|_| mismatch(ti, v))?;
            let units = if neg { -units } else { units };
            if ti.max_len == 4 {
                let small = i32::try_from(units).map_err(|_| mismatch(ti, v))?;
                put_sized(out, ti, &small.to_le_bytes())
            } else {
                let mut data = ((units >> 32) as i32).to_le_bytes().to_vec();
                data.extend_from_slice(&(units as u32).to_le_bytes());
                put_sized(out, ti, &data)
            }
        }
        code::GUID => match v {
            Value::Uuid(u) => put_sized(out, ti, &guid_bytes(u)),
            _ => Err(mismatch(ti, v)),
        },
        code::DATEN => {
            let days = match v {
                Value::Date(d) => i64::from(*d),
                Value::DateTime { micros, .. } => micros.div_euclid(MICROS_PER_DAY),
                _ => return Err(mismatch(ti, v)),
            };
            let mut data = BytesMut::new();
            put_date(&mut data, days)?;
            put_sized(out, ti, &data)
        }
        code::TIMEN => match v {
            Value::Time {
                micros,
                offset: None,
            } => put_sized(out, ti, &time_bytes(*micros, ti.scale)),
            _ => Err(mismatch(ti, v)),
        },
        code::DATETIME2N | code::DATETIMEOFFSETN => {
            let (micros, offset) = match v {
                Value::DateTime { micros, offset } => (*micros, *offset),
                Value::Date(d) => (i64::from(*d) * MICROS_PER_DAY, None),
                _ => return Err(mismatch(ti, v)),
            };
            let mut data = BytesMut::new();
            data.extend_from_slice(&time_bytes(micros.rem_euclid(MICROS_PER_DAY), ti.scale));
            put_date(&mut data, micros.div_euclid(MICROS_PER_DAY))?;
            if ti.code == code::DATETIMEOFFSETN {
                data.put_i16_le((offset.unwrap_or(0) / 60) as i16);
            }
            put_sized(out, ti, &data)
        }
        code::DATETIME | code::DATETIM4 | code::DATETIMN => {
            let micros = match v {
                Value::DateTime { micros, .. } => *micros,
                Value::Date(d) => i64::from(*d) * MICROS_PER_DAY,
                _ => return Err(mismatch(ti, v)),
            };
            let days = micros.div_euclid(MICROS_PER_DAY) + 25_567;
            let in_day = micros.rem_euclid(MICROS_PER_DAY);
            if ti.max_len == 4 {
                let minutes = (in_day + 30_000_000) / 60_000_000;
                let data: Vec<u8> =
                    [(days as u16).to_le_bytes(), (minutes as u16).to_le_bytes()].concat();
                put_sized(out, ti, &data)
            } else {
                let ticks = (in_day * 3 + 5_000) / 10_000;
                let data: Vec<u8> =
                    [(days as i32).to_le_bytes(), (ticks as u32).to_le_bytes()].concat();
                put_sized(out, ti, &data)
            }
        }
        code::NVARCHAR | code::NCHAR | code::XML => {
            let s = text_of(ti, v)?;
            let mut data = BytesMut::with_capacity(utf16_len(s) * 2);
            put_utf16(&mut data, s);
            put_sized(out, ti, &data)
        }
        code::BIGVARCHAR | code::BIGCHAR => {
            let s = text_of(ti, v)?;
            let data = match code_page(ti.collation.as_ref()) {
                65001 => s.as_bytes().to_vec(),
                1252 => encode_cp1252(s)?,
                _ if s.is_ascii() => s.as_bytes().to_vec(),
                cp => {
                    return Err(Error::interface(format!(
                        "non-ASCII text into a varchar column of code page {cp}: use nvarchar"
                    )))
                }
            };
            put_sized(out, ti, &data)
        }
        code::BIGVARBINARY | code::BIGBINARY => match v {
            Value::Bytes(b) => put_sized(out, ti, b),
            _ => Err(mismatch(ti, v)),
        },
        _ => Err(unsupported(&col.name, ti)),
    }
}

fn text_of<'a>(ti: &TypeInfo, v: &'a Value) -> Result<&'a str, Error> {
    match v {
        Value::Text(s) | Value::Json(s) => Ok(s),
        _ => Err(mismatch(ti, v)),
    }
}

fn time_bytes(micros: i64, scale: u8) -> Vec<u8> {
    let units = match scale {
        7 => micros as u64 * 10,
        s => micros as u64 / 10u64.pow(6 - u32::from(s.min(6))),
    };
    units.to_le_bytes()[..time_len(scale) as usize].to_vec()
}

fn encode_cp1252(s: &str) -> Result<Vec<u8>, Error> {
    s.chars()
        .map(|c| {
            let u = c as u32;
            if u < 0x80 || (0xA0..=0xFF).contains(&u) {
                return Ok(u as u8);
            }
            (0x80u8..=0x9F)
                .find(|b| crate::decode::cp1252(&[*b]).starts_with(c))
                .ok_or_else(|| {
                    Error::interface(format!("{c:?} has no code in code page 1252: use nvarchar"))
                })
        })
        .collect()
}

impl TdsConnection {
    /// Loads `rows` into `table` with BULK LOAD. `columns` picks and orders the target
    /// columns (all, in table order, when None). Returns the number of rows loaded.
    pub async fn bulk_load(
        &self,
        table: &str,
        columns: Option<&[String]>,
        rows: &[Vec<Value>],
        ctl: &CallCtl,
    ) -> Result<u64, Error> {
        let target = quote_multipart(table)?;
        let list = match columns {
            Some(cols) if !cols.is_empty() => cols
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            _ => "*".to_owned(),
        };
        let probe = self
            .batch(&format!("SELECT TOP 0 {list} FROM {target}"), false, ctl)
            .await?;
        let cols = probe
            .result_sets
            .first()
            .map(|s| s.columns.clone())
            .ok_or_else(|| Error::protocol("no column metadata for the bulk load target"))?;
        let decl = cols
            .iter()
            .map(|c| format!("{} {}", quote_ident(&c.name), c.type_info.sql_name()))
            .collect::<Vec<_>>()
            .join(", ");
        let payload = bulk_payload(&cols, rows)?;
        let insert = batch_message(&format!("INSERT BULK {target} ({decl})"));
        let load = Message {
            kind: kind::BULK_LOAD,
            payload,
            has_headers: false,
        };
        let resp = self.roundtrip(vec![insert, load], true, ctl).await?;
        Ok(resp.rows_affected.unwrap_or(rows.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ti: TypeInfo) -> Column {
        Column {
            name: name.into(),
            type_info: ti,
            user_type: 0,
            flags: 1,
        }
    }

    #[test]
    fn identifiers() {
        assert_eq!(quote_multipart("dbo.t").unwrap(), "[dbo].[t]");
        assert_eq!(
            quote_multipart("[my.db].\"x\"\"y\".[a]]b]").unwrap(),
            "[my.db].[x\"y].[a]]b]"
        );
        assert_eq!(
            quote_multipart("t]; DROP TABLE x--").unwrap(),
            "[t]]; DROP TABLE x--]"
        );
        assert!(quote_multipart("a..b").is_err());
        assert!(quote_multipart("[a").is_err());
    }

    #[test]
    fn payload_golden() {
        let cols = [
            col(
                "id",
                TypeInfo {
                    max_len: 4,
                    len_kind: LenKind::Byte,
                    ..TypeInfo::fixed(code::INTN, 4)
                },
            ),
            col(
                "d",
                TypeInfo {
                    precision: 5,
                    scale: 2,
                    max_len: 5,
                    len_kind: LenKind::Byte,
                    ..TypeInfo::fixed(code::DECIMALN, 0)
                },
            ),
        ];
        let rows = vec![
            vec![Value::Int(1), Value::Decimal("1.005".into())],
            vec![Value::Null, Value::Null],
        ];
        let p = bulk_payload(&cols, &rows).unwrap();
        let mut e = vec![0x81, 2, 0, 0, 0, 0, 0, 1, 0, 0x26, 4, 2, b'i', 0, b'd', 0];
        e.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0x6A, 5, 5, 2, 1, b'd', 0]);
        // 1.005 rounds to 1.01 at scale 2: 101.
        e.extend_from_slice(&[0xD1, 4, 1, 0, 0, 0, 5, 1, 101, 0, 0, 0]);
        e.extend_from_slice(&[0xD1, 0, 0]);
        e.extend_from_slice(&[0xFD, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&p[..], &e[..]);
        let bad = vec![vec![Value::Text("x".into()), Value::Null]];
        assert!(bulk_payload(&cols, &bad)
            .unwrap_err()
            .message
            .contains("record 0"));
        let too_big = vec![vec![Value::Int(1), Value::Decimal("1000".into())]];
        assert!(bulk_payload(&cols, &too_big).is_err());
    }

    #[test]
    fn varchar_and_datetime() {
        let vc = col(
            "s",
            TypeInfo {
                code: code::BIGVARCHAR,
                len_kind: LenKind::UShort,
                max_len: 10,
                precision: 0,
                scale: 0,
                collation: Some([9, 4, 0xD0, 0, 0x34]),
            },
        );
        let mut out = BytesMut::new();
        put_value(&mut out, &vc, &Value::Text("€é".into())).unwrap();
        assert_eq!(&out[..], &[2, 0, 0x80, 0xE9]);
        assert!(put_value(&mut BytesMut::new(), &vc, &Value::Text("😀".into())).is_err());
        let dt = col(
            "t",
            TypeInfo {
                len_kind: LenKind::Byte,
                max_len: 8,
                ..TypeInfo::fixed(code::DATETIMN, 8)
            },
        );
        let mut out = BytesMut::new();
        put_value(
            &mut out,
            &dt,
            &Value::DateTime {
                micros: 1_000_000,
                offset: None,
            },
        )
        .unwrap();
        assert_eq!(&out[..], &[8, 0xDF, 0x63, 0, 0, 0x2C, 1, 0, 0]);
    }
}
