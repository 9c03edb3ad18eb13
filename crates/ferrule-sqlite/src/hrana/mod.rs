//! libSQL's remote protocol: Hrana 3 over HTTP (JSON pipelines on `/v3/pipeline`).

pub mod http;
pub mod proto;
pub mod remote;

pub use remote::{RemoteConfig, RemoteConnection};
