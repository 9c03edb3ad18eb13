//! SQL Server backend of ferrule: TDS 7.4 and 8.0 written sans-IO (packets, PRELOGIN,
//! LOGIN7, requests, token stream), driven by one tokio task per connection.
//!
//! TDS answers one request at a time. The connection task owns the socket and runs queued
//! requests in order; callers never touch the socket. A caller that gives up (timeout,
//! cancelled task, dropped future) makes the task send ATTENTION and read until the server
//! acknowledges it, so the stream is never left out of sync; without an acknowledgement
//! within the cancel timeout the connection is closed.

pub mod browser;
pub mod bulk;
pub mod config;
pub mod conn;
pub mod connect;
pub mod decode;
pub mod decoder;
pub mod errors;
mod io;
pub mod job;
pub mod login7;
pub mod manager;
pub mod packet;
pub mod params;
pub mod prelogin;
pub mod request;
pub mod statement;
pub mod tls;
pub mod token;
pub mod types;
pub mod wire;

pub use config::{Encrypt, TdsConfig};
pub use conn::{CallCtl, RowStream, TdsConnection};
pub use decoder::RawRow;
pub use job::{Batch, Response, ResultSet};
pub use params::Param;
pub use statement::Statement;
pub use token::Column;
