//! Python bindings of the SQLite backend.

pub mod config;
pub mod connection;
pub mod convert;
pub mod methods;
pub mod remote;
pub mod replica;
pub mod results;
