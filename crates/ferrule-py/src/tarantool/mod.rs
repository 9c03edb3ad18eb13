//! Python bindings of the Tarantool backend.

pub mod calls;
pub mod config;
pub mod connection;
pub mod decode;
mod direct;
pub mod encode;
mod methods;
pub mod pool;
pub mod pooled;
pub mod results;
mod space_calls;
mod sql_calls;
pub mod streams;
