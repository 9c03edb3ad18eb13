//! The settings dict built by `ferrule.sqlite_connection` into `SqliteConfig`.

use ferrule_sqlite::{EncryptionKey, JournalMode, SqliteConfig, Synchronous};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::settings::{get, seconds};

/// The connection settings, and whether declared types drive result conversion.
pub fn from_dict(d: &Bound<'_, PyDict>) -> PyResult<(SqliteConfig, bool)> {
    let mut cfg = SqliteConfig::default();
    if let Some(path) = get(d, "path")? {
        cfg.path = path;
    }
    if let Some(uri) = get(d, "uri")? {
        cfg.uri = uri;
    }
    if let Some(ro) = get(d, "read_only")? {
        cfg.read_only = ro;
    }
    if let Some(create) = get(d, "create")? {
        cfg.create = create;
    }
    if let Some(t) = seconds(get(d, "busy_timeout")?)? {
        cfg.busy_timeout = t;
    }
    if let Some(n) = get::<usize>(d, "statement_cache_size")? {
        cfg.statement_cache_size = n;
    }
    if let Some(mode) = get::<String>(d, "journal_mode")? {
        cfg.journal_mode = Some(JournalMode::parse(&mode).ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid journal_mode {mode:?}: use delete, truncate, persist, memory, wal or off"
            ))
        })?);
    }
    if let Some(sync) = get::<String>(d, "synchronous")? {
        cfg.synchronous = Some(Synchronous::parse(&sync).ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid synchronous {sync:?}: use off, normal, full or extra"
            ))
        })?);
    }
    cfg.foreign_keys = get(d, "foreign_keys")?;
    if let Some(q) = get(d, "query_only")? {
        cfg.query_only = q;
    }
    if let Some(inline) = get(d, "inline")? {
        cfg.inline = inline;
    }
    if let Some(key) = get::<Vec<u8>>(d, "encryption_key")? {
        if key.is_empty() {
            return Err(PyValueError::new_err("encryption_key must not be empty"));
        }
        cfg.encryption_key = Some(EncryptionKey(key));
    }
    let detect_types = get(d, "detect_types")?.unwrap_or(false);
    Ok((cfg, detect_types))
}
