//! Call order on one connection (PostgreSQL, SQL Server). Each call takes a ticket when it is made (on the caller's
//! thread, in program order) and sends its request only when every call made before it has
//! sent its own, so concurrent calls reach the server in the order they were made, whichever
//! runtime worker runs their jobs first. A call gives up its turn once its request is queued
//! (later calls may then pipeline behind it), or when it ends or is dropped without sending.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{Error, ErrorKind};

/// Limits of one call on a connection whose calls take turns: an absolute deadline, a token
/// the caller cancels, and its place in line (held until the call ends when it makes several
/// requests that must stay together).
#[derive(Default, Clone)]
pub struct CallCtl {
    pub deadline: Option<Instant>,
    pub cancel: Option<CancellationToken>,
    pub turn: Option<Arc<Turn>>,
}

impl CallCtl {
    pub fn with_timeout(timeout: Option<Duration>, cancel: Option<CancellationToken>) -> CallCtl {
        CallCtl {
            deadline: timeout.map(|t| Instant::now() + t),
            cancel,
            turn: None,
        }
    }

    /// The same limits for the requests a call makes on its way (a Parse, type lookups),
    /// which go out within the call's own turn.
    pub fn within_turn(&self) -> CallCtl {
        CallCtl {
            turn: None,
            ..self.clone()
        }
    }
}

#[derive(Default)]
pub struct Turns {
    next_ticket: AtomicU64,
    state: Mutex<Serving>,
    changed: Notify,
}

#[derive(Default)]
struct Serving {
    /// The ticket whose call may send now.
    now: u64,
    /// Tickets released before their turn came (their call ended early).
    released: BTreeSet<u64>,
}

impl Turns {
    pub fn take(self: &Arc<Self>) -> Arc<Turn> {
        Arc::new(Turn {
            ticket: self.next_ticket.fetch_add(1, Ordering::Relaxed),
            turns: self.clone(),
            released: AtomicBool::new(false),
        })
    }

    fn is_due(&self, ticket: u64) -> bool {
        self.state.lock().now >= ticket
    }

    fn release(&self, ticket: u64) {
        let mut st = self.state.lock();
        if ticket != st.now {
            st.released.insert(ticket);
            return;
        }
        let mut now = ticket + 1;
        while st.released.remove(&now) {
            now += 1;
        }
        st.now = now;
        drop(st);
        self.changed.notify_waiters();
    }
}

/// One call's place in line.
pub struct Turn {
    ticket: u64,
    turns: Arc<Turns>,
    released: AtomicBool,
}

impl Turn {
    /// Waits until every call made before this one has sent its request, within the call's
    /// deadline and cancellation.
    pub async fn wait(
        &self,
        deadline: Option<Instant>,
        cancel: Option<&CancellationToken>,
    ) -> Result<(), Error> {
        loop {
            let changed = self.turns.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.turns.is_due(self.ticket) {
                return Ok(());
            }
            let cancelled = async {
                match cancel {
                    Some(token) => token.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            let deadline = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut changed => {}
                () = cancelled => {
                    return Err(Error::new(ErrorKind::Cancelled, "the call was cancelled"));
                }
                () = deadline => {
                    return Err(Error::timeout(
                        "the call timed out waiting for the calls made before it on this \
                         connection",
                    ));
                }
            }
        }
    }

    /// Lets the next call send (idempotent).
    pub fn release(&self) {
        if !self.released.swap(true, Ordering::AcqRel) {
            self.turns.release(self.ticket);
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_send_in_ticket_order() {
        let turns = Arc::new(Turns::default());
        let first = turns.take();
        let second = turns.take();
        let third = turns.take();
        let waiting = tokio::spawn({
            let third = third.clone();
            async move { third.wait(None, None).await }
        });
        assert!(!turns.is_due(second.ticket));
        first.wait(None, None).await.unwrap();
        // The second call ends without sending: its turn passes at once when the first's does.
        drop(second);
        assert!(!turns.is_due(2));
        first.release();
        waiting.await.unwrap().unwrap();
        assert!(turns.is_due(2));
    }

    #[tokio::test]
    async fn a_deadline_stops_the_wait() {
        let turns = Arc::new(Turns::default());
        let _first = turns.take();
        let second = turns.take();
        let deadline = Instant::now() + std::time::Duration::from_millis(20);
        let err = second.wait(Some(deadline), None).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Timeout);
    }
}
