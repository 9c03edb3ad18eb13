//! The token stream of a tabular result (MS-TDS 2.2.7): each token is decoded from the front
//! of the bytes received so far, or reported incomplete until more arrive.

use std::sync::Arc;

use crate::types::{skip_cell, LenKind, TypeInfo};
use crate::wire::{bad, Cur, DResult};

pub mod id {
    pub const COLMETADATA: u8 = 0x81;
    pub const ROW: u8 = 0xD1;
    pub const NBCROW: u8 = 0xD2;
    pub const DONE: u8 = 0xFD;
    pub const DONEPROC: u8 = 0xFE;
    pub const DONEINPROC: u8 = 0xFF;
    pub const ERROR: u8 = 0xAA;
    pub const INFO: u8 = 0xAB;
    pub const ENVCHANGE: u8 = 0xE3;
    pub const LOGINACK: u8 = 0xAD;
    pub const RETURNSTATUS: u8 = 0x79;
    pub const RETURNVALUE: u8 = 0xAC;
    pub const ORDER: u8 = 0xA9;
    pub const COLINFO: u8 = 0xA5;
    pub const TABNAME: u8 = 0xA4;
    pub const FEATUREEXTACK: u8 = 0xAE;
    pub const FEDAUTHINFO: u8 = 0xEE;
    pub const SESSIONSTATE: u8 = 0xE4;
    pub const SSPI: u8 = 0xED;
    pub const OFFSET: u8 = 0x78;
}

/// DONE status bits.
pub mod done {
    pub const MORE: u16 = 0x0001;
    pub const ERROR: u16 = 0x0002;
    pub const INXACT: u16 = 0x0004;
    pub const COUNT: u16 = 0x0010;
    pub const ATTN: u16 = 0x0020;
    pub const SRVERROR: u16 = 0x0100;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_info: TypeInfo,
    pub user_type: u32,
    pub flags: u16,
}

impl Column {
    pub fn nullable(&self) -> bool {
        self.flags & 0x0001 != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub status: u16,
    pub cur_cmd: u16,
    pub row_count: u64,
}

impl Done {
    pub fn has_more(&self) -> bool {
        self.status & done::MORE != 0
    }
    pub fn is_attention_ack(&self) -> bool {
        self.status & done::ATTN != 0
    }
    pub fn count(&self) -> Option<u64> {
        (self.status & done::COUNT != 0).then_some(self.row_count)
    }
}

/// An ERROR or INFO token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMessage {
    pub number: i32,
    pub state: u8,
    pub class: u8,
    pub message: String,
    pub server: String,
    pub procedure: String,
    pub line: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvChange {
    Database(String),
    Language(String),
    PacketSize(usize),
    Collation(Vec<u8>),
    /// The new transaction descriptor.
    BeginTransaction([u8; 8]),
    CommitTransaction,
    RollbackTransaction,
    TransactionEnded,
    ResetAck,
    Routing {
        host: String,
        port: u16,
    },
    Other(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAck {
    pub tds_version: u32,
    pub program: String,
    pub version: [u8; 4],
}

/// An output parameter's value, still raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnValue {
    pub ordinal: u16,
    pub name: String,
    pub type_info: TypeInfo,
    /// The whole value as written on the wire (length prefix included).
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A new result set's columns; `None` for a result with no columns (0xFFFF).
    ColMetadata(Option<Arc<[Column]>>),
    /// A row; its body is the token's bytes after the token byte.
    Row {
        nbc: bool,
    },
    Done(Done),
    DoneProc(Done),
    DoneInProc(Done),
    Error(ServerMessage),
    Info(ServerMessage),
    EnvChange(EnvChange),
    LoginAck(LoginAck),
    ReturnStatus(i32),
    ReturnValue(ReturnValue),
    /// FEATUREEXTACK: which features the server acknowledged.
    FeatureExtAck(Vec<u8>),
    /// Tokens that carry nothing a client needs (ORDER, COLINFO, TABNAME, ...).
    Skipped,
}

/// Decodes the token at the front of `b`; returns it and its length in bytes. `columns` are
/// the current result set's, needed to find where a row ends.
pub fn decode(b: &[u8], columns: Option<&[Column]>) -> DResult<(Token, usize)> {
    let mut c = Cur::new(b);
    let t = c.u8()?;
    let token = match t {
        id::COLMETADATA => Token::ColMetadata(colmetadata(&mut c)?),
        id::ROW | id::NBCROW => {
            let Some(cols) = columns else {
                return bad("a row arrived before its column metadata");
            };
            if t == id::ROW {
                for col in cols {
                    skip_cell(&mut c, &col.type_info)?;
                }
            } else {
                let bitmap = c.take(cols.len().div_ceil(8))?;
                for (i, col) in cols.iter().enumerate() {
                    if bitmap[i / 8] & (1 << (i % 8)) == 0 {
                        skip_cell(&mut c, &col.type_info)?;
                    }
                }
            }
            Token::Row {
                nbc: t == id::NBCROW,
            }
        }
        id::DONE | id::DONEPROC | id::DONEINPROC => {
            let d = Done {
                status: c.u16()?,
                cur_cmd: c.u16()?,
                row_count: c.u64()?,
            };
            match t {
                id::DONE => Token::Done(d),
                id::DONEPROC => Token::DoneProc(d),
                _ => Token::DoneInProc(d),
            }
        }
        id::ERROR | id::INFO => {
            let body = sized(&mut c, 2)?;
            let m = server_message(body)?;
            if t == id::ERROR {
                Token::Error(m)
            } else {
                Token::Info(m)
            }
        }
        id::ENVCHANGE => Token::EnvChange(envchange(sized(&mut c, 2)?)?),
        id::LOGINACK => {
            let mut body = Cur::new(sized(&mut c, 2)?);
            let _interface = body.u8()?;
            let v = body.take(4)?;
            let tds_version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
            let program = body.b_varchar()?;
            let v = body.take(4)?;
            Token::LoginAck(LoginAck {
                tds_version,
                program,
                version: [v[0], v[1], v[2], v[3]],
            })
        }
        id::RETURNSTATUS => Token::ReturnStatus(c.i32()?),
        id::RETURNVALUE => {
            let ordinal = c.u16()?;
            let name = c.b_varchar()?;
            let _status = c.u8()?;
            let _user_type = c.u32()?;
            let _flags = c.u16()?;
            let type_info = TypeInfo::parse(&mut c)?;
            let start = c.pos;
            skip_cell(&mut c, &type_info)?;
            let raw = b[start..c.pos].to_vec();
            Token::ReturnValue(ReturnValue {
                ordinal,
                name,
                type_info,
                raw,
            })
        }
        id::ORDER | id::COLINFO | id::TABNAME => {
            sized(&mut c, 2)?;
            Token::Skipped
        }
        id::FEDAUTHINFO | id::SESSIONSTATE => {
            let n = c.u32()? as usize;
            c.skip(n)?;
            Token::Skipped
        }
        id::OFFSET => {
            c.skip(4)?;
            Token::Skipped
        }
        id::FEATUREEXTACK => {
            let mut features = Vec::new();
            loop {
                let f = c.u8()?;
                if f == 0xFF {
                    break;
                }
                let n = c.u32()? as usize;
                c.skip(n)?;
                features.push(f);
            }
            Token::FeatureExtAck(features)
        }
        id::SSPI => return bad("the server asks for SSPI (Windows) authentication"),
        other => return bad(format!("unknown token {other:#04x}")),
    };
    Ok((token, c.pos))
}

/// The bytes of a token whose length prefix is `width` bytes.
fn sized<'a>(c: &mut Cur<'a>, width: u8) -> DResult<&'a [u8]> {
    let n = if width == 2 {
        c.u16()? as usize
    } else {
        c.u32()? as usize
    };
    c.take(n)
}

fn colmetadata(c: &mut Cur<'_>) -> DResult<Option<Arc<[Column]>>> {
    let count = c.u16()?;
    if count == 0xFFFF {
        return Ok(None);
    }
    // Each column takes at least 8 bytes: the count cannot ask for more than is there.
    let mut cols = Vec::with_capacity((count as usize).min(c.remaining() / 8 + 1));
    for _ in 0..count {
        let user_type = c.u32()?;
        let flags = c.u16()?;
        let type_info = TypeInfo::parse(c)?;
        if type_info.len_kind == LenKind::Long {
            let parts = c.u8()?;
            for _ in 0..parts {
                c.us_varchar()?;
            }
        }
        let name = c.b_varchar()?;
        cols.push(Column {
            name,
            type_info,
            user_type,
            flags,
        });
    }
    Ok(Some(cols.into()))
}

fn server_message(b: &[u8]) -> DResult<ServerMessage> {
    let mut c = Cur::new(b);
    let r = (|| {
        Ok(ServerMessage {
            number: c.i32()?,
            state: c.u8()?,
            class: c.u8()?,
            message: c.us_varchar()?,
            server: c.b_varchar()?,
            procedure: c.b_varchar()?,
            line: c.i32()?,
        })
    })();
    r.or_else(|e| match e {
        crate::wire::DecodeError::Incomplete => bad("ERROR/INFO token shorter than its fields"),
        other => Err(other),
    })
}

fn envchange(b: &[u8]) -> DResult<EnvChange> {
    let mut c = Cur::new(b);
    let short = |e| match e {
        crate::wire::DecodeError::Incomplete => {
            crate::wire::DecodeError::Bad("ENVCHANGE shorter than its fields".into())
        }
        other => other,
    };
    let kind = c.u8().map_err(short)?;
    let bvarbyte = |c: &mut Cur<'_>| -> DResult<Vec<u8>> {
        let n = c.u8()? as usize;
        Ok(c.take(n)?.to_vec())
    };
    Ok(match kind {
        1 => EnvChange::Database(c.b_varchar().map_err(short)?),
        2 => EnvChange::Language(c.b_varchar().map_err(short)?),
        4 => {
            let text = c.b_varchar().map_err(short)?;
            match text.parse::<usize>() {
                Ok(n) if (512..=32767).contains(&n) => EnvChange::PacketSize(n),
                _ => return bad(format!("packet size {text:?} from the server")),
            }
        }
        7 => EnvChange::Collation(bvarbyte(&mut c).map_err(short)?),
        8 => {
            let v = bvarbyte(&mut c).map_err(short)?;
            let d: [u8; 8] = v
                .as_slice()
                .try_into()
                .or_else(|_| bad("transaction descriptor is not 8 bytes"))?;
            EnvChange::BeginTransaction(d)
        }
        9 => EnvChange::CommitTransaction,
        10 => EnvChange::RollbackTransaction,
        17 => EnvChange::TransactionEnded,
        18 => EnvChange::ResetAck,
        20 => {
            let _len = c.u16().map_err(short)?;
            let protocol = c.u8().map_err(short)?;
            if protocol != 0 {
                return bad("routing to a protocol other than TCP");
            }
            let port = c.u16().map_err(short)?;
            let host = c.us_varchar().map_err(short)?;
            EnvChange::Routing { host, port }
        }
        other => EnvChange::Other(other),
    })
}

/// The NULL bitmap test of an NBCROW body.
pub fn nbc_is_null(bitmap: &[u8], i: usize) -> bool {
    bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::DecodeError;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// COLMETADATA of (id int NOT NULL, name nvarchar(10) NULL).
    fn two_columns() -> Vec<u8> {
        let mut b = vec![0x81, 2, 0];
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x38, 2]);
        b.extend(utf16("id"));
        b.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0xE7, 20, 0, 9, 4, 0xD0, 0, 0x34, 4]);
        b.extend(utf16("name"));
        b
    }

    #[test]
    fn colmetadata_golden() {
        let b = two_columns();
        let (t, n) = decode(&b, None).unwrap();
        assert_eq!(n, b.len());
        let Token::ColMetadata(Some(cols)) = t else {
            panic!()
        };
        assert_eq!(cols[0].name, "id");
        assert_eq!(cols[1].type_info.sql_name(), "nvarchar(10)");
        assert!(cols[1].nullable());
        for cut in 0..b.len() {
            assert_eq!(decode(&b[..cut], None), Err(DecodeError::Incomplete));
        }
    }

    #[test]
    fn rows_golden() {
        let (Token::ColMetadata(Some(cols)), _) = decode(&two_columns(), None).unwrap() else {
            panic!()
        };
        let row = [0xD1, 7, 0, 0, 0, 2, 0, b'x', 0, 0xAA];
        assert_eq!(
            decode(&row, Some(&cols)).unwrap(),
            (Token::Row { nbc: false }, 9)
        );
        let nbc = [0xD2, 0b10, 7, 0, 0, 0];
        assert_eq!(
            decode(&nbc, Some(&cols)).unwrap(),
            (Token::Row { nbc: true }, 6)
        );
        assert!(matches!(decode(&row, None), Err(DecodeError::Bad(_))));
    }

    #[test]
    fn done_error_envchange_golden() {
        let d = [0xFD, 0x10, 0, 0xC1, 0, 3, 0, 0, 0, 0, 0, 0, 0];
        let (t, n) = decode(&d, None).unwrap();
        assert_eq!(n, 13);
        let Token::Done(done) = t else { panic!() };
        assert_eq!(
            (done.count(), done.cur_cmd, done.has_more()),
            (Some(3), 0xC1, false)
        );

        let mut e = vec![0xAA, 0, 0];
        e.extend_from_slice(&2627i32.to_le_bytes());
        e.extend_from_slice(&[1, 14]);
        e.extend_from_slice(&[2, 0]);
        e.extend(utf16("no"));
        e.push(1);
        e.extend(utf16("s"));
        e.push(0);
        e.extend_from_slice(&5i32.to_le_bytes());
        let len = (e.len() - 3) as u16;
        e[1..3].copy_from_slice(&len.to_le_bytes());
        let (t, _) = decode(&e, None).unwrap();
        let Token::Error(m) = t else { panic!() };
        assert_eq!((m.number, m.state, m.class, m.line), (2627, 1, 14, 5));
        assert_eq!(
            (m.message.as_str(), m.server.as_str(), m.procedure.as_str()),
            ("no", "s", "")
        );

        let mut env = vec![0xE3, 0, 0, 4, 4];
        env.extend(utf16("8192"));
        env.push(4);
        env.extend(utf16("4096"));
        let len = (env.len() - 3) as u16;
        env[1..3].copy_from_slice(&len.to_le_bytes());
        assert_eq!(
            decode(&env, None).unwrap().0,
            Token::EnvChange(EnvChange::PacketSize(8192))
        );
        let tran = [0xE3, 11, 0, 8, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            decode(&tran, None).unwrap().0,
            Token::EnvChange(EnvChange::BeginTransaction([1, 0, 0, 0, 0, 0, 0, 0]))
        );
    }

    #[test]
    fn returnvalue_golden() {
        let mut b = vec![0xAC, 1, 0, 2];
        b.extend(utf16("@o"));
        b.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0x26, 4, 4, 42, 0, 0, 0]);
        let (t, n) = decode(&b, None).unwrap();
        assert_eq!(n, b.len());
        let Token::ReturnValue(rv) = t else { panic!() };
        assert_eq!(
            (rv.name.as_str(), rv.raw.as_slice()),
            ("@o", &[4u8, 42, 0, 0, 0][..])
        );
    }

    #[test]
    fn hostile_tokens_never_panic() {
        let mut seed: u32 = 12345;
        let cols = match decode(&two_columns(), None).unwrap().0 {
            Token::ColMetadata(Some(c)) => c,
            _ => panic!(),
        };
        for _ in 0..20000 {
            let mut b = Vec::new();
            for _ in 0..(seed % 40) {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b.push((seed >> 16) as u8);
            }
            let _ = decode(&b, Some(&cols));
            let _ = decode(&b, None);
        }
        // A column count far beyond the bytes present does not allocate for it.
        assert_eq!(
            decode(&[0x81, 0xFE, 0xFF], None),
            Err(DecodeError::Incomplete)
        );
    }
}
