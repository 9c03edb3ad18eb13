//! Applying the primary's frames to the local copy. A frame is a page image as the primary's
//! write-ahead log holds it (a 24-byte header, then the page); the last frame of each of its
//! transactions carries the database size after the commit. The pages are written through
//! SQLite's `sqlite_dbpage` table on a connection of the replica's own, inside a local
//! transaction, so readers on the local copy see each of the primary's commits appear at
//! once, or not at all. A local transaction may stay open across pulls (a primary transaction
//! larger than one pull); the progress file only ever names committed frames.

use std::path::PathBuf;
use std::time::Duration;

use ferrule_core::{Error, ErrorKind, Result};
use rusqlite::{Connection, OpenFlags};

use super::metadata::{self, Progress};

/// The page size of the primary's frames (libSQL's sync protocol fixes it).
pub const PAGE_SIZE: usize = 4096;
const HEADER_SIZE: usize = 24;
pub const FRAME_SIZE: usize = HEADER_SIZE + PAGE_SIZE;

fn word(frame: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]])
}

/// The database size in pages after the commit this frame ends; 0 inside a transaction.
fn size_after(frame: &[u8]) -> u32 {
    word(frame, 4)
}

pub struct Applier {
    conn: Connection,
    meta_path: PathBuf,
    /// What the progress file says: committed locally.
    pub committed: Progress,
    /// The last frame written, committed or not (equal to `committed.frame` outside a
    /// transaction).
    pub written: u32,
    in_txn: bool,
}

fn local(e: rusqlite::Error) -> Error {
    Error::new(
        ErrorKind::Database,
        format!("the replica could not update its local copy: {e}"),
    )
}

impl Applier {
    /// Opens the local copy for applying frames; it must use the primary's page size.
    pub fn open(db_path: &str, committed: Progress) -> Result<Applier> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(db_path, flags).map_err(|e| {
            Error::connection_failure(format!("cannot open the replica {db_path:?}: {e}"))
        })?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(local)?;
        // Readers keep reading while frames are applied. A commit is durable before the
        // progress file names it, or a power cut could leave the file ahead of the data.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(local)?;
        conn.execute_batch("PRAGMA synchronous = FULL")
            .map_err(local)?;
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(local)?;
        if page_size != PAGE_SIZE as i64 {
            return Err(Error::interface(format!(
                "{db_path:?} has {page_size}-byte pages; a libSQL replica needs {PAGE_SIZE}-byte \
                 pages, like its primary's (is it a replica at all?)"
            )));
        }
        Ok(Applier {
            conn,
            meta_path: metadata::path_for(db_path),
            committed,
            written: committed.frame,
            in_txn: false,
        })
    }

    /// Writes `frames` (numbered from `first`, the frame after `written`) and commits at
    /// each of the primary's commit frames that ends the batch's complete transactions.
    /// Returns how many of the primary's transactions became visible locally.
    pub fn apply(&mut self, first: u32, frames: &[u8]) -> Result<u32> {
        if frames.is_empty() || !frames.len().is_multiple_of(FRAME_SIZE) {
            return Err(Error::protocol(format!(
                "the libSQL server sent {} bytes of frames, not a whole number of {FRAME_SIZE}-byte \
                 frames",
                frames.len()
            )));
        }
        if first != self.written + 1 {
            return Err(Error::protocol(format!(
                "frames out of order: expected frame {}, got {first}",
                self.written + 1
            )));
        }
        let result = self.apply_frames(first, frames);
        if result.is_err() {
            self.rollback();
        }
        result
    }

    fn apply_frames(&mut self, first: u32, frames: &[u8]) -> Result<u32> {
        let frames: Vec<&[u8]> = frames.chunks_exact(FRAME_SIZE).collect();
        // One local commit for all the primary's transactions complete in this batch; the
        // frames after the last of them stay in an open local transaction until the next.
        let complete = frames
            .iter()
            .rposition(|f| size_after(f) > 0)
            .map_or(0, |i| i + 1);
        let (done, rest) = frames.split_at(complete);
        let commits = self.write(first, done)?;
        if !done.is_empty() {
            self.commit(first + complete as u32 - 1)?;
        }
        self.write(first + complete as u32, rest)?;
        Ok(commits)
    }

    /// Writes `frames` (numbered from `first`) into the open local transaction, opening one
    /// if needed; returns how many of them end one of the primary's transactions.
    fn write(&mut self, first: u32, frames: &[&[u8]]) -> Result<u32> {
        if frames.is_empty() {
            return Ok(0);
        }
        if !self.in_txn {
            self.conn.execute_batch("BEGIN IMMEDIATE").map_err(local)?;
            self.in_txn = true;
        }
        let mut put = self
            .conn
            .prepare("INSERT INTO sqlite_dbpage(pgno, data) VALUES (?1, ?2)")
            .map_err(local)?;
        let mut cut = self
            .conn
            .prepare("INSERT INTO sqlite_dbpage(pgno, data) VALUES (?1, NULL)")
            .map_err(local)?;
        let mut commits = 0;
        for (i, frame) in frames.iter().enumerate() {
            let frame_no = first + i as u32;
            let page_no = word(frame, 0);
            if page_no == 0 {
                return Err(Error::protocol(format!("frame {frame_no} names page 0")));
            }
            put.execute(rusqlite::params![page_no, &frame[HEADER_SIZE..]])
                .map_err(local)?;
            self.written = frame_no;
            let size = size_after(frame);
            if size > 0 {
                // The database takes the primary's size at its commit. A truncation only
                // holds when it is the last change before COMMIT (a later page write cancels
                // it), and is a no-op when it would not shrink the file.
                cut.execute([size + 1]).map_err(local)?;
                commits += 1;
            }
        }
        Ok(commits)
    }

    fn commit(&mut self, frame: u32) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(local)?;
        self.in_txn = false;
        self.committed.frame = frame;
        self.written = frame;
        metadata::write(&self.meta_path, self.committed)
    }

    /// Drops the frames written since the last commit and takes the progress from the file
    /// (another replica of the same file may have moved it on).
    pub fn reload(&mut self) -> Result<()> {
        self.rollback();
        self.committed = metadata::read(&self.meta_path)?;
        self.written = self.committed.frame;
        Ok(())
    }

    /// Drops the frames written since the last commit.
    pub fn rollback(&mut self) {
        if self.in_txn {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.in_txn = false;
        }
        self.written = self.committed.frame;
    }

    /// Moves on to the primary's next generation (after the last one's frames are in).
    pub fn next_generation(&mut self, generation: u32) -> Result<()> {
        self.rollback();
        self.committed = Progress {
            generation,
            frame: 0,
        };
        self.written = 0;
        metadata::write(&self.meta_path, self.committed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A primary in WAL mode that never checkpoints, and a copy of its file as its
    /// generation began.
    struct Primary {
        conn: Connection,
        dir: PathBuf,
    }

    impl Primary {
        fn new(name: &str) -> Primary {
            let dir =
                std::env::temp_dir().join(format!("ferrule-apply-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let conn = Connection::open(dir.join("primary.db")).unwrap();
            conn.execute_batch(
                "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; \
                 PRAGMA wal_autocheckpoint = 0; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); \
                 PRAGMA wal_checkpoint(TRUNCATE);",
            )
            .unwrap();
            std::fs::copy(dir.join("primary.db"), dir.join("replica.db")).unwrap();
            Primary { conn, dir }
        }

        /// Every frame of the primary's WAL so far (header skipped).
        fn frames(&self) -> Vec<u8> {
            let wal = std::fs::read(self.dir.join("primary.db-wal")).unwrap();
            wal[32..].to_vec()
        }

        fn applier(&self) -> Applier {
            let path = self.dir.join("replica.db");
            let p = Progress {
                generation: 1,
                frame: 0,
            };
            Applier::open(path.to_str().unwrap(), p).unwrap()
        }

        fn rows(conn: &Connection) -> Vec<(i64, Vec<u8>)> {
            let mut s = conn.prepare("SELECT id, v FROM t ORDER BY id").unwrap();
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        }

        fn replica_rows(&self) -> Vec<(i64, Vec<u8>)> {
            Self::rows(&Connection::open(self.dir.join("replica.db")).unwrap())
        }
    }

    impl Drop for Primary {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn pages_of_the_primary_make_the_same_database_and_it_shrinks_with_it() {
        let p = Primary::new("shrink");
        for i in 0..200 {
            p.conn
                .execute("INSERT INTO t(v) VALUES (?1)", [vec![i as u8; 3000]])
                .unwrap();
        }
        p.conn
            .execute_batch("DELETE FROM t WHERE id > 10; VACUUM;")
            .unwrap();
        let frames = p.frames();
        let mut a = p.applier();
        let commits = a.apply(1, &frames).unwrap();
        assert_eq!(commits, 202);
        assert_eq!(a.committed.frame as usize, frames.len() / FRAME_SIZE);
        assert_eq!(p.replica_rows(), Primary::rows(&p.conn));
        let replica = Connection::open(p.dir.join("replica.db")).unwrap();
        let pages =
            |c: &Connection| -> i64 { c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap() };
        assert_eq!(pages(&replica), pages(&p.conn));
        let check: String = replica
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let meta = metadata::read(&metadata::path_for(
            p.dir.join("replica.db").to_str().unwrap(),
        ));
        assert_eq!(meta.unwrap(), a.committed);
    }

    #[test]
    fn a_batch_ending_inside_a_transaction_commits_only_what_is_complete() {
        let p = Primary::new("partial");
        p.conn
            .execute("INSERT INTO t(v) VALUES (?1)", [vec![1u8; 100]])
            .unwrap();
        let first_txn = p.frames().len() / FRAME_SIZE;
        p.conn
            .execute_batch(
                "BEGIN; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                 WHERE x < 100) INSERT INTO t(v) SELECT zeroblob(3000) FROM c; COMMIT;",
            )
            .unwrap();
        let frames = p.frames();
        let total = frames.len() / FRAME_SIZE;
        assert!(total > first_txn + 2);
        let mut a = p.applier();
        // The first pull ends two frames into the big transaction.
        let cut = (first_txn + 2) * FRAME_SIZE;
        assert_eq!(a.apply(1, &frames[..cut]).unwrap(), 1);
        assert_eq!(a.committed.frame as usize, first_txn);
        assert_eq!(
            p.replica_rows().len(),
            1,
            "the open transaction is not visible"
        );
        // An abandoned pull starts again from the last commit.
        a.rollback();
        assert_eq!(a.written as usize, first_txn);
        let rest = first_txn * FRAME_SIZE;
        assert!(
            a.apply(first_txn as u32 + 5, &frames[rest..]).is_err(),
            "a gap is refused"
        );
        assert_eq!(a.apply(first_txn as u32 + 1, &frames[rest..]).unwrap(), 1);
        assert_eq!(p.replica_rows(), Primary::rows(&p.conn));
    }

    #[test]
    fn malformed_frames_are_refused_and_change_nothing() {
        let p = Primary::new("bad");
        let mut a = p.applier();
        assert!(a.apply(1, &[0u8; 100]).is_err());
        let mut frame = vec![0u8; FRAME_SIZE];
        frame[7] = 1;
        let e = a.apply(1, &frame).unwrap_err();
        assert!(e.message.contains("page 0"), "{}", e.message);
        assert_eq!(a.committed.frame, 0);
        assert!(p.replica_rows().is_empty());
    }
}
