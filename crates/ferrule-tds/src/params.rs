//! Bound parameters: each `Value` is written as an RPC parameter (TYPE_INFO and value) with
//! the T-SQL declaration `sp_executesql` needs. Values never become SQL text.

use bytes::{BufMut, BytesMut};
use ferrule_core::calendar::MICROS_PER_DAY;
use ferrule_core::{Error, Value};

use crate::types::code;
use crate::wire::{put_b_varchar, put_utf16, utf16_len};

/// Latin1_General_CI_AS, sent with character parameters (the server converts as needed).
pub const DEFAULT_COLLATION: [u8; 5] = [0x09, 0x04, 0xD0, 0x00, 0x34];
/// Days from 0001-01-01 to 1970-01-01.
pub const DAYS_TO_UNIX_EPOCH: i64 = 719_162;
const MAX_DATE_DAYS: i64 = 3_652_058;
const PLP_UNKNOWN_LEN: u64 = 0xFFFF_FFFF_FFFF_FFFE;

/// One parameter of an RPC call.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// `@name`, or empty for a positional parameter of a procedure.
    pub name: String,
    pub value: Value,
    /// An OUTPUT parameter.
    pub output: bool,
    /// The declared type for a NULL (or an output parameter with no value), as T-SQL.
    pub type_hint: Option<String>,
}

impl Param {
    pub fn positional(i: usize, value: Value) -> Param {
        Param {
            name: format!("@p{}", i + 1),
            value,
            output: false,
            type_hint: None,
        }
    }
}

/// Writes `p` as an RPC parameter and returns its T-SQL type.
pub fn encode_param(out: &mut BytesMut, p: &Param) -> Result<String, Error> {
    put_b_varchar(out, &p.name)?;
    out.put_u8(u8::from(p.output));
    let where_ = || {
        if p.name.is_empty() {
            "parameter".to_owned()
        } else {
            p.name.clone()
        }
    };
    if p.value == Value::Null {
        if let Some(hint) = &p.type_hint {
            return encode_typed_null(out, hint).map_err(|e| at(e, &where_()));
        }
    }
    encode_value(out, &p.value).map_err(|e| at(e, &where_()))
}

fn at(mut e: Error, name: &str) -> Error {
    e.message = format!("cannot bind {name}: {}", e.message);
    e
}

/// TYPE_INFO and value of `v`; returns the declaration.
pub fn encode_value(out: &mut BytesMut, v: &Value) -> Result<String, Error> {
    Ok(match v {
        Value::Null => {
            nvarchar_type(out, 8000);
            out.put_u16_le(0xFFFF);
            "nvarchar(4000)".into()
        }
        Value::Bool(b) => {
            out.extend_from_slice(&[code::BITN, 1, 1, u8::from(*b)]);
            "bit".into()
        }
        Value::Int(i) => match i32::try_from(*i) {
            Ok(small) => {
                out.extend_from_slice(&[code::INTN, 4, 4]);
                out.put_i32_le(small);
                "int".into()
            }
            Err(_) => {
                out.extend_from_slice(&[code::INTN, 8, 8]);
                out.put_i64_le(*i);
                "bigint".into()
            }
        },
        Value::BigInt(digits) => encode_decimal(out, digits)?,
        Value::Decimal(text) => encode_decimal(out, text)?,
        Value::Float(f) => {
            out.extend_from_slice(&[code::FLTN, 8, 8]);
            out.put_f64_le(*f);
            "float".into()
        }
        Value::Text(s) | Value::Json(s) => encode_text(out, s),
        Value::Bytes(b) => {
            if b.len() <= 8000 {
                out.extend_from_slice(&[code::BIGVARBINARY, 0x40, 0x1F]);
                out.put_u16_le(b.len() as u16);
                out.extend_from_slice(b);
                "varbinary(8000)".into()
            } else {
                out.extend_from_slice(&[code::BIGVARBINARY, 0xFF, 0xFF]);
                put_plp(out, b);
                "varbinary(max)".into()
            }
        }
        Value::Uuid(u) => {
            out.extend_from_slice(&[code::GUID, 16, 16]);
            out.extend_from_slice(&guid_bytes(u));
            "uniqueidentifier".into()
        }
        Value::Date(days) => {
            out.extend_from_slice(&[code::DATEN, 3]);
            put_date(out, i64::from(*days))?;
            "date".into()
        }
        Value::Time {
            micros,
            offset: None,
        } => {
            out.extend_from_slice(&[code::TIMEN, 7, 5]);
            put_time7(out, *micros);
            "time(7)".into()
        }
        Value::Time {
            offset: Some(_), ..
        } => {
            return Err(Error::interface(
                "SQL Server has no time with a time zone: pass a naive time, or a datetime",
            ))
        }
        Value::DateTime {
            micros,
            offset: None,
        } => {
            out.extend_from_slice(&[code::DATETIME2N, 7, 8]);
            put_time7(out, micros.rem_euclid(MICROS_PER_DAY));
            put_date(out, micros.div_euclid(MICROS_PER_DAY))?;
            "datetime2(7)".into()
        }
        Value::DateTime {
            micros,
            offset: Some(off),
        } => {
            if off % 60 != 0 {
                return Err(Error::interface(format!(
                    "a UTC offset of {off} seconds is not a whole number of minutes, which \
                     datetimeoffset needs"
                )));
            }
            out.extend_from_slice(&[code::DATETIMEOFFSETN, 7, 10]);
            put_time7(out, micros.rem_euclid(MICROS_PER_DAY));
            put_date(out, micros.div_euclid(MICROS_PER_DAY))?;
            out.put_i16_le((off / 60) as i16);
            "datetimeoffset(7)".into()
        }
        Value::Inet {
            addr,
            prefix,
            is_network,
        } => {
            let text = match addr.len() {
                4 => std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
                16 => {
                    let a: [u8; 16] = addr.as_slice().try_into().unwrap_or([0; 16]);
                    std::net::Ipv6Addr::from(a).to_string()
                }
                _ => return Err(Error::interface("malformed IP address")),
            };
            let full = if addr.len() == 4 { 32 } else { 128 };
            let text = if *is_network || *prefix != full {
                format!("{text}/{prefix}")
            } else {
                text
            };
            encode_text(out, &text)
        }
        Value::Interval { .. } => {
            return Err(Error::interface(
                "SQL Server has no interval type: bind a number of seconds or a time",
            ))
        }
        Value::List(_) | Value::Map(_) => {
            return Err(Error::interface(format!(
                "a {} cannot be bound as one SQL Server value (table-valued parameters are not \
                 supported)",
                v.kind()
            )))
        }
    })
}

fn nvarchar_type(out: &mut BytesMut, max_bytes: u16) {
    out.put_u8(code::NVARCHAR);
    out.put_u16_le(max_bytes);
    out.extend_from_slice(&DEFAULT_COLLATION);
}

fn encode_text(out: &mut BytesMut, s: &str) -> String {
    let units = utf16_len(s);
    if units <= 4000 {
        nvarchar_type(out, 8000);
        out.put_u16_le((units * 2) as u16);
        put_utf16(out, s);
        "nvarchar(4000)".into()
    } else {
        nvarchar_type(out, 0xFFFF);
        let mut data = BytesMut::with_capacity(units * 2);
        put_utf16(&mut data, s);
        put_plp(out, &data);
        "nvarchar(max)".into()
    }
}

/// A PLP value in one chunk.
pub fn put_plp(out: &mut BytesMut, data: &[u8]) {
    out.put_u64_le(data.len() as u64);
    if !data.is_empty() {
        out.put_u32_le(data.len() as u32);
        out.extend_from_slice(data);
    }
    out.put_u32_le(0);
}

/// A PLP NULL.
pub fn put_plp_null(out: &mut BytesMut) {
    out.put_u64_le(u64::MAX);
}

/// A PLP value of unknown total length, as bulk load may send.
pub fn put_plp_unknown(out: &mut BytesMut, data: &[u8]) {
    out.put_u64_le(PLP_UNKNOWN_LEN);
    for chunk in data.chunks(u32::MAX as usize) {
        out.put_u32_le(chunk.len() as u32);
        out.extend_from_slice(chunk);
    }
    out.put_u32_le(0);
}

/// The SQL Server byte order of a UUID: the first three groups little-endian.
pub fn guid_bytes(u: &[u8; 16]) -> [u8; 16] {
    let mut g = *u;
    g[0..4].reverse();
    g[4..6].reverse();
    g[6..8].reverse();
    g
}

/// Three bytes of days since 0001-01-01, from days since 1970-01-01.
pub fn put_date(out: &mut BytesMut, unix_days: i64) -> Result<(), Error> {
    let days = unix_days + DAYS_TO_UNIX_EPOCH;
    if !(0..=MAX_DATE_DAYS).contains(&days) {
        return Err(Error::interface("date outside 0001-01-01 .. 9999-12-31"));
    }
    out.extend_from_slice(&(days as u32).to_le_bytes()[..3]);
    Ok(())
}

/// Five bytes of 100-nanosecond units since midnight (scale 7).
pub fn put_time7(out: &mut BytesMut, micros: i64) {
    let ticks = (micros as u64) * 10;
    out.extend_from_slice(&ticks.to_le_bytes()[..5]);
}

/// Splits a decimal's text into (negative, unscaled magnitude, scale).
pub fn parse_decimal(text: &str) -> Result<(bool, u128, u8), Error> {
    let invalid = || Error::interface(format!("{text:?} is not a decimal SQL Server can store"));
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (
            &body[..i],
            body[i + 1..].parse::<i32>().map_err(|_| invalid())?,
        ),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    let mut digits: String = format!("{int_part}{frac_part}");
    let mut scale = frac_part.len() as i32 - exp;
    if scale < 0 {
        digits.extend(std::iter::repeat_n('0', (-scale) as usize));
        scale = 0;
    }
    let digits = digits.trim_start_matches('0');
    let significant = digits.len();
    if scale > 38 || significant > 38 {
        return Err(Error::interface(format!(
            "{text:?} needs more than 38 digits, the most a SQL Server decimal holds"
        )));
    }
    let magnitude = if digits.is_empty() {
        0
    } else {
        digits.parse::<u128>().map_err(|_| invalid())?
    };
    Ok((neg && magnitude != 0, magnitude, scale as u8))
}

fn encode_decimal(out: &mut BytesMut, text: &str) -> Result<String, Error> {
    if text.contains("NaN") || text.contains("Inf") {
        return Err(Error::interface(format!(
            "SQL Server decimals cannot hold {text}"
        )));
    }
    let (neg, magnitude, scale) = parse_decimal(text)?;
    out.extend_from_slice(&[code::NUMERICN, 17, 38, scale, 17, u8::from(!neg)]);
    out.put_u128_le(magnitude);
    Ok(format!("decimal(38,{scale})"))
}

/// A NULL of the T-SQL type `hint` (`int`, `nvarchar(max)`, `decimal(18,2)`, ...).
pub fn encode_typed_null(out: &mut BytesMut, hint: &str) -> Result<String, Error> {
    let lower = hint.trim().to_ascii_lowercase();
    let (base, args) = match lower.split_once('(') {
        Some((b, rest)) => (b.trim(), Some(rest.trim_end_matches(')').trim())),
        None => (lower.as_str(), None),
    };
    let size = |default: u16, per: u16| -> Result<u16, Error> {
        match args {
            None => Ok(default * per),
            Some("max") => Ok(0xFFFF),
            Some(n) => n
                .parse::<u16>()
                .ok()
                .filter(|n| *n >= 1 && u32::from(*n) * u32::from(per) <= 8000)
                .map(|n| n * per)
                .ok_or_else(|| Error::interface(format!("bad length in type {hint:?}"))),
        }
    };
    let scale = || -> Result<u8, Error> {
        args.map_or(Ok(7), |s| {
            s.parse::<u8>().ok().filter(|s| *s <= 7).ok_or(())
        })
        .map_err(|_| Error::interface(format!("bad scale in type {hint:?}")))
    };
    let decl: String = match base {
        "bit" => fixed_null(out, code::BITN, 1),
        "tinyint" => fixed_null(out, code::INTN, 1),
        "smallint" => fixed_null(out, code::INTN, 2),
        "int" => fixed_null(out, code::INTN, 4),
        "bigint" => fixed_null(out, code::INTN, 8),
        "real" => fixed_null(out, code::FLTN, 4),
        "float" => fixed_null(out, code::FLTN, 8),
        "smallmoney" => fixed_null(out, code::MONEYN, 4),
        "money" => fixed_null(out, code::MONEYN, 8),
        "smalldatetime" => fixed_null(out, code::DATETIMN, 4),
        "datetime" => fixed_null(out, code::DATETIMN, 8),
        "uniqueidentifier" => fixed_null(out, code::GUID, 16),
        "date" => {
            out.extend_from_slice(&[code::DATEN, 0]);
            "date"
        }
        .into(),
        "time" | "datetime2" | "datetimeoffset" => {
            let s = scale()?;
            let c = match base {
                "time" => code::TIMEN,
                "datetime2" => code::DATETIME2N,
                _ => code::DATETIMEOFFSETN,
            };
            out.extend_from_slice(&[c, s, 0]);
            format!("{base}({s})")
        }
        "decimal" | "numeric" => {
            let (p, s) = match args {
                None => (18, 0),
                Some(a) => {
                    let mut it = a.split(',').map(|x| x.trim().parse::<u8>());
                    match (it.next(), it.next()) {
                        (Some(Ok(p)), None) => (p, 0),
                        (Some(Ok(p)), Some(Ok(s))) => (p, s),
                        _ => return Err(Error::interface(format!("bad type {hint:?}"))),
                    }
                }
            };
            if p == 0 || p > 38 || s > p {
                return Err(Error::interface(format!(
                    "bad precision or scale in {hint:?}"
                )));
            }
            out.extend_from_slice(&[code::NUMERICN, 17, p, s, 0]);
            format!("{base}({p},{s})")
        }
        "nvarchar" | "nchar" | "varchar" | "char" => {
            let unicode = base.starts_with('n');
            let default = match base {
                "nvarchar" => 4000,
                "varchar" => 8000,
                _ => 1,
            };
            let n = size(default, if unicode { 2 } else { 1 })?;
            let c = match base {
                "nvarchar" => code::NVARCHAR,
                "nchar" => code::NCHAR,
                "varchar" => code::BIGVARCHAR,
                _ => code::BIGCHAR,
            };
            if n == 0xFFFF && !base.contains("var") {
                return Err(Error::interface(format!(
                    "{hint:?}: only var types take max"
                )));
            }
            out.put_u8(c);
            out.put_u16_le(n);
            out.extend_from_slice(&DEFAULT_COLLATION);
            null_value(out, n);
            let per = if unicode { 2 } else { 1 };
            let shown = if n == 0xFFFF {
                "max".into()
            } else {
                (n / per).to_string()
            };
            format!("{base}({shown})")
        }
        "varbinary" | "binary" => {
            let n = size(if base == "binary" { 1 } else { 8000 }, 1)?;
            if n == 0xFFFF && base == "binary" {
                return Err(Error::interface(format!(
                    "{hint:?}: only varbinary takes max"
                )));
            }
            out.put_u8(if base == "binary" {
                code::BIGBINARY
            } else {
                code::BIGVARBINARY
            });
            out.put_u16_le(n);
            null_value(out, n);
            format!(
                "{base}({})",
                if n == 0xFFFF {
                    "max".into()
                } else {
                    n.to_string()
                }
            )
        }
        "xml" => {
            out.extend_from_slice(&[code::XML, 0]);
            put_plp_null(out);
            "xml".into()
        }
        _ => {
            return Err(Error::interface(format!(
                "unsupported parameter type {hint:?}: use a SQL Server type name such as int, \
                 bigint, nvarchar(max), varbinary(max), decimal(18,2), datetime2"
            )))
        }
    };
    Ok(decl)
}

fn fixed_null(out: &mut BytesMut, c: u8, size: u8) -> String {
    out.extend_from_slice(&[c, size, 0]);
    crate::types::TypeInfo {
        code: c,
        len_kind: crate::types::LenKind::Byte,
        max_len: u32::from(size),
        precision: 0,
        scale: 0,
        collation: None,
    }
    .sql_name()
}

fn null_value(out: &mut BytesMut, max: u16) {
    if max == 0xFFFF {
        put_plp_null(out);
    } else {
        out.put_u16_le(0xFFFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: Value) -> (String, Vec<u8>) {
        let mut out = BytesMut::new();
        let decl = encode_value(&mut out, &v).unwrap();
        (decl, out.to_vec())
    }

    #[test]
    fn scalars_golden() {
        assert_eq!(
            enc(Value::Int(7)),
            ("int".into(), vec![0x26, 4, 4, 7, 0, 0, 0])
        );
        assert_eq!(
            enc(Value::Int(1 << 40)),
            ("bigint".into(), vec![0x26, 8, 8, 0, 0, 0, 0, 0, 1, 0, 0])
        );
        assert_eq!(enc(Value::Bool(true)), ("bit".into(), vec![0x68, 1, 1, 1]));
        let (d, b) = enc(Value::Float(1.5));
        assert_eq!((d.as_str(), &b[..3]), ("float", &[0x6D, 8, 8][..]));
        assert_eq!(
            enc(Value::Text("hi".into())),
            (
                "nvarchar(4000)".into(),
                vec![0xE7, 0x40, 0x1F, 9, 4, 0xD0, 0, 0x34, 4, 0, b'h', 0, b'i', 0]
            )
        );
        assert_eq!(
            enc(Value::Null),
            (
                "nvarchar(4000)".into(),
                vec![0xE7, 0x40, 0x1F, 9, 4, 0xD0, 0, 0x34, 0xFF, 0xFF]
            )
        );
        assert_eq!(
            enc(Value::Bytes(vec![1, 2])),
            ("varbinary(8000)".into(), vec![0xA5, 0x40, 0x1F, 2, 0, 1, 2])
        );
    }

    #[test]
    fn long_values_are_plp() {
        let (d, b) = enc(Value::Text("x".repeat(4001)));
        assert_eq!(d, "nvarchar(max)");
        assert_eq!(&b[..3], &[0xE7, 0xFF, 0xFF]);
        assert_eq!(&b[8..16], &8002u64.to_le_bytes());
        assert_eq!(&b[16..20], &8002u32.to_le_bytes());
        assert_eq!(&b[b.len() - 4..], &[0, 0, 0, 0]);
        let (d, _) = enc(Value::Bytes(vec![0; 8001]));
        assert_eq!(d, "varbinary(max)");
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("-1.50").unwrap(), (true, 150, 2));
        assert_eq!(parse_decimal("1E+3").unwrap(), (false, 1000, 0));
        assert_eq!(parse_decimal("1.2E-3").unwrap(), (false, 12, 4));
        assert_eq!(parse_decimal("-0.0").unwrap(), (false, 0, 1));
        assert!(parse_decimal("1".repeat(39).as_str()).is_err());
        assert!(parse_decimal("1.2.3").is_err());
        let (d, b) = enc(Value::Decimal("-12.345".into()));
        assert_eq!(d, "decimal(38,3)");
        assert_eq!(&b[..6], &[0x6C, 17, 38, 3, 17, 0]);
        assert_eq!(&b[6..], &12345u128.to_le_bytes());
        assert!(encode_value(&mut BytesMut::new(), &Value::Decimal("NaN".into())).is_err());
    }

    #[test]
    fn dates_and_times_golden() {
        // 1970-01-01 is day 719162 since 0001-01-01: 0x0AF93A.
        assert_eq!(
            enc(Value::Date(0)),
            ("date".into(), vec![0x28, 3, 0x3A, 0xF9, 0x0A])
        );
        let (d, b) = enc(Value::Time {
            micros: 1_000_000,
            offset: None,
        });
        assert_eq!(
            (d.as_str(), b),
            ("time(7)", vec![0x29, 7, 5, 0x80, 0x96, 0x98, 0, 0])
        );
        let (d, b) = enc(Value::DateTime {
            micros: 1_000_000,
            offset: None,
        });
        assert_eq!(d, "datetime2(7)");
        assert_eq!(
            b,
            vec![0x2A, 7, 8, 0x80, 0x96, 0x98, 0, 0, 0x3A, 0xF9, 0x0A]
        );
        let (d, b) = enc(Value::DateTime {
            micros: 0,
            offset: Some(3600),
        });
        assert_eq!(d, "datetimeoffset(7)");
        assert_eq!(&b[b.len() - 2..], &60i16.to_le_bytes());
        assert!(encode_value(&mut BytesMut::new(), &Value::Date(-800_000)).is_err());
        assert!(encode_value(
            &mut BytesMut::new(),
            &Value::DateTime {
                micros: 0,
                offset: Some(30)
            }
        )
        .is_err());
    }

    #[test]
    fn guid_golden() {
        let u = [
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 9, 10, 11, 12, 13, 14, 15, 16,
        ];
        assert_eq!(
            guid_bytes(&u),
            [0x04, 0x03, 0x02, 0x01, 0x06, 0x05, 0x08, 0x07, 9, 10, 11, 12, 13, 14, 15, 16]
        );
    }

    #[test]
    fn typed_nulls() {
        let mut out = BytesMut::new();
        assert_eq!(encode_typed_null(&mut out, "int").unwrap(), "int");
        assert_eq!(&out[..], &[0x26, 4, 0]);
        let mut out = BytesMut::new();
        assert_eq!(
            encode_typed_null(&mut out, "NVARCHAR(MAX)").unwrap(),
            "nvarchar(max)"
        );
        assert_eq!(&out[..3], &[0xE7, 0xFF, 0xFF]);
        assert_eq!(&out[8..], &[0xFF; 8]);
        let mut out = BytesMut::new();
        assert_eq!(
            encode_typed_null(&mut out, "decimal(18, 2)").unwrap(),
            "decimal(18,2)"
        );
        assert_eq!(
            encode_typed_null(&mut BytesMut::new(), "varchar(20)").unwrap(),
            "varchar(20)"
        );
        assert_eq!(
            encode_typed_null(&mut BytesMut::new(), "datetime2").unwrap(),
            "datetime2(7)"
        );
        assert!(encode_typed_null(&mut BytesMut::new(), "int; drop table x").is_err());
        assert!(encode_typed_null(&mut BytesMut::new(), "nvarchar(9000)").is_err());
    }

    #[test]
    fn param_names_and_output_flag() {
        let mut out = BytesMut::new();
        let p = Param {
            name: "@o".into(),
            value: Value::Null,
            output: true,
            type_hint: Some("int".into()),
        };
        assert_eq!(encode_param(&mut out, &p).unwrap(), "int");
        assert_eq!(&out[..], &[2, b'@', 0, b'o', 0, 1, 0x26, 4, 0]);
        let e = encode_param(
            &mut BytesMut::new(),
            &Param::positional(
                0,
                Value::Interval {
                    months: 0,
                    days: 1,
                    micros: 0,
                },
            ),
        );
        assert!(e.unwrap_err().message.contains("@p1"));
    }
}
