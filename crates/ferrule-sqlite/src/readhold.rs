//! One read transaction kept open across short reads, in WAL mode.
//!
//! An autocommit read in WAL mode begins and ends a read transaction. When no other
//! connection of the process holds the same WAL read lock at that moment, SQLite takes and
//! drops it with two `fcntl` calls, which cost more than the lookup itself: a primary-key read
//! takes about 5 us that way and 1.6 us inside a transaction. Reads run inline on the event
//! loop come one after another, so they never overlap and always pay that price.
//!
//! A connection here instead keeps the read transaction of a short read open for the reads
//! that follow, and runs each of them in it only when the database has not changed since the
//! transaction began. The test is the header of the WAL index (the `-shm` file, whose layout
//! is part of SQLite's documented file format): every commit, by any connection of any
//! process, and every restart of the WAL rewrite it. It is copied just before the transaction
//! begins; when it is still byte for byte the same, the transaction's snapshot is the latest
//! committed state, and a read in it returns exactly what a new transaction would. When it
//! differs, the transaction ends and a new one begins.
//!
//! The held transaction ends before any other statement or job on the connection, and at the
//! event loop's next turn (the binding layer schedules `SqliteConnection::release_read`), so a
//! checkpoint is held back no longer than a loop iteration, as by any reader.

use std::ffi::{c_void, CStr};
use std::ptr::NonNull;
use std::sync::atomic::{fence, Ordering};

use rusqlite::ffi;

use crate::stmt::{RawStmt, StmtMeta};

/// The WAL index header: two copies of 48 bytes at the start of the `-shm` file, read as
/// words (the mapping is page-aligned).
type Header = [u64; 6];
/// The size of a WAL index region, the unit SQLite maps it by.
const REGION: i32 = 32768;

/// Region 0 of the connection's WAL index, mapped by SQLite's unix VFS.
struct WalIndex {
    base: NonNull<Header>,
}

impl WalIndex {
    /// The WAL index of `main`, when the connection uses it in shared memory: WAL mode, normal
    /// locking mode, the unix VFS, and the WAL already open (a read has run).
    ///
    /// # Safety
    /// `db` must be a live connection used by this thread only.
    unsafe fn of(db: *mut ffi::sqlite3) -> Option<WalIndex> {
        if pragma_text(db, c"PRAGMA main.journal_mode").as_deref() != Some("wal")
            || pragma_text(db, c"PRAGMA main.locking_mode").as_deref() != Some("normal")
        {
            return None;
        }
        // Another VFS (unix-excl, a shim) may keep the index in private memory.
        let vfs = main_pointer::<ffi::sqlite3_vfs>(db, ffi::SQLITE_FCNTL_VFS_POINTER)?;
        if (*vfs).zName.is_null() || CStr::from_ptr((*vfs).zName).to_bytes() != b"unix" {
            return None;
        }
        let file = main_pointer::<ffi::sqlite3_file>(db, ffi::SQLITE_FCNTL_FILE_POINTER)?;
        if (*file).pMethods.is_null() {
            return None;
        }
        let methods = &*(*file).pMethods;
        let map = methods.xShmMap.filter(|_| methods.iVersion >= 2)?;
        let mut region: *mut c_void = std::ptr::null_mut();
        // The same call SQLite makes for region 0; it exists once the WAL is open, so
        // nothing is created or extended.
        if map(file, 0, REGION, 0, &raw mut region) != ffi::SQLITE_OK {
            return None;
        }
        NonNull::new(region.cast::<Header>()).map(|base| WalIndex { base })
    }

    /// The header, when its two copies agree (a writer updates the second copy, then the
    /// first; reading them the other way round, a mismatch means an update in progress).
    fn header(&self) -> Option<Header> {
        let base = self.base.as_ptr();
        // SAFETY: region 0 is at least REGION bytes, mapped while the connection's WAL is
        // open; other processes write it, hence the volatile reads and the fence.
        let (first, second) = unsafe {
            let first = std::ptr::read_volatile(base);
            fence(Ordering::SeqCst);
            let second = std::ptr::read_volatile(base.add(1));
            (first, second)
        };
        // Byte 12 is isInit: 0 until the index has been built from the WAL.
        let initialized = first[1].to_ne_bytes()[4] != 0;
        (first == second && initialized).then_some(first)
    }
}

/// Whether the connection's WAL index has been looked for.
enum Probe {
    Unknown,
    Unusable,
    Usable(WalIndex),
}

/// The held read transaction of one session and what it needs.
pub(crate) struct ReadHold {
    probe: Probe,
    /// The WAL index header copied just before the held transaction began.
    held: Option<Header>,
    begin: Option<RawStmt>,
    commit: Option<RawStmt>,
}

// SAFETY: the mapping pointer is only read by the thread holding the session, like the
// statements; SQLite allows a connection to move between threads.
unsafe impl Send for ReadHold {}

impl ReadHold {
    pub fn new() -> ReadHold {
        ReadHold {
            probe: Probe::Unknown,
            held: None,
            begin: None,
            commit: None,
        }
    }

    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// Before a short read in autocommit mode: true when a transaction is held for it, whose
    /// snapshot is the latest committed state. Otherwise the read runs in its own.
    ///
    /// # Safety
    /// `db` must be a live connection used by this thread only, in autocommit mode unless a
    /// transaction is held.
    pub unsafe fn enter(&mut self, db: *mut ffi::sqlite3) -> bool {
        let Probe::Usable(wal) = &self.probe else {
            return false;
        };
        if let Some(held) = &self.held {
            if wal.header().as_ref() == Some(held) {
                return true;
            }
            self.end(db);
        }
        let Probe::Usable(wal) = &self.probe else {
            return false;
        };
        // An attached database's changes would not show in main's header.
        if !ffi::sqlite3_db_name(db, 2).is_null() {
            return false;
        }
        let Some(header) = wal.header() else {
            return false;
        };
        if step_fixed(db, &mut self.begin, c"BEGIN") {
            self.held = Some(header);
        }
        self.held.is_some()
    }

    /// After a short read ran in its own transaction: looks for the WAL index once.
    ///
    /// # Safety
    /// As for `enter`.
    pub unsafe fn after_plain_read(&mut self, db: *mut ffi::sqlite3) {
        if matches!(self.probe, Probe::Unknown) {
            self.probe = match WalIndex::of(db) {
                Some(wal) => Probe::Usable(wal),
                None => Probe::Unusable,
            };
        }
    }

    /// Ends the held transaction, if any.
    ///
    /// # Safety
    /// As for `enter`.
    pub unsafe fn end(&mut self, db: *mut ffi::sqlite3) {
        if self.held.take().is_some() && !step_fixed(db, &mut self.commit, c"COMMIT") {
            // Ending a transaction that only read cannot fail; should it, it is rolled back.
            let _ = ffi::sqlite3_exec(
                db,
                c"ROLLBACK".as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
        }
    }

    /// Before a statement other than a held read runs (the held transaction has ended): a
    /// PRAGMA may change the journal or locking mode, and with it the WAL index.
    pub fn note_statement(&mut self, meta: &StmtMeta) {
        if meta.verb == "PRAGMA" {
            self.forget();
        }
    }

    /// Forgets what was found about the WAL index: the journal or locking mode may have
    /// changed (a PRAGMA, a script) or the database been replaced (a restore). The held
    /// transaction must have ended first.
    pub fn forget(&mut self) {
        debug_assert!(self.held.is_none());
        self.probe = Probe::Unknown;
    }
}

/// A pointer that `sqlite3_file_control(op)` returns for `main` (its VFS, its open file).
///
/// # Safety
/// `db` must be a live connection used by this thread only, and `op` one whose argument is a
/// `*mut T` to fill in.
unsafe fn main_pointer<T>(db: *mut ffi::sqlite3, op: i32) -> Option<*mut T> {
    let mut out: *mut T = std::ptr::null_mut();
    let rc = ffi::sqlite3_file_control(db, c"main".as_ptr(), op, (&raw mut out).cast::<c_void>());
    (rc == ffi::SQLITE_OK && !out.is_null()).then_some(out)
}

/// Steps a fixed statement of ours, prepared once; true when it ran.
///
/// # Safety
/// `db` must be a live connection used by this thread only.
unsafe fn step_fixed(db: *mut ffi::sqlite3, slot: &mut Option<RawStmt>, sql: &CStr) -> bool {
    if slot.is_none() {
        let text = sql.to_str().unwrap_or_default();
        *slot = RawStmt::prepare(db, text, true).ok().and_then(|p| p.stmt);
    }
    let Some(stmt) = slot.as_ref() else {
        return false;
    };
    let rc = stmt.step();
    stmt.reset();
    rc == ffi::SQLITE_DONE
}

/// The text of the first column of a PRAGMA's first row.
///
/// # Safety
/// `db` must be a live connection used by this thread only.
unsafe fn pragma_text(db: *mut ffi::sqlite3, sql: &CStr) -> Option<String> {
    let prepared = RawStmt::prepare(db, sql.to_str().ok()?, false).ok()?;
    let stmt = prepared.stmt?;
    if stmt.step() != ffi::SQLITE_ROW {
        return None;
    }
    let text = ffi::sqlite3_column_text(stmt.ptr(), 0);
    if text.is_null() {
        return None;
    }
    Some(
        CStr::from_ptr(text.cast())
            .to_string_lossy()
            .to_ascii_lowercase(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn open(dir: &std::path::Path, wal: bool) -> Connection {
        let conn = Connection::open(dir.join("t.db")).unwrap();
        let mode = if wal { "WAL" } else { "DELETE" };
        conn.query_row(&format!("PRAGMA journal_mode = {mode}"), [], |_| Ok(()))
            .unwrap();
        conn
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ferrule-readhold-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_held_read_is_used_only_while_nothing_committed() {
        let dir = scratch("wal");
        let reader = open(&dir, true);
        let writer = open(&dir, true);
        writer
            .execute_batch("CREATE TABLE t (v); INSERT INTO t VALUES (1);")
            .unwrap();
        // SAFETY (every block): the handles of live connections of this thread.
        let db = unsafe { reader.handle() };
        let mut hold = ReadHold::new();
        assert!(
            !unsafe { hold.enter(db) },
            "no WAL index is known before a read"
        );
        assert_eq!(count(&reader), 1);
        unsafe { hold.after_plain_read(db) };
        assert!(unsafe { hold.enter(db) });
        assert!(hold.is_held() && !reader.is_autocommit());
        assert_eq!(count(&reader), 1);
        let held = hold.held;
        assert!(unsafe { hold.enter(db) });
        assert_eq!(hold.held, held, "nothing committed: the same transaction");
        writer.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert!(unsafe { hold.enter(db) });
        assert_ne!(hold.held, held, "a commit: a new transaction");
        assert_eq!(count(&reader), 2);
        // A checkpoint that restarts the WAL rewrites the header too.
        let held = hold.held;
        unsafe { hold.end(db) };
        writer
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap();
        writer.execute("INSERT INTO t VALUES (3)", []).unwrap();
        assert!(unsafe { hold.enter(db) });
        assert_ne!(hold.held, held);
        assert_eq!(count(&reader), 3);
        unsafe { hold.end(db) };
        assert!(!hold.is_held() && reader.is_autocommit());
        // An attached database is not covered by main's header.
        let other = dir.join("other.db");
        reader
            .execute("ATTACH ?1 AS other", [other.to_str().unwrap()])
            .unwrap();
        assert!(!unsafe { hold.enter(db) });
        reader.execute_batch("DETACH other").unwrap();
        assert!(unsafe { hold.enter(db) });
        unsafe { hold.end(db) };
        drop((reader, writer));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn other_journal_modes_never_hold() {
        let dir = scratch("delete");
        let conn = open(&dir, false);
        conn.execute_batch("CREATE TABLE t (v)").unwrap();
        // SAFETY: the handle of a live connection of this thread.
        let db = unsafe { conn.handle() };
        let mut hold = ReadHold::new();
        assert_eq!(count(&conn), 0);
        unsafe { hold.after_plain_read(db) };
        assert!(!unsafe { hold.enter(db) });
        assert!(
            !dir.join("t.db-shm").exists(),
            "no shared memory was created"
        );
        let mem = Connection::open_in_memory().unwrap();
        // SAFETY: as above.
        let db = unsafe { mem.handle() };
        let mut hold = ReadHold::new();
        unsafe { hold.after_plain_read(db) };
        assert!(!unsafe { hold.enter(db) });
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
