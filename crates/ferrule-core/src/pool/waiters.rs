//! The queue of tasks waiting in `acquire`, served strictly in ticket order.

use std::collections::VecDeque;

use tokio::sync::oneshot;

use super::manager::Manager;
use super::pooled::Pooled;
use crate::Error;

/// What a waiter receives: a connection (as a guard, so that a waiter that has gone away
/// returns it to the pool by dropping it) or the error that ends its wait.
pub(super) type Delivery<M> = Result<Pooled<M>, Error>;

pub(super) struct Waiter<M: Manager> {
    /// Taken from a counter when `acquire` is called; lower tickets are served first.
    pub ticket: u64,
    pub tx: oneshot::Sender<Delivery<M>>,
    /// A connection is being opened on this waiter's behalf; its error, if any, is this
    /// waiter's to receive.
    pub has_opener: bool,
}

/// Kept sorted by ticket: a waiter re-queued after a failed health check gets its place back.
pub(super) struct WaiterQueue<M: Manager> {
    queue: VecDeque<Waiter<M>>,
}

impl<M: Manager> WaiterQueue<M> {
    pub fn new() -> Self {
        WaiterQueue {
            queue: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn push(&mut self, ticket: u64, tx: oneshot::Sender<Delivery<M>>) {
        let waiter = Waiter {
            ticket,
            tx,
            has_opener: false,
        };
        // Nearly always the newest ticket: the common case is a push at the back.
        match self.queue.back() {
            Some(last) if last.ticket > ticket => {
                let at = self.queue.partition_point(|w| w.ticket < ticket);
                self.queue.insert(at, waiter);
            }
            _ => self.queue.push_back(waiter),
        }
    }

    pub fn pop_front(&mut self) -> Option<Waiter<M>> {
        self.queue.pop_front()
    }

    fn position(&self, ticket: u64) -> Option<usize> {
        let at = self.queue.partition_point(|w| w.ticket < ticket);
        (self.queue.get(at)?.ticket == ticket).then_some(at)
    }

    pub fn remove(&mut self, ticket: u64) -> Option<Waiter<M>> {
        let at = self.position(ticket)?;
        self.queue.remove(at)
    }

    /// Marks the earliest waiter without an opener as having one and returns its ticket.
    pub fn claim_opener(&mut self) -> Option<u64> {
        let waiter = self.queue.iter_mut().find(|w| !w.has_opener)?;
        waiter.has_opener = true;
        Some(waiter.ticket)
    }

    pub fn release_opener(&mut self, ticket: u64) {
        if let Some(at) = self.position(ticket) {
            self.queue[at].has_opener = false;
        }
    }

    pub fn drain(&mut self) -> impl Iterator<Item = Waiter<M>> + '_ {
        self.queue.drain(..)
    }
}
