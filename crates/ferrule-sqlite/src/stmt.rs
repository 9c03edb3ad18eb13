//! A prepared statement over SQLite's C API, and what is known about it (columns, declared
//! types, parameter names, whether it writes, how long it takes to run).

use std::any::Any;
use std::ffi::CStr;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use ferrule_core::{Error, Result};
use rusqlite::ffi;

use crate::error::from_db;

/// An owned `sqlite3_stmt`, finalized on drop.
pub(crate) struct RawStmt {
    ptr: NonNull<ffi::sqlite3_stmt>,
}

// SAFETY: a statement is used by one thread at a time: the session that owns it is behind a
// mutex, and SQLite allows a connection (and its statements) to move between threads.
unsafe impl Send for RawStmt {}

impl Drop for RawStmt {
    fn drop(&mut self) {
        // SAFETY: the pointer came from sqlite3_prepare_v3 and is finalized exactly once.
        unsafe {
            ffi::sqlite3_finalize(self.ptr.as_ptr());
        }
    }
}

/// What `prepare` found at the start of a text.
pub(crate) struct Prepared {
    /// None when the text held only whitespace or comments.
    pub stmt: Option<RawStmt>,
    /// Byte offset of the rest of the text, after the first statement.
    pub tail: usize,
}

impl RawStmt {
    /// Prepares the first statement of `sql`.
    ///
    /// # Safety
    /// `db` must be a live connection used by this thread only.
    pub unsafe fn prepare(db: *mut ffi::sqlite3, sql: &str, persistent: bool) -> Result<Prepared> {
        let len = i32::try_from(sql.len())
            .map_err(|_| Error::interface("the SQL text is longer than 2 GiB"))?;
        let mut stmt = std::ptr::null_mut();
        let mut tail: *const std::ffi::c_char = std::ptr::null();
        let flags = if persistent {
            ffi::SQLITE_PREPARE_PERSISTENT
        } else {
            0
        };
        let rc = ffi::sqlite3_prepare_v3(db, sql.as_ptr().cast(), len, flags, &mut stmt, &mut tail);
        if rc != ffi::SQLITE_OK {
            return Err(from_db(db, rc));
        }
        let tail = if tail.is_null() {
            sql.len()
        } else {
            (tail as usize).saturating_sub(sql.as_ptr() as usize)
        };
        Ok(Prepared {
            stmt: NonNull::new(stmt).map(|ptr| RawStmt { ptr }),
            tail,
        })
    }

    pub fn ptr(&self) -> *mut ffi::sqlite3_stmt {
        self.ptr.as_ptr()
    }

    pub fn step(&self) -> i32 {
        // SAFETY: a live statement.
        unsafe { ffi::sqlite3_step(self.ptr()) }
    }

    /// Resets the statement and drops its bindings, so that a cached statement holds no
    /// read transaction open and no copy of the caller's values.
    pub fn reset(&self) {
        // SAFETY: a live statement.
        unsafe {
            ffi::sqlite3_reset(self.ptr());
            ffi::sqlite3_clear_bindings(self.ptr());
        }
    }

    pub fn column_count(&self) -> usize {
        // SAFETY: a live statement.
        unsafe { ffi::sqlite3_column_count(self.ptr()) as usize }
    }

    pub fn param_count(&self) -> usize {
        // SAFETY: a live statement.
        unsafe { ffi::sqlite3_bind_parameter_count(self.ptr()) as usize }
    }

    pub fn column_name(&self, i: usize) -> &str {
        // SAFETY: a live statement and an index below column_count; the name lives until the
        // statement is re-prepared or finalized, longer than the borrow of self.
        unsafe { cstr(ffi::sqlite3_column_name(self.ptr(), i as i32)) }.unwrap_or("")
    }

    fn column_decltype(&self, i: usize) -> Option<&str> {
        // SAFETY: as for column_name.
        unsafe { cstr(ffi::sqlite3_column_decltype(self.ptr(), i as i32)) }
    }

    fn param_name(&self, i: usize) -> Option<&str> {
        // SAFETY: a live statement; parameter indexes start at 1.
        unsafe { cstr(ffi::sqlite3_bind_parameter_name(self.ptr(), i as i32)) }
    }

    fn readonly(&self) -> bool {
        // SAFETY: a live statement.
        unsafe { ffi::sqlite3_stmt_readonly(self.ptr()) != 0 }
    }

    /// True when the columns are still the ones `meta` describes (a schema change can alter
    /// the result of `SELECT *` under a cached statement).
    pub fn matches(&self, meta: &StmtMeta) -> bool {
        self.column_count() == meta.columns.len()
            && meta
                .columns
                .iter()
                .enumerate()
                .all(|(i, c)| self.column_name(i) == c.name)
    }
}

unsafe fn cstr<'a>(p: *const std::ffi::c_char) -> Option<&'a str> {
    if p.is_null() {
        None
    } else {
        CStr::from_ptr(p).to_str().ok()
    }
}

/// A result column: its name and the type declared in the table it comes from.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// The declared type (`INTEGER`, `DATETIME`, `DECIMAL(10,2)`), None for an expression.
    pub decltype: Option<String>,
}

/// What ferrule keeps about one statement text, shared by its cache entry, the caller's
/// prepared-statement handle and its results.
pub struct StmtMeta {
    pub sql: String,
    pub columns: Box<[Column]>,
    /// The name of each parameter (`:id`, `@id`, `$id`, `?3`), None for a bare `?`.
    pub params: Box<[Option<String>]>,
    /// The statement does not write (sqlite3_stmt_readonly).
    pub readonly: bool,
    /// Its first keyword, upper-cased, for the command status (`INSERT`, `SELECT`).
    pub verb: String,
    /// Free for the binding layer (the Python record description).
    pub binding_cache: OnceLock<Box<dyn Any + Send + Sync>>,
    /// The last run time in microseconds; `u32::MAX` until it ran once.
    cost_micros: AtomicU32,
    /// The run time before it.
    prev_cost_micros: AtomicU32,
}

impl StmtMeta {
    pub(crate) fn new(sql: &str, stmt: &RawStmt) -> StmtMeta {
        let columns = (0..stmt.column_count())
            .map(|i| Column {
                name: stmt.column_name(i).to_owned(),
                decltype: stmt.column_decltype(i).map(str::to_owned),
            })
            .collect();
        let params = (1..=stmt.param_count())
            .map(|i| stmt.param_name(i).map(str::to_owned))
            .collect();
        StmtMeta {
            sql: sql.to_owned(),
            columns,
            params,
            readonly: stmt.readonly(),
            verb: first_keyword(sql),
            binding_cache: OnceLock::new(),
            cost_micros: AtomicU32::new(u32::MAX),
            prev_cost_micros: AtomicU32::new(u32::MAX),
        }
    }

    /// The description of a statement run on a remote server, from the columns it returned.
    pub(crate) fn remote(sql: &str, columns: Vec<Column>, params: usize) -> StmtMeta {
        let verb = first_keyword(sql);
        StmtMeta {
            sql: sql.to_owned(),
            columns: columns.into_boxed_slice(),
            params: vec![None; params].into_boxed_slice(),
            // Only the command status reads it for a remote statement.
            readonly: matches!(verb.as_str(), "SELECT" | "VALUES"),
            verb,
            binding_cache: OnceLock::new(),
            cost_micros: AtomicU32::new(u32::MAX),
            prev_cost_micros: AtomicU32::new(u32::MAX),
        }
    }

    /// A copy with the current columns of `stmt`, after a schema change.
    pub(crate) fn refreshed(&self, stmt: &RawStmt) -> StmtMeta {
        let fresh = StmtMeta::new(&self.sql, stmt);
        fresh
            .cost_micros
            .store(self.cost_micros.load(Ordering::Relaxed), Ordering::Relaxed);
        fresh.prev_cost_micros.store(
            self.prev_cost_micros.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        fresh
    }

    /// Records a run. The cost is the shorter of the last two runs: one run stretched by the
    /// thread being preempted (common on a loaded machine) does not send a statement off the
    /// fast path, two slow runs in a row do.
    pub(crate) fn record_cost(&self, micros: u64) {
        let run = u32::try_from(micros).unwrap_or(u32::MAX - 1);
        let last = self.cost_micros.swap(run, Ordering::Relaxed);
        let prev = if last == u32::MAX { run } else { last };
        self.prev_cost_micros.store(prev, Ordering::Relaxed);
    }

    /// Recent runs show the statement takes at most `micros`.
    pub(crate) fn cheaper_than(&self, micros: u32) -> bool {
        let last = self.cost_micros.load(Ordering::Relaxed);
        let prev = self.prev_cost_micros.load(Ordering::Relaxed);
        last.min(prev) <= micros
    }

    /// Marks the statement as slow, after an inline run had to be abandoned.
    pub(crate) fn mark_slow(&self) {
        self.cost_micros.store(u32::MAX - 1, Ordering::Relaxed);
        self.prev_cost_micros.store(u32::MAX - 1, Ordering::Relaxed);
    }

    /// True when any parameter is named (`:x`, `@x`, `$x`).
    pub fn has_named_params(&self) -> bool {
        self.params.iter().flatten().any(|n| !n.starts_with('?'))
    }
}

/// `sql` without its leading whitespace, comments and empty statements (`;`).
pub(crate) fn skip_blank(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            return rest;
        }
    }
}

/// The first keyword of `sql`, skipping whitespace and comments.
impl StmtMeta {
    /// A query that only reads rows (`SELECT`, `WITH ... SELECT`, `VALUES`): it may run in the
    /// read transaction held between short reads. A PRAGMA never does.
    pub(crate) fn reads_rows(&self) -> bool {
        self.readonly && matches!(self.verb.as_str(), "SELECT" | "WITH" | "VALUES")
    }

    /// Whether an embedded replica may run this statement on its local copy: it reads, and it
    /// does not open or close a transaction (those go to the primary, where the writes are).
    pub fn runs_on_replica(&self) -> bool {
        self.readonly
            && !matches!(
                self.verb.as_str(),
                "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE"
            )
    }
}

fn first_keyword(sql: &str) -> String {
    skip_blank(sql)
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::{first_keyword, skip_blank};

    #[test]
    fn keywords() {
        assert_eq!(first_keyword("  select 1"), "SELECT");
        assert_eq!(first_keyword("-- c\n/* x */ Insert into t"), "INSERT");
        assert_eq!(first_keyword("/* unterminated"), "");
        assert_eq!(first_keyword("(1)"), "");
        assert_eq!(skip_blank(" ; -- x\n ;"), "");
        assert_eq!(skip_blank("; /* a */ SELECT 2"), "SELECT 2");
    }
}
