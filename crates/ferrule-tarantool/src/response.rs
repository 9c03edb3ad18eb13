//! Response decoding, sans IO: splitting the byte stream into frames (with a size limit), the
//! header (type or error code, sync, schema version) and the body's fields, kept as bytes.

use bytes::Bytes;
use ferrule_core::Error;
use rmp::Marker;

use crate::consts::{hdr, key, req};
use crate::error::box_error;
use crate::mp::{malformed, MpReader};

/// Frames larger than this are refused: no server answer legitimately comes near it, and the
/// reader must not be made to buffer gigabytes on a peer's say-so.
pub const MAX_FRAME: usize = 256 << 20;

/// The length of the next frame when its length prefix is complete: `(prefix, payload)`.
pub fn frame_length(buf: &[u8]) -> Result<Option<(usize, usize)>, Error> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let prefix = match Marker::from_u8(first) {
        Marker::FixPos(_) => 1,
        Marker::U8 => 2,
        Marker::U16 => 3,
        Marker::U32 => 5,
        Marker::U64 => 9,
        _ => {
            return Err(Error::protocol(format!(
                "bad frame length marker {first:#04x}"
            )))
        }
    };
    if buf.len() < prefix {
        return Ok(None);
    }
    let len = MpReader::new(&buf[..prefix]).read_u64()?;
    if len == 0 {
        return Err(Error::protocol("empty frame"));
    }
    if len > MAX_FRAME as u64 {
        return Err(Error::protocol(format!(
            "frame of {len} bytes refused (limit {MAX_FRAME})"
        )));
    }
    Ok(Some((prefix, len as usize)))
}

/// One decoded frame: its header fields and the body still as bytes.
#[derive(Debug, Clone)]
pub struct Response {
    /// IPROTO_REQUEST_TYPE of the answer: 0 OK, 0x80 CHUNK, 0x4c EVENT, 0x8000|code an error.
    pub code: u32,
    pub sync: u64,
    pub schema_version: Option<u64>,
    pub stream_id: Option<u64>,
    /// The body map (empty when the frame has no body).
    pub body: Bytes,
}

impl Response {
    /// Parses one frame's payload (header map then body map).
    pub fn parse(payload: Bytes) -> Result<Response, Error> {
        let mut r = MpReader::new(&payload);
        let n = r.read_map_len()?;
        let mut resp = Response {
            code: u32::MAX,
            sync: 0,
            schema_version: None,
            stream_id: None,
            body: Bytes::new(),
        };
        for _ in 0..n {
            let k = r.read_u64()?;
            match k {
                k if k == u64::from(hdr::REQUEST_TYPE) => {
                    resp.code = u32::try_from(r.read_u64()?)
                        .map_err(|_| malformed("response type out of range"))?;
                }
                k if k == u64::from(hdr::SYNC) => resp.sync = r.read_u64()?,
                k if k == u64::from(hdr::SCHEMA_VERSION) => {
                    resp.schema_version = Some(r.read_u64()?)
                }
                k if k == u64::from(hdr::STREAM_ID) => resp.stream_id = Some(r.read_u64()?),
                _ => r.skip()?,
            }
        }
        if resp.code == u32::MAX {
            return Err(Error::protocol("response without a type"));
        }
        if !r.is_empty() {
            let start = r.position();
            r.skip()?;
            if !r.is_empty() {
                return Err(Error::protocol("trailing bytes after the response body"));
            }
            resp.body = payload.slice(start..);
        }
        Ok(resp)
    }

    pub fn is_error(&self) -> bool {
        self.code & req::TYPE_ERROR != 0
    }

    pub fn is_chunk(&self) -> bool {
        self.code == req::CHUNK
    }

    pub fn error_code(&self) -> Option<u32> {
        self.is_error().then_some(self.code & !req::TYPE_ERROR)
    }

    /// The raw bytes of body field `k`, if present.
    pub fn field(&self, k: u8) -> Result<Option<Bytes>, Error> {
        if self.body.is_empty() {
            return Ok(None);
        }
        let mut r = MpReader::new(&self.body);
        let n = r.read_map_len()?;
        for _ in 0..n {
            let this = r.read_u64()?;
            let start = r.position();
            r.skip()?;
            if this == u64::from(k) {
                return Ok(Some(self.body.slice(start..r.position())));
            }
        }
        Ok(None)
    }

    /// IPROTO_DATA: the result array (tuples, returned values, pushed message).
    pub fn data(&self) -> Result<Bytes, Error> {
        Ok(self
            .field(key::DATA)?
            .unwrap_or_else(|| Bytes::from_static(&[0x90])))
    }

    /// The error this response carries: the IPROTO_ERROR stack when the server sent one, else
    /// the plain message of IPROTO_ERROR_24.
    pub fn to_error(&self) -> Error {
        let code = self.error_code().unwrap_or(0);
        let stack = self.field(key::ERROR).ok().flatten();
        if let Some(stack) = stack {
            if let Ok(e) = box_error(&mut MpReader::new(&stack), Some(code)) {
                return e;
            }
        }
        let message = match self.field(key::ERROR_24) {
            Ok(Some(m)) => MpReader::new(&m).read_str().unwrap_or("").to_owned(),
            _ => String::new(),
        };
        let message = if message.is_empty() {
            format!("Tarantool error {code}")
        } else {
            message
        };
        crate::error::database_error(code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths() {
        assert_eq!(frame_length(&[]).unwrap(), None);
        assert_eq!(frame_length(&[0xce, 0, 0]).unwrap(), None);
        assert_eq!(frame_length(&[0xce, 0, 0, 1, 0]).unwrap(), Some((5, 256)));
        assert_eq!(frame_length(&[0x05]).unwrap(), Some((1, 5)));
        assert!(frame_length(&[0xce, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(frame_length(&[0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(frame_length(&[0xa1]).is_err());
        assert!(frame_length(&[0x00]).is_err());
    }

    #[test]
    fn ok_response_with_data() {
        // {0: 0, 1: 7, 5: 80} {0x30: [[1, "a"]]}
        let p = [
            0x83, 0x00, 0x00, 0x01, 0x07, 0x05, 0x50, 0x81, 0x30, 0x91, 0x92, 0x01, 0xa1, b'a',
        ];
        let r = Response::parse(Bytes::copy_from_slice(&p)).unwrap();
        assert_eq!((r.code, r.sync, r.schema_version), (0, 7, Some(80)));
        assert!(!r.is_error());
        assert_eq!(&r.data().unwrap()[..], &[0x91, 0x92, 0x01, 0xa1, b'a']);
    }

    #[test]
    fn error_response_with_stack() {
        // header {0: 0x8003, 1: 2}, body {0x31: "dup", 0x52: {0: [{0: "ClientError", 3: "dup", 5: 3}]}}
        let mut p = vec![0x82, 0x00, 0xcd, 0x80, 0x03, 0x01, 0x02, 0x82, 0x31, 0xa3];
        p.extend(b"dup");
        p.extend([0x52, 0x81, 0x00, 0x91, 0x83, 0x00, 0xab]);
        p.extend(b"ClientError");
        p.extend([0x03, 0xa3]);
        p.extend(b"dup");
        p.extend([0x05, 0x03]);
        let r = Response::parse(Bytes::from(p)).unwrap();
        assert_eq!(r.error_code(), Some(3));
        let e = r.to_error();
        assert_eq!(e.code.as_deref(), Some("3"));
        assert_eq!(e.message, "dup");
        assert_eq!(e.field("error_type"), Some("ClientError"));
    }

    #[test]
    fn error_response_24_only() {
        let mut p = vec![0x82, 0x00, 0xcd, 0x80, 0x24, 0x01, 0x02, 0x81, 0x31, 0xa4];
        p.extend(b"nope");
        let e = Response::parse(Bytes::from(p)).unwrap().to_error();
        assert_eq!(
            (e.code.as_deref(), e.message.as_str()),
            (Some("36"), "nope")
        );
    }

    #[test]
    fn chunk_response() {
        let p = [0x82, 0x00, 0xcc, 0x80, 0x01, 0x09, 0x81, 0x30, 0x91, 0x2a];
        let r = Response::parse(Bytes::copy_from_slice(&p)).unwrap();
        assert!(r.is_chunk());
        assert_eq!(&r.data().unwrap()[..], &[0x91, 0x2a]);
    }

    #[test]
    fn hostile_frames() {
        for p in [
            &[][..],
            &[0x81, 0x01, 0x02][..],             // no type
            &[0x82, 0x00, 0x00, 0x01][..],       // truncated
            &[0x81, 0x00, 0x00, 0x81, 0x30][..], // truncated body
            &[0x81, 0x00, 0x00, 0x80, 0x00][..], // trailing bytes
            &[0x91, 0x00][..],                   // header not a map
            &[
                0x81, 0x00, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ][..],
        ] {
            assert!(
                Response::parse(Bytes::copy_from_slice(p)).is_err(),
                "{p:x?}"
            );
        }
    }
}
