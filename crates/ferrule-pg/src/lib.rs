//! PostgreSQL backend of ferrule: the wire protocol on `postgres-protocol`, driven by tokio.
//!
//! A connection is two tasks (reader and writer) owning the socket halves. Requests are whole
//! message groups ending in Sync, written in submission order and answered in the same order,
//! so concurrent calls on one connection pipeline naturally. Callers never touch the socket:
//! a dropped call leaves its response to be drained by the reader, so the stream cannot get
//! out of sync.

pub mod cancel;
pub mod config;
pub mod conn;
pub mod connect;
pub mod copy_format;
mod direct;
pub mod encode;
mod encode_rich;
pub mod errors;
pub mod hosts;
mod inbox;
mod io;
mod low_water;
pub mod pool;
pub mod request;
pub mod session;
pub mod statement;
pub mod tls;
pub mod typeinfo;
mod typeload;
pub mod types;

pub use config::{PgConfig, SslMode, TargetSessionAttrs};
pub use conn::is_stale_statement;
pub use conn::{
    AsyncMessage, CallCtl, CopyIn, CopyOut, PgConnection, QueryOpts, QueryResult, SinkFactory,
};
pub use direct::Sent;
pub use ferrule_core::socket::{InlineRead, LoopRead};
pub use inbox::InlineReader;
pub use pool::{PgManager, SessionHooks};
pub use postgres_protocol::message::backend::DataRowBody;
pub use request::RowSink;
pub use session::SessionState;
pub use statement::{Column, Statement};
