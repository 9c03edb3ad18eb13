//! Parameters bound to a statement with `sqlite3_bind_*`: by position (`?`, `?NNN`) or, when
//! the single argument is a mapping, by name (`:name`, `@name`, `$name`). Values are never
//! pasted into SQL text.

use std::fmt::Write;

use ferrule_core::calendar::{civil_from_days, MICROS_PER_DAY};
use ferrule_core::{Error, Result, Value};
use rusqlite::ffi;

use crate::error::from_db;
use crate::stmt::{RawStmt, StmtMeta};

/// Binds `args` to `stmt`, whose parameters `meta` describes.
pub(crate) fn bind_args(
    db: *mut ffi::sqlite3,
    stmt: &RawStmt,
    meta: &StmtMeta,
    args: &[Value],
) -> Result<()> {
    if let [Value::Map(named)] = args {
        return bind_named(db, stmt, meta, named);
    }
    if args.len() != meta.params.len() {
        return Err(Error::interface(format!(
            "the statement has {} parameter(s) but {} argument(s) were given",
            meta.params.len(),
            args.len()
        )));
    }
    for (i, value) in args.iter().enumerate() {
        bind_one(db, stmt, i + 1, value).map_err(|e| in_param(e, &format!("?{}", i + 1)))?;
    }
    Ok(())
}

fn bind_named(
    db: *mut ffi::sqlite3,
    stmt: &RawStmt,
    meta: &StmtMeta,
    named: &[(String, Value)],
) -> Result<()> {
    for (i, name) in meta.params.iter().enumerate() {
        let Some(name) = name.as_deref().filter(|n| !n.starts_with('?')) else {
            return Err(Error::interface(format!(
                "a mapping of named arguments was given, but parameter {} is positional (?); \
                 use :name placeholders or pass the values positionally",
                i + 1
            )));
        };
        let key = &name[1..];
        let Some((_, value)) = named.iter().find(|(k, _)| k == key) else {
            return Err(Error::interface(format!(
                "no value for the named parameter {name}: the mapping has no key {key:?}"
            )));
        };
        bind_one(db, stmt, i + 1, value).map_err(|e| in_param(e, name))?;
    }
    Ok(())
}

fn in_param(e: Error, placeholder: &str) -> Error {
    if e.code.is_some() {
        return e;
    }
    Error::interface(format!("invalid argument {placeholder}: {}", e.message))
}

fn bind_one(db: *mut ffi::sqlite3, stmt: &RawStmt, index: usize, value: &Value) -> Result<()> {
    let i = index as i32;
    let p = stmt.ptr();
    // SAFETY: a live statement and a parameter index within its count; text and blobs are
    // copied by SQLite (SQLITE_TRANSIENT) before the call returns.
    let rc = unsafe {
        match value {
            Value::Null => ffi::sqlite3_bind_null(p, i),
            Value::Bool(b) => ffi::sqlite3_bind_int64(p, i, i64::from(*b)),
            Value::Int(n) => ffi::sqlite3_bind_int64(p, i, *n),
            Value::Float(f) => ffi::sqlite3_bind_double(p, i, *f),
            Value::Text(s) | Value::Decimal(s) | Value::Json(s) => bind_text(p, i, s),
            Value::Bytes(b) => ffi::sqlite3_bind_blob64(
                p,
                i,
                b.as_ptr().cast(),
                b.len() as u64,
                ffi::SQLITE_TRANSIENT(),
            ),
            other => match as_text(other)? {
                Some(s) => bind_text(p, i, &s),
                None => unreachable_kind(other)?,
            },
        }
    };
    if rc != ffi::SQLITE_OK {
        // SAFETY: the connection owning the statement, on this thread.
        return Err(unsafe { from_db(db, rc) });
    }
    Ok(())
}

unsafe fn bind_text(p: *mut ffi::sqlite3_stmt, i: i32, s: &str) -> i32 {
    ffi::sqlite3_bind_text64(
        p,
        i,
        s.as_ptr().cast(),
        s.len() as u64,
        ffi::SQLITE_TRANSIENT(),
        ffi::SQLITE_UTF8 as u8,
    )
}

fn unreachable_kind(value: &Value) -> Result<i32> {
    Err(Error::interface(format!(
        "a {} cannot be bound to a SQLite parameter",
        value.kind()
    )))
}

/// The text SQLite stores for the kinds it has no storage class of its own for: ISO 8601
/// dates and times (as its date functions read them), canonical UUIDs and IP addresses.
pub(crate) fn as_text(value: &Value) -> Result<Option<String>> {
    Ok(Some(match value {
        Value::BigInt(digits) => {
            return Err(Error::interface(format!(
                "integer {digits} is outside SQLite's 64-bit INTEGER range; \
                 bind it as a str or Decimal"
            )))
        }
        Value::Date(days) => iso_date(i64::from(*days)),
        Value::Time { micros, offset } => {
            let mut s = iso_time(*micros);
            push_offset(&mut s, *offset);
            s
        }
        Value::DateTime { micros, offset } => {
            let wall = micros + i64::from(offset.unwrap_or(0)) * 1_000_000;
            let mut s = iso_date(wall.div_euclid(MICROS_PER_DAY));
            s.push(' ');
            s.push_str(&iso_time(wall.rem_euclid(MICROS_PER_DAY)));
            push_offset(&mut s, *offset);
            s
        }
        Value::Uuid(b) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            )
        }
        Value::Inet {
            addr,
            prefix,
            is_network,
        } => {
            let (text, full) = match addr.len() {
                4 => (
                    std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
                    32,
                ),
                16 => {
                    let a: [u8; 16] = addr[..].try_into().unwrap_or([0; 16]);
                    (std::net::Ipv6Addr::from(a).to_string(), 128)
                }
                _ => return Err(Error::interface("an IP address has 4 or 16 bytes")),
            };
            if *is_network || *prefix != full {
                format!("{text}/{prefix}")
            } else {
                text
            }
        }
        Value::Interval { .. } => {
            return Err(Error::interface(
                "SQLite has no interval type: bind timedelta.total_seconds() or a str",
            ))
        }
        Value::List(_) => {
            return Err(Error::interface(
                "SQLite has no array type: bind the items separately, or json.dumps() the list",
            ))
        }
        Value::Map(_) => {
            return Err(Error::interface(
                "a dict binds named parameters only as the single argument",
            ))
        }
        _ => return Ok(None),
    }))
}

fn iso_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn iso_time(micros: i64) -> String {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let mut s = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac != 0 {
        let _ = write!(s, ".{frac:06}");
    }
    s
}

fn push_offset(s: &mut String, offset: Option<i32>) {
    if let Some(off) = offset {
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        let _ = write!(s, "{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_text() {
        assert_eq!(as_text(&Value::Date(0)).unwrap().unwrap(), "1970-01-01");
        let dt = Value::DateTime {
            micros: 86_400_000_000 + 3_723_000_005,
            offset: None,
        };
        assert_eq!(as_text(&dt).unwrap().unwrap(), "1970-01-02 01:02:03.000005");
        let aware = Value::DateTime {
            micros: 0,
            offset: Some(-5400),
        };
        assert_eq!(
            as_text(&aware).unwrap().unwrap(),
            "1969-12-31 22:30:00-01:30"
        );
        let t = Value::Time {
            micros: 45_296_000_000,
            offset: Some(3600),
        };
        assert_eq!(as_text(&t).unwrap().unwrap(), "12:34:56+01:00");
        let u = Value::Uuid([0x12; 16]);
        assert_eq!(
            as_text(&u).unwrap().unwrap(),
            "12121212-1212-1212-1212-121212121212"
        );
        assert!(as_text(&Value::BigInt("1".repeat(30))).is_err());
    }
}
