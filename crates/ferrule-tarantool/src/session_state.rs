//! What a user leaves on a connection besides its data: interactive transactions that may
//! still be open, watchers, and calls whose pushed messages still arrive. A pool asks
//! `has_session_state` when a connection comes back and clears it before lending it again.

use ferrule_core::{Error, ErrorKind};

use crate::conn::{CallCtl, TntConnection};

impl TntConnection {
    /// Records that `stream` may hold an open transaction (a BEGIN was sent).
    pub(crate) fn transaction_may_be_open(&self, stream: u64) {
        let mut open = self.inner.transactions.lock();
        if !open.contains(&stream) {
            open.push(stream);
        }
    }

    /// A COMMIT, ROLLBACK or failed BEGIN on `stream` got its answer. The transaction stays
    /// counted when the call gave up before the answer: the server may still hold it open.
    pub(crate) fn transaction_settled(&self, stream: u64, outcome: &Result<(), Error>) {
        let unknown = matches!(
            outcome,
            Err(e) if matches!(e.kind, ErrorKind::Timeout | ErrorKind::Cancelled)
        );
        if !unknown {
            self.inner.transactions.lock().retain(|s| *s != stream);
        }
    }

    /// Streams whose transaction may still be open.
    pub fn open_transactions(&self) -> Vec<u64> {
        self.inner.transactions.lock().clone()
    }

    /// Keys watched on this connection.
    pub fn watched_keys(&self) -> Vec<String> {
        self.inner.watchers.lock().keys().cloned().collect()
    }

    /// Calls with pushes (`call_with_pushes`) still waiting for their answer.
    pub fn push_calls(&self) -> usize {
        self.live_session().map_or(0, |s| s.push_calls())
    }

    /// Whether anything listed in the module notes is left on the connection. Local: no IO.
    pub fn has_session_state(&self) -> bool {
        !self.inner.transactions.lock().is_empty()
            || !self.inner.watchers.lock().is_empty()
            || self.push_calls() > 0
    }

    /// Clears it: calls with pushes stop delivering (their callers get an error), open
    /// transactions are rolled back, watchers are unregistered. A server error of a rollback
    /// (no transaction was open after all) is no failure; a lost connection is.
    pub async fn clear_session_state(&self, ctl: &CallCtl) -> Result<(), Error> {
        if let Some(session) = self.live_session() {
            let reason = Error::closed("the call's connection went back to the pool");
            session.abandon_push_calls(&reason);
        }
        for stream in self.open_transactions() {
            let on_stream = CallCtl {
                stream: Some(stream),
                ..ctl.clone()
            };
            match self.rollback(&on_stream).await {
                Err(e) if e.kind != ErrorKind::Database => return Err(e),
                _ => self.inner.transactions.lock().retain(|s| *s != stream),
            }
        }
        for key in self.watched_keys() {
            self.unwatch(&key).await?;
        }
        Ok(())
    }
}
