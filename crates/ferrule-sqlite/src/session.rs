//! The open database and everything that runs on it: the statement cache, open cursors, and
//! the statement runner. A session is used by one thread at a time (the connection's own
//! thread, or the caller's for an inline run), behind the connection's mutex.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrule_core::{Error, Result, Value};
use lru::LruCache;
use rusqlite::{ffi, Connection, OpenFlags};

use crate::bind::bind_args;
use crate::config::SqliteConfig;
use crate::control::{Control, Stop, PROGRESS_OPS};
use crate::encryption::apply_key;
use crate::error::{from_db, from_rusqlite};
use crate::readhold::ReadHold;
use crate::replica::route_remote;
use crate::rows::{QueryResult, RowSet};
use crate::stmt::{skip_blank, RawStmt, StmtMeta};

/// Which rows of a result to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    All,
    /// The first row only; a read-only statement stops stepping after it.
    First,
    /// None: only the counts (for a command status).
    Count,
}

/// Inline runs are tried only for statements whose recent runs took at most this long. A
/// heavier statement goes to the connection's thread even when it would be quick inline: the
/// loop thread is busy building Python objects, and connections' threads run in parallel
/// with it, so heavy statements under concurrency use the other cores.
const INLINE_MAX_MICROS: u32 = 50;
/// A read-only statement run inline is stopped (and run again on the connection's thread)
/// when it takes longer than this.
const INLINE_BUDGET: Duration = Duration::from_micros(1000);

struct Cached {
    stmt: RawStmt,
    meta: Arc<StmtMeta>,
}

struct CursorState {
    stmt: RawStmt,
    meta: Arc<StmtMeta>,
}

/// The first statement of a text, prepared and cached, or the sign that the text holds more.
enum Lookup {
    Single,
    Multiple,
}

pub(crate) struct Session {
    // Field order is drop order: statements are finalized before the connection closes.
    cursors: HashMap<u64, CursorState>,
    cache: LruCache<String, Cached>,
    reads: ReadHold,
    conn: Connection,
    db: *mut ffi::sqlite3,
    control: Arc<Control>,
    next_cursor: u64,
    pub inline_allowed: bool,
    /// The local copy of an embedded replica: see `SqliteConfig::replica`.
    replica: bool,
}

// SAFETY: the raw handle is the one `conn` owns; a session is used by one thread at a time
// (it lives behind a mutex), which SQLite's multi-thread mode allows.
unsafe impl Send for Session {}

impl Session {
    pub fn open(cfg: &SqliteConfig, control: Arc<Control>) -> Result<Session> {
        let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if cfg.read_only {
            flags |= OpenFlags::SQLITE_OPEN_READ_ONLY;
        } else {
            flags |= OpenFlags::SQLITE_OPEN_READ_WRITE;
            if cfg.create {
                flags |= OpenFlags::SQLITE_OPEN_CREATE;
            }
        }
        if cfg.uri {
            flags |= OpenFlags::SQLITE_OPEN_URI;
        }
        let mut conn = Connection::open_with_flags(&cfg.path, flags).map_err(|e| {
            let mut err = from_rusqlite(e);
            err.message = format!(
                "cannot open SQLite database {:?}: {}",
                cfg.path, err.message
            );
            err
        })?;
        let busy = control.clone();
        let mut started = None;
        conn.busy_handler(Some(move |attempt| busy.busy_wait(attempt, &mut started)))
            .map_err(from_rusqlite)?;
        let progress = control.clone();
        conn.progress_handler(PROGRESS_OPS, Some(move || progress.should_stop()))
            .map_err(from_rusqlite)?;
        // SAFETY: the handle stays owned by `conn`, which lives as long as the session.
        let db = unsafe { conn.handle() };
        if let Some(key) = &cfg.encryption_key {
            apply_key(&conn, db, &key.0, &cfg.path)?;
        }
        let capacity =
            NonZeroUsize::new(cfg.statement_cache_size.max(1)).unwrap_or(NonZeroUsize::MIN);
        let mut session = Session {
            cursors: HashMap::new(),
            cache: LruCache::new(capacity),
            // Only inline reads hold a transaction, so `inline = false` never does.
            reads: ReadHold::new(),
            conn,
            db,
            control,
            next_cursor: 1,
            inline_allowed: cfg.inline,
            replica: cfg.replica,
        };
        for pragma in cfg.pragmas() {
            session.execute_script(&pragma)?;
        }
        Ok(session)
    }

    pub fn interrupt_handle(&self) -> rusqlite::InterruptHandle {
        self.conn.get_interrupt_handle()
    }

    /// Records whether a transaction is open, for `transaction_status` without a round trip.
    /// The read transaction ferrule holds between short reads is not the caller's.
    pub fn note_state(&self) {
        let held = self.reads.is_held();
        self.control
            .in_transaction
            .store(!self.conn.is_autocommit() && !held, Ordering::Relaxed);
        self.control.read_held.store(held, Ordering::Relaxed);
    }

    /// Ends the read transaction held between short reads (see `readhold`), before anything
    /// else runs on the connection.
    pub fn release_read(&mut self) {
        // SAFETY: our live handle, on the thread that holds the session.
        unsafe { self.reads.end(self.db) };
        self.note_state();
    }

    /// Makes sure the first statement of `sql` is in the cache, when it is the only one.
    fn lookup(&mut self, sql: &str) -> Result<Lookup> {
        if self.cache.contains(sql) {
            return Ok(Lookup::Single);
        }
        // SAFETY: our live handle, on the thread that holds the session.
        let prepared = unsafe { RawStmt::prepare(self.db, sql, true) };
        // On a replica a statement that does not prepare here (a table the copy does not
        // have yet) is the primary's to run, or to refuse.
        let prepared = prepared.map_err(|e| if self.replica { route_remote() } else { e })?;
        let Some(stmt) = prepared.stmt else {
            return Err(Error::interface("the query is empty"));
        };
        if !skip_blank(&sql[prepared.tail..]).is_empty() {
            return Ok(Lookup::Multiple);
        }
        let meta = Arc::new(StmtMeta::new(sql, &stmt));
        self.cache.put(sql.to_owned(), Cached { stmt, meta });
        Ok(Lookup::Single)
    }

    /// The description of `sql`, prepared and cached.
    pub fn prepare(&mut self, sql: &str) -> Result<Arc<StmtMeta>> {
        match self.lookup(sql)? {
            Lookup::Single => Ok(self.cached_meta(sql)),
            Lookup::Multiple => Err(one_statement_only()),
        }
    }

    fn cached_meta(&mut self, sql: &str) -> Arc<StmtMeta> {
        self.cache
            .peek(sql)
            .map(|c| c.meta.clone())
            .expect("looked up just before")
    }

    /// Runs one statement with its arguments.
    pub fn query(&mut self, sql: &str, args: &[Value], keep: Keep) -> Result<QueryResult> {
        if let Lookup::Multiple = self.lookup(sql)? {
            return Err(one_statement_only());
        }
        self.run_cached(sql, args, keep)
    }

    fn run_cached(&mut self, sql: &str, args: &[Value], keep: Keep) -> Result<QueryResult> {
        let db = self.db;
        let replica = self.replica;
        let entry = self.cache.get_mut(sql).expect("looked up just before");
        if replica && !entry.meta.runs_on_replica() {
            return Err(route_remote());
        }
        self.reads.note_statement(&entry.meta);
        let started = Instant::now();
        let result = run(db, &entry.stmt, &mut entry.meta, args, keep, None);
        entry.meta.record_cost(started.elapsed().as_micros() as u64);
        result
    }

    /// Runs `sql` here, on the caller's thread, if it is known to be short; None when it must
    /// run on the connection's thread instead (unknown, slow, or waiting for a lock).
    pub fn try_inline(
        &mut self,
        sql: &str,
        args: &[Value],
        keep: Keep,
    ) -> Option<Result<QueryResult>> {
        if !self.inline_allowed {
            return None;
        }
        let db = self.db;
        let control = self.control.clone();
        let replica = self.replica;
        let entry = self.cache.get_mut(sql)?;
        if replica && !entry.meta.runs_on_replica() {
            return Some(Err(route_remote()));
        }
        if !entry.meta.cheaper_than(INLINE_MAX_MICROS) {
            return None;
        }
        let reads_rows = entry.meta.reads_rows();
        // SAFETY (both blocks): our live handle, on the thread that holds the session.
        let held = if reads_rows
            && (self.reads.is_held() || (self.conn.is_autocommit() && self.cursors.is_empty()))
        {
            unsafe { self.reads.enter(db) }
        } else {
            unsafe { self.reads.end(db) };
            self.reads.note_statement(&entry.meta);
            false
        };
        // A write cannot be stopped half-way without rolling back its transaction, so only
        // reads get a budget; writes qualify by their recent run times alone.
        control.begin_inline(entry.meta.readonly.then_some(INLINE_BUDGET));
        let started = Instant::now();
        let result = run(db, &entry.stmt, &mut entry.meta, args, keep, None);
        let stop = control.end();
        let outcome = match &result {
            Err(_) if stop == Stop::InlineBudget => {
                entry.meta.mark_slow();
                None
            }
            Err(e) if is_busy(e) => None,
            _ => {
                entry.meta.record_cost(started.elapsed().as_micros() as u64);
                Some(())
            }
        };
        // SAFETY: as above.
        unsafe {
            if result.is_err() {
                self.reads.end(db);
            } else if reads_rows && !held && self.conn.is_autocommit() {
                self.reads.after_plain_read(db);
            }
        }
        self.note_state();
        outcome.map(|()| result)
    }

    /// Runs every statement of `sql` in order; returns the status of the last one.
    pub fn execute_script(&mut self, sql: &str) -> Result<String> {
        if let Lookup::Single = self.lookup(sql)? {
            return self.run_cached(sql, &[], Keep::Count).map(|r| r.status());
        }
        if self.replica {
            self.check_script_reads(sql)?;
        }
        self.reads.forget();
        let mut rest = sql;
        let mut status = String::new();
        loop {
            rest = skip_blank(rest);
            if rest.is_empty() {
                return Ok(status);
            }
            // SAFETY: our live handle, on the thread that holds the session.
            let prepared = unsafe { RawStmt::prepare(self.db, rest, false)? };
            let text = &rest[..prepared.tail];
            if let Some(stmt) = prepared.stmt {
                let mut meta = Arc::new(StmtMeta::new(text, &stmt));
                status = run(self.db, &stmt, &mut meta, &[], Keep::Count, None)?.status();
            } else if prepared.tail == 0 {
                return Ok(status);
            }
            rest = &rest[prepared.tail..];
        }
    }

    /// On a replica: a script runs here only when each of its statements reads.
    fn check_script_reads(&mut self, sql: &str) -> Result<()> {
        let mut rest = skip_blank(sql);
        while !rest.is_empty() {
            // SAFETY: our live handle, on the thread that holds the session.
            let prepared =
                unsafe { RawStmt::prepare(self.db, rest, false) }.map_err(|_| route_remote())?;
            if let Some(stmt) = &prepared.stmt {
                if !StmtMeta::new(&rest[..prepared.tail], stmt).runs_on_replica() {
                    return Err(route_remote());
                }
            } else if prepared.tail == 0 {
                break;
            }
            rest = skip_blank(&rest[prepared.tail..]);
        }
        Ok(())
    }

    /// Runs `sql` once per argument row, all or nothing (inside a savepoint).
    pub fn execute_many(&mut self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        if self.replica {
            // Running a statement many times is for writes, which are the primary's.
            return Err(route_remote());
        }
        if let Lookup::Multiple = self.lookup(sql)? {
            return Err(one_statement_only());
        }
        self.fixed("SAVEPOINT ferrule_many")?;
        let db = self.db;
        let entry = self.cache.get_mut(sql).expect("looked up just before");
        self.reads.note_statement(&entry.meta);
        let mut changes = 0;
        let mut failed = None;
        for (i, args) in rows.iter().enumerate() {
            match run(db, &entry.stmt, &mut entry.meta, args, Keep::Count, None) {
                Ok(r) => changes += r.changes,
                Err(mut e) => {
                    e.message = format!("row {i}: {}", e.message);
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            // An interrupted write may already have rolled everything back.
            let _ = self.fixed("ROLLBACK TO ferrule_many");
            let _ = self.fixed("RELEASE ferrule_many");
            return Err(e);
        }
        self.fixed("RELEASE ferrule_many")?;
        Ok(changes)
    }

    /// Runs a fixed statement of ferrule's own (savepoints).
    fn fixed(&mut self, sql: &str) -> Result<()> {
        self.query(sql, &[], Keep::Count).map(|_| ())
    }

    /// Opens a cursor over `sql` and reads its first `n` rows.
    pub fn cursor_open(
        &mut self,
        sql: &str,
        args: &[Value],
        n: usize,
    ) -> Result<(u64, QueryResult)> {
        // SAFETY: our live handle, on the thread that holds the session.
        let prepared = unsafe { RawStmt::prepare(self.db, sql, false) };
        let prepared = prepared.map_err(|e| if self.replica { route_remote() } else { e })?;
        let Some(stmt) = prepared.stmt else {
            return Err(Error::interface("the query is empty"));
        };
        if !skip_blank(&sql[prepared.tail..]).is_empty() {
            return Err(one_statement_only());
        }
        let mut meta = Arc::new(StmtMeta::new(sql, &stmt));
        if self.replica && !meta.runs_on_replica() {
            return Err(route_remote());
        }
        self.reads.note_statement(&meta);
        let result = run(self.db, &stmt, &mut meta, args, Keep::All, Some(n))?;
        let id = self.next_cursor;
        self.next_cursor += 1;
        if result.more {
            self.cursors.insert(id, CursorState { stmt, meta });
        }
        Ok((id, result))
    }

    /// Reads up to `n` more rows of a cursor; a finished cursor is released.
    pub fn cursor_fetch(&mut self, id: u64, n: usize) -> Result<QueryResult> {
        let Some(cur) = self.cursors.get_mut(&id) else {
            return Err(Error::interface("the cursor is closed"));
        };
        let result = resume(self.db, &cur.stmt, &cur.meta, n);
        if !matches!(&result, Ok(r) if r.more) {
            self.cursors.remove(&id);
        }
        result
    }

    pub fn cursor_close(&mut self, id: u64) {
        self.cursors.remove(&id);
    }

    /// Copies the database into `dest` page by page, stopping when the job must stop.
    pub fn backup_into(&self, dest: &mut Connection) -> Result<()> {
        use rusqlite::backup::{Backup, StepResult};
        let backup = Backup::new(&self.conn, dest).map_err(from_rusqlite)?;
        loop {
            if self.control.should_stop() {
                return Err(Error::new(
                    ferrule_core::ErrorKind::Cancelled,
                    "the backup was stopped",
                )
                .with_code("SQLITE_INTERRUPT"));
            }
            match backup.step(256).map_err(from_rusqlite)? {
                StepResult::Done => return Ok(()),
                StepResult::More => {}
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    pub fn backup_to_path(&self, path: &str) -> Result<()> {
        let mut dest = Connection::open(path).map_err(from_rusqlite)?;
        self.backup_into(&mut dest)
    }

    /// The destination side of a backup between two sessions (which replaces the database,
    /// and with it perhaps the journal mode).
    pub fn connection_mut(&mut self) -> &mut Connection {
        self.release_read();
        self.reads.forget();
        &mut self.conn
    }
}

fn one_statement_only() -> Error {
    Error::interface(
        "the query holds more than one statement; run scripts with execute() without \
         arguments or with executescript()",
    )
}

fn is_busy(e: &Error) -> bool {
    e.code.as_deref().is_some_and(|c| {
        matches!(
            c,
            "SQLITE_BUSY" | "SQLITE_BUSY_RECOVERY" | "SQLITE_BUSY_TIMEOUT"
        )
    })
}

/// Binds `args`, steps `stmt` and gathers what `keep` asks for, at most `limit` rows (a cursor
/// batch, leaving the statement positioned). Otherwise the statement is reset on return.
fn run(
    db: *mut ffi::sqlite3,
    stmt: &RawStmt,
    meta: &mut Arc<StmtMeta>,
    args: &[Value],
    keep: Keep,
    limit: Option<usize>,
) -> Result<QueryResult> {
    let reset = ResetGuard {
        stmt,
        armed: limit.is_none(),
    };
    if let Err(e) = bind_args(db, stmt, meta, args) {
        stmt.reset();
        return Err(e);
    }
    // SAFETY: our live handle.
    let before = unsafe { ffi::sqlite3_total_changes64(db) };
    let mut rc = stmt.step();
    if (rc == ffi::SQLITE_ROW || rc == ffi::SQLITE_DONE) && !stmt.matches(meta) {
        *meta = Arc::new(meta.refreshed(stmt));
    }
    let mut rows = RowSet::new(meta.clone());
    let mut row_count = 0u64;
    let mut more = false;
    loop {
        match rc {
            ffi::SQLITE_ROW => {
                row_count += 1;
                let wanted = match keep {
                    Keep::All => true,
                    Keep::First => row_count == 1,
                    Keep::Count => false,
                };
                if wanted {
                    rows.push_row(stmt);
                }
                if keep == Keep::First && meta.readonly {
                    break;
                }
                if limit.is_some_and(|n| row_count as usize >= n) {
                    more = true;
                    break;
                }
                rc = stmt.step();
            }
            ffi::SQLITE_DONE => break,
            err => {
                // SAFETY: our live handle; read before the reset clears the message.
                let e = unsafe { from_db(db, err) };
                stmt.reset();
                return Err(e);
            }
        }
    }
    // SAFETY: our live handle.
    let changes = unsafe {
        if ffi::sqlite3_total_changes64(db) != before {
            ffi::sqlite3_changes64(db) as u64
        } else {
            0
        }
    };
    drop(reset);
    Ok(QueryResult {
        rows,
        row_count,
        changes,
        more,
    })
}

/// Reads up to `n` more rows from a cursor's statement.
fn resume(
    db: *mut ffi::sqlite3,
    stmt: &RawStmt,
    meta: &Arc<StmtMeta>,
    n: usize,
) -> Result<QueryResult> {
    let mut rows = RowSet::new(meta.clone());
    let mut row_count = 0u64;
    while (row_count as usize) < n {
        match stmt.step() {
            ffi::SQLITE_ROW => {
                row_count += 1;
                rows.push_row(stmt);
            }
            ffi::SQLITE_DONE => {
                return Ok(QueryResult {
                    rows,
                    row_count,
                    changes: 0,
                    more: false,
                });
            }
            // SAFETY: our live handle.
            err => return Err(unsafe { from_db(db, err) }),
        }
    }
    Ok(QueryResult {
        rows,
        row_count,
        changes: 0,
        more: true,
    })
}

struct ResetGuard<'a> {
    stmt: &'a RawStmt,
    armed: bool,
}

impl Drop for ResetGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.stmt.reset();
        }
    }
}
