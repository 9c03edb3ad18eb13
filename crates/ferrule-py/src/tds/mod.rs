//! Python bindings of the SQL Server backend.

pub mod config;
pub mod connection;
pub mod cursor;
pub mod decode;
pub mod results;
