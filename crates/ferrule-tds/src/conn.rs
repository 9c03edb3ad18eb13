//! A live connection: the caller-side handle over the connection task. TDS runs one request
//! at a time, so concurrent calls queue in submission order; none is ever refused.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
pub use ferrule_core::turns::CallCtl;
use ferrule_core::turns::{Turn, Turns};
use ferrule_core::{Error, ErrorKind};
use parking_lot::Mutex;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::TdsConfig;
use crate::connect::{establish, ServerInfo};
use crate::io::{connection_task, Io};
use crate::job::{Batch, Command, Job, Message, Response, Sink};
use crate::packet::kind;
use crate::params::Param;
use crate::request::{self, TmRequest};

pub(crate) struct Shared {
    tx: UnboundedSender<Command>,
    closed: AtomicBool,
    close_reason: Mutex<Option<Error>>,
    /// The transaction descriptor from the last ENVCHANGE; zero outside a transaction.
    descriptor: AtomicU64,
    reset_pending: AtomicBool,
    pub cancel_timeout: Duration,
    pub database: Mutex<String>,
    pub info: ServerInfo,
    task: Mutex<Option<JoinHandle<()>>>,
    finished: Notify,
    done: AtomicBool,
    /// The order in which calls made on the connection queue their requests.
    turns: Arc<Turns>,
}

impl Shared {
    pub fn mark_closed(&self, reason: Error) {
        let mut slot = self.close_reason.lock();
        if slot.is_none() {
            *slot = Some(reason);
        }
        drop(slot);
        self.closed.store(true, Ordering::Release);
    }

    pub fn closed_error(&self) -> Error {
        self.close_reason
            .lock()
            .clone()
            .unwrap_or_else(|| Error::closed("the connection is closed"))
    }

    pub fn descriptor(&self) -> [u8; 8] {
        self.descriptor.load(Ordering::Acquire).to_le_bytes()
    }

    pub fn set_descriptor(&self, d: [u8; 8]) {
        self.descriptor
            .store(u64::from_le_bytes(d), Ordering::Release);
    }

    pub fn take_reset(&self) -> bool {
        self.reset_pending.swap(false, Ordering::AcqRel)
    }

    pub fn finish(&self) {
        self.done.store(true, Ordering::Release);
        self.finished.notify_waiters();
    }

    fn abort(&self, reason: Error) {
        self.mark_closed(reason);
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
        self.finish();
    }
}

/// A connection handle; clones share the connection.
#[derive(Clone)]
pub struct TdsConnection {
    pub(crate) shared: Arc<Shared>,
}

enum Interrupt {
    Timeout,
    Cancelled,
}

impl TdsConnection {
    /// Opens a connection (SQL Browser, TLS, PRELOGIN, LOGIN7) and starts its task.
    pub async fn connect(cfg: &TdsConfig) -> Result<TdsConnection, Error> {
        let est = match cfg.connect_timeout {
            Some(t) => tokio::time::timeout(t, establish(cfg))
                .await
                .map_err(|_| {
                    Error::new(
                        ErrorKind::Timeout,
                        format!("connecting timed out after {:.1}s", t.as_secs_f64()),
                    )
                })??,
            None => establish(cfg).await?,
        };
        let (tx, rx) = unbounded_channel();
        let shared = Arc::new(Shared {
            tx,
            closed: AtomicBool::new(false),
            close_reason: Mutex::new(None),
            descriptor: AtomicU64::new(0),
            reset_pending: AtomicBool::new(false),
            cancel_timeout: cfg.cancel_timeout,
            database: Mutex::new(est.database.clone()),
            info: est.info.clone(),
            task: Mutex::new(None),
            finished: Notify::new(),
            done: AtomicBool::new(false),
            turns: Arc::default(),
        });
        let io = Io {
            stream: est.stream,
            dec: est.decoder,
            packet_size: est.packet_size,
        };
        let task = tokio::spawn(connection_task(shared.clone(), io, rx));
        *shared.task.lock() = Some(task);
        Ok(TdsConnection { shared })
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// True while the server reports an open transaction.
    pub fn in_transaction(&self) -> bool {
        self.shared.descriptor.load(Ordering::Acquire) != 0
    }

    pub fn server_info(&self) -> &ServerInfo {
        &self.shared.info
    }

    pub fn database(&self) -> String {
        self.shared.database.lock().clone()
    }

    /// The next request carries the RESETCONNECTION flag: the server resets the session
    /// (rolls back, drops temporary tables, restores settings) before running it.
    pub fn mark_reset(&self) {
        self.shared.reset_pending.store(true, Ordering::Release);
    }

    /// A place in line for a call made now: its requests queue after those of every call
    /// made before it on this connection.
    pub fn take_turn(&self) -> Arc<Turn> {
        self.shared.turns.take()
    }

    /// Waits for the call's turn to queue its request (at once for a call without one).
    pub(crate) async fn my_turn(&self, ctl: &CallCtl) -> Result<(), Error> {
        match &ctl.turn {
            Some(turn) => turn.wait(ctl.deadline, ctl.cancel.as_ref()).await,
            None => Ok(()),
        }
    }

    fn submit(&self, job: Job) -> Result<(), Error> {
        if self.is_closed() {
            return Err(self.shared.closed_error());
        }
        self.shared
            .tx
            .send(Command::Job(job))
            .map_err(|_| self.shared.closed_error())
    }

    /// Sends one request and waits for its response. On the deadline or the caller's
    /// cancellation the request is cancelled with ATTENTION; the call returns once the
    /// server has acknowledged it (or the connection was closed for want of that).
    pub async fn roundtrip(
        &self,
        messages: Vec<Message>,
        discard_rows: bool,
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        self.roundtrip_with_rollback(messages, None, discard_rows, ctl)
            .await
    }

    /// `roundtrip`, sending `on_error` when one of the messages fails.
    pub async fn roundtrip_with_rollback(
        &self,
        messages: Vec<Message>,
        on_error: Option<Message>,
        discard_rows: bool,
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        let cancel = CancellationToken::new();
        let (reply, mut rx) = oneshot::channel();
        self.my_turn(ctl).await?;
        self.submit(Job {
            messages,
            on_error,
            sink: Sink::Collect {
                reply,
                discard_rows,
            },
            cancel: cancel.clone(),
        })?;
        let interrupt = tokio::select! {
            biased;
            r = &mut rx => return r.unwrap_or_else(|_| Err(self.shared.closed_error())),
            i = interrupted(ctl) => i,
        };
        cancel.cancel();
        if let Ok(Ok(resp)) = rx.await {
            // It finished before the cancellation landed: the work is done, report it.
            return Ok(resp);
        }
        Err(interrupt_error(interrupt))
    }

    /// Starts a request whose rows stream in batches of `prefetch`; the connection is busy
    /// until the stream ends or is dropped (then the rest is cancelled).
    pub fn stream(&self, messages: Vec<Message>, prefetch: usize) -> Result<RowStream, Error> {
        let (batches, rx) = mpsc::channel(1);
        let cancel = CancellationToken::new();
        self.submit(Job {
            messages,
            on_error: None,
            sink: Sink::Stream {
                batches,
                prefetch: prefetch.max(1),
            },
            cancel: cancel.clone(),
        })?;
        Ok(RowStream {
            rx,
            cancel,
            done: false,
            closed: self.shared.clone(),
        })
    }

    /// Queues a request whose answer nobody waits for (closing a statement).
    pub(crate) fn fire_and_forget(&self, messages: Vec<Message>) {
        let _ = self.submit(Job {
            messages,
            on_error: None,
            sink: Sink::Discard,
            cancel: CancellationToken::new(),
        });
    }

    /// A SQL batch (one or more statements, no parameters).
    pub async fn batch(
        &self,
        sql: &str,
        discard_rows: bool,
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        self.roundtrip(vec![batch_message(sql)], discard_rows, ctl)
            .await
    }

    /// `sp_executesql` with typed parameters.
    pub async fn execute_sql(
        &self,
        sql: &str,
        params: &[Param],
        discard_rows: bool,
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        self.roundtrip(vec![executesql_message(sql, params)?], discard_rows, ctl)
            .await
    }

    /// Runs `sql` once per parameter row, in one job (no other call interleaves). Outside a
    /// transaction the rows run in one that is rolled back if any fails: all or nothing.
    pub async fn execute_many(
        &self,
        sql: &str,
        rows: &[Vec<Param>],
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        if rows.is_empty() {
            return Ok(Response::default());
        }
        let wrap = !self.in_transaction();
        let mut messages = Vec::with_capacity(rows.len() + 2);
        if wrap {
            messages.push(batch_message("BEGIN TRANSACTION"));
        }
        for (i, row) in rows.iter().enumerate() {
            messages.push(executesql_message(sql, row).map_err(|mut e| {
                e.message = format!("row {i}: {}", e.message);
                e
            })?);
        }
        if wrap {
            messages.push(batch_message("COMMIT TRANSACTION"));
        }
        let rollback = wrap.then(|| batch_message("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION"));
        self.roundtrip_with_rollback(messages, rollback, true, ctl)
            .await
    }

    /// A stored procedure by name: result sets, output parameters and return status.
    pub async fn call_procedure(
        &self,
        name: &str,
        params: &[Param],
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        let mut payload = BytesMut::new();
        request::call_procedure(&mut payload, &[0; 8], name, params)?;
        self.roundtrip(
            vec![Message {
                kind: kind::RPC,
                payload,
                has_headers: true,
            }],
            false,
            ctl,
        )
        .await
    }

    /// A transaction manager request (begin, commit, rollback, savepoints).
    pub async fn transaction(&self, req: TmRequest<'_>, ctl: &CallCtl) -> Result<Response, Error> {
        let mut payload = BytesMut::new();
        request::transaction_manager(&mut payload, &[0; 8], req)?;
        let msg = Message {
            kind: kind::TRANSACTION_MANAGER,
            payload,
            has_headers: true,
        };
        self.roundtrip(vec![msg], true, ctl).await
    }

    /// Graceful close: requests already queued run first, then the socket is closed; after
    /// `timeout` the connection is dropped regardless.
    pub async fn close(&self, timeout: Duration) {
        if !self.is_closed() && self.shared.tx.send(Command::Close).is_ok() {
            let finished = self.shared.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            if !self.shared.done.load(Ordering::Acquire) {
                let _ = tokio::time::timeout(timeout, finished).await;
            }
        }
        self.shared.abort(Error::closed("the connection is closed"));
    }

    /// Closes the connection at once; calls in flight fail.
    pub fn terminate(&self) {
        self.shared
            .abort(Error::closed("the connection was terminated"));
    }
}

async fn interrupted(ctl: &CallCtl) -> Interrupt {
    let deadline = async {
        match ctl.deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let cancelled = async {
        match &ctl.cancel {
            Some(t) => t.cancelled().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = deadline => Interrupt::Timeout,
        _ = cancelled => Interrupt::Cancelled,
    }
}

fn interrupt_error(i: Interrupt) -> Error {
    match i {
        Interrupt::Timeout => Error::timeout("the query timed out and was cancelled"),
        Interrupt::Cancelled => Error::new(ErrorKind::Cancelled, "the query was cancelled"),
    }
}

pub fn batch_message(sql: &str) -> Message {
    let mut payload = BytesMut::with_capacity(22 + sql.len() * 2);
    request::sql_batch(&mut payload, &[0; 8], sql);
    Message {
        kind: kind::SQL_BATCH,
        payload,
        has_headers: true,
    }
}

pub fn executesql_message(sql: &str, params: &[Param]) -> Result<Message, Error> {
    let mut payload = BytesMut::with_capacity(64 + sql.len() * 2);
    request::sp_executesql(&mut payload, &[0; 8], sql, params)?;
    Ok(Message {
        kind: kind::RPC,
        payload,
        has_headers: true,
    })
}

/// Rows of a streaming request. Dropping it cancels what remains on the server.
pub struct RowStream {
    rx: mpsc::Receiver<Result<Batch, Error>>,
    cancel: CancellationToken,
    done: bool,
    closed: Arc<Shared>,
}

impl RowStream {
    /// The next batch; `done` is set on the last one. Honours the call's deadline and
    /// cancellation: on either the request is cancelled (and the stream ends).
    pub async fn next(&mut self, ctl: &CallCtl) -> Result<Batch, Error> {
        if self.done {
            return Err(Error::interface("the cursor is exhausted"));
        }
        let got = tokio::select! {
            biased;
            b = self.rx.recv() => b,
            i = interrupted(ctl) => {
                self.close();
                return Err(interrupt_error(i));
            }
        };
        match got {
            Some(Ok(b)) => {
                self.done = b.done;
                Ok(b)
            }
            Some(Err(e)) => {
                self.done = true;
                Err(e)
            }
            None => {
                self.done = true;
                Err(self.closed.closed_error())
            }
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Stops the stream: the rest of the result is cancelled on the server.
    pub fn close(&mut self) {
        self.done = true;
        self.rx.close();
        self.cancel.cancel();
    }
}

impl Drop for RowStream {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
