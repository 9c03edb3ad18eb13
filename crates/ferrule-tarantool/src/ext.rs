//! Tarantool's MessagePack extensions: decimal (packed BCD with a scale), datetime and
//! interval. UUIDs are 16 raw bytes and errors are decoded in `error.rs`.

use ferrule_core::Error;

use crate::encode::MpWriter;
use crate::mp::{malformed, MpReader};

/// Tarantool decimals hold at most 38 significant digits.
pub const DECIMAL_MAX_DIGITS: usize = 38;

/// The extension payload of a decimal given as text (`"-1.50"`, `"1E+3"`, `"2.5e-7"`).
pub fn decimal_from_str(text: &str) -> Result<Vec<u8>, Error> {
    let bad = || {
        Error::interface(format!(
            "{text:?} is not a finite decimal Tarantool can store"
        ))
    };
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().map_err(|_| bad())?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let mut digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|b| b - b'0')
        .collect();
    let mut scale = frac_part.len() as i64 - exponent;
    if scale < 0 {
        // A positive exponent: spell the zeros out (bounded by the precision limit).
        if -scale > DECIMAL_MAX_DIGITS as i64 {
            return Err(bad());
        }
        digits.extend(std::iter::repeat_n(0, (-scale) as usize));
        scale = 0;
    }
    let first = digits.iter().position(|d| *d != 0).unwrap_or(digits.len());
    digits.drain(..first);
    if digits.len() > DECIMAL_MAX_DIGITS || scale > i64::from(i32::MAX) {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(4 + digits.len() / 2);
    MpWriter(&mut out).sint(scale);
    let mut nibbles = digits;
    nibbles.push(if negative { 0x0d } else { 0x0c });
    if nibbles.len() % 2 == 1 {
        nibbles.insert(0, 0);
    }
    out.extend(nibbles.chunks(2).map(|p| (p[0] << 4) | p[1]));
    Ok(out)
}

/// The text of a decimal extension payload, as Python's `Decimal` reads it.
pub fn decimal_to_string(data: &[u8]) -> Result<String, Error> {
    let mut r = MpReader::new(data);
    let scale = r.read_i64()?;
    let bcd = r.take(r.remaining())?;
    let Some((&last, head)) = bcd.split_last() else {
        return Err(malformed("empty decimal"));
    };
    let sign = last & 0x0f;
    let negative = match sign {
        0x0b | 0x0d => true,
        0x0a | 0x0c | 0x0e | 0x0f => false,
        _ => return Err(malformed("decimal without a sign nibble")),
    };
    let mut digits = String::with_capacity(bcd.len() * 2);
    for b in head {
        digits.push(nibble(b >> 4)?);
        digits.push(nibble(b & 0x0f)?);
    }
    digits.push(nibble(last >> 4)?);
    let trimmed = digits.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(digits);
        if scale < 0 {
            out.push_str(&format!("E+{}", -scale));
        }
    } else {
        let scale = scale as usize;
        if scale > 1_000_000 {
            return Err(malformed("decimal scale out of range"));
        }
        if digits.len() > scale {
            let (i, f) = digits.split_at(digits.len() - scale);
            out.push_str(i);
            out.push('.');
            out.push_str(f);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', scale - digits.len()));
            out.push_str(digits);
        }
    }
    Ok(out)
}

fn nibble(n: u8) -> Result<char, Error> {
    if n > 9 {
        return Err(malformed("decimal digit out of range"));
    }
    Ok((b'0' + n) as char)
}

/// A datetime: UTC seconds and nanoseconds, and the zone it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Datetime {
    pub seconds: i64,
    pub nsec: i32,
    /// Minutes east of UTC.
    pub tzoffset: i16,
    /// An index into Tarantool's zone table (0: none, the offset alone applies).
    pub tzindex: i16,
}

impl Datetime {
    /// From microseconds since the epoch (UTC) and an offset in seconds east of UTC.
    pub fn from_micros(micros: i64, offset_seconds: i32) -> Result<Datetime, Error> {
        if offset_seconds % 60 != 0 {
            return Err(Error::interface(
                "Tarantool datetimes keep UTC offsets in whole minutes",
            ));
        }
        Ok(Datetime {
            seconds: micros.div_euclid(1_000_000),
            nsec: (micros.rem_euclid(1_000_000) * 1000) as i32,
            tzoffset: i16::try_from(offset_seconds / 60)
                .map_err(|_| Error::interface("UTC offset out of range"))?,
            tzindex: 0,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&self.seconds.to_le_bytes());
        if self.nsec != 0 || self.tzoffset != 0 || self.tzindex != 0 {
            out.extend_from_slice(&self.nsec.to_le_bytes());
            out.extend_from_slice(&self.tzoffset.to_le_bytes());
            out.extend_from_slice(&self.tzindex.to_le_bytes());
        }
        out
    }

    pub fn decode(data: &[u8]) -> Result<Datetime, Error> {
        match data.len() {
            8 | 16 => {}
            _ => return Err(malformed("datetime extension of a wrong size")),
        }
        let mut dt = Datetime {
            seconds: i64::from_le_bytes(data[..8].try_into().expect("8 bytes")),
            ..Datetime::default()
        };
        if data.len() == 16 {
            dt.nsec = i32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
            dt.tzoffset = i16::from_le_bytes(data[12..14].try_into().expect("2 bytes"));
            dt.tzindex = i16::from_le_bytes(data[14..16].try_into().expect("2 bytes"));
        }
        Ok(dt)
    }
}

/// An interval: calendar fields kept apart, as Tarantool does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    pub year: i64,
    pub month: i64,
    pub week: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub nsec: i64,
    /// 0 none, 1 excess, 2 last (how month arithmetic treats the end of a month).
    pub adjust: i64,
}

impl Interval {
    pub fn from_parts(months: i32, days: i32, micros: i64) -> Interval {
        Interval {
            year: i64::from(months / 12),
            month: i64::from(months % 12),
            day: i64::from(days),
            second: micros / 1_000_000,
            nsec: (micros % 1_000_000) * 1000,
            ..Interval::default()
        }
    }

    fn fields(&self) -> [i64; 9] {
        [
            self.year,
            self.month,
            self.week,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.nsec,
            self.adjust,
        ]
    }

    pub fn encode(&self) -> Vec<u8> {
        let fields = self.fields();
        let count = fields.iter().filter(|v| **v != 0).count();
        let mut out = Vec::with_capacity(1 + count * 10);
        out.push(count as u8);
        let mut w = MpWriter(&mut out);
        for (i, v) in fields.iter().enumerate() {
            if *v != 0 {
                w.uint(i as u64);
                w.sint(*v);
            }
        }
        out
    }

    pub fn decode(data: &[u8]) -> Result<Interval, Error> {
        let Some((&count, rest)) = data.split_first() else {
            return Err(malformed("empty interval"));
        };
        let mut r = MpReader::new(rest);
        let mut iv = Interval::default();
        for _ in 0..count {
            let field = r.read_u64()?;
            let value = r.read_i64()?;
            let slot = match field {
                0 => &mut iv.year,
                1 => &mut iv.month,
                2 => &mut iv.week,
                3 => &mut iv.day,
                4 => &mut iv.hour,
                5 => &mut iv.minute,
                6 => &mut iv.second,
                7 => &mut iv.nsec,
                8 => &mut iv.adjust,
                _ => return Err(malformed("unknown interval field")),
            };
            *slot = value;
        }
        if !r.is_empty() {
            return Err(malformed("trailing bytes in an interval"));
        }
        Ok(iv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_golden_bytes() {
        assert_eq!(decimal_from_str("1.5").unwrap(), [0x01, 0x01, 0x5c]);
        assert_eq!(
            decimal_from_str("-12.34").unwrap(),
            [0x02, 0x01, 0x23, 0x4d]
        );
        assert_eq!(decimal_from_str("0").unwrap(), [0x00, 0x0c]);
        assert_eq!(decimal_from_str("1E+3").unwrap(), [0x00, 0x01, 0x00, 0x0c]);
        assert_eq!(decimal_from_str("2.5E-7").unwrap(), [0x08, 0x02, 0x5c]);
        for bad in ["NaN", "Infinity", "", ".", "1.2.3", "1e", "1E+99"] {
            assert!(decimal_from_str(bad).is_err(), "{bad}");
        }
        let long = "1".repeat(39);
        assert!(decimal_from_str(&long).is_err());
    }

    #[test]
    fn decimal_round_trip() {
        for s in [
            "1.5",
            "-12.34",
            "0",
            "0.001",
            "-0.0100",
            "123456789012345678901234567890.12345678",
        ] {
            let back = decimal_to_string(&decimal_from_str(s).unwrap()).unwrap();
            assert_eq!(
                back.trim_start_matches('-').trim_start_matches('0'),
                s.trim_start_matches('-').trim_start_matches('0')
            );
        }
        assert_eq!(decimal_to_string(&[0xfd, 0x01, 0x2c]).unwrap(), "12E+3");
        assert!(decimal_to_string(&[0x01]).is_err());
        assert!(decimal_to_string(&[0x00, 0xaa]).is_err());
    }

    #[test]
    fn datetime_golden_bytes() {
        let dt = Datetime::from_micros(1_700_000_000_000_000, 0).unwrap();
        assert_eq!(dt.encode(), 1_700_000_000i64.to_le_bytes());
        let dt = Datetime::from_micros(-1, 180 * 60).unwrap();
        let mut want = (-1i64).to_le_bytes().to_vec();
        want.extend(999_999_000i32.to_le_bytes());
        want.extend(180i16.to_le_bytes());
        want.extend(0i16.to_le_bytes());
        assert_eq!(dt.encode(), want);
        assert_eq!(Datetime::decode(&want).unwrap(), dt);
        assert!(Datetime::decode(&[0; 9]).is_err());
    }

    #[test]
    fn interval_golden_bytes() {
        let iv = Interval::from_parts(14, 3, 1_500_000);
        // 4 fields: year 1, month 2, day 3, second 1, nsec 500000000
        assert_eq!(
            iv.encode(),
            [5, 0, 1, 1, 2, 3, 3, 6, 1, 7, 0xce, 0x1d, 0xcd, 0x65, 0x00]
        );
        assert_eq!(Interval::decode(&iv.encode()).unwrap(), iv);
        assert!(Interval::decode(&[1, 9, 1]).is_err());
        assert!(Interval::decode(&[3, 0, 1]).is_err());
    }
}
