//! The pool's bookkeeping, guarded by one short-held mutex: idle connections, the ones out of
//! the idle list, the waiters, and the counters.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::time::Instant;

use super::config::PoolConfig;
use super::manager::Manager;
use super::stats::{Counters, PoolStats};
use super::waiters::WaiterQueue;

/// What the pool knows about one connection besides the connection itself.
#[derive(Debug, Clone)]
pub(super) struct Meta {
    pub id: u64,
    pub created: Instant,
    pub expires_at: Option<Instant>,
    /// Queries run on the connection over all its uses.
    pub queries: u64,
    /// The pool generation the connection belongs to; `expire_connections` starts a new one.
    pub generation: u64,
    /// When the connection was last known good: its last release, check or opening.
    pub last_good: Instant,
}

impl Meta {
    /// Past its lifetime or its query budget: replace rather than reuse.
    pub fn worn_out(&self, config: &PoolConfig, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
            || config.max_queries.is_some_and(|max| self.queries >= max)
    }
}

pub(super) struct Slot<C> {
    pub conn: Arc<C>,
    pub meta: Meta,
}

/// Why a connection leaves the pool; only `Broken` is counted in `closed_broken`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retire {
    Broken,
    Worn,
    Idle,
    Expired,
    Closing,
}

pub(super) struct State<M: Manager> {
    /// Most recently released last: taken from the back, so that surplus connections stay
    /// idle at the front long enough for `max_idle` to close them.
    pub idle: VecDeque<Slot<M::Conn>>,
    /// Connections not in `idle`: in use, on the way to a waiter, being checked or reset.
    /// The pool keeps a handle to close them on `terminate` or a timed-out `close`.
    pub out: HashMap<u64, Arc<M::Conn>>,
    pub waiters: WaiterQueue<M>,
    /// Connections being opened; they count against `max_size`.
    pub opening: usize,
    /// Close tasks in flight.
    pub closing: usize,
    /// Set by `close` and `terminate`; never cleared.
    pub closed: bool,
    pub generation: u64,
    pub next_id: u64,
    /// The background task that keeps `min_size` with backoff is running.
    pub refilling: bool,
    /// The last connect attempt failed: background reconnects start with a delay.
    pub connect_failing: bool,
    pub counters: Counters,
}

impl<M: Manager> State<M> {
    pub fn new() -> Self {
        State {
            idle: VecDeque::new(),
            out: HashMap::new(),
            waiters: WaiterQueue::new(),
            opening: 0,
            closing: 0,
            closed: false,
            generation: 0,
            next_id: 0,
            refilling: false,
            connect_failing: false,
            counters: Counters::default(),
        }
    }

    /// Open connections.
    pub fn size(&self) -> usize {
        self.idle.len() + self.out.len()
    }

    /// Open connections plus the ones being opened: what `max_size` limits.
    pub fn reserved(&self) -> usize {
        self.size() + self.opening
    }

    pub fn new_meta(&mut self, config: &PoolConfig) -> Meta {
        let now = Instant::now();
        self.next_id += 1;
        Meta {
            id: self.next_id,
            created: now,
            expires_at: config.jittered_lifetime().map(|life| now + life),
            queries: 0,
            generation: self.generation,
            last_good: now,
        }
    }

    pub fn stats(&self) -> PoolStats {
        let c = &self.counters;
        PoolStats {
            size: self.size(),
            idle: self.idle.len(),
            in_use: self.out.len(),
            waiting: self.waiters.len(),
            opening: self.opening,
            closing: self.closing,
            acquisitions: c.acquisitions,
            timeouts: c.timeouts,
            total_wait: c.total_wait,
            avg_wait: c.average_wait(),
            connects: c.connects,
            connect_errors: c.connect_errors,
            resets: c.resets,
            closed_broken: c.closed_broken,
        }
    }
}
