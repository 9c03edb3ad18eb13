//! SQLite failures as `ferrule_core::Error`: kind `Database` with the result code's name in
//! `code`, except the few codes that are a connection-level condition.

use std::ffi::CStr;

use ferrule_core::{Error, ErrorKind};
use rusqlite::ffi;

use crate::codes::name_or_primary;

/// The error SQLite reported on `db` for result `code` (the extended code when the handle has
/// one), with its message.
///
/// # Safety
/// `db` must be a live connection handle used by this thread only.
pub(crate) unsafe fn from_db(db: *mut ffi::sqlite3, code: i32) -> Error {
    let extended = if db.is_null() {
        code
    } else {
        ffi::sqlite3_extended_errcode(db)
    };
    // The handle's last code can be stale when `code` came from elsewhere (a busy handler,
    // a step of another statement); the primary codes must agree.
    let code = if extended & 0xff == code & 0xff {
        extended
    } else {
        code
    };
    let message = if db.is_null() {
        errstr(code)
    } else {
        CStr::from_ptr(ffi::sqlite3_errmsg(db))
            .to_string_lossy()
            .into_owned()
    };
    from_code(code, message)
}

/// The error for a result code and message.
pub(crate) fn from_code(code: i32, message: String) -> Error {
    let name = name_or_primary(code);
    let message = if code & 0xff == ffi::SQLITE_NOTADB {
        format!("{message} (an encrypted database needs its encryption_key)")
    } else {
        message
    };
    // Misuse and a bad parameter index are the caller's mistakes (PEP 249 InterfaceError).
    let kind = if matches!(code & 0xff, ffi::SQLITE_MISUSE | ffi::SQLITE_RANGE) {
        ErrorKind::Interface
    } else {
        ErrorKind::Database
    };
    Error::new(kind, message).with_code(name)
}

/// SQLite's English text for a result code.
pub(crate) fn errstr(code: i32) -> String {
    // SAFETY: sqlite3_errstr returns a static NUL-terminated string for any code.
    unsafe { CStr::from_ptr(ffi::sqlite3_errstr(code)) }
        .to_string_lossy()
        .into_owned()
}

/// A rusqlite error (opening, backup, hooks) in the same shape.
pub(crate) fn from_rusqlite(e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(err, msg) => {
            let message = msg.unwrap_or_else(|| errstr(err.extended_code));
            from_code(err.extended_code, message)
        }
        other => Error::interface(other.to_string()),
    }
}

/// The error of a call on a connection that was closed.
pub(crate) fn closed() -> Error {
    Error::closed("the connection is closed")
}
