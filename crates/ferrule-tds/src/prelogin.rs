//! PRELOGIN (MS-TDS 2.2.6.5): the first exchange, where client and server agree on
//! encryption and the server tells its version.

use bytes::{BufMut, BytesMut};
use ferrule_core::Error;

use crate::wire::{Cur, DecodeError};

const VERSION: u8 = 0x00;
const ENCRYPTION: u8 = 0x01;
const INSTOPT: u8 = 0x02;
const THREADID: u8 = 0x03;
const MARS: u8 = 0x04;
const FEDAUTHREQUIRED: u8 = 0x06;
const TERMINATOR: u8 = 0xFF;

/// Values of the ENCRYPTION option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encrypt {
    /// Encryption available, but only the login packet is to be encrypted.
    Off = 0x00,
    /// Encryption available and on.
    On = 0x01,
    /// Encryption not available.
    NotSupported = 0x02,
    /// Encryption required.
    Required = 0x03,
}

impl Encrypt {
    fn from_byte(b: u8) -> Result<Encrypt, Error> {
        Ok(match b & 0x0F {
            0x00 => Encrypt::Off,
            0x01 => Encrypt::On,
            0x02 => Encrypt::NotSupported,
            0x03 => Encrypt::Required,
            other => {
                return Err(Error::protocol(format!(
                    "unknown PRELOGIN encryption value {other}"
                )))
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreloginRequest {
    pub encrypt: Encrypt,
    /// Named instance to check (empty: any).
    pub instance: String,
    /// Ask for federated authentication (an access token in LOGIN7).
    pub fed_auth: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreloginResponse {
    /// Major, minor, build.
    pub version: (u8, u8, u16),
    pub encrypt: Encrypt,
    pub fed_auth_required: bool,
}

impl PreloginRequest {
    pub fn encode(&self, out: &mut BytesMut) {
        let mut options: Vec<(u8, Vec<u8>)> = vec![
            // Client version: ferrule's, major.minor then a zero sub-build.
            (VERSION, vec![0, 1, 0, 0, 0, 0]),
            (ENCRYPTION, vec![self.encrypt as u8]),
            (INSTOPT, {
                let mut v = self.instance.as_bytes().to_vec();
                v.push(0);
                v
            }),
            (THREADID, std::process::id().to_be_bytes().to_vec()),
            (MARS, vec![0]),
        ];
        if self.fed_auth {
            options.push((FEDAUTHREQUIRED, vec![1]));
        }
        let mut offset = options.len() * 5 + 1;
        for (token, data) in &options {
            out.put_u8(*token);
            out.put_u16(offset as u16);
            out.put_u16(data.len() as u16);
            offset += data.len();
        }
        out.put_u8(TERMINATOR);
        for (_, data) in &options {
            out.extend_from_slice(data);
        }
    }
}

impl PreloginResponse {
    pub fn decode(b: &[u8]) -> Result<PreloginResponse, Error> {
        let mut resp = PreloginResponse {
            version: (0, 0, 0),
            encrypt: Encrypt::NotSupported,
            fed_auth_required: false,
        };
        let mut c = Cur::new(b);
        let err = |e: DecodeError| e.into_error("PRELOGIN response");
        let mut seen_encryption = false;
        loop {
            let token = c.u8().map_err(err)?;
            if token == TERMINATOR {
                break;
            }
            let offset = c.u16_be().map_err(err)? as usize;
            let len = c.u16_be().map_err(err)? as usize;
            let data = b
                .get(offset..offset + len)
                .ok_or_else(|| Error::protocol("PRELOGIN option points outside the message"))?;
            match token {
                VERSION if len >= 4 => {
                    resp.version = (data[0], data[1], u16::from_be_bytes([data[2], data[3]]));
                }
                ENCRYPTION if len >= 1 => {
                    resp.encrypt = Encrypt::from_byte(data[0])?;
                    seen_encryption = true;
                }
                FEDAUTHREQUIRED if len >= 1 => resp.fed_auth_required = data[0] != 0,
                _ => {}
            }
        }
        if !seen_encryption {
            return Err(Error::protocol(
                "the PRELOGIN response has no encryption option",
            ));
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_golden() {
        let mut out = BytesMut::new();
        PreloginRequest {
            encrypt: Encrypt::On,
            instance: String::new(),
            fed_auth: false,
        }
        .encode(&mut out);
        let tid = std::process::id().to_be_bytes();
        let mut expected = vec![
            0x00, 0x00, 0x1A, 0x00, 0x06, // VERSION at 26, 6 bytes
            0x01, 0x00, 0x20, 0x00, 0x01, // ENCRYPTION at 32
            0x02, 0x00, 0x21, 0x00, 0x01, // INSTOPT at 33
            0x03, 0x00, 0x22, 0x00, 0x04, // THREADID at 34
            0x04, 0x00, 0x26, 0x00, 0x01, // MARS at 38
            0xFF, 0, 1, 0, 0, 0, 0, 0x01, 0x00,
        ];
        expected.extend_from_slice(&tid);
        expected.push(0);
        assert_eq!(&out[..], &expected[..]);
    }

    #[test]
    fn response_decodes() {
        let b = [
            0x00, 0x00, 0x0B, 0x00, 0x06, 0x01, 0x00, 0x11, 0x00, 0x01, 0xFF, 16, 0, 0x10, 0x00, 0,
            0, 0x03,
        ];
        let r = PreloginResponse::decode(&b).unwrap();
        assert_eq!(r.version, (16, 0, 0x1000));
        assert_eq!(r.encrypt, Encrypt::Required);
    }

    #[test]
    fn hostile_responses() {
        assert!(PreloginResponse::decode(&[]).is_err());
        assert!(PreloginResponse::decode(&[0x01, 0xFF, 0xFF, 0x00, 0x01, 0xFF]).is_err());
        assert!(PreloginResponse::decode(&[0xFF]).is_err());
        assert!(PreloginResponse::decode(&[0x01, 0x00, 0x06, 0x00, 0x01, 0xFF, 0x09]).is_err());
    }
}
