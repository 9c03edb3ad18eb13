//! Result rows as compact owned values: one 16-byte cell per value and one byte arena for all
//! text and blobs of a result, so reading a row allocates nothing per cell.

use std::sync::Arc;

use rusqlite::ffi;

use crate::stmt::{RawStmt, StmtMeta};

const NULL: u8 = 0;
const INT: u8 = 1;
const REAL: u8 = 2;
const TEXT: u8 = 3;
const BLOB: u8 = 4;

#[derive(Clone, Copy)]
struct Cell {
    kind: u8,
    len: u32,
    /// The integer, the float's bits, or the offset of text/blob bytes in the arena.
    bits: u64,
}

/// One value of a row, borrowed from its result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    /// UTF-8 as SQLite stored it (not validated).
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

/// Rows of one statement execution, with the statement's description.
pub struct RowSet {
    pub meta: Arc<StmtMeta>,
    ncols: usize,
    cells: Vec<Cell>,
    arena: Vec<u8>,
}

impl RowSet {
    pub(crate) fn new(meta: Arc<StmtMeta>) -> RowSet {
        let ncols = meta.columns.len();
        RowSet {
            meta,
            ncols,
            cells: Vec::new(),
            arena: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.cells.len().checked_div(self.ncols).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    pub fn columns(&self) -> usize {
        self.ncols
    }

    /// The value at (`row`, `col`); both must be in range.
    pub fn get(&self, row: usize, col: usize) -> CellRef<'_> {
        let c = self.cells[row * self.ncols + col];
        match c.kind {
            INT => CellRef::Int(c.bits as i64),
            REAL => CellRef::Real(f64::from_bits(c.bits)),
            TEXT => CellRef::Text(self.bytes(c)),
            BLOB => CellRef::Blob(self.bytes(c)),
            _ => CellRef::Null,
        }
    }

    fn bytes(&self, c: Cell) -> &[u8] {
        let at = c.bits as usize;
        &self.arena[at..at + c.len as usize]
    }

    /// Appends the current row of `stmt` (after a step returned SQLITE_ROW).
    pub(crate) fn push_row(&mut self, stmt: &RawStmt) {
        let p = stmt.ptr();
        self.cells.reserve(self.ncols);
        for i in 0..self.ncols as i32 {
            // SAFETY: a statement positioned on a row and a column index below its count.
            // Text and blob pointers are read before any other call on the column.
            let cell = unsafe {
                match ffi::sqlite3_column_type(p, i) {
                    ffi::SQLITE_INTEGER => Cell {
                        kind: INT,
                        len: 0,
                        bits: ffi::sqlite3_column_int64(p, i) as u64,
                    },
                    ffi::SQLITE_FLOAT => Cell {
                        kind: REAL,
                        len: 0,
                        bits: ffi::sqlite3_column_double(p, i).to_bits(),
                    },
                    ffi::SQLITE_TEXT => {
                        let data = ffi::sqlite3_column_text(p, i);
                        let n = ffi::sqlite3_column_bytes(p, i) as usize;
                        self.push_bytes(TEXT, data, n)
                    }
                    ffi::SQLITE_BLOB => {
                        let data = ffi::sqlite3_column_blob(p, i).cast::<u8>();
                        let n = ffi::sqlite3_column_bytes(p, i) as usize;
                        self.push_bytes(BLOB, data, n)
                    }
                    _ => Cell {
                        kind: NULL,
                        len: 0,
                        bits: 0,
                    },
                }
            };
            self.cells.push(cell);
        }
    }

    /// An empty result with the same description.
    pub fn empty_like(other: &RowSet) -> RowSet {
        RowSet::new(other.meta.clone())
    }

    /// Appends one value (a row is complete after `columns()` values).
    pub fn push(&mut self, cell: CellRef<'_>) {
        let c = match cell {
            CellRef::Null => Cell {
                kind: NULL,
                len: 0,
                bits: 0,
            },
            CellRef::Int(i) => Cell {
                kind: INT,
                len: 0,
                bits: i as u64,
            },
            CellRef::Real(f) => Cell {
                kind: REAL,
                len: 0,
                bits: f.to_bits(),
            },
            // SAFETY: the pointer and length come from a live slice.
            CellRef::Text(b) => unsafe { self.push_bytes(TEXT, b.as_ptr(), b.len()) },
            CellRef::Blob(b) => unsafe { self.push_bytes(BLOB, b.as_ptr(), b.len()) },
        };
        self.cells.push(c);
    }

    unsafe fn push_bytes(&mut self, kind: u8, data: *const u8, n: usize) -> Cell {
        let at = self.arena.len();
        if n > 0 && !data.is_null() {
            self.arena
                .extend_from_slice(std::slice::from_raw_parts(data, n));
        }
        Cell {
            kind,
            len: n as u32,
            bits: at as u64,
        }
    }
}

/// The outcome of one statement.
pub struct QueryResult {
    pub rows: RowSet,
    /// Rows produced by the statement (all of them, even when only the first was kept).
    pub row_count: u64,
    /// Rows inserted, updated or deleted by the statement itself.
    pub changes: u64,
    /// For cursors: more rows remain.
    pub more: bool,
}

impl QueryResult {
    /// The command status: `INSERT 0 n` (as PostgreSQL writes it), `UPDATE n`, `DELETE n`,
    /// `SELECT n`, or the statement's keyword alone for the others.
    pub fn status(&self) -> String {
        let verb = self.rows.meta.verb.as_str();
        match verb {
            "INSERT" | "REPLACE" => format!("INSERT 0 {}", self.changes),
            "UPDATE" | "DELETE" => format!("{verb} {}", self.changes),
            "SELECT" | "VALUES" | "WITH" if self.rows.meta.readonly => {
                format!("SELECT {}", self.row_count)
            }
            "WITH" => format!("WITH {}", self.changes),
            _ => verb.to_owned(),
        }
    }
}
