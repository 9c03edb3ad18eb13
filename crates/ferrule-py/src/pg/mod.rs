//! Python bindings of the PostgreSQL backend.

pub mod calls;
pub mod config;
pub mod connection;
pub mod copy;
pub mod copy_records;
pub mod decode;
pub mod decode_rich;
pub mod direct;
mod methods;
pub mod pool;
pub mod pooled;
pub mod range;
pub mod results;
pub mod text_literal;
