//! The pool settings a Python `options` dict carries, and the stats dict a pool reports.

use std::time::Duration;

use ferrule_core::pool::{PoolConfig, PoolStats, Recycle};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::to_pyerr;
use crate::settings::seconds;

/// Reads the optional keys of the Python `options` dict: a key present with None clears the
/// setting (no limit), a missing key keeps the default.
pub fn pool_config(options: &Bound<'_, PyDict>, backend: &str) -> PyResult<PoolConfig> {
    let mut cfg = PoolConfig::default();
    let bad = |key: &str| PyValueError::new_err(format!("invalid pool setting {key}"));
    let item = |key: &str| -> PyResult<Option<Option<Bound<'_, PyAny>>>> {
        Ok(options.get_item(key)?.map(|v| (!v.is_none()).then_some(v)))
    };
    let duration = |key: &str| -> PyResult<Option<Option<Duration>>> {
        match item(key)? {
            None => Ok(None),
            Some(None) => Ok(Some(None)),
            Some(Some(v)) => {
                let secs: f64 = v.extract().map_err(|_| bad(key))?;
                seconds(Some(secs))
                    .map_err(|_| PyValueError::new_err(format!("{key} must be >= 0, got {secs}")))
                    .map(Some)
            }
        }
    };
    if let Some(Some(v)) = item("min_size")? {
        cfg.min_size = v.extract().map_err(|_| bad("min_size"))?;
    }
    if let Some(Some(v)) = item("max_size")? {
        cfg.max_size = v.extract().map_err(|_| bad("max_size"))?;
    }
    if let Some(v) = item("max_queries")? {
        cfg.max_queries = v
            .map(|v| v.extract())
            .transpose()
            .map_err(|_| bad("max_queries"))?;
    }
    if let Some(v) = duration("max_lifetime")? {
        cfg.max_lifetime = v;
    }
    if let Some(v) = duration("max_idle")? {
        cfg.max_idle = v;
    }
    if let Some(v) = duration("acquire_timeout")? {
        cfg.acquire_timeout = v;
    }
    if let Some(Some(v)) = item("recycle")? {
        let name: String = v.extract().map_err(|_| bad("recycle"))?;
        let py = options.py();
        cfg.recycle = name
            .parse::<Recycle>()
            .map_err(|e| to_pyerr(py, &e, backend))?;
    }
    for (key, field) in [
        ("check_after_idle", &mut cfg.check_after_idle),
        ("close_timeout", &mut cfg.close_timeout),
        ("reset_timeout", &mut cfg.reset_timeout),
    ] {
        if let Some(Some(v)) = duration(key)? {
            *field = v;
        }
    }
    Ok(cfg)
}

/// A snapshot of the pool's state and counters as a dict; times in seconds.
pub fn stats_dict<'py>(py: Python<'py>, s: &PoolStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("size", s.size)?;
    d.set_item("idle", s.idle)?;
    d.set_item("in_use", s.in_use)?;
    d.set_item("waiting", s.waiting)?;
    d.set_item("opening", s.opening)?;
    d.set_item("closing", s.closing)?;
    d.set_item("acquisitions", s.acquisitions)?;
    d.set_item("timeouts", s.timeouts)?;
    d.set_item("total_wait", s.total_wait.as_secs_f64())?;
    d.set_item("avg_wait", s.avg_wait.as_secs_f64())?;
    d.set_item("connects", s.connects)?;
    d.set_item("connect_errors", s.connect_errors)?;
    d.set_item("resets", s.resets)?;
    d.set_item("closed_broken", s.closed_broken)?;
    Ok(d)
}
