//! A bounds-checked reader over received bytes. Running out of bytes is `Incomplete` (wait for
//! more of the message), never a panic; anything else wrong is `Bad`.

use bytes::{BufMut, BytesMut};
use ferrule_core::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes so far end inside the item: more must arrive.
    Incomplete,
    /// The bytes break the protocol.
    Bad(String),
}

pub type DResult<T> = Result<T, DecodeError>;

pub fn bad<T>(what: impl Into<String>) -> DResult<T> {
    Err(DecodeError::Bad(what.into()))
}

impl DecodeError {
    /// For a complete message, where running short is a protocol error too.
    pub fn into_error(self, what: &str) -> Error {
        match self {
            DecodeError::Incomplete => Error::protocol(format!("truncated {what}")),
            DecodeError::Bad(m) => Error::protocol(format!("malformed {what}: {m}")),
        }
    }
}

#[derive(Clone, Copy)]
pub struct Cur<'a> {
    pub b: &'a [u8],
    pub pos: usize,
}

impl<'a> Cur<'a> {
    pub fn new(b: &'a [u8]) -> Cur<'a> {
        Cur { b, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }
    pub fn take(&mut self, n: usize) -> DResult<&'a [u8]> {
        if self.remaining() < n {
            return Err(DecodeError::Incomplete);
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn skip(&mut self, n: usize) -> DResult<()> {
        self.take(n).map(|_| ())
    }
    pub fn u8(&mut self) -> DResult<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> DResult<u16> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    pub fn u16_be(&mut self) -> DResult<u16> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    pub fn u32(&mut self) -> DResult<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub fn i32(&mut self) -> DResult<i32> {
        Ok(self.u32()? as i32)
    }
    pub fn u64(&mut self) -> DResult<u64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    /// UTF-16LE text of `chars` code units.
    pub fn utf16(&mut self, chars: usize) -> DResult<String> {
        utf16_to_string(self.take(chars * 2)?)
    }
    /// B_VARCHAR: a one-byte character count, then UTF-16LE.
    pub fn b_varchar(&mut self) -> DResult<String> {
        let n = self.u8()? as usize;
        self.utf16(n)
    }
    /// US_VARCHAR: a two-byte character count, then UTF-16LE.
    pub fn us_varchar(&mut self) -> DResult<String> {
        let n = self.u16()? as usize;
        self.utf16(n)
    }
}

pub fn utf16_to_string(b: &[u8]) -> DResult<String> {
    if !b.len().is_multiple_of(2) {
        return bad("odd length UTF-16 text");
    }
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .or_else(|_| bad("invalid UTF-16 text"))
}

/// Appends `s` as UTF-16LE; returns the number of code units written.
pub fn put_utf16(out: &mut BytesMut, s: &str) -> usize {
    let mut n = 0;
    for unit in s.encode_utf16() {
        out.put_u16_le(unit);
        n += 1;
    }
    n
}

pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// B_VARCHAR for names of at most 255 UTF-16 units.
pub fn put_b_varchar(out: &mut BytesMut, s: &str) -> Result<(), Error> {
    let n = utf16_len(s);
    if n > 255 {
        return Err(Error::interface(format!(
            "name {s:?} is longer than 255 characters"
        )));
    }
    out.put_u8(n as u8);
    put_utf16(out, s);
    Ok(())
}

pub fn put_us_varchar(out: &mut BytesMut, s: &str) -> Result<(), Error> {
    let n = utf16_len(s);
    if n > u16::MAX as usize {
        return Err(Error::interface("text longer than 65535 characters"));
    }
    out.put_u16_le(n as u16);
    put_utf16(out, s);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reads_are_incomplete() {
        let mut c = Cur::new(&[1, 0, 0]);
        assert_eq!(c.u16(), Ok(1));
        assert_eq!(c.u16(), Err(DecodeError::Incomplete));
        let mut c = Cur::new(&[2, b'h', 0]);
        assert_eq!(c.b_varchar(), Err(DecodeError::Incomplete));
    }

    #[test]
    fn utf16_round_trip() {
        let mut out = BytesMut::new();
        put_b_varchar(&mut out, "hé😀").unwrap();
        assert_eq!(&out[..], &[4, b'h', 0, 0xE9, 0, 0x3D, 0xD8, 0x00, 0xDE]);
        assert_eq!(Cur::new(&out).b_varchar().unwrap(), "hé😀");
        assert!(utf16_to_string(&[0x00, 0xD8]).is_err());
    }
}
