//! `TntConnection`: the caller-side handle. It owns the current session, reconnects with
//! backoff when the session is lost, keeps the schema cache current, and runs requests with
//! a deadline. Requests in flight when a session is lost fail; none is ever re-sent, except
//! one the server refused unexecuted for a stale schema version.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use ferrule_core::{Error, ErrorKind};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::TntConfig;
use crate::connect::{handshake, open_session};
use crate::consts::{code, Iterator, VINDEX_ID, VSPACE_ID};
use crate::request::{Header, Request};
use crate::response::Response;
use crate::schema::{Schema, Space, SpaceRef};
use crate::session::{CallEvent, EventSink, ServerInfo, Session, Waiter};

/// Limits of one call: an absolute deadline, a token the caller cancels, and the stream the
/// request belongs to (interactive transactions).
#[derive(Default, Clone)]
pub struct CallCtl {
    pub deadline: Option<Instant>,
    pub cancel: Option<CancellationToken>,
    pub stream: Option<u64>,
}

impl CallCtl {
    pub fn with_timeout(timeout: Option<Duration>, cancel: Option<CancellationToken>) -> CallCtl {
        CallCtl {
            deadline: timeout.map(|t| Instant::now() + t),
            cancel,
            stream: None,
        }
    }
}

#[derive(Clone)]
enum Slot {
    Live(Arc<Session>),
    Reconnecting(Option<Error>),
    Closed(Error),
}

pub(crate) struct Inner {
    pub cfg: TntConfig,
    sync: AtomicU64,
    slot: watch::Sender<Slot>,
    schema: Mutex<Arc<Schema>>,
    seen_schema: Arc<AtomicU64>,
    refresh: tokio::sync::Mutex<()>,
    closed: AtomicBool,
    stream_seq: AtomicU64,
    /// Streams whose interactive transaction may be open (see `session_state.rs`).
    pub(crate) transactions: Mutex<Vec<u64>>,
    pub(crate) watchers: Mutex<HashMap<String, mpsc::UnboundedSender<Option<Bytes>>>>,
    info: Mutex<ServerInfo>,
    reconnects: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Slot::Live(s) = &*self.slot.borrow() {
            s.shutdown(Error::closed("the connection was dropped"));
        }
    }
}

/// A Tarantool connection; clones share it.
#[derive(Clone)]
pub struct TntConnection {
    pub(crate) inner: Arc<Inner>,
}

async fn interrupted(ctl: &CallCtl) -> Error {
    {
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
            _ = deadline => Error::timeout(
                "the request timed out (Tarantool cannot cancel it: it may still run on the server)",
            ),
            _ = cancelled => Error::new(ErrorKind::Cancelled, "the request was cancelled"),
        }
    }
}

impl TntConnection {
    /// Connects, authenticates, reads the features and the schema, and starts supervising the
    /// session (reconnecting when it is lost, if the configuration says so).
    pub async fn connect(cfg: TntConfig) -> Result<TntConnection, Error> {
        let (slot, _) = watch::channel(Slot::Reconnecting(None));
        let inner = Arc::new(Inner {
            cfg,
            sync: AtomicU64::new(0),
            slot,
            schema: Mutex::new(Arc::new(Schema::default())),
            seen_schema: Arc::new(AtomicU64::new(0)),
            refresh: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            stream_seq: AtomicU64::new(0),
            transactions: Mutex::new(Vec::new()),
            watchers: Mutex::new(HashMap::new()),
            info: Mutex::new(ServerInfo::default()),
            reconnects: AtomicU64::new(0),
        });
        let conn = TntConnection { inner };
        let session = conn.establish().await?;
        conn.inner.slot.send_replace(Slot::Live(session.clone()));
        tokio::spawn(supervise(Arc::downgrade(&conn.inner), session));
        Ok(conn)
    }

    /// One full connection attempt, bounded by connect_timeout.
    async fn establish(&self) -> Result<Arc<Session>, Error> {
        let attempt = async {
            let sink = event_sink(Arc::downgrade(&self.inner));
            let (session, greeting) =
                open_session(&self.inner.cfg, self.inner.seen_schema.clone(), Some(sink)).await?;
            let run = async {
                let info = handshake(&self.inner.cfg, &session, greeting, &self.inner.sync).await?;
                *session.info.lock() = info.clone();
                *self.inner.info.lock() = info;
                if self.inner.cfg.fetch_schema {
                    self.fetch_schema(&session, &CallCtl::default()).await?;
                }
                Ok::<_, Error>(())
            };
            if let Err(e) = run.await {
                session.shutdown(e.clone());
                return Err(e);
            }
            Ok(session)
        };
        match self.inner.cfg.connect_timeout {
            Some(t) => tokio::time::timeout(t, attempt).await.map_err(|_| {
                Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "connecting to {} timed out after {:.1}s",
                        self.inner.cfg.endpoint,
                        t.as_secs_f64()
                    ),
                )
            })?,
            None => attempt.await,
        }
    }

    pub fn is_closed(&self) -> bool {
        if self.inner.closed.load(Ordering::Acquire) {
            return true;
        }
        match &*self.inner.slot.borrow() {
            Slot::Closed(_) => true,
            // Without reconnection a lost session is the end, already when the requests on it
            // fail (before the supervisor records it).
            Slot::Live(s) => s.is_closed() && !self.inner.cfg.reconnect,
            Slot::Reconnecting(_) => false,
        }
    }

    /// Whether a session is up right now (false while reconnecting).
    pub fn is_connected(&self) -> bool {
        matches!(&*self.inner.slot.borrow(), Slot::Live(s) if !s.is_closed())
    }

    /// How many times the connection was re-established after a loss.
    pub fn reconnect_count(&self) -> u64 {
        self.inner.reconnects.load(Ordering::Relaxed)
    }

    pub fn server_info(&self) -> ServerInfo {
        self.inner.info.lock().clone()
    }

    pub fn schema(&self) -> Arc<Schema> {
        self.inner.schema.lock().clone()
    }

    pub(crate) fn next_sync(&self) -> u64 {
        self.inner.sync.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The live session right now, without waiting.
    pub(crate) fn live_session(&self) -> Option<Arc<Session>> {
        if self.inner.closed.load(Ordering::Acquire) {
            return None;
        }
        match &*self.inner.slot.borrow() {
            Slot::Live(s) if !s.is_closed() => Some(s.clone()),
            _ => None,
        }
    }

    /// Whether the schema cache must be read again before a space is resolved.
    pub(crate) fn schema_stale(&self) -> bool {
        self.inner.cfg.fetch_schema
            && self.inner.seen_schema.load(Ordering::Acquire) > self.schema().version
    }

    /// The live session, waiting (within the call's deadline) while reconnecting.
    async fn session(&self, ctl: &CallCtl) -> Result<Arc<Session>, Error> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::closed("the connection is closed"));
        }
        if let Slot::Live(s) = &*self.inner.slot.borrow() {
            if !s.is_closed() {
                return Ok(s.clone());
            }
        }
        let mut rx = self.inner.slot.subscribe();
        let limit = ctl
            .deadline
            .unwrap_or_else(|| Instant::now() + self.inner.cfg.reconnect_wait);
        loop {
            let last = match &*rx.borrow_and_update() {
                Slot::Live(s) if !s.is_closed() => return Ok(s.clone()),
                Slot::Live(s) => Some(s.reason()),
                Slot::Closed(e) => return Err(e.clone()),
                Slot::Reconnecting(e) => e.clone(),
            };
            if self.inner.closed.load(Ordering::Acquire) {
                return Err(Error::closed("the connection is closed"));
            }
            let wait = tokio::time::timeout_at(limit, rx.changed());
            let cancelled = async {
                match &ctl.cancel {
                    Some(t) => t.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = wait => match r {
                    Ok(Ok(())) => continue,
                    Ok(Err(_)) => return Err(Error::closed("the connection is closed")),
                    Err(_) => {
                        let why = last.map(|e| format!(" (last error: {})", e.message)).unwrap_or_default();
                        return Err(Error::connection_lost(format!(
                            "not connected to {}: reconnecting{why}",
                            self.inner.cfg.endpoint
                        )));
                    }
                },
                _ = cancelled => return Err(Error::new(ErrorKind::Cancelled, "the request was cancelled")),
            }
        }
    }

    /// Sends a frame on `session` and waits for its answer (errors stay in the response).
    async fn exchange(
        &self,
        session: &Session,
        sync: u64,
        frame: Vec<u8>,
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        let (tx, mut rx) = oneshot::channel();
        session.send(sync, frame, Some(Waiter::Once(tx)))?;
        if ctl.deadline.is_none() && ctl.cancel.is_none() {
            return rx.await.unwrap_or_else(|_| Err(session.reason()));
        }
        tokio::select! {
            biased;
            r = &mut rx => r.unwrap_or_else(|_| Err(session.reason())),
            e = interrupted(ctl) => {
                session.forget(sync);
                Err(e)
            }
        }
    }

    async fn request_on(
        &self,
        session: &Session,
        r: &Request<'_>,
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        let sync = self.next_sync();
        let mut frame = Vec::with_capacity(64);
        r.encode(
            &Header {
                sync,
                schema_version: None,
                stream_id: ctl.stream,
            },
            &mut frame,
        );
        let resp = self.exchange(session, sync, frame, ctl).await?;
        if resp.is_error() {
            return Err(resp.to_error());
        }
        Ok(resp)
    }

    /// Runs a request that does not depend on the schema (ping, call, eval, SQL, ...).
    pub async fn request(&self, r: &Request<'_>, ctl: &CallCtl) -> Result<Response, Error> {
        let session = self.session(ctl).await?;
        self.request_on(&session, r, ctl).await
    }

    /// Runs a request on a space. `encode` writes the frame for the resolved space; the frame
    /// carries the schema version it was resolved at, and when the server refuses it as stale
    /// (it did not execute it) the schema is read again and the request re-sent.
    pub async fn space_request<F>(
        &self,
        space: &SpaceRef,
        ctl: &CallCtl,
        encode: F,
    ) -> Result<(Response, Arc<Space>), Error>
    where
        F: Fn(&Schema, &Arc<Space>, &Header, &mut Vec<u8>) -> Result<(), Error>,
    {
        const ATTEMPTS: usize = 4;
        for attempt in 0..ATTEMPTS {
            let session = self.session(ctl).await?;
            if self.inner.cfg.fetch_schema
                && self.inner.seen_schema.load(Ordering::Acquire) > self.schema().version
            {
                self.refresh_schema(ctl).await?;
            }
            let schema = self.schema();
            let sp = match self.resolve(&schema, space) {
                Ok(sp) => sp,
                Err(e) if attempt == 0 && self.inner.cfg.fetch_schema => {
                    // The space may be newer than our copy of the schema.
                    self.refresh_schema(ctl).await?;
                    let schema = self.schema();
                    self.resolve(&schema, space).map_err(|_| e)?
                }
                Err(e) => return Err(e),
            };
            let schema = self.schema();
            let sync = self.next_sync();
            let h = Header {
                sync,
                schema_version: (schema.version > 0).then_some(schema.version),
                stream_id: ctl.stream,
            };
            let mut frame = Vec::with_capacity(64);
            encode(&schema, &sp, &h, &mut frame)?;
            let resp = self.exchange(&session, sync, frame, ctl).await?;
            match resp.error_code() {
                None => return Ok((resp, sp)),
                Some(code::ER_WRONG_SCHEMA_VERSION) if attempt + 1 < ATTEMPTS => {
                    if let Some(v) = resp.schema_version {
                        self.inner.seen_schema.fetch_max(v, Ordering::AcqRel);
                    }
                    self.refresh_schema(ctl).await?;
                }
                Some(_) => return Err(resp.to_error()),
            }
        }
        Err(Error::new(
            ErrorKind::Database,
            "the schema kept changing; the request was not executed",
        )
        .with_code(code::ER_WRONG_SCHEMA_VERSION.to_string()))
    }

    pub(crate) fn resolve(&self, schema: &Schema, space: &SpaceRef) -> Result<Arc<Space>, Error> {
        match (schema.space(space), space) {
            (Ok(sp), _) => Ok(sp.clone()),
            // A space by id works without a schema (fetch_schema off): no format, no names.
            (Err(_), SpaceRef::Id(id)) if !self.inner.cfg.fetch_schema => Ok(Arc::new(Space {
                id: *id,
                name: String::new(),
                engine: String::new(),
                fields: Vec::new(),
                indexes: Vec::new(),
                binding_cache: Default::default(),
            })),
            (Err(e), _) => Err(e),
        }
    }

    /// Reads the schema again unless another call already brought it up to date.
    pub async fn refresh_schema(&self, ctl: &CallCtl) -> Result<(), Error> {
        let before = self.schema().version;
        let _guard = self.inner.refresh.lock().await;
        let now = self.schema().version;
        if now != before && now >= self.inner.seen_schema.load(Ordering::Acquire) {
            return Ok(());
        }
        let session = self.session(ctl).await?;
        self.fetch_schema(&session, ctl).await
    }

    async fn fetch_schema(&self, session: &Session, ctl: &CallCtl) -> Result<(), Error> {
        let ctl = CallCtl {
            stream: None,
            ..ctl.clone()
        };
        for _ in 0..5 {
            let all = |space| Request::Select {
                space,
                index: 0,
                limit: u32::MAX,
                offset: 0,
                iterator: Iterator::All,
                key: &[0x90],
            };
            let spaces = self.request_on(session, &all(VSPACE_ID), &ctl).await?;
            let indexes = self.request_on(session, &all(VINDEX_ID), &ctl).await?;
            let (v1, v2) = (
                spaces.schema_version.unwrap_or(0),
                indexes.schema_version.unwrap_or(0),
            );
            if v1 != v2 {
                continue;
            }
            let schema = Schema::from_rows(v2, &spaces.data()?, &indexes.data()?)?;
            self.inner.seen_schema.fetch_max(v2, Ordering::AcqRel);
            *self.inner.schema.lock() = Arc::new(schema);
            return Ok(());
        }
        Err(Error::protocol(
            "the schema changed during every attempt to read it",
        ))
    }

    /// Runs a call whose pushed messages (box.session.push) are delivered as they come; the
    /// final event is the call's answer.
    pub async fn call_with_pushes(
        &self,
        function: &str,
        args: &[u8],
        ctl: &CallCtl,
        eval: bool,
    ) -> Result<mpsc::UnboundedReceiver<CallEvent>, Error> {
        let session = self.session(ctl).await?;
        let sync = self.next_sync();
        let mut frame = Vec::with_capacity(64 + args.len());
        let r = if eval {
            Request::Eval {
                expr: function,
                args,
            }
        } else {
            Request::Call { function, args }
        };
        r.encode(
            &Header {
                sync,
                schema_version: None,
                stream_id: ctl.stream,
            },
            &mut frame,
        );
        let (tx, rx) = mpsc::unbounded_channel();
        session.send(sync, frame, Some(Waiter::Pushes(tx)))?;
        Ok(rx)
    }

    fn require(&self, feature: u64, what: &str) -> Result<(), Error> {
        let info = self.server_info();
        if info.has_feature(feature) {
            return Ok(());
        }
        let version = info
            .greeting
            .map(|g| format!("{}.{}.{}", g.version.0, g.version.1, g.version.2))
            .unwrap_or_else(|| "?".into());
        Err(Error::new(
            ErrorKind::NotSupported,
            format!(
                "{what} need Tarantool 2.10 or later; the server ({version}) does not offer them"
            ),
        ))
    }

    /// A new stream id for an interactive transaction (needs the server's streams feature).
    pub fn new_stream(&self) -> Result<u64, Error> {
        self.require(
            crate::consts::feature::STREAMS,
            "streams and interactive transactions",
        )?;
        self.require(
            crate::consts::feature::TRANSACTIONS,
            "streams and interactive transactions",
        )?;
        Ok(self.inner.stream_seq.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Starts a watcher on `key`: the receiver gets the key's value now and after each change.
    pub async fn watch(&self, key: &str) -> Result<mpsc::UnboundedReceiver<Option<Bytes>>, Error> {
        self.require(crate::consts::feature::WATCHERS, "watchers")?;
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner.watchers.lock().insert(key.to_owned(), tx);
        let session = self.session(&CallCtl::default()).await?;
        send_watch(&session, &self.inner, key, true)?;
        Ok(rx)
    }

    pub async fn unwatch(&self, key: &str) -> Result<(), Error> {
        if self.inner.watchers.lock().remove(key).is_none() {
            return Ok(());
        }
        let session = self.session(&CallCtl::default()).await?;
        send_watch(&session, &self.inner, key, false)
    }

    /// Closes gracefully: no new requests are accepted, those in flight get their answers
    /// for up to `grace`, then the connection closes (any still waiting fail).
    pub async fn close_within(&self, grace: Duration) {
        self.inner.closed.store(true, Ordering::Release);
        let live = match &*self.inner.slot.borrow() {
            Slot::Live(s) => Some(s.clone()),
            _ => None,
        };
        if let Some(s) = live {
            let _ = tokio::time::timeout(grace, s.idle()).await;
        }
        self.close();
    }

    /// Closes the connection: no reconnect; requests in flight fail.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let prev = self
            .inner
            .slot
            .send_replace(Slot::Closed(Error::closed("the connection is closed")));
        if let Slot::Live(s) = prev {
            s.shutdown(Error::closed(
                "the connection was closed while the request was in flight",
            ));
        }
        self.inner.watchers.lock().clear();
    }
}

fn send_watch(session: &Session, inner: &Inner, key: &str, on: bool) -> Result<(), Error> {
    let sync = inner.sync.fetch_add(1, Ordering::Relaxed) + 1;
    let mut frame = Vec::with_capacity(32 + key.len());
    let r = if on {
        Request::Watch { key }
    } else {
        Request::Unwatch { key }
    };
    r.encode(
        &Header {
            sync,
            ..Header::default()
        },
        &mut frame,
    );
    session.send(sync, frame, None)
}

/// Routes watcher events to their receivers and acknowledges each (a new WATCH asks for the
/// next change).
fn event_sink(inner: Weak<Inner>) -> EventSink {
    Arc::new(move |key: &str, data: Option<Bytes>| {
        let Some(inner) = inner.upgrade() else { return };
        let delivered = match inner.watchers.lock().get(key) {
            Some(tx) => tx.send(data).is_ok(),
            None => false,
        };
        if let Slot::Live(s) = &*inner.slot.borrow() {
            let _ = send_watch(s, &inner, key, delivered);
        }
        if !delivered {
            inner.watchers.lock().remove(key);
        }
    })
}

/// Waits for the session to end, then reconnects with backoff (or closes for good).
async fn supervise(weak: Weak<Inner>, mut session: Arc<Session>) {
    loop {
        session.dead.cancelled().await;
        let Some(inner) = weak.upgrade() else { return };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let reason = session.reason();
        if !inner.cfg.reconnect {
            inner.slot.send_replace(Slot::Closed(reason));
            return;
        }
        inner.slot.send_replace(Slot::Reconnecting(Some(reason)));
        let mut delay = inner.cfg.reconnect_delay;
        let max_delay = inner.cfg.reconnect_max_delay;
        drop(inner);
        loop {
            tokio::time::sleep(delay).await;
            let Some(inner) = weak.upgrade() else { return };
            if inner.closed.load(Ordering::Acquire) {
                return;
            }
            let conn = TntConnection { inner };
            match conn.establish().await {
                Ok(s) => {
                    if conn.inner.closed.load(Ordering::Acquire) {
                        s.shutdown(Error::closed("the connection is closed"));
                        return;
                    }
                    conn.inner.reconnects.fetch_add(1, Ordering::Relaxed);
                    // Transactions end with the session that opened them.
                    conn.inner.transactions.lock().clear();
                    conn.inner.slot.send_replace(Slot::Live(s.clone()));
                    let keys: Vec<String> = conn.inner.watchers.lock().keys().cloned().collect();
                    for k in keys {
                        let _ = send_watch(&s, &conn.inner, &k, true);
                    }
                    session = s;
                    break;
                }
                Err(e) => {
                    conn.inner.slot.send_replace(Slot::Reconnecting(Some(e)));
                    delay = (delay * 2).min(max_delay);
                }
            }
        }
    }
}
