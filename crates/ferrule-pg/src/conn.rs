//! A live connection: the caller-side handle and the reader/writer tasks behind it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
pub use ferrule_core::turns::CallCtl;
use ferrule_core::turns::{Turn, Turns};
use ferrule_core::{Error, ErrorKind, Value};
use parking_lot::Mutex;
use postgres_protocol::message::frontend;
use tokio::sync::mpsc::{error::TrySendError, unbounded_channel, UnboundedSender};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::cancel::CancelTarget;
use crate::config::PgConfig;
use crate::connect::{establish, BoxStream};
use crate::encode::encode_bind;
use crate::inbox::{plain_reader_task, Inbox};
use crate::io::{reader_task, writer_task, Reader};
use crate::low_water::LowWater;
use crate::request::{Command, CopyChunk, CopyMode, Pending, ReqState, Request, Response, RowSink};
use crate::session::SessionState;
use crate::statement::{Column, Statement, StatementCache};
use crate::typeinfo::TypeRegistry;
use ferrule_core::socket::{register, SockWriter};

/// Builds the row sink of one execution, given the statement being executed.
pub type SinkFactory = Box<dyn Fn(&Arc<Statement>) -> RowSink + Send + Sync>;

/// Options of one query.
#[derive(Default)]
pub struct QueryOpts {
    /// Stop after this many rows (0: all). `fetchrow`/`fetchval` ask for 1.
    pub max_rows: i32,
    pub sink: Option<SinkFactory>,
}

/// Rows of one statement execution, still in wire format; decoded by the binding layer.
pub struct QueryResult {
    pub statement: Arc<Statement>,
    pub rows: Vec<postgres_protocol::message::backend::DataRowBody>,
    /// The command tag (`SELECT 2`, `INSERT 0 1`), empty when the portal was suspended.
    pub status: String,
    /// More rows remain in the portal (cursor fetches).
    pub suspended: bool,
}

/// A notification or notice delivered outside any request.
pub enum AsyncMessage {
    Notice(Error),
    Notification {
        process_id: i32,
        channel: String,
        payload: String,
    },
    /// The connection ended (the reason is the error calls would get).
    Terminated(Error),
}

pub type AsyncHook = Box<dyn Fn(AsyncMessage) + Send + Sync>;

pub(crate) struct Shared {
    tx: UnboundedSender<Command>,
    /// Commands sent to the writer and not yet written: while there are none, nothing is
    /// in flight and the caller's thread holds `send_lock`, it may write itself (direct.rs).
    pub queued: AtomicUsize,
    /// Taken to queue a command, and by the caller's thread while it writes.
    pub send_lock: Mutex<()>,
    /// Where requests written from the caller's thread tell the reader about themselves.
    pub pending_tx: UnboundedSender<Pending>,
    /// The receiving side of a plain connection (None with TLS: then only the task reads).
    pub inbox: Option<Arc<Inbox>>,
    /// Lone requests in a row sent from the caller's thread.
    pub lone_run: AtomicU32,
    /// States of requests written and not yet answered, in wire order; the front one is the
    /// one the server is working on, the only one a CancelRequest may target.
    pub inflight: Mutex<VecDeque<Arc<ReqState>>>,
    pub closed: AtomicBool,
    pub close_reason: Mutex<Option<Error>>,
    pub tx_status: AtomicU8,
    pub server_params: Mutex<HashMap<String, String>>,
    pub cache: Mutex<StatementCache>,
    pub cache_enabled: bool,
    /// Types read in text format although ferrule has a binary codec for them (the user
    /// registered a codec of their own).
    pub text_oids: Mutex<Vec<u32>>,
    /// Types beyond the plain built-ins met on this connection, and the user's codec choices.
    pub types: TypeRegistry,
    seq: AtomicU64,
    pub cancel_target: CancelTarget,
    pub cancel_timeout: Duration,
    pub tasks: Mutex<Vec<JoinHandle<()>>>,
    pub finished: Notify,
    pub reader_done: AtomicBool,
    pub hook: Mutex<Option<Arc<AsyncHook>>>,
    /// `SessionState` bits noticed since the last `clear_session_state`.
    pub session: AtomicU8,
    /// Requests whose caller stopped waiting before the answer came (cancelled while queued
    /// behind others, or dropped): they may still change the session.
    abandoned: Mutex<Vec<Arc<ReqState>>>,
    /// CancelRequests sent whose socket the server has not closed yet (see `send_cancel`).
    pub cancels_in_flight: AtomicUsize,
    pub cancels_settled: Notify,
    /// The order in which calls made on the connection send their requests.
    pub turns: Arc<Turns>,
}

/// How long a request may run on after its CancelRequest before it is sent again (doubling
/// each time, within `cancel_timeout`).
const CANCEL_RESEND_FIRST: Duration = Duration::from_millis(200);
/// How long a request to cancel may still end by itself before its CancelRequest goes out.
const CANCEL_GRACE: Duration = Duration::from_millis(20);

/// Counts one CancelRequest in flight until dropped (the send ended, or its task was aborted).
struct CancelInFlight<'a> {
    shared: &'a Shared,
}

impl Drop for CancelInFlight<'_> {
    fn drop(&mut self) {
        if self.shared.cancels_in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.cancels_settled.notify_waiters();
        }
    }
}

impl Shared {
    /// Marks the connection closed with `reason` (the first reason wins).
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

    /// Claims and sends the CancelRequest for `state`; if the server has not answered the
    /// request `cancel_timeout` later, the connection is closed rather than left in doubt.
    ///
    /// A CancelRequest names the session, not the request, so it counts as in flight (see
    /// `settle_cancels`) until its task ends: a pool must not lend the connection before.
    pub fn send_cancel(self: &Arc<Self>, state: Arc<ReqState>) {
        drop(self.spawn_cancel(state));
    }

    /// `send_cancel`, returning the task that ends once the server closed the cancel
    /// connection (None when a CancelRequest was already claimed for `state`).
    fn spawn_cancel(self: &Arc<Self>, state: Arc<ReqState>) -> Option<JoinHandle<()>> {
        if !state.claim_cancel() {
            return None;
        }
        self.cancels_in_flight.fetch_add(1, Ordering::AcqRel);
        let shared = self.clone();
        Some(spawn(async move {
            let _in_flight = CancelInFlight { shared: &shared };
            let notified = state.done_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if state.done.load(Ordering::Acquire) {
                return;
            }
            // Sending is inside the bound too: a frozen server accepts the cancel connection
            // (the kernel does) and never answers it. A CancelRequest that lands while the
            // session is between two commands is ignored (a deferred cancel goes out as the
            // request before it ends, when the server may not have started this one yet):
            // while the request runs on, it is sent again, after 0.2 s, 0.6 s, 1.4 s...
            let confirmed = tokio::time::timeout(shared.cancel_timeout, async {
                // A CancelRequest names the session, not the request: one that lands after
                // the request ended cancels whatever the session runs next. A request that
                // ends within the grace (most do) is not cancelled at all.
                if tokio::time::timeout(CANCEL_GRACE, notified.as_mut())
                    .await
                    .is_ok()
                    || state.done.load(Ordering::Acquire)
                {
                    return;
                }
                let mut wait = CANCEL_RESEND_FIRST;
                loop {
                    let _ = shared.cancel_target.send().await;
                    if tokio::time::timeout(wait, notified.as_mut()).await.is_ok()
                        || state.done.load(Ordering::Acquire)
                    {
                        return;
                    }
                    wait *= 2;
                }
            });
            if confirmed.await.is_err() && !state.done.load(Ordering::Acquire) {
                shared.abort(Error::connection_lost(format!(
                    "the server did not confirm the cancellation within {:.1}s; \
                     the connection was closed",
                    shared.cancel_timeout.as_secs_f64()
                )));
            }
        }))
    }

    /// Waits until no CancelRequest of this connection is in flight (each is bounded by
    /// `cancel_timeout`).
    pub async fn settle_cancels(&self) {
        loop {
            let settled = self.cancels_settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            if self.cancels_in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            settled.await;
        }
    }

    /// Records session state the server reported (see `crate::session`).
    pub fn note_session(&self, state: SessionState) {
        if !state.is_clean() {
            self.session.fetch_or(state.bits(), Ordering::AcqRel);
        }
    }

    /// Closes the connection now: tasks stop, every waiting call fails with `reason`.
    pub fn abort(&self, reason: Error) {
        self.mark_closed(reason);
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
        if let Some(inbox) = &self.inbox {
            inbox.abort(self.closed_error());
        }
        self.finished.notify_waiters();
    }

    /// Queues a command for the writer task. A request from the runtime's side means the
    /// requests no longer go out one at a time: reading goes back to the reader task.
    pub fn enqueue(&self, cmd: Command) -> bool {
        let guard = self.send_lock.lock();
        let sent = self.queue_locked(cmd);
        drop(guard);
        self.lone_run.store(0, Ordering::Relaxed);
        if let Some(inbox) = &self.inbox {
            inbox.try_release();
        }
        sent
    }

    /// `enqueue` for a caller that holds `send_lock`.
    pub fn queue_locked(&self, cmd: Command) -> bool {
        self.queued.fetch_add(1, Ordering::AcqRel);
        match self.tx.send(cmd) {
            Ok(()) => true,
            Err(_) => {
                self.queued.fetch_sub(1, Ordering::AcqRel);
                false
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// A connection handle; clones share the connection.
#[derive(Clone)]
pub struct PgConnection {
    pub(crate) shared: Arc<Shared>,
}

enum Interrupt {
    Timeout,
    Cancelled,
}

impl PgConnection {
    /// Opens a connection and starts its reader and writer on the current tokio runtime.
    pub async fn connect(cfg: &PgConfig) -> Result<PgConnection, Error> {
        // `connect_timeout` bounds each host attempt, as in libpq (connect.rs).
        let est = establish(cfg).await?;
        let (tx, rx) = unbounded_channel();
        let (pending_tx, pending_rx) = unbounded_channel();
        let cache = StatementCache::new(cfg.statement_cache_size);
        let mut est = est;
        // A plain socket: the writer registers a descriptor of its own, for writability.
        let plain = match est.plain.take() {
            Some(sock) => {
                let writer = sock
                    .duplicate()
                    .and_then(|w| register(Arc::new(w), tokio::io::Interest::WRITABLE))
                    .map_err(|e| Error::connection_lost(format!("connection lost: {e}")))?;
                Some((writer, sock))
            }
            None => None,
        };
        let mut read_buf = Some(est.read_buf);
        let mut pending_rx = Some(pending_rx);
        let (inbox, writer_fd) = match plain {
            Some((writer, sock)) => {
                let buf = read_buf.take().unwrap_or_default();
                let rx = pending_rx.take();
                (
                    rx.map(|rx| Arc::new(Inbox::new(sock, buf, rx))),
                    Some(writer),
                )
            }
            None => (None, None),
        };
        let shared = Arc::new(Shared {
            tx,
            queued: AtomicUsize::new(0),
            send_lock: Mutex::new(()),
            pending_tx: pending_tx.clone(),
            inbox: inbox.clone(),
            lone_run: AtomicU32::new(0),
            inflight: Mutex::new(VecDeque::new()),
            closed: AtomicBool::new(false),
            close_reason: Mutex::new(None),
            tx_status: AtomicU8::new(est.tx_status),
            server_params: Mutex::new(est.server_params.into_iter().collect()),
            cache_enabled: cache.enabled(),
            cache: Mutex::new(cache),
            text_oids: Mutex::new(Vec::new()),
            types: TypeRegistry::default(),
            seq: AtomicU64::new(0),
            cancel_target: CancelTarget {
                endpoint: est.endpoint,
                tls: est.tls,
                process_id: est.process_id,
                secret_key: est.secret_key,
            },
            cancel_timeout: cfg.cancel_timeout,
            tasks: Mutex::new(Vec::new()),
            finished: Notify::new(),
            reader_done: AtomicBool::new(false),
            hook: Mutex::new(None),
            session: AtomicU8::new(0),
            abandoned: Mutex::new(Vec::new()),
            cancels_in_flight: AtomicUsize::new(0),
            cancels_settled: Notify::new(),
            turns: Arc::default(),
        });
        let stream: BoxStream = est.stream;
        let (reader, writer) = match (inbox, writer_fd, read_buf, pending_rx) {
            (Some(inbox), Some(writer_fd), _, _) => {
                // The tokio stream's descriptor closes here; the duplicates stay open.
                drop(stream);
                inbox.start(Reader::new(shared.clone()));
                let tcp = est.tcp_fd.is_some();
                let reader = tokio::spawn(plain_reader_task(shared.clone(), inbox, tcp));
                let w = SockWriter(writer_fd);
                let writer = tokio::spawn(writer_task(shared.clone(), rx, w, pending_tx));
                (reader, writer)
            }
            (_, _, Some(buf), Some(pending_rx)) => {
                let (r, w) = tokio::io::split(stream);
                let low_water = est.tcp_fd.map(LowWater::new);
                let reader =
                    tokio::spawn(reader_task(shared.clone(), r, buf, pending_rx, low_water));
                let writer = tokio::spawn(writer_task(shared.clone(), rx, w, pending_tx));
                (reader, writer)
            }
            _ => return Err(Error::interface("a connection was set up twice")),
        };
        shared.tasks.lock().extend([reader, writer]);
        Ok(PgConnection { shared })
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// `I` idle, `T` in a transaction, `E` in a failed transaction (from the last ReadyForQuery).
    pub fn transaction_status(&self) -> u8 {
        self.shared.tx_status.load(Ordering::Acquire)
    }

    pub fn process_id(&self) -> i32 {
        self.shared.cancel_target.process_id
    }

    pub fn server_parameter(&self, name: &str) -> Option<String> {
        self.shared.server_params.lock().get(name).cloned()
    }

    pub fn server_parameters(&self) -> Vec<(String, String)> {
        self.shared
            .server_params
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Session state (settings, listeners, locks, ...) this connection may carry since the
    /// last `clear_session_state`; what a pool's reset must clear.
    pub fn session_state(&self) -> SessionState {
        SessionState::from_bits(self.shared.session.load(Ordering::Acquire))
    }

    /// Adds state the server does not report (see `crate::session::from_sql_text`).
    pub fn mark_session_state(&self, state: SessionState) {
        self.shared.note_session(state);
    }

    /// Called once the session was reset.
    pub fn clear_session_state(&self) {
        self.shared.session.store(0, Ordering::Release);
    }

    /// Whether a request whose caller stopped waiting is still unanswered: its effects on the
    /// session are not known yet.
    pub fn has_abandoned_requests(&self) -> bool {
        let mut abandoned = self.shared.abandoned.lock();
        abandoned.retain(|s| !s.done.load(Ordering::Acquire));
        !abandoned.is_empty()
    }

    /// Whether a CancelRequest is still on its way: the next request could be cancelled by it
    /// (`settle_cancels` waits it out).
    pub fn has_cancels_in_flight(&self) -> bool {
        self.shared.cancels_in_flight.load(Ordering::Acquire) > 0
    }

    /// Waits until every abandoned request has its answer and no CancelRequest is in flight:
    /// then nothing sent before can still act on what is sent next.
    pub async fn settle(&self) {
        while !self.is_closed() {
            let waiting = {
                let mut abandoned = self.shared.abandoned.lock();
                abandoned.retain(|s| !s.done.load(Ordering::Acquire));
                abandoned.first().cloned()
            };
            let Some(state) = waiting else { break };
            let done = state.done_notify.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if !state.done.load(Ordering::Acquire) {
                done.await;
            }
        }
        self.shared.settle_cancels().await;
    }

    /// Asks the server to cancel the request it is working on, if any, without waiting: for
    /// a connection about to be dropped, so that its session does not run on alone.
    pub fn cancel_running(&self) {
        let running = self.shared.inflight.lock().front().cloned();
        if let Some(state) = running {
            state.want_cancel.store(true, Ordering::Release);
            self.shared.send_cancel(state);
        }
    }

    /// Receives notices and notifications; replaces any previous hook.
    pub fn set_async_hook(&self, hook: Option<AsyncHook>) {
        *self.shared.hook.lock() = hook.map(Arc::new);
    }

    fn next_name(&self, prefix: &str) -> String {
        format!(
            "__ferrule_{prefix}{}",
            self.shared.seq.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A place in line for a call made now: its requests go out after those of every call
    /// made before it on this connection.
    pub fn take_turn(&self) -> Arc<Turn> {
        self.shared.turns.take()
    }

    /// Waits for the call's turn to send (at once for a call without one).
    async fn my_turn(&self, ctl: &CallCtl) -> Result<(), Error> {
        match &ctl.turn {
            Some(turn) => turn.wait(ctl.deadline, ctl.cancel.as_ref()).await,
            None => Ok(()),
        }
    }

    /// The call's request is queued: the next call may send.
    fn end_turn(ctl: &CallCtl) {
        if let Some(turn) = &ctl.turn {
            turn.release();
        }
    }

    fn submit(&self, cmd: Command) -> Result<(), Error> {
        if self.is_closed() {
            return Err(self.shared.closed_error());
        }
        if self.shared.enqueue(cmd) {
            Ok(())
        } else {
            Err(self.shared.closed_error())
        }
    }

    /// Sends one request and waits for its response, honouring the call's deadline and
    /// cancellation: on either, the server is asked to cancel and, when the request is the one
    /// running, the call waits (bounded) until the server has answered it.
    async fn roundtrip(
        &self,
        buf: BytesMut,
        discard_rows: bool,
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        self.roundtrip_with(buf, discard_rows, None, ctl).await
    }

    async fn roundtrip_with(
        &self,
        buf: BytesMut,
        discard_rows: bool,
        sink: Option<RowSink>,
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        if self.has_cancels_in_flight() {
            // A CancelRequest still on its way (for a request abandoned behind others) would
            // cancel this one if it reached the server first.
            self.shared.settle_cancels().await;
        }
        let state = Arc::new(ReqState::default());
        let (reply, rx) = oneshot::channel();
        let request = Request {
            buf,
            state: state.clone(),
            reply,
            discard_rows,
            sink,
            copy: CopyMode::Refuse,
        };
        self.my_turn(ctl).await?;
        self.submit(Command::Request(request))?;
        Self::end_turn(ctl);
        self.await_reply(state, rx, ctl).await
    }

    /// Waits for the reply of a request already sent, honouring deadline and cancellation.
    async fn await_reply(
        &self,
        state: Arc<ReqState>,
        mut rx: oneshot::Receiver<Result<Response, Error>>,
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        let _watch = AbandonWatch {
            shared: &self.shared,
            state: &state,
        };
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
        let interrupt = tokio::select! {
            biased;
            r = &mut rx => return self.reply(r),
            _ = deadline => Interrupt::Timeout,
            _ = cancelled => Interrupt::Cancelled,
        };
        let (at_front, cancel) = self.request_cancel(&state);
        if at_front {
            let reply = rx.await;
            // The server may signal its process twice for one CancelRequest (PostgreSQL
            // signals the process and its group), the second time a few ms later under load:
            // until it has closed the cancel connection, the next query could be the one
            // cancelled. Returning only then keeps this caller's next query safe.
            if let Some(cancel) = cancel {
                let _ = cancel.await;
            }
            if let Ok(Ok(resp)) = reply {
                // It finished before the cancellation landed: the work is done, report it.
                return Ok(resp);
            }
        }
        Err(match interrupt {
            Interrupt::Timeout => Error::timeout("the query timed out and was cancelled"),
            Interrupt::Cancelled => Error::new(ErrorKind::Cancelled, "the query was cancelled"),
        })
    }

    /// Marks `state` for cancellation and sends the CancelRequest when the server is working on
    /// it; a request still queued behind others is cancelled when it reaches the front.
    /// Returns whether the request was the one running, and the cancel task if one started.
    fn request_cancel(&self, state: &Arc<ReqState>) -> (bool, Option<JoinHandle<()>>) {
        state.want_cancel.store(true, Ordering::Release);
        let at_front = {
            let inflight = self.shared.inflight.lock();
            inflight.front().is_some_and(|f| Arc::ptr_eq(f, state))
        };
        let cancel = if at_front {
            self.shared.spawn_cancel(state.clone())
        } else {
            None
        };
        (at_front, cancel)
    }

    fn reply(
        &self,
        r: Result<Result<Response, Error>, oneshot::error::RecvError>,
    ) -> Result<Response, Error> {
        match r {
            Ok(res) => res,
            Err(_) => Err(self.shared.closed_error()),
        }
    }

    /// The statement for `sql`, from the cache or parsed now.
    pub async fn prepare(&self, sql: &str, ctl: &CallCtl) -> Result<Arc<Statement>, Error> {
        if let Some(stmt) = self.shared.cache.lock().get(sql) {
            return Ok(stmt);
        }
        // The Parse goes out in the call's turn, which it keeps for its Bind and Execute.
        self.my_turn(ctl).await?;
        self.prepare_uncached(sql, &ctl.within_turn(), self.shared.cache_enabled)
            .await
    }

    /// Parses `sql` on the server; `named` statements are cached and closed when dropped.
    pub async fn prepare_uncached(
        &self,
        sql: &str,
        ctl: &CallCtl,
        named: bool,
    ) -> Result<Arc<Statement>, Error> {
        let name = if named {
            self.next_name("s")
        } else {
            String::new()
        };
        let mut buf = BytesMut::with_capacity(sql.len() + 64);
        frontend::parse(&name, sql, std::iter::empty(), &mut buf).map_err(interface)?;
        frontend::describe(b'S', &name, &mut buf).map_err(interface)?;
        frontend::sync(&mut buf);
        let resp = self.roundtrip(buf, false, ctl).await?;
        let closer = named.then(|| crate::statement::Closer::new(&self.shared));
        // Formats and type details per parameter and column; types met for the first time
        // are read from pg_catalog here, before any Bind (typeload.rs).
        let stmt = self
            .typed_statement(
                name,
                sql,
                resp.params.unwrap_or_default(),
                resp.columns.unwrap_or_default(),
                closer,
                ctl,
            )
            .await?;
        let stmt = Arc::new(stmt);
        if named && self.shared.cache_enabled {
            let evicted = self.shared.cache.lock().put(stmt.clone());
            drop(evicted);
        }
        Ok(stmt)
    }

    pub(crate) fn bind_execute(
        &self,
        stmt: &Statement,
        params: &[Value],
        portal: &str,
        max_rows: i32,
        buf: &mut BytesMut,
    ) -> Result<(), Error> {
        if !stmt.is_named() {
            frontend::parse("", &stmt.sql, stmt.params.iter().copied(), buf).map_err(interface)?;
        }
        encode_bind(buf, portal, stmt, params)?;
        frontend::execute(portal, max_rows, buf).map_err(interface)?;
        Ok(())
    }

    /// Runs `sql` with bound `params` and returns its rows: all of them, or at most
    /// `opts.max_rows`; with a sink, large results are handed over in batches as they arrive.
    pub async fn query(
        &self,
        sql: &str,
        params: &[Value],
        opts: QueryOpts,
        ctl: &CallCtl,
    ) -> Result<QueryResult, Error> {
        let stmt = self.prepare(sql, ctl).await?;
        let mut opts = opts;
        let make_sink = opts.sink.take();
        let sink = make_sink.as_ref().map(|f| f(&stmt));
        match self
            .query_prepared(&stmt, params, opts.max_rows, sink, ctl)
            .await
        {
            // Stale-statement errors come before any row, so no batch has been handed over.
            Err(e) if is_stale_statement(&e) && self.transaction_status() == b'I' => {
                // The schema changed under a cached statement: parse again, once.
                drop(self.shared.cache.lock().remove(sql));
                let stmt = self.prepare(sql, ctl).await?;
                let sink = make_sink.as_ref().map(|f| f(&stmt));
                self.query_prepared(&stmt, params, opts.max_rows, sink, ctl)
                    .await
            }
            Err(mut e) if is_stale_statement(&e) => {
                // Inside a transaction a retry would see the same schema: drop the statement
                // so the next attempt parses again, and say what to do.
                drop(self.shared.cache.lock().remove(sql));
                e.message = format!(
                    "{}: the schema changed under a cached statement inside this transaction; \
                     roll back and run the query again",
                    e.message
                );
                Err(e)
            }
            other => other,
        }
    }

    /// Executes a prepared statement with bound `params`; `max_rows` 0 means all rows.
    pub async fn query_prepared(
        &self,
        stmt: &Arc<Statement>,
        params: &[Value],
        max_rows: i32,
        sink: Option<RowSink>,
        ctl: &CallCtl,
    ) -> Result<QueryResult, Error> {
        check_arity(stmt, params.len())?;
        let mut buf = BytesMut::with_capacity(64 + stmt.sql.len());
        self.bind_execute(stmt, params, "", max_rows, &mut buf)?;
        frontend::sync(&mut buf);
        let resp = self.roundtrip_with(buf, false, sink, ctl).await?;
        Ok(QueryResult {
            statement: stmt.clone(),
            rows: resp.rows,
            status: resp.tags.into_iter().last().unwrap_or_default(),
            suspended: resp.suspended,
        })
    }

    /// Sends every statement before reading any result and returns each one's result in
    /// order. `atomic`: one Sync for all, so they commit together or not at all (the first
    /// error ends the batch); otherwise each statement is independent and has its own result
    /// or error.
    pub async fn pipeline(
        &self,
        items: &[(String, Vec<Value>)],
        atomic: bool,
        ctl: &CallCtl,
    ) -> Result<Vec<Result<QueryResult, Error>>, Error> {
        let mut stmts = Vec::with_capacity(items.len());
        for (i, (sql, params)) in items.iter().enumerate() {
            let stmt = self.prepare(sql, ctl).await.map_err(|e| at_item(e, i))?;
            check_arity(&stmt, params.len()).map_err(|e| at_item(e, i))?;
            stmts.push(stmt);
        }
        if atomic {
            let mut buf = BytesMut::new();
            for (i, (stmt, (_, params))) in stmts.iter().zip(items).enumerate() {
                self.bind_execute(stmt, params, "", 0, &mut buf)
                    .map_err(|e| at_item(e, i))?;
            }
            frontend::sync(&mut buf);
            let mut resp = self.roundtrip(buf, false, ctl).await?;
            let mut out = Vec::with_capacity(stmts.len());
            let mut start = 0;
            let mut tags = resp.tags.drain(..);
            for (stmt, end) in stmts.iter().zip(resp.ends.iter().copied()) {
                out.push(Ok(QueryResult {
                    statement: stmt.clone(),
                    rows: resp.rows[start..end].to_vec(),
                    status: tags.next().unwrap_or_default(),
                    suspended: false,
                }));
                start = end;
            }
            return Ok(out);
        }
        let mut waits = Vec::with_capacity(stmts.len());
        self.my_turn(ctl).await?;
        for (i, (stmt, (_, params))) in stmts.iter().zip(items).enumerate() {
            let mut buf = BytesMut::new();
            self.bind_execute(stmt, params, "", 0, &mut buf)
                .map_err(|e| at_item(e, i))?;
            frontend::sync(&mut buf);
            let state = Arc::new(ReqState::default());
            let (reply, rx) = oneshot::channel();
            let request = Request {
                buf,
                state: state.clone(),
                reply,
                discard_rows: false,
                sink: None,
                copy: CopyMode::Refuse,
            };
            self.submit(Command::Request(request))?;
            waits.push((state, rx));
        }
        Self::end_turn(ctl);
        let mut out = Vec::with_capacity(waits.len());
        for (stmt, (state, rx)) in stmts.iter().zip(waits) {
            out.push(
                self.await_reply(state, rx, ctl)
                    .await
                    .map(|resp| QueryResult {
                        statement: stmt.clone(),
                        rows: resp.rows,
                        status: resp.tags.into_iter().last().unwrap_or_default(),
                        suspended: false,
                    }),
            );
        }
        Ok(out)
    }

    /// Runs `sql` (possibly several statements) with the simple protocol; returns the last
    /// command's status. Rows are not kept.
    pub async fn simple_query(&self, sql: &str, ctl: &CallCtl) -> Result<String, Error> {
        let mut buf = BytesMut::with_capacity(sql.len() + 8);
        frontend::query(sql, &mut buf).map_err(interface)?;
        let resp = self.roundtrip(buf, true, ctl).await?;
        Ok(resp.tags.into_iter().last().unwrap_or_default())
    }

    /// Executes `sql` once per parameter row in a single pipelined request (one Sync at the
    /// end: all rows succeed or none does, as in one implicit transaction).
    pub async fn execute_many(
        &self,
        sql: &str,
        rows: &[Vec<Value>],
        ctl: &CallCtl,
    ) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let stmt = self.prepare(sql, ctl).await?;
        let mut buf = BytesMut::with_capacity(64 + rows.len() * 32);
        for (i, row) in rows.iter().enumerate() {
            check_arity(&stmt, row.len()).map_err(|e| at_row(e, i))?;
            self.bind_execute(&stmt, row, "", 0, &mut buf)
                .map_err(|e| at_row(e, i))?;
        }
        frontend::sync(&mut buf);
        self.roundtrip(buf, true, ctl).await.map_err(|e| {
            match e
                .field(crate::errors::COMPLETED_BEFORE)
                .and_then(|n| n.parse().ok())
            {
                Some(row) => at_row(e, row),
                None => e,
            }
        })?;
        Ok(())
    }

    /// Opens a portal (server-side cursor) and fetches its first `prefetch` rows. Portals live
    /// until the end of the transaction, so this needs one.
    pub async fn portal_open(
        &self,
        stmt: &Arc<Statement>,
        params: &[Value],
        prefetch: i32,
        ctl: &CallCtl,
    ) -> Result<(String, QueryResult), Error> {
        if self.transaction_status() == b'I' {
            return Err(Error::interface(
                "a cursor needs a transaction: use it inside `async with conn.transaction()`",
            ));
        }
        check_arity(stmt, params.len())?;
        let portal = self.next_name("p");
        let mut buf = BytesMut::with_capacity(64 + stmt.sql.len());
        self.bind_execute(stmt, params, &portal, prefetch, &mut buf)?;
        frontend::sync(&mut buf);
        let resp = self.roundtrip(buf, false, ctl).await?;
        let result = QueryResult {
            statement: stmt.clone(),
            rows: resp.rows,
            status: resp.tags.into_iter().last().unwrap_or_default(),
            suspended: resp.suspended,
        };
        Ok((portal, result))
    }

    /// Fetches up to `count` more rows from an open portal.
    pub async fn portal_fetch(
        &self,
        stmt: &Arc<Statement>,
        portal: &str,
        count: i32,
        ctl: &CallCtl,
    ) -> Result<QueryResult, Error> {
        let mut buf = BytesMut::with_capacity(32 + portal.len());
        frontend::execute(portal, count, &mut buf).map_err(interface)?;
        frontend::sync(&mut buf);
        let resp = self.roundtrip(buf, false, ctl).await?;
        Ok(QueryResult {
            statement: stmt.clone(),
            rows: resp.rows,
            status: resp.tags.into_iter().last().unwrap_or_default(),
            suspended: resp.suspended,
        })
    }

    /// Closes a portal; its answer is drained in the background.
    pub fn portal_close(&self, portal: &str) {
        let mut buf = BytesMut::with_capacity(16 + portal.len());
        if frontend::close(b'P', portal, &mut buf).is_ok() {
            frontend::sync(&mut buf);
            let _ = self.submit(Command::Discard(buf));
        }
    }

    /// Reads values of `oid` in text format from now on (`binary` false) or in ferrule's
    /// binary format again; cached statements are dropped so the change applies at once.
    pub fn set_text_format(&self, oid: u32, text: bool) {
        {
            let mut oids = self.shared.text_oids.lock();
            oids.retain(|o| *o != oid);
            if text {
                oids.push(oid);
            }
        }
        self.clear_statement_cache();
    }

    /// Drops every cached statement (closing them on the server).
    pub fn clear_statement_cache(&self) {
        let evicted = self.shared.cache.lock().clear();
        drop(evicted);
    }

    /// Graceful close: Terminate is queued behind the requests already sent, then the call
    /// waits up to `timeout` for the server to close its side before dropping the socket.
    pub async fn close(&self, timeout: Duration) {
        if self.is_closed() {
            self.shared.abort(Error::closed("the connection is closed"));
            return;
        }
        let finished = self.shared.finished.notified();
        tokio::pin!(finished);
        finished.as_mut().enable();
        // Closed by the user, not lost: new calls and the server's hang-up report that.
        self.shared
            .mark_closed(Error::closed("the connection is closed"));
        if self.shared.enqueue(Command::Terminate)
            && !self.shared.reader_done.load(Ordering::Acquire)
        {
            let _ = tokio::time::timeout(timeout, finished).await;
        }
        self.shared.abort(Error::closed("the connection is closed"));
    }

    /// Closes the connection at once; calls in flight fail.
    pub fn terminate(&self) {
        self.shared
            .abort(Error::closed("the connection was terminated"));
    }
}

/// The caller's end of a running `COPY ... FROM STDIN`.
pub struct CopyIn {
    data: tokio::sync::mpsc::Sender<CopyChunk>,
    done: Option<oneshot::Receiver<Result<Response, Error>>>,
    state: Arc<ReqState>,
    conn: PgConnection,
}

impl CopyIn {
    /// Sends a chunk of COPY data; waits while the connection has no room (backpressure).
    pub async fn send(&self, data: bytes::Bytes) -> Result<(), Error> {
        if self.state.done.load(Ordering::Acquire) {
            return Err(Error::interface("the COPY has already ended"));
        }
        self.data
            .send(CopyChunk::Data(data))
            .await
            .map_err(|_| self.conn.shared.closed_error())
    }

    /// Queues a chunk without waiting; `Ok(Some(data))` gives it back when the connection
    /// has no room for it yet (then `send` waits for room).
    pub fn try_send(&self, data: bytes::Bytes) -> Result<Option<bytes::Bytes>, Error> {
        if self.state.done.load(Ordering::Acquire) {
            return Err(Error::interface("the COPY has already ended"));
        }
        match self.data.try_send(CopyChunk::Data(data)) {
            Ok(()) => Ok(None),
            Err(TrySendError::Full(CopyChunk::Data(data))) => Ok(Some(data)),
            Err(_) => Err(self.conn.shared.closed_error()),
        }
    }

    /// Ends the data and returns the command status (`COPY 1000`), or the server's error.
    pub async fn finish(&mut self, ctl: &CallCtl) -> Result<String, Error> {
        let _ = self.data.send(CopyChunk::Done).await;
        self.wait(ctl).await
    }

    /// Aborts the COPY with `reason`; nothing is written to the table.
    pub async fn abort(&mut self, reason: &str, ctl: &CallCtl) -> Result<(), Error> {
        let _ = self.data.send(CopyChunk::Fail(reason.to_owned())).await;
        match self.wait(ctl).await {
            Err(e) if e.code.as_deref() == Some("57014") => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }

    async fn wait(&mut self, ctl: &CallCtl) -> Result<String, Error> {
        let rx = self
            .done
            .take()
            .ok_or_else(|| Error::interface("the COPY has already ended"))?;
        let resp = self.conn.await_reply(self.state.clone(), rx, ctl).await?;
        Ok(resp.tags.into_iter().last().unwrap_or_default())
    }
}

/// The caller's end of a running `COPY ... TO STDOUT`: chunks of data, then the status.
pub struct CopyOut {
    data: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    done: Option<oneshot::Receiver<Result<Response, Error>>>,
    state: Arc<ReqState>,
    conn: PgConnection,
}

impl CopyOut {
    /// The next chunk, or None at the end of the data.
    pub async fn next(&mut self) -> Option<bytes::Bytes> {
        self.data.recv().await
    }

    /// A chunk that has already arrived, without waiting.
    pub fn next_ready(&mut self) -> Option<bytes::Bytes> {
        self.data.try_recv().ok()
    }

    /// The command status once all data was read, or the server's error.
    pub async fn finish(&mut self, ctl: &CallCtl) -> Result<String, Error> {
        let rx = self
            .done
            .take()
            .ok_or_else(|| Error::interface("the COPY has already ended"))?;
        let resp = self.conn.await_reply(self.state.clone(), rx, ctl).await?;
        Ok(resp.tags.into_iter().last().unwrap_or_default())
    }
}

impl PgConnection {
    /// Starts `sql` (a `COPY ... FROM STDIN`) with bound `params`; data follows via the handle.
    pub async fn copy_in(
        &self,
        sql: &str,
        params: &[Value],
        ctl: &CallCtl,
    ) -> Result<CopyIn, Error> {
        // No Sync yet: the server ignores Sync while it reads COPY data, so the writer sends
        // it after CopyDone / CopyFail.
        let buf = self.copy_request(sql, params, false, ctl).await?;
        let (data, data_rx) = tokio::sync::mpsc::channel(4);
        let state = Arc::new(ReqState::default());
        let (reply, done) = oneshot::channel();
        let request = Request {
            buf,
            state: state.clone(),
            reply,
            discard_rows: true,
            sink: None,
            copy: CopyMode::In,
        };
        self.submit(Command::CopyIn(request, data_rx))?;
        Self::end_turn(ctl);
        Ok(CopyIn {
            data,
            done: Some(done),
            state,
            conn: self.clone(),
        })
    }

    /// Starts `sql` (a `COPY ... TO STDOUT`); data arrives through the handle.
    pub async fn copy_out(
        &self,
        sql: &str,
        params: &[Value],
        ctl: &CallCtl,
    ) -> Result<CopyOut, Error> {
        let buf = self.copy_request(sql, params, true, ctl).await?;
        let (tx, data) = tokio::sync::mpsc::channel(4);
        let state = Arc::new(ReqState::default());
        let (reply, done) = oneshot::channel();
        let request = Request {
            buf,
            state: state.clone(),
            reply,
            discard_rows: true,
            sink: None,
            copy: CopyMode::Out(tx),
        };
        self.submit(Command::Request(request))?;
        Self::end_turn(ctl);
        Ok(CopyOut {
            data,
            done: Some(done),
            state,
            conn: self.clone(),
        })
    }

    /// The messages that start a COPY statement: the extended protocol, so that a query
    /// inside `COPY (...) TO STDOUT` can take bound parameters.
    async fn copy_request(
        &self,
        sql: &str,
        params: &[Value],
        sync: bool,
        ctl: &CallCtl,
    ) -> Result<BytesMut, Error> {
        self.my_turn(ctl).await?;
        // COPY TO STDOUT with nothing to bind goes out as Parse, Bind and Execute at once, a
        // round trip less. Not COPY FROM STDIN: an error would then surface only after all
        // the data was sent, since the server skips it up to the Sync that follows it.
        let stmt = if sync && params.is_empty() {
            Arc::new(Statement::new(
                String::new(),
                sql.to_owned(),
                Vec::new(),
                Vec::new(),
                Vec::new(),
                None,
            ))
        } else {
            let stmt = self
                .prepare_uncached(sql, &ctl.within_turn(), false)
                .await?;
            check_arity(&stmt, params.len())?;
            stmt
        };
        let mut buf = BytesMut::with_capacity(64 + sql.len());
        self.bind_execute(&stmt, params, "", 0, &mut buf)?;
        if sync {
            frontend::sync(&mut buf);
        }
        Ok(buf)
    }
}

/// Records the request as abandoned when `roundtrip` ends (or is dropped) before its answer.
struct AbandonWatch<'a> {
    shared: &'a Shared,
    state: &'a Arc<ReqState>,
}

impl Drop for AbandonWatch<'_> {
    fn drop(&mut self) {
        if !self.state.done.load(Ordering::Acquire) {
            let mut abandoned = self.shared.abandoned.lock();
            abandoned.retain(|s| !s.done.load(Ordering::Acquire));
            abandoned.push(self.state.clone());
        }
    }
}

fn interface(e: std::io::Error) -> Error {
    Error::interface(format!("cannot encode the message: {e}"))
}

fn check_arity(stmt: &Statement, given: usize) -> Result<(), Error> {
    if stmt.params.len() != given {
        return Err(Error::interface(format!(
            "the query expects {} argument{}, {} {} passed",
            stmt.params.len(),
            if stmt.params.len() == 1 { "" } else { "s" },
            given,
            if given == 1 { "was" } else { "were" }
        )));
    }
    Ok(())
}

fn at_item(mut e: Error, item: usize) -> Error {
    e.message = format!("statement {item}: {}", e.message);
    e
}

fn at_row(mut e: Error, row: usize) -> Error {
    e.message = format!("row {row}: {}", e.message);
    e
}

/// Errors that mean a cached statement no longer matches the schema.
pub fn is_stale_statement(e: &Error) -> bool {
    match e.code.as_deref() {
        Some("26000") => true,
        Some("0A000") => e.field("routine") == Some("RevalidateCachedQuery"),
        _ => false,
    }
}

/// Used by decoders in the binding layer to name a column in errors.
pub fn column_name(columns: &[Column], i: usize) -> &str {
    columns.get(i).map(|c| c.name.as_str()).unwrap_or("?")
}

/// Spawns on the current runtime, or on ferrule's from any other thread (an event loop's).
pub(crate) fn spawn<F>(job: F) -> JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn(job),
        Err(_) => ferrule_core::runtime::runtime().spawn(job),
    }
}
