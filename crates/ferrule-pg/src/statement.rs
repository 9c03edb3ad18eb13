//! Prepared statements and the per-connection LRU cache of them.

use std::any::Any;
use std::num::NonZeroUsize;
use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use lru::LruCache;
use postgres_protocol::message::frontend;

use crate::request::Command;
use crate::typeinfo::PgType;
use crate::types::Oid;

/// One result column as described by the server.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub type_oid: Oid,
    pub type_modifier: i32,
    /// 1 = binary, 0 = text; chosen by ferrule per type when binding.
    pub format: i16,
}

/// A statement parsed on the server. Named statements are closed on the server when the last
/// reference goes away; the Close is queued behind every request already sent that uses it.
pub struct Statement {
    /// Server-side name; empty for the unnamed statement (statement cache disabled).
    pub name: String,
    pub sql: String,
    pub params: Vec<Oid>,
    /// 1 = binary, 0 = text, per parameter (text for types without a ferrule codec, or
    /// with a user codec).
    pub param_formats: Vec<i16>,
    pub columns: Arc<[Column]>,
    /// Per parameter, the type details when it is not a plain built-in (ranges, composites,
    /// enums, ...); empty when every parameter is plain.
    pub param_types: Vec<Option<Arc<PgType>>>,
    /// Per column, as `param_types`; empty when every column is plain.
    pub column_types: Vec<Option<Arc<PgType>>>,
    /// A slot for the binding layer to cache its per-statement data (e.g. the Python-side
    /// record description), built once per statement instead of once per query.
    pub binding_cache: OnceLock<Box<dyn Any + Send + Sync>>,
    closer: Option<Closer>,
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement")
            .field("name", &self.name)
            .field("sql", &self.sql)
            .field("params", &self.params)
            .field("columns", &self.columns)
            .finish()
    }
}

impl Statement {
    pub fn new(
        name: String,
        sql: String,
        params: Vec<Oid>,
        param_formats: Vec<i16>,
        columns: Vec<Column>,
        closer: Option<Closer>,
    ) -> Statement {
        Statement {
            name,
            sql,
            params,
            param_formats,
            columns: columns.into(),
            param_types: Vec::new(),
            column_types: Vec::new(),
            binding_cache: OnceLock::new(),
            closer,
        }
    }

    pub fn is_named(&self) -> bool {
        !self.name.is_empty()
    }
}

impl Drop for Statement {
    fn drop(&mut self) {
        if let (Some(closer), true) = (&self.closer, self.is_named()) {
            let mut buf = BytesMut::with_capacity(self.name.len() + 16);
            if frontend::close(b'S', &self.name, &mut buf).is_ok() {
                frontend::sync(&mut buf);
                // The connection may be gone already; then the statement is gone too.
                if let Some(shared) = closer.0.upgrade() {
                    shared.enqueue(Command::Discard(buf));
                }
            }
        }
    }
}

/// Closes a named statement on its connection when the statement is dropped.
pub struct Closer(std::sync::Weak<crate::conn::Shared>);

impl Closer {
    pub(crate) fn new(shared: &std::sync::Arc<crate::conn::Shared>) -> Closer {
        Closer(std::sync::Arc::downgrade(shared))
    }
}

/// LRU of statements by SQL text. Capacity 0 disables caching (and named statements).
pub struct StatementCache {
    lru: Option<LruCache<String, Arc<Statement>>>,
}

impl StatementCache {
    pub fn new(capacity: usize) -> StatementCache {
        StatementCache {
            lru: NonZeroUsize::new(capacity).map(LruCache::new),
        }
    }
    pub fn enabled(&self) -> bool {
        self.lru.is_some()
    }
    pub fn get(&mut self, sql: &str) -> Option<Arc<Statement>> {
        self.lru.as_mut()?.get(sql).cloned()
    }
    /// Inserts and returns the evicted entry, so the caller drops it outside the lock.
    pub fn put(&mut self, stmt: Arc<Statement>) -> Option<Arc<Statement>> {
        let lru = self.lru.as_mut()?;
        lru.push(stmt.sql.clone(), stmt).map(|(_, old)| old)
    }
    pub fn remove(&mut self, sql: &str) -> Option<Arc<Statement>> {
        self.lru.as_mut()?.pop(sql)
    }
    pub fn clear(&mut self) -> Vec<Arc<Statement>> {
        match self.lru.as_mut() {
            Some(lru) => {
                let mut out = Vec::with_capacity(lru.len());
                while let Some((_, s)) = lru.pop_lru() {
                    out.push(s);
                }
                out
            }
            None => Vec::new(),
        }
    }
}
