//! What travels from callers to the connection tasks, and the response each request gathers.

use std::sync::atomic::{AtomicBool, Ordering};

use bytes::BytesMut;
use ferrule_core::Error;
use postgres_protocol::message::backend::DataRowBody;
use tokio::sync::oneshot;

use crate::statement::Column;
use crate::types::Oid;

/// Commands for the writer task, in the order they must reach the server.
pub enum Command {
    /// A message group ending in Sync whose response is gathered for the caller.
    Request(Request),
    /// A message group ending in Sync whose response is drained and dropped (statement Close).
    Discard(BytesMut),
    /// Bytes that are not a request of their own (CopyFail answering an unexpected COPY).
    Raw(BytesMut),
    /// Send Terminate and stop writing.
    Terminate,
    /// A `COPY ... FROM STDIN` request: the writer sends it, then only this copy's data until
    /// it ends (the server reads nothing else while it is in copy mode).
    CopyIn(Request, tokio::sync::mpsc::Receiver<CopyChunk>),
}

/// What the caller streams into a `COPY ... FROM STDIN`.
pub enum CopyChunk {
    Data(bytes::Bytes),
    /// End of data: CopyDone. A dropped sender ends with CopyFail instead.
    Done,
    Fail(String),
}

/// Where the rows of a `COPY ... TO STDOUT` go, in chunks of about `COPY_OUT_CHUNK` bytes.
pub type CopyOutSender = tokio::sync::mpsc::Sender<bytes::Bytes>;
pub const COPY_OUT_CHUNK: usize = 256 * 1024;

/// Shared between a caller and the reader: whether the caller wants the request cancelled,
/// whether a CancelRequest was sent for it, and whether its response is complete.
#[derive(Default)]
pub struct ReqState {
    pub want_cancel: AtomicBool,
    cancel_sent: AtomicBool,
    pub done: AtomicBool,
    pub done_notify: tokio::sync::Notify,
}

impl ReqState {
    pub fn finish(&self) {
        self.done.store(true, Ordering::Release);
        self.done_notify.notify_waiters();
    }

    /// Claims the single right to send a CancelRequest for this request.
    pub fn claim_cancel(&self) -> bool {
        !self.done.load(Ordering::Acquire) && !self.cancel_sent.swap(true, Ordering::AcqRel)
    }
}

/// Receives rows in batches while a large result is still arriving, so the caller can decode
/// them while the server sends the rest. Rows not yet handed over stay in the `Response`.
pub type RowSink = Box<dyn FnMut(Vec<DataRowBody>) + Send>;

/// Rows gathered before a batch goes to the sink.
pub const SINK_BATCH_ROWS: usize = 2048;
/// Bytes gathered before a batch goes to the sink, whatever the row count.
pub const SINK_BATCH_BYTES: usize = 256 * 1024;

pub struct Request {
    pub buf: BytesMut,
    pub state: std::sync::Arc<ReqState>,
    pub reply: oneshot::Sender<Result<Response, Error>>,
    /// Rows are not kept (simple-query `execute`), only the command tags.
    pub discard_rows: bool,
    pub sink: Option<RowSink>,
    /// What a COPY this request starts may do: `None` refuses COPY (the server is told
    /// CopyFail), `In` streams from the caller, `Out` streams to the caller.
    pub copy: CopyMode,
}

#[derive(Default)]
pub enum CopyMode {
    #[default]
    Refuse,
    In,
    Out(CopyOutSender),
}

/// Everything the server answered to one request, up to its ReadyForQuery.
#[derive(Default)]
pub struct Response {
    pub params: Option<Vec<Oid>>,
    pub columns: Option<Vec<Column>>,
    pub rows: Vec<DataRowBody>,
    pub tags: Vec<String>,
    /// `rows.len()` when each statement of a multi-statement request ended.
    pub ends: Vec<usize>,
    /// The portal has more rows (Execute with a row limit stopped early).
    pub suspended: bool,
    pub error: Option<Error>,
    /// Number of data rows seen, kept even when rows are discarded.
    pub row_count: u64,
}

/// Where a request's answer goes: a caller waiting on a channel, or a function called by
/// whoever reads the answer (a request sent from the caller's thread, direct.rs).
pub enum Reply {
    Channel(oneshot::Sender<Result<Response, Error>>),
    Call(crate::direct::CallReply),
}

impl Reply {
    pub fn send(self, result: Result<Response, Error>) {
        match self {
            Reply::Channel(tx) => {
                let _ = tx.send(result);
            }
            Reply::Call(call) => call.reply(result),
        }
    }
}

/// The reader's record of a request in flight.
pub struct Pending {
    pub state: std::sync::Arc<ReqState>,
    pub reply: Option<Reply>,
    pub discard_rows: bool,
    pub response: Response,
    pub sink: Option<RowSink>,
    /// Bytes of the rows gathered since the last batch went to the sink.
    pub batch_bytes: usize,
    pub copy: CopyMode,
    /// COPY TO STDOUT data not yet handed to the caller.
    pub copy_buf: BytesMut,
    /// Bytes of COPY TO STDOUT data received so far.
    pub copy_received: usize,
}

impl Pending {
    pub fn new(request: Request) -> Pending {
        let mut p = Pending::answered(request.state, Reply::Channel(request.reply), request.sink);
        p.discard_rows = request.discard_rows;
        p.copy = request.copy;
        p
    }

    /// A request that keeps its rows and starts no COPY.
    pub fn answered(
        state: std::sync::Arc<ReqState>,
        reply: Reply,
        sink: Option<RowSink>,
    ) -> Pending {
        Pending {
            state,
            reply: Some(reply),
            discard_rows: false,
            response: Response::default(),
            sink,
            batch_bytes: 0,
            copy: CopyMode::Refuse,
            copy_buf: BytesMut::new(),
            copy_received: 0,
        }
    }

    /// A request whose answer nobody waits for.
    pub fn discarded() -> Pending {
        Pending {
            state: std::sync::Arc::new(ReqState::default()),
            reply: None,
            discard_rows: true,
            response: Response::default(),
            sink: None,
            batch_bytes: 0,
            copy: CopyMode::Refuse,
            copy_buf: BytesMut::new(),
            copy_received: 0,
        }
    }
}
