//! Request payloads: SQL batch, RPC (sp_executesql, sp_prepare, sp_prepexec, sp_execute,
//! sp_unprepare, stored procedures by name) and transaction manager requests. Each starts
//! with ALL_HEADERS carrying the current transaction descriptor.

use bytes::{BufMut, BytesMut};
use ferrule_core::{Error, Value};

use crate::params::{encode_param, Param};
use crate::wire::{put_b_varchar, put_utf16};

/// Well-known procedure ids (MS-TDS 2.2.6.6).
pub mod proc_id {
    pub const SP_EXECUTESQL: u16 = 10;
    pub const SP_PREPARE: u16 = 11;
    pub const SP_EXECUTE: u16 = 12;
    pub const SP_PREPEXEC: u16 = 13;
    pub const SP_UNPREPARE: u16 = 15;
}

/// ALL_HEADERS with the transaction descriptor header (one outstanding request).
pub fn all_headers(out: &mut BytesMut, tx: &[u8; 8]) {
    out.put_u32_le(22);
    out.put_u32_le(18);
    out.put_u16_le(0x0002);
    out.extend_from_slice(tx);
    out.put_u32_le(1);
}

/// A SQL batch: the text as UTF-16.
pub fn sql_batch(out: &mut BytesMut, tx: &[u8; 8], sql: &str) {
    all_headers(out, tx);
    put_utf16(out, sql);
}

/// Which procedure an RPC calls.
pub enum Proc<'a> {
    Id(u16),
    Name(&'a str),
}

fn rpc_head(out: &mut BytesMut, tx: &[u8; 8], proc: Proc<'_>) -> Result<(), Error> {
    all_headers(out, tx);
    match proc {
        Proc::Id(id) => {
            out.put_u16_le(0xFFFF);
            out.put_u16_le(id);
        }
        Proc::Name(name) => {
            let n = crate::wire::utf16_len(name);
            if n == 0 || n > 1024 {
                return Err(Error::interface(
                    "a procedure name must have 1 to 1024 characters",
                ));
            }
            out.put_u16_le(n as u16);
            put_utf16(out, name);
        }
    }
    out.put_u16_le(0); // option flags
    Ok(())
}

fn text_param(name: &str, text: &str) -> Param {
    Param {
        name: name.into(),
        value: Value::Text(text.into()),
        output: false,
        type_hint: None,
    }
}

fn int_param(name: &str, v: i32, output: bool) -> Param {
    Param {
        name: name.into(),
        value: if output {
            Value::Null
        } else {
            Value::Int(i64::from(v))
        },
        output,
        type_hint: output.then(|| "int".into()),
    }
}

/// Encodes `params` after the head and returns their declaration list
/// (`@p1 int,@p2 nvarchar(4000)`); output parameters are declared OUTPUT.
fn encode_user_params(body: &mut BytesMut, params: &[Param]) -> Result<String, Error> {
    let mut decl = String::new();
    for p in params {
        let ty = encode_param(body, p)?;
        if !decl.is_empty() {
            decl.push(',');
        }
        decl.push_str(&p.name);
        decl.push(' ');
        decl.push_str(&ty);
        if p.output {
            decl.push_str(" OUTPUT");
        }
    }
    Ok(decl)
}

/// The declaration `sp_executesql` / `sp_prepexec` need for `params`, without encoding them.
pub fn declaration(params: &[Param]) -> Result<String, Error> {
    encode_user_params(&mut BytesMut::new(), params)
}

/// `sp_executesql @stmt, @params, @p1, ...`
pub fn sp_executesql(
    out: &mut BytesMut,
    tx: &[u8; 8],
    sql: &str,
    params: &[Param],
) -> Result<(), Error> {
    rpc_head(out, tx, Proc::Id(proc_id::SP_EXECUTESQL))?;
    let mut body = BytesMut::new();
    let decl = encode_user_params(&mut body, params)?;
    encode_param(out, &text_param("", sql))?;
    encode_param(out, &text_param("", &decl))?;
    out.extend_from_slice(&body);
    Ok(())
}

/// `sp_prepare @handle OUTPUT, @params, @stmt, 1`: the handle comes back as RETURNVALUE.
pub fn sp_prepare(out: &mut BytesMut, tx: &[u8; 8], sql: &str, decl: &str) -> Result<(), Error> {
    rpc_head(out, tx, Proc::Id(proc_id::SP_PREPARE))?;
    encode_param(out, &int_param("", 0, true))?;
    encode_param(out, &text_param("", decl))?;
    encode_param(out, &text_param("", sql))?;
    encode_param(out, &int_param("", 1, false))?;
    Ok(())
}

/// `sp_prepexec @handle OUTPUT, @params, @stmt, @p1, ...`: prepares and runs in one trip.
pub fn sp_prepexec(
    out: &mut BytesMut,
    tx: &[u8; 8],
    sql: &str,
    params: &[Param],
) -> Result<(), Error> {
    rpc_head(out, tx, Proc::Id(proc_id::SP_PREPEXEC))?;
    let mut body = BytesMut::new();
    let decl = encode_user_params(&mut body, params)?;
    encode_param(out, &int_param("", 0, true))?;
    encode_param(out, &text_param("", &decl))?;
    encode_param(out, &text_param("", sql))?;
    out.extend_from_slice(&body);
    Ok(())
}

/// `sp_execute @handle, @p1, ...`
pub fn sp_execute(
    out: &mut BytesMut,
    tx: &[u8; 8],
    handle: i32,
    params: &[Param],
) -> Result<(), Error> {
    rpc_head(out, tx, Proc::Id(proc_id::SP_EXECUTE))?;
    encode_param(out, &int_param("", handle, false))?;
    encode_user_params(out, params)?;
    Ok(())
}

/// `sp_unprepare @handle`
pub fn sp_unprepare(out: &mut BytesMut, tx: &[u8; 8], handle: i32) -> Result<(), Error> {
    rpc_head(out, tx, Proc::Id(proc_id::SP_UNPREPARE))?;
    encode_param(out, &int_param("", handle, false))?;
    Ok(())
}

/// A stored procedure by name with named or positional parameters.
pub fn call_procedure(
    out: &mut BytesMut,
    tx: &[u8; 8],
    name: &str,
    params: &[Param],
) -> Result<(), Error> {
    rpc_head(out, tx, Proc::Name(name))?;
    encode_user_params(out, params)?;
    Ok(())
}

/// Transaction manager requests (MS-TDS 2.2.6.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TmRequest<'a> {
    /// Isolation level: 0 unchanged, 1 read uncommitted, 2 read committed, 3 repeatable
    /// read, 4 serializable, 5 snapshot.
    Begin {
        isolation: u8,
    },
    Commit,
    Rollback,
    /// Rolls back to a savepoint.
    RollbackTo(&'a str),
    Save(&'a str),
}

pub fn transaction_manager(
    out: &mut BytesMut,
    tx: &[u8; 8],
    req: TmRequest<'_>,
) -> Result<(), Error> {
    all_headers(out, tx);
    match req {
        TmRequest::Begin { isolation } => {
            out.put_u16_le(5);
            out.put_u8(isolation);
            out.put_u8(0);
        }
        TmRequest::Commit => {
            out.put_u16_le(7);
            out.put_u8(0);
            out.put_u8(0);
        }
        TmRequest::Rollback => {
            out.put_u16_le(8);
            out.put_u8(0);
            out.put_u8(0);
        }
        TmRequest::RollbackTo(name) => {
            out.put_u16_le(8);
            put_b_varchar(out, name)?;
            out.put_u8(0);
        }
        TmRequest::Save(name) => {
            out.put_u16_le(9);
            put_b_varchar(out, name)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TX: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

    fn headers() -> Vec<u8> {
        let mut v = vec![22, 0, 0, 0, 18, 0, 0, 0, 2, 0];
        v.extend_from_slice(&TX);
        v.extend_from_slice(&[1, 0, 0, 0]);
        v
    }

    #[test]
    fn batch_golden() {
        let mut out = BytesMut::new();
        sql_batch(&mut out, &TX, "go");
        let mut expected = headers();
        expected.extend_from_slice(&[b'g', 0, b'o', 0]);
        assert_eq!(&out[..], &expected[..]);
    }

    #[test]
    fn executesql_golden() {
        let mut out = BytesMut::new();
        sp_executesql(&mut out, &TX, "s", &[Param::positional(0, Value::Int(5))]).unwrap();
        let mut e = headers();
        e.extend_from_slice(&[0xFF, 0xFF, 10, 0, 0, 0]);
        // @stmt: unnamed, nvarchar(4000) "s".
        e.extend_from_slice(&[0, 0, 0xE7, 0x40, 0x1F, 9, 4, 0xD0, 0, 0x34, 2, 0, b's', 0]);
        // @params: "@p1 int" (7 chars).
        e.extend_from_slice(&[0, 0, 0xE7, 0x40, 0x1F, 9, 4, 0xD0, 0, 0x34, 14, 0]);
        for ch in "@p1 int".bytes() {
            e.extend_from_slice(&[ch, 0]);
        }
        // @p1 = 5
        e.extend_from_slice(&[3, b'@', 0, b'p', 0, b'1', 0, 0, 0x26, 4, 4, 5, 0, 0, 0]);
        assert_eq!(&out[..], &e[..]);
    }

    #[test]
    fn prepare_execute_unprepare_golden() {
        let mut out = BytesMut::new();
        sp_execute(&mut out, &TX, 9, &[]).unwrap();
        let mut e = headers();
        e.extend_from_slice(&[0xFF, 0xFF, 12, 0, 0, 0, 0, 0, 0x26, 4, 4, 9, 0, 0, 0]);
        assert_eq!(&out[..], &e[..]);

        let mut out = BytesMut::new();
        sp_unprepare(&mut out, &TX, 9).unwrap();
        assert_eq!(&out[22..26], &[0xFF, 0xFF, 15, 0]);

        let mut out = BytesMut::new();
        sp_prepare(&mut out, &TX, "select 1", "").unwrap();
        // The handle: unnamed, OUTPUT, int NULL.
        assert_eq!(
            &out[22..34],
            &[0xFF, 0xFF, 11, 0, 0, 0, 0, 1, 0x26, 4, 0, 0]
        );

        let mut out = BytesMut::new();
        sp_prepexec(
            &mut out,
            &TX,
            "x",
            &[Param::positional(0, Value::Bool(true))],
        )
        .unwrap();
        assert_eq!(&out[22..26], &[0xFF, 0xFF, 13, 0]);
        assert!(out.ends_with(&[3, b'@', 0, b'p', 0, b'1', 0, 0, 0x68, 1, 1, 1]));
    }

    #[test]
    fn procedure_by_name_golden() {
        let mut out = BytesMut::new();
        let p = Param {
            name: "@o".into(),
            value: Value::Null,
            output: true,
            type_hint: Some("bigint".into()),
        };
        call_procedure(&mut out, &TX, "p", &[p]).unwrap();
        let mut e = headers();
        e.extend_from_slice(&[1, 0, b'p', 0, 0, 0, 2, b'@', 0, b'o', 0, 1, 0x26, 8, 0]);
        assert_eq!(&out[..], &e[..]);
        assert!(call_procedure(&mut BytesMut::new(), &TX, "", &[]).is_err());
    }

    #[test]
    fn declarations() {
        let params = [
            Param::positional(0, Value::Int(1)),
            Param {
                name: "@out".into(),
                value: Value::Null,
                output: true,
                type_hint: Some("nvarchar(max)".into()),
            },
        ];
        assert_eq!(
            declaration(&params).unwrap(),
            "@p1 int,@out nvarchar(max) OUTPUT"
        );
    }

    #[test]
    fn transaction_manager_golden() {
        let mut out = BytesMut::new();
        transaction_manager(&mut out, &[0; 8], TmRequest::Begin { isolation: 4 }).unwrap();
        assert_eq!(&out[22..], &[5, 0, 4, 0]);
        let mut out = BytesMut::new();
        transaction_manager(&mut out, &TX, TmRequest::Save("s1")).unwrap();
        assert_eq!(&out[22..], &[9, 0, 2, b's', 0, b'1', 0]);
        let mut out = BytesMut::new();
        transaction_manager(&mut out, &TX, TmRequest::Commit).unwrap();
        assert_eq!(&out[22..], &[7, 0, 0, 0]);
    }
}
