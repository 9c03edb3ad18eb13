//! Python bindings of the Tarantool backend.

pub mod config;
pub mod connection;
pub mod decode;
mod direct;
pub mod encode;
pub mod results;
pub mod streams;
