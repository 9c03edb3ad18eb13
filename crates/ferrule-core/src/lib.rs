//! Backend-neutral core of ferrule: the shared tokio runtime, the error model, the value model
//! for bound parameters, and the connection pool. No backend is named here and no pyo3 is used.

pub mod calendar;
pub mod error;
pub mod pool;
pub mod runtime;
pub mod socket;
pub mod tls;
pub mod turns;
pub mod value;

pub use error::{Error, ErrorKind, Result};
pub use value::Value;
