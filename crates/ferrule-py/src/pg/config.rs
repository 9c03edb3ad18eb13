//! The connection settings dict built by `ferrule._dsn` into `PgConfig`.

use ferrule_pg::config::PgHost;
use ferrule_pg::{PgConfig, SslMode, TargetSessionAttrs};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::settings::{get, seconds};

pub fn from_dict(d: &Bound<'_, PyDict>) -> PyResult<PgConfig> {
    let mut cfg = PgConfig::default();
    if let Some(hosts) = get::<Vec<(String, u16)>>(d, "hosts")? {
        if hosts.is_empty() {
            return Err(PyValueError::new_err("no host to connect to"));
        }
        cfg.hosts = hosts
            .into_iter()
            .map(|(host, port)| PgHost { host, port })
            .collect();
    }
    if let Some(user) = get(d, "user")? {
        cfg.user = user;
    }
    cfg.password = get(d, "password")?;
    if let Some(db) = get(d, "database")? {
        cfg.database = db;
    }
    if let Some(mode) = get::<String>(d, "sslmode")? {
        cfg.ssl_mode = SslMode::parse(&mode).ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid sslmode {mode:?}: use disable, allow, prefer, require, verify-ca or \
                 verify-full"
            ))
        })?;
    }
    cfg.ssl_root_cert = get(d, "sslrootcert")?;
    cfg.ssl_cert = get(d, "sslcert")?;
    cfg.ssl_key = get(d, "sslkey")?;
    cfg.ssl_server_name = get(d, "sslservername")?;
    cfg.connect_timeout = seconds(get(d, "connect_timeout")?)?;
    if let Some(settings) = get::<Vec<(String, String)>>(d, "server_settings")? {
        cfg.server_settings = settings;
    }
    if let Some(n) = get::<usize>(d, "statement_cache_size")? {
        cfg.statement_cache_size = n;
    }
    if let Some(t) = seconds(get(d, "cancel_timeout")?)? {
        cfg.cancel_timeout = t;
    }
    if let Some(attrs) = get::<String>(d, "target_session_attrs")? {
        cfg.target_session_attrs = TargetSessionAttrs::parse(&attrs).ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid target_session_attrs {attrs:?}: use any, read-write, read-only, \
                 primary, standby or prefer-standby"
            ))
        })?;
    }
    if let Some(random) = get::<bool>(d, "load_balance_hosts")? {
        cfg.load_balance_hosts = random;
    }
    Ok(cfg)
}
