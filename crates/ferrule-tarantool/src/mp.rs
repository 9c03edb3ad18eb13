//! A bounds-checked MessagePack reader over a byte slice. Every length is checked against the
//! bytes that remain before anything is allocated, so hostile input gives an error, never a
//! panic or an allocation larger than the input.

use ferrule_core::Error;
use rmp::Marker;

/// Nesting deeper than this is refused (a stack of arrays cannot exhaust the call stack).
pub const MAX_DEPTH: usize = 256;

#[derive(Clone)]
pub struct MpReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

pub fn malformed(what: &str) -> Error {
    Error::protocol(format!("malformed MessagePack: {what}"))
}

/// A decoded value, for the few places the driver reads structure itself (schema, errors,
/// SQL metadata). Results for the caller are decoded by the binding layer from the bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum MpValue {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    F32(f32),
    F64(f64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<MpValue>),
    Map(Vec<(MpValue, MpValue)>),
    Ext(i8, Vec<u8>),
}

impl MpValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MpValue::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MpValue::UInt(u) => Some(u),
            MpValue::Int(i) if i >= 0 => Some(i as u64),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            MpValue::Bool(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[MpValue]> {
        match self {
            MpValue::Array(a) => Some(a),
            _ => None,
        }
    }
    /// The value under `key` (a string or an unsigned integer key) of a map.
    pub fn get(&self, key: &MpValue) -> Option<&MpValue> {
        match self {
            MpValue::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn get_str(&self, key: &str) -> Option<&MpValue> {
        match self {
            MpValue::Map(m) => m
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn get_uint(&self, key: u64) -> Option<&MpValue> {
        match self {
            MpValue::Map(m) => m
                .iter()
                .find(|(k, _)| k.as_u64() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

impl<'a> MpReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        MpReader { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The bytes from `start` to the current position.
    pub fn since(&self, start: usize) -> &'a [u8] {
        &self.buf[start..self.pos]
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(malformed("value runs past the end of the data"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, Error> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    pub fn peek_marker(&self) -> Result<Marker, Error> {
        self.buf
            .get(self.pos)
            .map(|b| Marker::from_u8(*b))
            .ok_or_else(|| malformed("no value"))
    }

    pub fn marker(&mut self) -> Result<Marker, Error> {
        let m = self.peek_marker()?;
        self.pos += 1;
        Ok(m)
    }

    /// Reads a length that counts bytes: it must fit in what remains.
    fn byte_len(&mut self, n: usize) -> Result<usize, Error> {
        let len = self.be(n)? as usize;
        if len > self.remaining() {
            return Err(malformed("length beyond the end of the data"));
        }
        Ok(len)
    }

    /// Reads a length that counts elements: each takes at least `min` bytes.
    fn count_len(&mut self, n: usize, min: usize) -> Result<usize, Error> {
        let len = self.be(n)? as usize;
        if len.saturating_mul(min) > self.remaining() {
            return Err(malformed("element count beyond the end of the data"));
        }
        Ok(len)
    }

    pub fn read_array_len(&mut self) -> Result<usize, Error> {
        match self.marker()? {
            Marker::FixArray(n) => self.check_count(n as usize, 1),
            Marker::Array16 => self.count_len(2, 1),
            Marker::Array32 => self.count_len(4, 1),
            _ => Err(malformed("expected an array")),
        }
    }

    pub fn read_map_len(&mut self) -> Result<usize, Error> {
        match self.marker()? {
            Marker::FixMap(n) => self.check_count(n as usize, 2),
            Marker::Map16 => self.count_len(2, 2),
            Marker::Map32 => self.count_len(4, 2),
            _ => Err(malformed("expected a map")),
        }
    }

    fn check_count(&self, n: usize, min: usize) -> Result<usize, Error> {
        if n * min > self.remaining() {
            return Err(malformed("element count beyond the end of the data"));
        }
        Ok(n)
    }

    pub fn read_u64(&mut self) -> Result<u64, Error> {
        match self.read_int()? {
            Int::U(u) => Ok(u),
            Int::I(i) if i >= 0 => Ok(i as u64),
            Int::I(_) => Err(malformed("expected an unsigned integer")),
        }
    }

    pub fn read_i64(&mut self) -> Result<i64, Error> {
        match self.read_int()? {
            Int::I(i) => Ok(i),
            Int::U(u) => i64::try_from(u).map_err(|_| malformed("integer out of range")),
        }
    }

    pub fn read_int(&mut self) -> Result<Int, Error> {
        Ok(match self.marker()? {
            Marker::FixPos(v) => Int::U(u64::from(v)),
            Marker::FixNeg(v) => Int::I(i64::from(v)),
            Marker::U8 => Int::U(self.be(1)?),
            Marker::U16 => Int::U(self.be(2)?),
            Marker::U32 => Int::U(self.be(4)?),
            Marker::U64 => Int::U(self.be(8)?),
            Marker::I8 => Int::I(i64::from(self.be(1)? as u8 as i8)),
            Marker::I16 => Int::I(i64::from(self.be(2)? as u16 as i16)),
            Marker::I32 => Int::I(i64::from(self.be(4)? as u32 as i32)),
            Marker::I64 => Int::I(self.be(8)? as i64),
            _ => return Err(malformed("expected an integer")),
        })
    }

    pub fn read_f64(&mut self) -> Result<f64, Error> {
        match self.marker()? {
            Marker::F32 => Ok(f64::from(f32::from_bits(self.be(4)? as u32))),
            Marker::F64 => Ok(f64::from_bits(self.be(8)?)),
            _ => Err(malformed("expected a float")),
        }
    }

    pub fn read_str_bytes(&mut self) -> Result<&'a [u8], Error> {
        let len = match self.marker()? {
            Marker::FixStr(n) => n as usize,
            Marker::Str8 => self.byte_len(1)?,
            Marker::Str16 => self.byte_len(2)?,
            Marker::Str32 => self.byte_len(4)?,
            _ => return Err(malformed("expected a string")),
        };
        self.take(len)
    }

    pub fn read_str(&mut self) -> Result<&'a str, Error> {
        std::str::from_utf8(self.read_str_bytes()?).map_err(|_| malformed("string is not UTF-8"))
    }

    pub fn read_bin(&mut self) -> Result<&'a [u8], Error> {
        let len = match self.marker()? {
            Marker::Bin8 => self.byte_len(1)?,
            Marker::Bin16 => self.byte_len(2)?,
            Marker::Bin32 => self.byte_len(4)?,
            _ => return Err(malformed("expected binary data")),
        };
        self.take(len)
    }

    /// Reads an extension's header after its marker: `(type, length)`.
    pub fn ext_header(&mut self, m: Marker) -> Result<(i8, usize), Error> {
        let len = match m {
            Marker::FixExt1 => 1,
            Marker::FixExt2 => 2,
            Marker::FixExt4 => 4,
            Marker::FixExt8 => 8,
            Marker::FixExt16 => 16,
            Marker::Ext8 => self.byte_len(1)?,
            Marker::Ext16 => self.byte_len(2)?,
            Marker::Ext32 => self.byte_len(4)?,
            _ => return Err(malformed("expected an extension")),
        };
        let ty = self.take(1)?[0] as i8;
        if len > self.remaining() {
            return Err(malformed("extension runs past the end of the data"));
        }
        Ok((ty, len))
    }

    /// Skips one whole value, however nested (up to MAX_DEPTH).
    pub fn skip(&mut self) -> Result<(), Error> {
        // Pending element counts instead of recursion: no stack growth on deep input.
        let mut pending: usize = 1;
        let mut depth = 0usize;
        let mut stack: Vec<usize> = Vec::new();
        loop {
            while pending == 0 {
                match stack.pop() {
                    Some(p) => {
                        pending = p;
                        depth -= 1;
                    }
                    None => return Ok(()),
                }
            }
            pending -= 1;
            let m = self.marker()?;
            let children = match m {
                Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True => 0,
                Marker::False | Marker::Reserved => 0,
                Marker::U8 | Marker::I8 => self.take(1).map(|_| 0)?,
                Marker::U16 | Marker::I16 => self.take(2).map(|_| 0)?,
                Marker::U32 | Marker::I32 | Marker::F32 => self.take(4).map(|_| 0)?,
                Marker::U64 | Marker::I64 | Marker::F64 => self.take(8).map(|_| 0)?,
                Marker::FixStr(n) => self.take(n as usize).map(|_| 0)?,
                Marker::Str8 | Marker::Bin8 => self.sized(1)?,
                Marker::Str16 | Marker::Bin16 => self.sized(2)?,
                Marker::Str32 | Marker::Bin32 => self.sized(4)?,
                Marker::FixArray(n) => self.check_count(n as usize, 1)?,
                Marker::Array16 => self.count_len(2, 1)?,
                Marker::Array32 => self.count_len(4, 1)?,
                Marker::FixMap(n) => self.check_count(n as usize, 2)? * 2,
                Marker::Map16 => self.count_len(2, 2)? * 2,
                Marker::Map32 => self.count_len(4, 2)? * 2,
                Marker::FixExt1
                | Marker::FixExt2
                | Marker::FixExt4
                | Marker::FixExt8
                | Marker::FixExt16
                | Marker::Ext8
                | Marker::Ext16
                | Marker::Ext32 => {
                    let (_, len) = self.ext_header(m)?;
                    self.take(len).map(|_| 0)?
                }
            };
            if m == Marker::Reserved {
                return Err(malformed("reserved marker 0xc1"));
            }
            if children > 0 {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(malformed("nesting too deep"));
                }
                stack.push(pending);
                pending = children;
            }
        }
    }

    fn sized(&mut self, n: usize) -> Result<usize, Error> {
        let len = self.byte_len(n)?;
        self.take(len).map(|_| 0)
    }

    /// Skips one value and returns its bytes.
    pub fn raw_value(&mut self) -> Result<&'a [u8], Error> {
        let start = self.pos;
        self.skip()?;
        Ok(&self.buf[start..self.pos])
    }

    /// Decodes one value into an `MpValue` tree.
    pub fn read_value(&mut self) -> Result<MpValue, Error> {
        // Validate the whole value first: the recursive decode below then cannot go too deep.
        let start = self.pos;
        self.skip()?;
        let mut inner = MpReader {
            buf: &self.buf[..self.pos],
            pos: start,
        };
        inner.value_unchecked()
    }

    fn value_unchecked(&mut self) -> Result<MpValue, Error> {
        let m = self.peek_marker()?;
        Ok(match m {
            Marker::Null => {
                self.pos += 1;
                MpValue::Nil
            }
            Marker::True | Marker::False => {
                self.pos += 1;
                MpValue::Bool(m == Marker::True)
            }
            Marker::F32 | Marker::F64 => {
                let f = self.read_f64()?;
                if m == Marker::F32 {
                    MpValue::F32(f as f32)
                } else {
                    MpValue::F64(f)
                }
            }
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
                MpValue::Str(String::from_utf8_lossy(self.read_str_bytes()?).into_owned())
            }
            Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => MpValue::Bin(self.read_bin()?.to_vec()),
            Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
                let n = self.read_array_len()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value_unchecked()?);
                }
                MpValue::Array(items)
            }
            Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
                let n = self.read_map_len()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.value_unchecked()?;
                    items.push((k, self.value_unchecked()?));
                }
                MpValue::Map(items)
            }
            Marker::FixExt1
            | Marker::FixExt2
            | Marker::FixExt4
            | Marker::FixExt8
            | Marker::FixExt16
            | Marker::Ext8
            | Marker::Ext16
            | Marker::Ext32 => {
                self.pos += 1;
                let (ty, len) = self.ext_header(m)?;
                MpValue::Ext(ty, self.take(len)?.to_vec())
            }
            Marker::Reserved => return Err(malformed("reserved marker 0xc1")),
            _ => match self.read_int()? {
                Int::U(u) => MpValue::UInt(u),
                Int::I(i) => MpValue::Int(i),
            },
        })
    }
}

/// An integer as it was encoded: unsigned values above i64::MAX stay representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int {
    U(u64),
    I(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scalars_and_containers() {
        let bytes = [
            0x93, 0x01, 0xa1, b'x', 0x81, 0xc3, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
        ];
        let v = MpReader::new(&bytes).read_value().unwrap();
        assert_eq!(
            v,
            MpValue::Array(vec![
                MpValue::UInt(1),
                MpValue::Str("x".into()),
                MpValue::Map(vec![(MpValue::Bool(true), MpValue::F64(1.0))]),
            ])
        );
    }

    #[test]
    fn hostile_lengths_are_errors() {
        // array32 claiming 2^32-1 elements, str32 claiming 4 GiB, truncated u64
        for bytes in [
            &[0xdd, 0xff, 0xff, 0xff, 0xff][..],
            &[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'][..],
            &[0xcf, 0x00, 0x01][..],
            &[0xdf, 0x00, 0x00, 0x00, 0x02, 0x01][..],
            &[0xc1][..],
            &[0xc7, 0x05, 0x01, 0x00][..],
            &[][..],
        ] {
            assert!(MpReader::new(bytes).skip().is_err(), "{bytes:x?}");
            assert!(MpReader::new(bytes).read_value().is_err(), "{bytes:x?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let bytes = vec![0x91u8; 100_000];
        assert!(MpReader::new(&bytes).skip().is_err());
        assert!(MpReader::new(&bytes).read_value().is_err());
    }

    #[test]
    fn skip_returns_raw_bytes() {
        let bytes = [0x92, 0xcd, 0x01, 0x00, 0xc0, 0x05];
        let mut r = MpReader::new(&bytes);
        assert_eq!(r.raw_value().unwrap(), &bytes[..5]);
        assert_eq!(r.read_u64().unwrap(), 5);
        assert!(r.is_empty());
    }
}
