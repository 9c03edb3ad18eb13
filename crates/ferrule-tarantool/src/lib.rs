//! Tarantool backend of ferrule: IPROTO on `rmp`, driven by tokio.
//!
//! The protocol modules are sans IO (request encoding, response and extension decoding, the
//! schema), each with golden-byte tests. A connection is one multiplexed socket: requests are
//! tagged with a sync id and answered in any order, read by a reader task (or by the caller's
//! thread while requests go out one at a time); a writer task batches frames. The connection
//! reconnects with backoff after a loss, never re-sending a request on its own (except one
//! the server refused unexecuted for a stale schema).

pub mod auth;
pub mod config;
pub mod conn;
mod connect;
pub mod consts;
mod direct;
pub mod encode;
pub mod error;
pub mod ext;
pub mod greeting;
mod inbox;
pub mod manager;
pub mod mp;
pub mod ops;
mod outbox;
pub mod request;
pub mod response;
pub mod schema;
mod session;
mod session_state;
pub mod sql;

pub use config::{Endpoint, TntConfig};
pub use conn::{CallCtl, TntConnection};
pub use consts::Iterator;
pub use direct::Sent;
pub use ferrule_core::socket::{InlineRead, LoopRead};
pub use inbox::InlineReader;
pub use manager::TntManager;
pub use ops::{SelectOpts, Tuples};
pub use request::{Header, Request};
pub use response::Response;
pub use schema::{Field, Index, IndexRef, Schema, Space, SpaceRef};
pub use session::{CallEvent, ReplyFn, ServerInfo};
pub use sql::{Column, PreparedInfo, SqlResult};
