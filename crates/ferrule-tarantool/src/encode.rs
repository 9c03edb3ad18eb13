//! MessagePack writing: a thin infallible layer over `rmp::encode` for `Vec<u8>`, and bound
//! parameter values (`ferrule_core::Value`) in Tarantool's encoding, extensions included.

use ferrule_core::{Error, Value};

use crate::ext;

/// Writes MessagePack into a `Vec<u8>`; writing to memory cannot fail.
pub struct MpWriter<'a>(pub &'a mut Vec<u8>);

impl MpWriter<'_> {
    pub fn uint(&mut self, v: u64) {
        let _ = rmp::encode::write_uint(self.0, v);
    }
    pub fn sint(&mut self, v: i64) {
        if v >= 0 {
            self.uint(v as u64);
        } else {
            let _ = rmp::encode::write_sint(self.0, v);
        }
    }
    pub fn f64(&mut self, v: f64) {
        let _ = rmp::encode::write_f64(self.0, v);
    }
    pub fn bool(&mut self, v: bool) {
        let _ = rmp::encode::write_bool(self.0, v);
    }
    pub fn nil(&mut self) {
        let _ = rmp::encode::write_nil(self.0);
    }
    pub fn str(&mut self, s: &str) {
        let _ = rmp::encode::write_str(self.0, s);
    }
    /// A string header and raw bytes (the auth scramble is sent as a string of bytes).
    pub fn str_bytes(&mut self, s: &[u8]) {
        let _ = rmp::encode::write_str_len(self.0, s.len() as u32);
        self.0.extend_from_slice(s);
    }
    pub fn bin(&mut self, b: &[u8]) {
        let _ = rmp::encode::write_bin(self.0, b);
    }
    pub fn array(&mut self, n: u32) {
        let _ = rmp::encode::write_array_len(self.0, n);
    }
    pub fn map(&mut self, n: u32) {
        let _ = rmp::encode::write_map_len(self.0, n);
    }
    pub fn ext(&mut self, ty: i8, data: &[u8]) {
        let _ = rmp::encode::write_ext_meta(self.0, data.len() as u32, ty);
        self.0.extend_from_slice(data);
    }
    pub fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// Checks that a container length fits MessagePack's 32-bit counts.
pub fn len32(n: usize, what: &str) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| Error::interface(format!("{what} is too long for MessagePack")))
}

/// Encodes one value. Decimals, UUIDs, datetimes and intervals become Tarantool's extensions.
pub fn encode_value(out: &mut Vec<u8>, v: &Value) -> Result<(), Error> {
    let mut w = MpWriter(out);
    match v {
        Value::Null => w.nil(),
        Value::Bool(b) => w.bool(*b),
        Value::Int(i) => w.sint(*i),
        Value::BigInt(digits) => match digits.parse::<u64>() {
            Ok(u) => w.uint(u),
            Err(_) => {
                return Err(Error::interface(format!(
                    "integer {digits} does not fit MessagePack (64 bits); pass a Decimal"
                )))
            }
        },
        Value::Float(f) => w.f64(*f),
        Value::Text(s) => {
            len32(s.len(), "a string")?;
            w.str(s)
        }
        Value::Bytes(b) => {
            len32(b.len(), "a bytes value")?;
            w.bin(b)
        }
        Value::Json(s) => w.str(s),
        Value::Decimal(s) => w.ext(crate::consts::ext::DECIMAL, &ext::decimal_from_str(s)?),
        Value::Uuid(u) => w.ext(crate::consts::ext::UUID, u),
        Value::DateTime { micros, offset } => {
            let dt = ext::Datetime::from_micros(*micros, offset.unwrap_or(0))?;
            w.ext(crate::consts::ext::DATETIME, &dt.encode())
        }
        Value::Date(days) => {
            let dt = ext::Datetime::from_micros(i64::from(*days) * 86_400_000_000, 0)?;
            w.ext(crate::consts::ext::DATETIME, &dt.encode())
        }
        Value::Interval {
            months,
            days,
            micros,
        } => {
            let iv = ext::Interval::from_parts(*months, *days, *micros);
            w.ext(crate::consts::ext::INTERVAL, &iv.encode())
        }
        Value::List(items) => {
            w.array(len32(items.len(), "a list")?);
            for item in items {
                encode_value(out, item)?;
            }
        }
        Value::Map(entries) => {
            w.map(len32(entries.len(), "a dict")?);
            for (k, item) in entries {
                MpWriter(out).str(k);
                encode_value(out, item)?;
            }
        }
        Value::Time { .. } | Value::Inet { .. } => {
            return Err(Error::interface(format!(
                "a {} value has no Tarantool type; convert it first",
                v.kind()
            )))
        }
    }
    Ok(())
}

/// Encodes values as one array (a tuple, a key, call arguments).
pub fn encode_array(values: &[Value]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(16 + values.len() * 8);
    MpWriter(&mut out).array(len32(values.len(), "a tuple")?);
    for v in values {
        encode_value(&mut out, v)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_value(&mut out, &v).unwrap();
        out
    }

    #[test]
    fn scalars() {
        assert_eq!(enc(Value::Null), [0xc0]);
        assert_eq!(enc(Value::Int(-1)), [0xff]);
        assert_eq!(enc(Value::Int(200)), [0xcc, 200]);
        assert_eq!(enc(Value::Int(-200)), [0xd1, 0xff, 0x38]);
        assert_eq!(
            enc(Value::BigInt("18446744073709551615".into())),
            [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(enc(Value::Text("ab".into())), [0xa2, b'a', b'b']);
        assert_eq!(enc(Value::Bytes(vec![1, 2])), [0xc4, 2, 1, 2]);
        assert_eq!(enc(Value::Float(1.5)), [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert!(encode_value(
            &mut Vec::new(),
            &Value::BigInt("-99999999999999999999".into())
        )
        .is_err());
    }

    #[test]
    fn containers_and_extensions() {
        let v = Value::List(vec![
            Value::Int(1),
            Value::Map(vec![("k".into(), Value::Bool(true))]),
        ]);
        assert_eq!(enc(v), [0x92, 0x01, 0x81, 0xa1, b'k', 0xc3]);
        assert_eq!(
            enc(Value::Decimal("1.5".into())),
            [0xc7, 0x03, 0x01, 0x01, 0x01, 0x5c]
        );
        let mut uuid = vec![0xd8, 0x02];
        uuid.extend(0u8..16);
        let raw: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(enc(Value::Uuid(raw)), uuid);
    }
}
