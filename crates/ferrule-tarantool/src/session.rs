//! One socket to the server: an outbox that batches frames into few writes, an inbox that
//! splits replies into frames (on the reader task, or on the caller's thread while requests
//! go out one at a time) and hands each to the request with its sync id, in any order. A
//! session never comes back: when its socket ends, every request waiting on it fails and the
//! connection (conn.rs) opens a new session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ferrule_core::Error;
use parking_lot::Mutex;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::consts::{key, req};
use crate::greeting::Greeting;
use crate::inbox::{reader_task, Inbox};
use crate::mp::MpReader;
use crate::outbox::{Outbox, WriteHalf};
use crate::response::Response;
use ferrule_core::socket::Sock;

/// Lone requests in a row before the caller's thread takes over reading: a lone request
/// after fewer is often the first of a burst, and the loop would drop its watch at once.
const LONE_RUN: u32 = 3;

/// What a call with pushes receives: messages (IPROTO_CHUNK), then the final answer.
#[derive(Debug)]
pub enum CallEvent {
    Push(Bytes),
    Done(Result<Response, Error>),
}

/// Takes a reply on the reader task (or the failure that ended the session).
pub type ReplyFn = Box<dyn FnOnce(Result<Response, Error>) + Send>;

pub(crate) enum Waiter {
    Once(oneshot::Sender<Result<Response, Error>>),
    Pushes(UnboundedSender<CallEvent>),
    /// Called straight from the reader task: no task waits for the answer.
    Reply(ReplyFn),
}

/// A watcher event (IPROTO_EVENT): the key and its value (MessagePack, None when unset).
pub(crate) type EventSink = Arc<dyn Fn(&str, Option<Bytes>) + Send + Sync>;

/// What the server said about itself during the handshake.
#[derive(Debug, Clone, Default)]
pub struct ServerInfo {
    pub greeting: Option<Greeting>,
    /// IPROTO_ID answer: protocol version and features (0 and empty before 2.10).
    pub protocol_version: u64,
    pub features: Vec<u64>,
}

impl ServerInfo {
    pub fn has_feature(&self, f: u64) -> bool {
        self.features.contains(&f)
    }
}

pub(crate) struct Session {
    outbox: Outbox,
    pub(crate) inbox: Inbox,
    pending: Mutex<HashMap<u64, Waiter>>,
    /// How many requests in a row went out with no other waiting for its answer.
    lone_run: AtomicU32,
    closed: AtomicBool,
    reason: Mutex<Option<Error>>,
    /// Cancelled when the socket is gone, for whoever supervises reconnection.
    pub dead: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Highest schema version seen in any reply (shared with the connection).
    pub seen_schema: Arc<AtomicU64>,
    events: Option<EventSink>,
    pub info: Mutex<ServerInfo>,
    /// Woken when the last request waiting for an answer got it.
    drained: Notify,
}

impl Session {
    /// Starts the reader and writer tasks on `sock` (inside the runtime).
    pub fn start(
        sock: Sock,
        seen_schema: Arc<AtomicU64>,
        events: Option<EventSink>,
    ) -> std::io::Result<Arc<Session>> {
        let reading = sock.duplicate()?;
        let s = Arc::new(Session {
            outbox: Outbox::new(WriteHalf::new(sock)?),
            inbox: Inbox::new(reading),
            pending: Mutex::new(HashMap::new()),
            lone_run: AtomicU32::new(0),
            closed: AtomicBool::new(false),
            reason: Mutex::new(None),
            dead: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
            seen_schema,
            events,
            info: Mutex::new(ServerInfo::default()),
            drained: Notify::new(),
        });
        let reader = tokio::spawn(reader_task(s.clone()));
        let writer = tokio::spawn(writer_task(s.clone()));
        s.tasks.lock().extend([reader, writer]);
        Ok(s)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn reason(&self) -> Error {
        self.reason
            .lock()
            .clone()
            .unwrap_or_else(|| Error::connection_lost("connection lost"))
    }

    /// Registers `sync` and queues its frame. The waiter is in place before the frame can
    /// reach the server, so no answer can arrive unclaimed. Sent from the runtime, a request
    /// that expects an answer gives reading back to the reader task: its answer then never
    /// depends on the caller's thread running.
    pub fn send(&self, sync: u64, frame: Vec<u8>, waiter: Option<Waiter>) -> Result<(), Error> {
        self.send_from(sync, frame, waiter, false).map(|_| ())
    }

    /// Like `send`, from a thread that can read the replies itself (an event loop). Once
    /// requests go out one at a time, that thread takes over reading; true when it reads now:
    /// it must then watch the socket and call `read_inline` when readable.
    pub fn send_inline(
        &self,
        sync: u64,
        frame: Vec<u8>,
        waiter: Option<Waiter>,
    ) -> Result<bool, Error> {
        self.send_from(sync, frame, waiter, true)
    }

    fn send_from(
        &self,
        sync: u64,
        frame: Vec<u8>,
        waiter: Option<Waiter>,
        inline: bool,
    ) -> Result<bool, Error> {
        let answered = waiter.is_some();
        let (alone, sequential) = {
            let mut pending = self.pending.lock();
            let alone = pending.is_empty();
            if let Some(w) = waiter {
                pending.insert(sync, w);
            }
            let run = if alone {
                self.lone_run.load(Ordering::Relaxed).saturating_add(1)
            } else {
                0
            };
            self.lone_run.store(run, Ordering::Relaxed);
            (alone, run >= LONE_RUN)
        };
        // Decided before the frame can reach the server: its answer finds the reader set.
        let caller_reads = if inline && alone && sequential {
            self.inbox.try_claim()
        } else if inline && alone {
            self.inbox.caller_reads()
        } else {
            if answered {
                self.inbox.try_release();
            }
            false
        };
        if self.is_closed() || !self.outbox.push(&frame, alone) {
            let reason = self.reason();
            let waiter = self.pending.lock().remove(&sync);
            if let Some(Waiter::Reply(f)) = waiter {
                f(Err(reason.clone()));
            }
            return Err(reason);
        }
        Ok(caller_reads)
    }

    /// Forgets a request whose caller stopped waiting (timeout, cancellation); a late answer
    /// is dropped by the reader.
    pub fn forget(&self, sync: u64) {
        drop(self.take(sync));
    }

    /// Returns once no request waits for an answer, or the session has ended.
    pub async fn idle(&self) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.pending.lock().is_empty() || self.is_closed() {
                return;
            }
            tokio::select! {
                _ = drained => {}
                _ = self.dead.cancelled() => return,
            }
        }
    }

    /// Calls with pushes still waiting for their answer.
    pub fn push_calls(&self) -> usize {
        self.pending
            .lock()
            .values()
            .filter(|w| matches!(w, Waiter::Pushes(_)))
            .count()
    }

    /// Stops delivering to the calls with pushes: each gets `reason` as its end, and their
    /// answers, when they come, are dropped (the server cannot be told to stop them).
    pub fn abandon_push_calls(&self, reason: &Error) {
        let abandoned: Vec<Waiter> = {
            let mut pending = self.pending.lock();
            let syncs: Vec<u64> = pending
                .iter()
                .filter(|(_, w)| matches!(w, Waiter::Pushes(_)))
                .map(|(sync, _)| *sync)
                .collect();
            syncs.iter().filter_map(|s| pending.remove(s)).collect()
        };
        for waiter in abandoned {
            if let Waiter::Pushes(tx) = waiter {
                let _ = tx.send(CallEvent::Done(Err(reason.clone())));
            }
        }
        if self.pending.lock().is_empty() {
            self.drained.notify_waiters();
        }
    }

    /// Removes the waiter of `sync`, if it still waits.
    pub(crate) fn take(&self, sync: u64) -> Option<Waiter> {
        let (waiter, empty) = {
            let mut pending = self.pending.lock();
            (pending.remove(&sync), pending.is_empty())
        };
        if empty {
            self.drained.notify_waiters();
        }
        waiter
    }

    /// Ends the session: tasks stop and every waiting request fails with `reason`.
    pub fn shutdown(&self, reason: Error) {
        {
            let mut slot = self.reason.lock();
            if slot.is_none() {
                *slot = Some(reason);
            }
        }
        self.closed.store(true, Ordering::Release);
        self.outbox.close();
        self.inbox.shutdown_socket();
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
        self.fail_pending();
        self.dead.cancel();
    }

    fn fail_pending(&self) {
        let reason = self.reason();
        let waiters: Vec<Waiter> = self.pending.lock().drain().map(|(_, w)| w).collect();
        for w in waiters {
            match w {
                Waiter::Once(tx) => {
                    let _ = tx.send(Err(reason.clone()));
                }
                Waiter::Pushes(tx) => {
                    let _ = tx.send(CallEvent::Done(Err(reason.clone())));
                }
                Waiter::Reply(f) => f(Err(reason.clone())),
            }
        }
    }

    pub(crate) fn dispatch(&self, resp: Response) -> Result<(), Error> {
        let latest = resp.schema_version.unwrap_or(0);
        if latest > self.seen_schema.load(Ordering::Relaxed) {
            self.seen_schema.fetch_max(latest, Ordering::AcqRel);
        }
        if resp.code == req::EVENT {
            return self.event(&resp);
        }
        if resp.is_chunk() {
            let pending = self.pending.lock();
            if let Some(Waiter::Pushes(tx)) = pending.get(&resp.sync) {
                let _ = tx.send(CallEvent::Push(resp.data()?));
            }
            return Ok(());
        }
        let (waiter, empty) = {
            let mut pending = self.pending.lock();
            let waiter = pending.remove(&resp.sync);
            (waiter, pending.is_empty())
        };
        if empty {
            self.drained.notify_waiters();
        }
        match waiter {
            Some(Waiter::Once(tx)) => {
                let _ = tx.send(Ok(resp));
            }
            Some(Waiter::Pushes(tx)) => {
                let _ = tx.send(CallEvent::Done(Ok(resp)));
            }
            Some(Waiter::Reply(f)) => f(Ok(resp)),
            None => {}
        }
        Ok(())
    }

    fn event(&self, resp: &Response) -> Result<(), Error> {
        let Some(raw_key) = resp.field(key::EVENT_KEY)? else {
            return Err(Error::protocol("an event without a key"));
        };
        let name = MpReader::new(&raw_key).read_str()?.to_owned();
        let data = resp.field(key::EVENT_DATA)?;
        if let Some(sink) = &self.events {
            sink(&name, data);
        }
        Ok(())
    }
}

async fn writer_task(s: Arc<Session>) {
    let e = s.outbox.run().await;
    s.shutdown(Error::connection_lost(format!(
        "connection lost while sending: {e}; requests in flight may or may not have been \
         executed and are not re-sent"
    )));
}
