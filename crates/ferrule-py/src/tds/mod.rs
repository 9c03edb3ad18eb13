//! Python bindings of the SQL Server backend.

pub mod calls;
pub mod config;
pub mod connection;
pub mod cursor;
pub mod decode;
mod methods;
pub mod pool;
pub mod pooled;
pub mod results;
