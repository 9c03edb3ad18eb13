//! The settings dict built by `ferrule.tarantool_connection` into `TntConfig`.

use std::path::PathBuf;

use ferrule_tarantool::{Endpoint, TntConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::settings::{get, seconds};

pub fn from_dict(d: &Bound<'_, PyDict>) -> PyResult<TntConfig> {
    let mut cfg = TntConfig::default();
    if let Some(path) = get::<String>(d, "unix_path")? {
        cfg.endpoint = Endpoint::Unix(PathBuf::from(path));
    } else {
        cfg.endpoint = Endpoint::Tcp {
            host: get(d, "host")?.unwrap_or_else(|| "127.0.0.1".to_owned()),
            port: get(d, "port")?.unwrap_or(3301),
        };
    }
    cfg.user = get(d, "user")?;
    cfg.password = get(d, "password")?;
    cfg.connect_timeout = seconds(get(d, "connect_timeout")?)?;
    if let Some(r) = get::<bool>(d, "reconnect")? {
        cfg.reconnect = r;
    }
    if let Some(t) = seconds(get(d, "reconnect_delay")?)? {
        cfg.reconnect_delay = t;
    }
    if let Some(t) = seconds(get(d, "reconnect_max_delay")?)? {
        cfg.reconnect_max_delay = t;
    }
    if let Some(t) = seconds(get(d, "reconnect_wait")?)? {
        cfg.reconnect_wait = t;
    }
    if let Some(f) = get::<bool>(d, "fetch_schema")? {
        cfg.fetch_schema = f;
    }
    Ok(cfg)
}
