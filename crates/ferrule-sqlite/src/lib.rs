//! SQLite backend of ferrule, on rusqlite with a bundled SQLite, plus libSQL's remote protocol
//! (Hrana over HTTP).
//!
//! Each connection owns one thread that runs its jobs in submission order, so concurrent calls
//! on one connection queue rather than fail. Results are compact owned rows handed to the
//! caller's callback on that thread; nothing here knows about Python. A statement known to be
//! short (one of its last two runs took under 50 us) may run inline on the caller's thread
//! while the connection is idle, which saves the two thread hand-offs that dominate a point
//! query.
//! Read-only inline runs are bounded (1 ms, then they move to the thread); writes qualify by
//! their recent run times only, since stopping a write half-way rolls back its transaction.

mod bind;
pub mod codes;
pub mod config;
pub mod conn;
mod control;
mod encryption;
mod error;
pub mod hrana;
mod readhold;
pub mod replica;
pub mod rows;
pub mod session;
pub mod stmt;

pub use config::{EncryptionKey, JournalMode, SqliteConfig, Synchronous};
pub use conn::{CallCtl, Reply, SqliteConnection};
pub use hrana::{RemoteConfig, RemoteConnection};
pub use replica::{Replica, ReplicaConfig, Synced};
pub use rows::{CellRef, QueryResult, RowSet};
pub use session::Keep;
pub use stmt::{Column, StmtMeta};
