//! Reading one value's bytes by its TYPE_INFO: small pure functions the binding layer calls
//! to build its objects directly, and `to_value` for Rust callers.

use ferrule_core::calendar::MICROS_PER_DAY;
use ferrule_core::Value;

use crate::params::DAYS_TO_UNIX_EPOCH;
use crate::types::{code, TypeInfo};
use crate::wire::utf16_to_string;

pub type DecodeResult<T> = Result<T, String>;

fn size_err(ti: &TypeInfo, b: &[u8]) -> String {
    format!("{}-byte value for a {} column", b.len(), ti.sql_name())
}

/// Days from 1900-01-01 (datetime's epoch) to 1970-01-01.
const DATETIME_EPOCH_DAYS: i64 = 25_567;

pub fn int(ti: &TypeInfo, b: &[u8]) -> DecodeResult<i64> {
    Ok(match b.len() {
        1 => i64::from(b[0]),
        2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
        4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        8 => i64::from_le_bytes(b.try_into().map_err(|_| size_err(ti, b))?),
        _ => return Err(size_err(ti, b)),
    })
}

pub fn float(ti: &TypeInfo, b: &[u8]) -> DecodeResult<f64> {
    Ok(match b.len() {
        4 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        8 => f64::from_le_bytes(b.try_into().map_err(|_| size_err(ti, b))?),
        _ => return Err(size_err(ti, b)),
    })
}

pub fn bit(ti: &TypeInfo, b: &[u8]) -> DecodeResult<bool> {
    match b {
        [v] => Ok(*v != 0),
        _ => Err(size_err(ti, b)),
    }
}

/// Inserts a decimal point `scale` digits from the right of an unscaled integer.
pub fn scaled_text(negative: bool, magnitude: u128, scale: u8) -> String {
    let digits = magnitude.to_string();
    let scale = scale as usize;
    let mut s = String::with_capacity(digits.len() + scale + 3);
    if negative {
        s.push('-');
    }
    if scale == 0 {
        s.push_str(&digits);
    } else if digits.len() > scale {
        let (i, f) = digits.split_at(digits.len() - scale);
        s.push_str(i);
        s.push('.');
        s.push_str(f);
    } else {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', scale - digits.len()));
        s.push_str(&digits);
    }
    s
}

/// decimal / numeric as exact text.
pub fn decimal(ti: &TypeInfo, b: &[u8]) -> DecodeResult<String> {
    if !matches!(b.len(), 5 | 9 | 13 | 17) {
        return Err(size_err(ti, b));
    }
    let mut mag = [0u8; 16];
    mag[..b.len() - 1].copy_from_slice(&b[1..]);
    let magnitude = u128::from_le_bytes(mag);
    Ok(scaled_text(
        b[0] == 0 && magnitude != 0,
        magnitude,
        ti.scale,
    ))
}

/// money / smallmoney as exact text (four decimal places).
pub fn money(ti: &TypeInfo, b: &[u8]) -> DecodeResult<String> {
    let units: i64 = match b.len() {
        4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        8 => {
            let high = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let low = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            (i64::from(high) << 32) | i64::from(low)
        }
        _ => return Err(size_err(ti, b)),
    };
    Ok(scaled_text(units < 0, u128::from(units.unsigned_abs()), 4))
}

fn le_uint(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(a)
}

/// date: days since 1970-01-01.
pub fn date_days(ti: &TypeInfo, b: &[u8]) -> DecodeResult<i64> {
    if b.len() != 3 {
        return Err(size_err(ti, b));
    }
    Ok(le_uint(b) as i64 - DAYS_TO_UNIX_EPOCH)
}

/// time of `scale`: microseconds since midnight (100 ns digits truncated).
pub fn time_micros(ti: &TypeInfo, b: &[u8], scale: u8) -> DecodeResult<i64> {
    if b.len() != crate::types::time_len(scale) as usize {
        return Err(size_err(ti, b));
    }
    let units = le_uint(b);
    let micros = match scale {
        0..=6 => units * 10u64.pow(6 - u32::from(scale)),
        _ => units / 10,
    };
    if micros >= MICROS_PER_DAY as u64 {
        return Err(format!("time value {micros} us is past midnight"));
    }
    Ok(micros as i64)
}

/// A date and time: microseconds since 1970-01-01T00:00, and a UTC offset in minutes for
/// datetimeoffset (whose date and time are UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub micros: i64,
    pub offset_minutes: Option<i16>,
}

pub fn timestamp(ti: &TypeInfo, b: &[u8]) -> DecodeResult<Timestamp> {
    match ti.code {
        code::DATETIME | code::DATETIM4 | code::DATETIMN if b.len() == 8 => {
            let days = i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            let ticks = i64::from(u32::from_le_bytes([b[4], b[5], b[6], b[7]]));
            // 1/300 s ticks, rounded to the nearest millisecond as SQL Server shows them
            // (.997, not .996667): the value a client inserted comes back equal.
            let micros = (ticks * 10 + 1) / 3 * 1_000;
            Ok(Timestamp {
                micros: (days - DATETIME_EPOCH_DAYS) * MICROS_PER_DAY + micros,
                offset_minutes: None,
            })
        }
        code::DATETIM4 | code::DATETIMN if b.len() == 4 => {
            let days = i64::from(u16::from_le_bytes([b[0], b[1]]));
            let minutes = i64::from(u16::from_le_bytes([b[2], b[3]]));
            Ok(Timestamp {
                micros: (days - DATETIME_EPOCH_DAYS) * MICROS_PER_DAY + minutes * 60_000_000,
                offset_minutes: None,
            })
        }
        code::DATETIME2N | code::DATETIMEOFFSETN => {
            let tlen = crate::types::time_len(ti.scale) as usize;
            let want = tlen
                + 3
                + if ti.code == code::DATETIMEOFFSETN {
                    2
                } else {
                    0
                };
            if b.len() != want {
                return Err(size_err(ti, b));
            }
            let t = time_micros(ti, &b[..tlen], ti.scale)?;
            let d = date_days(ti, &b[tlen..tlen + 3])?;
            let offset_minutes = (ti.code == code::DATETIMEOFFSETN)
                .then(|| i16::from_le_bytes([b[tlen + 3], b[tlen + 4]]));
            Ok(Timestamp {
                micros: d * MICROS_PER_DAY + t,
                offset_minutes,
            })
        }
        _ => Err(size_err(ti, b)),
    }
}

/// uniqueidentifier into RFC 4122 byte order.
pub fn guid(ti: &TypeInfo, b: &[u8]) -> DecodeResult<[u8; 16]> {
    let g: [u8; 16] = b.try_into().map_err(|_| size_err(ti, b))?;
    Ok(crate::params::guid_bytes(&g))
}

/// The code page of single-byte character data, from its collation; 65001 for the UTF-8
/// collations.
pub fn code_page(collation: Option<&[u8; 5]>) -> u16 {
    let Some(c) = collation else { return 1252 };
    // The UTF-8 flag is bit 26 of the 32-bit info (LCID in the low 20 bits).
    let info = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    if info & (1 << 26) != 0 {
        return 65001;
    }
    let sort_id = c[4];
    if sort_id != 0 {
        // SQL collations: the sort id decides; the common ones are Latin1 (1252).
        return match sort_id {
            30..=34 => 437,
            40..=44 => 850,
            80..=96 => 1250,
            104..=108 => 1251,
            112..=124 => 1253,
            128..=138 => 1254,
            _ => 1252,
        };
    }
    match info & 0xFFFF {
        0x0411 => 932,
        0x0804 | 0x1004 => 936,
        0x0412 => 949,
        0x0404 | 0x0C04 | 0x1404 => 950,
        0x0405 | 0x0415 | 0x040E | 0x041A | 0x041B | 0x0424 | 0x0418 | 0x041C => 1250,
        0x0419 | 0x0422 | 0x0423 | 0x0402 | 0x042F | 0x0C1A => 1251,
        0x0408 => 1253,
        0x041F | 0x042C | 0x0443 => 1254,
        0x040D => 1255,
        0x0401 | 0x0429 | 0x0420 => 1256,
        0x0425..=0x0427 => 1257,
        0x042A => 1258,
        0x041E => 874,
        _ => 1252,
    }
}

/// Windows-1252's 0x80-0x9F; the rest of the byte range is Latin-1.
const CP1252_HIGH: [u16; 32] = [
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
];

/// Single-byte text in code page 1252 (also right for pure ASCII of any code page).
pub fn cp1252(b: &[u8]) -> String {
    b.iter()
        .map(|&x| match x {
            0x80..=0x9F => {
                char::from_u32(u32::from(CP1252_HIGH[(x - 0x80) as usize])).unwrap_or('\u{FFFD}')
            }
            _ => char::from(x),
        })
        .collect()
}

/// A sql_variant value: its base type and the value's bytes.
pub fn variant(b: &[u8]) -> DecodeResult<(TypeInfo, &[u8])> {
    if b.len() < 2 {
        return Err("truncated sql_variant".into());
    }
    let base = b[0];
    let props = b[1] as usize;
    let rest = b.get(2..).ok_or("truncated sql_variant")?;
    let (p, data) = (
        rest.get(..props).ok_or("truncated sql_variant")?,
        &rest[props..],
    );
    let mut ti = TypeInfo::fixed(base, 0);
    if let Some(size) = TypeInfo::fixed_size(base) {
        ti = TypeInfo::fixed(base, size);
    } else {
        ti.len_kind = crate::types::LenKind::Byte;
        ti.max_len = data.len() as u32;
        match base {
            code::NUMERICN | code::DECIMALN if props == 2 => {
                ti.precision = p[0];
                ti.scale = p[1];
            }
            code::TIMEN | code::DATETIME2N | code::DATETIMEOFFSETN if props == 1 => ti.scale = p[0],
            code::BIGVARCHAR | code::BIGCHAR | code::NVARCHAR | code::NCHAR if props == 7 => {
                ti.collation = Some([p[0], p[1], p[2], p[3], p[4]]);
                ti.max_len = u32::from(u16::from_le_bytes([p[5], p[6]]));
            }
            code::BIGVARBINARY | code::BIGBINARY if props == 2 => {}
            code::GUID
            | code::DATEN
            | code::INTN
            | code::FLTN
            | code::MONEYN
            | code::DATETIMN
            | code::BITN
                if props == 0 => {}
            _ => return Err(format!("sql_variant of unsupported base type {base:#04x}")),
        }
    }
    Ok((ti, data))
}

/// Any value into a `Value` (Rust callers; the Python layer builds its objects directly).
pub fn to_value(ti: &TypeInfo, b: &[u8]) -> DecodeResult<Value> {
    Ok(match ti.code {
        code::INT1 | code::INT2 | code::INT4 | code::INT8 | code::INTN => Value::Int(int(ti, b)?),
        code::BIT | code::BITN => Value::Bool(bit(ti, b)?),
        code::FLT4 | code::FLT8 | code::FLTN => Value::Float(float(ti, b)?),
        code::DECIMAL | code::NUMERIC | code::DECIMALN | code::NUMERICN => {
            Value::Decimal(decimal(ti, b)?)
        }
        code::MONEY | code::MONEY4 | code::MONEYN => Value::Decimal(money(ti, b)?),
        code::GUID => Value::Uuid(guid(ti, b)?),
        code::DATEN => Value::Date(date_days(ti, b)? as i32),
        code::TIMEN => Value::Time {
            micros: time_micros(ti, b, ti.scale)?,
            offset: None,
        },
        code::DATETIME
        | code::DATETIM4
        | code::DATETIMN
        | code::DATETIME2N
        | code::DATETIMEOFFSETN => {
            let ts = timestamp(ti, b)?;
            Value::DateTime {
                micros: ts.micros,
                offset: ts.offset_minutes.map(|m| i32::from(m) * 60),
            }
        }
        code::NVARCHAR | code::NCHAR | code::NTEXT | code::XML => {
            Value::Text(utf16_to_string(b).map_err(|_| "invalid UTF-16 text".to_owned())?)
        }
        code::BIGVARCHAR | code::BIGCHAR | code::VARCHAR | code::CHAR | code::TEXT => {
            match code_page(ti.collation.as_ref()) {
                65001 => {
                    Value::Text(String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 text")?)
                }
                _ => Value::Text(cp1252(b)),
            }
        }
        code::BIGVARBINARY
        | code::BIGBINARY
        | code::VARBINARY
        | code::BINARY
        | code::IMAGE
        | code::UDT => Value::Bytes(b.to_vec()),
        code::SSVARIANT => {
            let (inner, data) = variant(b)?;
            to_value(&inner, data)?
        }
        other => return Err(format!("cannot read values of type {other:#04x}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::read_cell;
    use crate::wire::Cur;
    use bytes::BytesMut;

    /// Encodes `v` as a parameter, parses the TYPE_INFO back and decodes the value.
    fn round_trip(v: Value) -> Value {
        let mut out = BytesMut::new();
        crate::params::encode_value(&mut out, &v).unwrap();
        let mut c = Cur::new(&out);
        let ti = TypeInfo::parse(&mut c).unwrap();
        match read_cell(&mut c, &ti).unwrap() {
            Some(b) => to_value(&ti, &b).unwrap(),
            None => Value::Null,
        }
    }

    #[test]
    fn every_parameter_type_round_trips() {
        let values = [
            Value::Null,
            Value::Bool(false),
            Value::Int(-5),
            Value::Int(i64::MIN),
            Value::Float(-2.5),
            Value::Text(String::new()),
            Value::Text("naïve 😀 ' -- ; DROP".into()),
            Value::Text("z".repeat(70_000)),
            Value::Bytes(vec![0, 1, 255]),
            Value::Bytes(vec![7; 100_000]),
            Value::Uuid([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]),
            Value::Date(-719_162),
            Value::Date(2_932_896),
            Value::Time {
                micros: 86_399_999_999,
                offset: None,
            },
            Value::DateTime {
                micros: -62_135_596_800_000_000,
                offset: None,
            },
            Value::DateTime {
                micros: 1_700_000_000_123_456,
                offset: Some(-5 * 3600),
            },
        ];
        for v in values {
            assert_eq!(round_trip(v.clone()), v);
        }
        assert_eq!(
            round_trip(Value::Decimal("-0.00100".into())),
            Value::Decimal("-0.00100".into())
        );
        assert_eq!(
            round_trip(Value::BigInt("123456789012345678901234567890".into())),
            Value::Decimal("123456789012345678901234567890".into())
        );
    }

    #[test]
    fn server_only_types_golden() {
        let m8 = TypeInfo::fixed(code::MONEY, 8);
        // -1.0000 = -10000 units: high 0xFFFFFFFF, low 0xFFFFD8F0.
        assert_eq!(
            money(&m8, &[0xFF, 0xFF, 0xFF, 0xFF, 0xF0, 0xD8, 0xFF, 0xFF]).unwrap(),
            "-1.0000"
        );
        let small = TypeInfo::fixed(code::MONEY4, 4);
        assert_eq!(money(&small, &12345i32.to_le_bytes()).unwrap(), "1.2345");
        // datetime 1900-01-01 00:00:01 = day 0, 300 ticks.
        let dt = TypeInfo::fixed(code::DATETIME, 8);
        let ts = timestamp(&dt, &[0, 0, 0, 0, 0x2C, 1, 0, 0]).unwrap();
        assert_eq!(ts.micros, -DATETIME_EPOCH_DAYS * MICROS_PER_DAY + 1_000_000);
        // 299 ticks is .997 s (SQL Server's rounding), 2 ticks .007 s, 1 tick .003 s.
        for (ticks, millis) in [(299u32, 997i64), (2, 7), (1, 3)] {
            let mut b = [0u8; 8];
            b[4..].copy_from_slice(&ticks.to_le_bytes());
            let ts = timestamp(&dt, &b).unwrap();
            assert_eq!(
                ts.micros,
                -DATETIME_EPOCH_DAYS * MICROS_PER_DAY + millis * 1_000
            );
        }
        let sdt = TypeInfo::fixed(code::DATETIM4, 4);
        let ts = timestamp(&sdt, &[1, 0, 2, 0]).unwrap();
        assert_eq!(
            ts.micros,
            (1 - DATETIME_EPOCH_DAYS) * MICROS_PER_DAY + 120_000_000
        );
        let mut t3 = TypeInfo::fixed(code::TIMEN, 0);
        t3.scale = 3;
        assert_eq!(
            time_micros(&t3, &1500u32.to_le_bytes(), 3).unwrap(),
            1_500_000
        );
        assert!(time_micros(&t3, &[0xFF; 4], 3).is_err());
        assert_eq!(cp1252(&[b'a', 0x80, 0xE9]), "a€é");
        assert_eq!(code_page(Some(&[0x09, 0x04, 0xD0, 0x04, 0x00])), 65001);
        assert_eq!(code_page(Some(&[0x11, 0x04, 0xD0, 0x00, 0x00])), 932);
        // sql_variant holding int 7.
        let var = TypeInfo {
            code: code::SSVARIANT,
            ..TypeInfo::fixed(code::SSVARIANT, 0)
        };
        assert_eq!(
            to_value(&var, &[0x38, 0, 7, 0, 0, 0]).unwrap(),
            Value::Int(7)
        );
        assert!(to_value(&var, &[0x38]).is_err());
    }

    #[test]
    fn wrong_sizes_are_errors() {
        let intn = TypeInfo::fixed(code::INTN, 4);
        assert!(int(&intn, &[1, 2, 3]).is_err());
        let dec = TypeInfo {
            precision: 10,
            scale: 2,
            ..TypeInfo::fixed(code::DECIMALN, 0)
        };
        assert!(decimal(&dec, &[1, 2]).is_err());
        assert_eq!(decimal(&dec, &[1, 0x39, 0x30, 0, 0]).unwrap(), "123.45");
        assert!(guid(&intn, &[0; 15]).is_err());
    }
}
