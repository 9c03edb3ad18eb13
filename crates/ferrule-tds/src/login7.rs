//! LOGIN7 (MS-TDS 2.2.6.4): SQL authentication, or an Azure AD access token through the
//! FEDAUTH feature extension.

use bytes::{BufMut, BytesMut};
use ferrule_core::Error;

use crate::wire::{put_utf16, utf16_len};

/// TDS 7.4, sent little-endian.
pub const TDS_VERSION_74: u32 = 0x7400_0004;
const FIXED_LEN: usize = 94;
const FEATURE_FEDAUTH: u8 = 0x02;
const FEATURE_TERMINATOR: u8 = 0xFF;

#[derive(Debug, Clone, Default)]
pub struct Login7 {
    pub packet_size: u32,
    pub host_name: String,
    pub user: String,
    pub password: String,
    pub app_name: String,
    pub server_name: String,
    pub library: String,
    pub language: String,
    pub database: String,
    pub read_only_intent: bool,
    /// An Azure AD access token: sent instead of user and password.
    pub access_token: Option<String>,
    /// Echo of the server's FEDAUTHREQUIRED answer (MS-TDS requires it back).
    pub fed_auth_echo: bool,
}

/// The password obfuscation of LOGIN7: nibbles swapped, then XOR 0xA5, on UTF-16LE bytes.
fn scramble(password: &str) -> Vec<u8> {
    let mut b = BytesMut::with_capacity(password.len() * 2);
    put_utf16(&mut b, password);
    b.iter().map(|&x| x.rotate_left(4) ^ 0xA5).collect()
}

impl Login7 {
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), Error> {
        let token = self.access_token.as_deref();
        let (user, password) = if token.is_some() {
            ("", "")
        } else {
            (&*self.user, &*self.password)
        };
        let strings: [(&str, bool); 9] = [
            (&self.host_name, false),
            (user, false),
            (password, true),
            (&self.app_name, false),
            (&self.server_name, false),
            ("", false), // the extension slot, filled below
            (&self.library, false),
            (&self.language, false),
            (&self.database, false),
        ];
        for (s, _) in &strings {
            if utf16_len(s) > 128 {
                return Err(Error::interface(format!(
                    "login field {s:?} is longer than 128 characters"
                )));
            }
        }
        let mut data = BytesMut::new();
        let mut offsets = BytesMut::new();
        let mut at = FIXED_LEN;
        let mut ext_slot = None;
        for (i, (s, secret)) in strings.iter().enumerate() {
            if i == 5 {
                // ibExtension points at a DWORD holding the offset of the feature block.
                offsets.put_u16_le(if token.is_some() { at as u16 } else { 0 });
                offsets.put_u16_le(if token.is_some() { 4 } else { 0 });
                if token.is_some() {
                    ext_slot = Some(data.len());
                    data.put_u32_le(0);
                    at += 4;
                }
                continue;
            }
            let chars = utf16_len(s);
            offsets.put_u16_le(at as u16);
            offsets.put_u16_le(chars as u16);
            if *secret {
                data.extend_from_slice(&scramble(s));
            } else {
                put_utf16(&mut data, s);
            }
            at += chars * 2;
        }
        // ClientID (MAC address): zeros.
        offsets.extend_from_slice(&[0u8; 6]);
        // SSPI, AtchDBFile, ChangePassword: empty, then cbSSPILong.
        for _ in 0..3 {
            offsets.put_u16_le(at as u16);
            offsets.put_u16_le(0);
        }
        offsets.put_u32_le(0);
        if let (Some(slot), Some(token)) = (ext_slot, token) {
            let feature_at = (FIXED_LEN + data.len()) as u32;
            data[slot..slot + 4].copy_from_slice(&feature_at.to_le_bytes());
            let mut tok = BytesMut::new();
            put_utf16(&mut tok, token);
            data.put_u8(FEATURE_FEDAUTH);
            data.put_u32_le((1 + 4 + tok.len()) as u32);
            // Library 0x01 (security token) in bits 1..7, the echo flag in bit 0.
            data.put_u8((0x01 << 1) | u8::from(self.fed_auth_echo));
            data.put_u32_le(tok.len() as u32);
            data.extend_from_slice(&tok);
            data.put_u8(FEATURE_TERMINATOR);
        }
        let total = FIXED_LEN + data.len();
        out.reserve(total);
        out.put_u32_le(total as u32);
        out.put_u32_le(TDS_VERSION_74);
        out.put_u32_le(self.packet_size);
        out.put_u32_le(0x0100_0000); // client program version
        out.put_u32_le(std::process::id());
        out.put_u32_le(0); // connection id
                           // fUseDB | fDatabase (fail if the database cannot be used) | fSetLang.
        out.put_u8(0xE0);
        // fLanguage (fail on language change) | fODBC (ANSI defaults, as drivers do).
        out.put_u8(0x03);
        out.put_u8(if self.read_only_intent { 0x20 } else { 0x00 });
        out.put_u8(if token.is_some() { 0x10 } else { 0x00 });
        out.put_i32_le(0); // client time zone
        out.put_u32_le(0x0409); // client LCID
        out.extend_from_slice(&offsets);
        out.extend_from_slice(&data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_scramble_golden() {
        // "a" is 0x61 0x00: swapped 0x16 ^ 0xA5 = 0xB3, 0x00 ^ 0xA5 = 0xA5.
        assert_eq!(scramble("a"), vec![0xB3, 0xA5]);
    }

    #[test]
    fn layout_golden() {
        let login = Login7 {
            packet_size: 4096,
            host_name: "h".into(),
            user: "sa".into(),
            password: "a".into(),
            app_name: "ap".into(),
            server_name: "s".into(),
            library: "ferrule".into(),
            language: String::new(),
            database: "db".into(),
            ..Login7::default()
        };
        let mut out = BytesMut::new();
        login.encode(&mut out).unwrap();
        // Host, user, password, app, server, library, (no language), database.
        let chars = 1 + 2 + 1 + 2 + 1 + 7 + 2;
        assert_eq!(out.len(), 94 + chars * 2);
        assert_eq!(&out[0..4], &((94 + chars * 2) as u32).to_le_bytes());
        assert_eq!(&out[4..8], &[0x04, 0x00, 0x00, 0x74]);
        // HostName at 94 (1 char), UserName at 96 (2 chars), Password at 100 (1 char).
        assert_eq!(&out[36..48], &[94, 0, 1, 0, 96, 0, 2, 0, 100, 0, 1, 0]);
        assert_eq!(&out[94..96], &[b'h', 0]);
        assert_eq!(&out[100..102], &[0xB3, 0xA5]);
        // Database: after host, user, password, app, server, library (1+2+1+2+1+7 chars).
        let db_at = 94 + 14 * 2;
        assert_eq!(&out[68..72], &[db_at as u8, 0, 2, 0]);
        assert_eq!(&out[db_at..db_at + 4], &[b'd', 0, b'b', 0]);
    }

    #[test]
    fn access_token_uses_the_feature_extension() {
        let login = Login7 {
            packet_size: 4096,
            access_token: Some("tok".into()),
            fed_auth_echo: true,
            user: "ignored".into(),
            ..Login7::default()
        };
        let mut out = BytesMut::new();
        login.encode(&mut out).unwrap();
        assert_eq!(out[27], 0x10);
        let ext_off = u16::from_le_bytes([out[56], out[57]]) as usize;
        let feature_at = u32::from_le_bytes(out[ext_off..ext_off + 4].try_into().unwrap());
        let f = &out[feature_at as usize..];
        assert_eq!(f[0], 0x02);
        assert_eq!(&f[1..5], &(1u32 + 4 + 6).to_le_bytes());
        assert_eq!(f[5], 0x03);
        assert_eq!(&f[6..10], &6u32.to_le_bytes());
        assert_eq!(&f[10..16], &[b't', 0, b'o', 0, b'k', 0]);
        assert_eq!(f[16], 0xFF);
        // The user name is not sent with a token.
        assert_eq!(&out[42..44], &[0, 0]);
    }
}
