//! What a caller hands the connection task, and what it gets back.

use std::sync::Arc;

use bytes::BytesMut;
use ferrule_core::{Error, ErrorKind};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::decoder::RawRow;
use crate::token::{Column, ReturnValue, ServerMessage};

/// One message of a request. Messages with ALL_HEADERS get the transaction descriptor that
/// is current when they are sent, not when they were queued.
pub struct Message {
    pub kind: u8,
    pub payload: BytesMut,
    pub has_headers: bool,
}

pub struct ResultSet {
    pub columns: Arc<[Column]>,
    pub rows: Vec<RawRow>,
    /// The row count of its DONE, when the server sent one.
    pub row_count: Option<u64>,
}

/// Everything one request produced.
#[derive(Default)]
pub struct Response {
    pub result_sets: Vec<ResultSet>,
    /// The last counted statement, asyncpg style: `SELECT 2`, `INSERT 0 1`, `UPDATE 3`.
    pub status: String,
    pub rows_affected: Option<u64>,
    pub return_status: Option<i32>,
    pub return_values: Vec<ReturnValue>,
    /// INFO messages (PRINT, RAISERROR with a low severity), in order.
    pub messages: Vec<ServerMessage>,
}

/// Rows streamed to a cursor.
pub struct Batch {
    pub columns: Arc<[Column]>,
    pub rows: Vec<RawRow>,
    /// The last batch: the request has completed.
    pub done: bool,
}

pub enum Sink {
    Collect {
        reply: oneshot::Sender<Result<Response, Error>>,
        discard_rows: bool,
    },
    Stream {
        batches: mpsc::Sender<Result<Batch, Error>>,
        prefetch: usize,
    },
    /// Fire and forget (sp_unprepare of a dropped statement): errors are dropped.
    Discard,
}

impl Sink {
    /// Resolves when the caller no longer waits for the answer.
    pub async fn abandoned(&mut self) {
        match self {
            Sink::Collect { reply, .. } => reply.closed().await,
            Sink::Stream { batches, .. } => batches.closed().await,
            Sink::Discard => std::future::pending().await,
        }
    }

    pub fn is_abandoned(&self) -> bool {
        match self {
            Sink::Collect { reply, .. } => reply.is_closed(),
            Sink::Stream { batches, .. } => batches.is_closed(),
            Sink::Discard => false,
        }
    }

    pub fn fail(self, e: Error) {
        match self {
            Sink::Collect { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Sink::Stream { batches, .. } => {
                let _ = batches.try_send(Err(e));
            }
            Sink::Discard => {}
        }
    }
}

pub struct Job {
    pub messages: Vec<Message>,
    /// Sent when one of `messages` failed (a ROLLBACK closing a transaction the job opened).
    pub on_error: Option<Message>,
    pub sink: Sink,
    /// Cancelled by the caller (timeout, task cancelled): the task sends ATTENTION.
    pub cancel: CancellationToken,
}

pub enum Command {
    Job(Job),
    /// Send nothing more, close the socket.
    Close,
}

pub fn cancelled_error() -> Error {
    Error::new(ErrorKind::Cancelled, "the query was cancelled")
}

/// The asyncpg-style status of a DONE's command.
pub fn status_text(cur_cmd: u16, count: Option<u64>) -> String {
    let n = count.unwrap_or(0);
    match cur_cmd {
        0xC1 => format!("SELECT {n}"),
        0xC3 => format!("INSERT 0 {n}"),
        0xC4 => format!("DELETE {n}"),
        0xC5 => format!("UPDATE {n}"),
        0x117 => format!("MERGE {n}"),
        _ if count.is_some() => format!("OK {n}"),
        _ => "OK".into(),
    }
}
