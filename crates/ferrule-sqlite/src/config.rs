//! Connection settings, built by the binding layer from a `sqlite:` URL and keywords.

use std::time::Duration;

/// `PRAGMA journal_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalMode {
    Delete,
    Truncate,
    Persist,
    Memory,
    Wal,
    Off,
}

impl JournalMode {
    pub fn parse(s: &str) -> Option<JournalMode> {
        Some(match s.to_ascii_lowercase().as_str() {
            "delete" => JournalMode::Delete,
            "truncate" => JournalMode::Truncate,
            "persist" => JournalMode::Persist,
            "memory" => JournalMode::Memory,
            "wal" => JournalMode::Wal,
            "off" => JournalMode::Off,
            _ => return None,
        })
    }

    pub fn keyword(self) -> &'static str {
        match self {
            JournalMode::Delete => "DELETE",
            JournalMode::Truncate => "TRUNCATE",
            JournalMode::Persist => "PERSIST",
            JournalMode::Memory => "MEMORY",
            JournalMode::Wal => "WAL",
            JournalMode::Off => "OFF",
        }
    }
}

/// `PRAGMA synchronous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    Off,
    Normal,
    Full,
    Extra,
}

impl Synchronous {
    pub fn parse(s: &str) -> Option<Synchronous> {
        Some(match s.to_ascii_lowercase().as_str() {
            "off" | "0" => Synchronous::Off,
            "normal" | "1" => Synchronous::Normal,
            "full" | "2" => Synchronous::Full,
            "extra" | "3" => Synchronous::Extra,
            _ => return None,
        })
    }

    pub fn keyword(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// A file path, `:memory:`, or a `file:` URI when `uri` is set.
    pub path: String,
    pub uri: bool,
    pub read_only: bool,
    /// Create the file when it does not exist (ignored when read-only).
    pub create: bool,
    /// How long a statement waits for a lock held by another connection.
    pub busy_timeout: Duration,
    /// Prepared statements kept per connection.
    pub statement_cache_size: usize,
    pub journal_mode: Option<JournalMode>,
    pub synchronous: Option<Synchronous>,
    pub foreign_keys: Option<bool>,
    /// `PRAGMA query_only`: the connection refuses to write (pool readers).
    pub query_only: bool,
    /// Let short statements run on the caller's thread when the connection is idle.
    pub inline: bool,
    /// The key of a database encrypted at rest (SQLCipher); `None`: a plain database.
    pub encryption_key: Option<EncryptionKey>,
    /// The local side of an embedded replica: only statements that read run here; the others
    /// (writes, transaction control, statements that do not prepare locally) are answered
    /// with `replica::ROUTE_REMOTE` unrun, for the caller to send to the primary.
    pub replica: bool,
}

/// An encryption key; its `Debug` form hides it, so it never reaches a log or an error.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey(pub Vec<u8>);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            path: ":memory:".into(),
            uri: false,
            read_only: false,
            create: true,
            busy_timeout: Duration::from_secs(5),
            statement_cache_size: 256,
            journal_mode: None,
            synchronous: None,
            foreign_keys: None,
            query_only: false,
            inline: true,
            encryption_key: None,
            replica: false,
        }
    }
}

impl SqliteConfig {
    /// The PRAGMA statements to run after opening, built from fixed keywords only.
    pub(crate) fn pragmas(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(mode) = self.journal_mode {
            out.push(format!("PRAGMA journal_mode = {}", mode.keyword()));
        }
        if let Some(sync) = self.synchronous {
            out.push(format!("PRAGMA synchronous = {}", sync.keyword()));
        }
        if let Some(fk) = self.foreign_keys {
            out.push(format!(
                "PRAGMA foreign_keys = {}",
                if fk { "ON" } else { "OFF" }
            ));
        }
        if self.query_only {
            out.push("PRAGMA query_only = ON".into());
        }
        out
    }
}
