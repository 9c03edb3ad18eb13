//! Python bindings of the Tarantool backend.

pub mod config;
pub mod connection;
pub mod decode;
pub mod encode;
pub mod results;
pub mod streams;
