//! Encryption at rest: the bundled SQLite is SQLCipher's, which encrypts every page of a
//! database opened with a key (AES-256, its default settings) and reads plain databases as
//! SQLite does when no key is given.

use ferrule_core::{Error, ErrorKind, Result};
use rusqlite::{ffi, Connection};

use crate::error::from_rusqlite;

/// Gives SQLCipher the database key (through its C API: a key never goes into SQL text), then
/// reads the schema, the first access that decrypts a page: a wrong key fails here, at open.
pub(crate) fn apply_key(
    conn: &Connection,
    db: *mut ffi::sqlite3,
    key: &[u8],
    path: &str,
) -> Result<()> {
    let len = std::os::raw::c_int::try_from(key.len())
        .map_err(|_| Error::new(ErrorKind::Interface, "the encryption key is too long"))?;
    // SAFETY: `db` is the open handle owned by `conn`; SQLCipher copies the key bytes.
    let rc = unsafe { ffi::sqlite3_key(db, key.as_ptr().cast(), len) };
    if rc != ffi::SQLITE_OK {
        return Err(Error::new(
            ErrorKind::Interface,
            format!("cannot set the encryption key of {path:?} (SQLite code {rc})"),
        ));
    }
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .map_err(|e| {
            let mut err = from_rusqlite(e);
            err.message = format!(
                "cannot open SQLite database {path:?}: the encryption key is wrong or the file \
                 is not an encrypted database ({})",
                err.message
            );
            err
        })
}
