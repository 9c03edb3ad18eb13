//! Requests sent from the caller's thread. No task waits for the reply: whoever reads it (the
//! reader task, or the caller's thread itself while requests go out one at a time) hands it
//! to the caller's function, which passes it on (to the asyncio bridge). When no session is
//! up or the schema cache is stale, the function is given back and the caller takes the
//! waiting path (`request`, `space_request`), which reconnects and refreshes as needed.

use std::sync::Arc;

use ferrule_core::runtime::runtime;
use ferrule_core::Error;
use tokio::time::Instant;

use crate::conn::{CallCtl, TntConnection};
use crate::inbox::InlineReader;
use crate::request::{Header, Request};
use crate::response::Response;
use crate::schema::{Schema, Space, SpaceRef};
use crate::session::{Session, Waiter};

/// How a request sent now will be answered.
pub enum Sent {
    /// The reader task reads the reply.
    ByTask,
    /// The caller's thread reads it (it asked to, with `inline`): it must watch the reader.
    Inline(InlineReader),
}

impl TntConnection {
    /// Sends a request that does not depend on the schema; `done` gets the reply (a server
    /// error stays in the `Response`) or the failure. `Err(done)` when no session is up.
    /// With `inline`, the caller's thread may be given the reading (`Sent::Inline`).
    pub fn send_now<D>(
        &self,
        r: &Request<'_>,
        ctl: &CallCtl,
        inline: bool,
        done: D,
    ) -> Result<Sent, D>
    where
        D: FnOnce(Result<Response, Error>) + Send + 'static,
    {
        let Some(session) = self.live_session() else {
            return Err(done);
        };
        let sync = self.next_sync();
        let mut frame = Vec::with_capacity(64);
        let h = Header {
            sync,
            schema_version: None,
            stream_id: ctl.stream,
        };
        r.encode(&h, &mut frame);
        Ok(send(
            session,
            sync,
            frame,
            ctl.deadline,
            inline,
            Box::new(done),
        ))
    }

    /// Sends a request on a space resolved with the schema known now; `done` also gets the
    /// space. `Err(done)` when no session is up, the schema is stale, or the space (or
    /// anything `encode` looks up) is unknown: the waiting path handles those.
    pub fn send_space_now<F, D>(
        &self,
        space: &SpaceRef,
        ctl: &CallCtl,
        inline: bool,
        encode: F,
        done: D,
    ) -> Result<Sent, D>
    where
        F: FnOnce(&Schema, &Arc<Space>, &Header, &mut Vec<u8>) -> Result<(), Error>,
        D: FnOnce(Result<Response, Error>, Arc<Space>) + Send + 'static,
    {
        let Some(session) = self.live_session() else {
            return Err(done);
        };
        if self.schema_stale() {
            return Err(done);
        }
        let schema = self.schema();
        let Ok(sp) = self.resolve(&schema, space) else {
            return Err(done);
        };
        let sync = self.next_sync();
        let h = Header {
            sync,
            schema_version: (schema.version > 0).then_some(schema.version),
            stream_id: ctl.stream,
        };
        let mut frame = Vec::with_capacity(64);
        if encode(&schema, &sp, &h, &mut frame).is_err() {
            return Err(done);
        }
        let space = sp.clone();
        Ok(send(
            session,
            sync,
            frame,
            ctl.deadline,
            inline,
            Box::new(move |r| done(r, space)),
        ))
    }
}

/// Queues the frame with its waiter; a deadline fails the request when it passes first.
fn send(
    session: Arc<Session>,
    sync: u64,
    frame: Vec<u8>,
    deadline: Option<Instant>,
    inline: bool,
    done: Box<dyn FnOnce(Result<Response, Error>) + Send>,
) -> Sent {
    let waiter = Some(Waiter::Reply(done));
    let sent = if inline {
        session.send_inline(sync, frame, waiter)
    } else {
        session.send(sync, frame, waiter).map(|()| false)
    };
    // A failed send has already handed the failure to `done`.
    let Ok(caller_reads) = sent else {
        return Sent::ByTask;
    };
    if let Some(deadline) = deadline {
        let weak = Arc::downgrade(&session);
        runtime().spawn(async move {
            tokio::time::sleep_until(deadline).await;
            let Some(session) = weak.upgrade() else {
                return;
            };
            if let Some(Waiter::Reply(f)) = session.take(sync) {
                f(Err(Error::timeout(
                    "the request timed out (Tarantool cannot cancel it: it may still run on \
                     the server)",
                )));
            }
        });
    }
    if caller_reads {
        Sent::Inline(InlineReader::of(&session))
    } else {
        Sent::ByTask
    }
}
