//! The settings dict built by `ferrule._mssqldsn` into `TdsConfig`.

use ferrule_tds::{Encrypt, TdsConfig};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::settings::{get, seconds};

pub fn from_dict(d: &Bound<'_, PyDict>) -> PyResult<TdsConfig> {
    let mut cfg = TdsConfig::default();
    if let Some(host) = get::<String>(d, "host")? {
        cfg.host = host;
    }
    cfg.port = get(d, "port")?;
    cfg.instance = get(d, "instance")?;
    if let Some(v) = get(d, "user")? {
        cfg.user = v;
    }
    if let Some(v) = get(d, "password")? {
        cfg.password = v;
    }
    if let Some(v) = get(d, "database")? {
        cfg.database = v;
    }
    if let Some(v) = get(d, "application_name")? {
        cfg.app_name = v;
    }
    cfg.access_token = get(d, "access_token")?;
    if let Some(mode) = get::<String>(d, "encrypt")? {
        cfg.encrypt = Encrypt::parse(&mode).ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid encrypt {mode:?}: use strict, yes, no or disable"
            ))
        })?;
    }
    if let Some(v) = get(d, "trust_server_certificate")? {
        cfg.trust_server_certificate = v;
    }
    cfg.ca_file = get(d, "ca_file")?;
    cfg.host_name_in_certificate = get(d, "host_name_in_certificate")?;
    if d.contains("connect_timeout")? {
        // An explicit None waits forever; a missing key keeps the default.
        cfg.connect_timeout = seconds(get(d, "connect_timeout")?)?;
    }
    if let Some(t) = seconds(get(d, "cancel_timeout")?)? {
        cfg.cancel_timeout = t;
    }
    if let Some(n) = get::<usize>(d, "packet_size")? {
        if !(512..=32767).contains(&n) {
            return Err(PyValueError::new_err(format!(
                "packet_size {n} is outside 512..32767"
            )));
        }
        cfg.packet_size = n;
    }
    if let Some(v) = get(d, "read_only_intent")? {
        cfg.read_only_intent = v;
    }
    if let Some(v) = get(d, "language")? {
        cfg.language = v;
    }
    if let Some(v) = get(d, "browser_port")? {
        cfg.browser_port = v;
    }
    Ok(cfg)
}
