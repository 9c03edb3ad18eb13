//! Python bindings of the SQLite backend.

pub mod config;
pub mod connection;
pub mod convert;
pub mod results;
