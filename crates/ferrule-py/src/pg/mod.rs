//! Python bindings of the PostgreSQL backend.

pub mod config;
pub mod connection;
pub mod copy;
pub mod decode;
pub mod results;
