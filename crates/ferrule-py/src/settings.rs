//! Reading the settings dicts the Python package builds for each backend's connector.

use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The value of `key`, or None when it is missing or None; a value of the wrong type is an
/// error naming the setting.
pub fn get<'py, T: for<'a> FromPyObject<'a, 'py>>(
    d: &Bound<'py, PyDict>,
    key: &str,
) -> PyResult<Option<T>> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => v
            .extract::<T>()
            .map(Some)
            .map_err(|_| PyValueError::new_err(format!("invalid connection setting {key}"))),
        _ => Ok(None),
    }
}

/// Seconds as a duration; negative, NaN or infinite values are refused.
pub fn seconds(v: Option<f64>) -> PyResult<Option<Duration>> {
    match v {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(PyValueError::new_err(format!("invalid timeout {s}"))),
    }
}
