//! The reader and writer tasks of a connection.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use fallible_iterator::FallibleIterator;
use ferrule_core::{Error, ErrorKind};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf};
use tokio::sync::mpsc::{error::TrySendError, Receiver, UnboundedReceiver, UnboundedSender};

use crate::conn::{AsyncMessage, Shared};
use crate::connect::{BoxStream, MAX_MESSAGE};
use crate::errors;
use crate::low_water::{LowWater, LOW_WATER_WAIT};
use crate::request::{
    Command, CopyChunk, CopyMode, CopyOutSender, Pending, COPY_OUT_CHUNK, SINK_BATCH_BYTES,
    SINK_BATCH_ROWS,
};
use crate::session::{self, SessionState};
use crate::statement::Column;

/// COPY TO STDOUT data after which the reader waits for larger reads (`LowWater`).
pub(crate) const BULK_COPY: usize = 1 << 20;

async fn write_out<W: AsyncWrite + Unpin>(w: &mut W, out: &[u8]) -> std::io::Result<()> {
    w.write_all(out).await?;
    w.flush().await
}

/// Streams one COPY's data; returns when the copy has ended on the wire.
async fn copy_data<W: AsyncWrite + Unpin>(
    w: &mut W,
    out: &mut BytesMut,
    mut data: Receiver<CopyChunk>,
) -> std::io::Result<()> {
    loop {
        out.clear();
        match data.recv().await {
            Some(CopyChunk::Data(chunk)) => {
                out.put_u8(b'd');
                out.put_i32(chunk.len() as i32 + 4);
                write_out(w, out).await?;
                write_out(w, &chunk).await?;
                continue;
            }
            Some(CopyChunk::Done) => frontend::copy_done(out),
            Some(CopyChunk::Fail(msg)) => {
                let _ = frontend::copy_fail(&msg, out);
            }
            None => {
                let _ = frontend::copy_fail("the COPY was abandoned by the client", out);
            }
        }
        // The Sync that ends the request goes only now: the server ignores it during COPY.
        frontend::sync(out);
        return write_out(w, out).await;
    }
}

/// Writes commands in arrival order, batching whatever is queued into one write. Each
/// command counts as queued (`Shared::queued`) until its bytes are written.
pub(crate) async fn writer_task<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    mut rx: UnboundedReceiver<Command>,
    mut w: W,
    pending_tx: UnboundedSender<Pending>,
) {
    let mut out = BytesMut::with_capacity(8192);
    while let Some(first) = rx.recv().await {
        let mut terminate = false;
        let mut copy = None;
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(cmd) = next.take() {
            taken += 1;
            match cmd {
                Command::Request(req) => {
                    shared.inflight.lock().push_back(req.state.clone());
                    out.extend_from_slice(&req.buf);
                    let _ = pending_tx.send(Pending::new(req));
                }
                Command::CopyIn(req, data) => {
                    shared.inflight.lock().push_back(req.state.clone());
                    out.extend_from_slice(&req.buf);
                    let _ = pending_tx.send(Pending::new(req));
                    copy = Some(data);
                    break;
                }
                Command::Discard(buf) => {
                    let pending = Pending::discarded();
                    shared.inflight.lock().push_back(pending.state.clone());
                    out.extend_from_slice(&buf);
                    let _ = pending_tx.send(pending);
                }
                Command::Raw(buf) => out.extend_from_slice(&buf),
                Command::Terminate => {
                    frontend::terminate(&mut out);
                    terminate = true;
                    break;
                }
            }
            if out.len() < 1 << 18 {
                next = rx.try_recv().ok();
            }
        }
        let mut written = write_out(&mut w, &out).await;
        if let (Ok(()), Some(data)) = (&written, copy) {
            written = copy_data(&mut w, &mut out, data).await;
        }
        if let Err(e) = written {
            shared.mark_closed(Error::connection_lost(format!("connection lost: {e}")));
            break;
        }
        out.clear();
        shared.queued.fetch_sub(taken, Ordering::AcqRel);
        if terminate {
            // No shutdown: a TLS close_notify the server exits without reading makes its
            // kernel answer with a reset, which can discard responses not yet read here.
            break;
        }
        if out.capacity() > 1 << 20 {
            out = BytesMut::with_capacity(8192);
        }
    }
}

/// Reads messages and hands each to the request at the front, until the socket ends (a TLS
/// connection; a plain one is read as inbox.rs says).
pub(crate) async fn reader_task(
    shared: Arc<Shared>,
    mut r: ReadHalf<BoxStream>,
    mut buf: BytesMut,
    mut pending_rx: UnboundedReceiver<Pending>,
    mut low_water: Option<LowWater>,
) {
    let mut reader = Reader::new(shared.clone());
    let reason = loop {
        if let Err(e) = reader.drain(&mut buf, &mut pending_rx) {
            break e;
        }
        // COPY TO STDOUT data waits for a slow consumer here: the connection is in copy mode,
        // nothing else can arrive, and the socket is not read meanwhile (bounded memory).
        if let Some((tx, chunk)) = reader.blocked.take() {
            let _ = tx.send(chunk).await;
            continue;
        }
        // A COPY TO STDOUT streams megabytes: large reads mean fewer system calls, and fewer
        // wake-ups (`LowWater`).
        let received = reader.copy_out_received();
        let streaming = received.is_some();
        let room = if streaming { 1 << 18 } else { 16384 };
        if buf.capacity() - buf.len() < room / 4 {
            buf.reserve(room);
        }
        // Only a large COPY: a small one would wait for its last bytes for nothing.
        let bulk = received.is_some_and(|n| n >= BULK_COPY);
        let read = match low_water.as_mut() {
            Some(mark) if bulk => {
                mark.raise();
                // Cancel-safe: a read that times out has taken nothing.
                match tokio::time::timeout(LOW_WATER_WAIT, r.read_buf(&mut buf)).await {
                    Ok(read) => read,
                    Err(_) => {
                        mark.lower();
                        r.read_buf(&mut buf).await
                    }
                }
            }
            Some(mark) => {
                mark.lower();
                r.read_buf(&mut buf).await
            }
            None => r.read_buf(&mut buf).await,
        };
        match read {
            Ok(0) => break Error::connection_lost("the server closed the connection"),
            Ok(_) => {}
            Err(e) => break Error::connection_lost(format!("connection lost: {e}")),
        }
    };
    reader.end(&mut pending_rx, reason, true);
}

fn is_fatal(e: &Error) -> bool {
    matches!(
        e.field("severity_nonlocalized").or(e.field("severity")),
        Some("FATAL" | "PANIC")
    )
}

/// Splits what the server sends into messages and hands each to the request it answers,
/// whichever thread reads the socket.
pub(crate) struct Reader {
    shared: Arc<Shared>,
    pub current: Option<Pending>,
    /// A COPY TO STDOUT chunk the consumer has no room for yet.
    pub blocked: Option<(CopyOutSender, Bytes)>,
    /// Set once reading has ended and every waiting request has its error.
    pub ended: bool,
}

impl Reader {
    pub fn new(shared: Arc<Shared>) -> Reader {
        Reader {
            shared,
            current: None,
            blocked: None,
            ended: false,
        }
    }

    /// Reading ended with `reason`: the connection is closed and every request still waiting
    /// gets an error (once). `settled`: the server is done with them; not so when the
    /// connection was aborted, where a CancelRequest may still have to stop them.
    pub fn end(
        &mut self,
        pending_rx: &mut UnboundedReceiver<Pending>,
        reason: Error,
        settled: bool,
    ) {
        if self.ended {
            return;
        }
        self.ended = true;
        let shared = self.shared.clone();
        shared.mark_closed(reason);
        let reason = shared.closed_error();
        pending_rx.close();
        let fail = |p: Pending| {
            if settled {
                p.state.finish();
            }
            if let Some(reply) = p.reply {
                // A FATAL error the server sent before closing says more than "connection
                // lost".
                let err = match p.response.error {
                    Some(mut e) if is_fatal(&e) => {
                        e.kind = ErrorKind::ConnectionLost;
                        e
                    }
                    _ => reason.clone(),
                };
                reply.send(Err(err));
            }
        };
        self.blocked = None;
        if let Some(p) = self.current.take() {
            fail(p);
        }
        while let Ok(p) = pending_rx.try_recv() {
            fail(p);
        }
        shared.inflight.lock().clear();
        shared.reader_done.store(true, Ordering::Release);
        shared.finished.notify_waiters();
        self.hook(AsyncMessage::Terminated(reason));
    }

    pub fn drain(
        &mut self,
        buf: &mut BytesMut,
        pending_rx: &mut UnboundedReceiver<Pending>,
    ) -> Result<(), Error> {
        while self.blocked.is_none() {
            if buf.first() == Some(&b'd') && self.take_copy_data(buf)? {
                continue;
            }
            if buf.len() >= 5 {
                let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
                if len > MAX_MESSAGE {
                    return Err(Error::protocol(format!(
                        "backend message of {len} bytes refused"
                    )));
                }
            }
            let msg = match Message::parse(buf) {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(()),
                Err(e) => return Err(Error::protocol(format!("malformed message: {e}"))),
            };
            self.handle(msg, pending_rx)?;
        }
        Ok(())
    }

    fn hook(&self, msg: AsyncMessage) {
        let hook = self.shared.hook.lock().clone();
        if let Some(h) = hook {
            h(msg);
        }
    }

    /// Whether a COPY TO STDOUT is streaming, and how much it has sent so far.
    pub(crate) fn copy_out_received(&self) -> Option<usize> {
        let p = self.current.as_ref()?;
        matches!(p.copy, CopyMode::Out(_)).then_some(p.copy_received)
    }

    /// COPY TO STDOUT sends one CopyData message per row: the whole ones at the front of
    /// `buf` are unwrapped in one pass, without a parsed message each. Returns whether any
    /// was taken.
    fn take_copy_data(&mut self, buf: &mut BytesMut) -> Result<bool, Error> {
        let Some(p) = self.current.as_mut() else {
            return Ok(false);
        };
        if !matches!(p.copy, CopyMode::Out(_)) {
            return Ok(false);
        }
        if p.copy_buf.capacity() == 0 {
            p.copy_buf.reserve(COPY_OUT_CHUNK + COPY_OUT_CHUNK / 8);
        }
        let mut pos = 0;
        while p.copy_buf.len() < COPY_OUT_CHUNK && buf.len() >= pos + 5 && buf[pos] == b'd' {
            let len = u32::from_be_bytes([buf[pos + 1], buf[pos + 2], buf[pos + 3], buf[pos + 4]])
                as usize;
            if !(4..=MAX_MESSAGE).contains(&len) {
                return Err(Error::protocol(format!(
                    "CopyData message of {len} bytes refused"
                )));
            }
            if buf.len() < pos + 1 + len {
                break;
            }
            p.copy_buf.extend_from_slice(&buf[pos + 5..pos + 1 + len]);
            pos += 1 + len;
        }
        if pos == 0 {
            return Ok(false);
        }
        buf.advance(pos);
        p.copy_received += pos;
        self.flush_copy_out(false);
        Ok(true)
    }

    /// Hands buffered COPY TO STDOUT data to its consumer; `force` also sends a small rest.
    fn flush_copy_out(&mut self, force: bool) {
        let Some(p) = self.current.as_mut() else {
            return;
        };
        let CopyMode::Out(tx) = &p.copy else { return };
        if p.copy_buf.is_empty() || (!force && p.copy_buf.len() < COPY_OUT_CHUNK) {
            return;
        }
        let chunk = p.copy_buf.split().freeze();
        match tx.try_send(chunk) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(chunk)) => self.blocked = Some((tx.clone(), chunk)),
        }
    }

    fn handle(
        &mut self,
        msg: Message,
        pending_rx: &mut UnboundedReceiver<Pending>,
    ) -> Result<(), Error> {
        match msg {
            Message::NoticeResponse(body) => {
                self.hook(AsyncMessage::Notice(errors::from_fields(body.fields())));
                return Ok(());
            }
            Message::NotificationResponse(body) => {
                let channel = body.channel().map_err(proto)?.to_owned();
                let payload = body.message().map_err(proto)?.to_owned();
                let process_id = body.process_id();
                self.hook(AsyncMessage::Notification {
                    process_id,
                    channel,
                    payload,
                });
                return Ok(());
            }
            Message::ParameterStatus(body) => {
                let name = body.name().map_err(proto)?.to_owned();
                let value = body.value().map_err(proto)?.to_owned();
                self.shared.server_params.lock().insert(name, value);
                self.shared.note_session(SessionState::SETTINGS);
                return Ok(());
            }
            _ => {}
        }
        if self.current.is_none() {
            self.current = pending_rx.try_recv().ok();
        }
        let Some(p) = self.current.as_mut() else {
            // The server speaks with nothing asked: a FATAL error before it hangs up (admin
            // shutdown, idle session timeout) or a broken peer.
            return Err(match msg {
                Message::ErrorResponse(body) => {
                    let mut e = errors::from_fields(body.fields());
                    e.kind = ErrorKind::ConnectionLost;
                    e
                }
                _ => Error::protocol("the server sent a message with no request in flight"),
            });
        };
        let resp = &mut p.response;
        match msg {
            Message::DataRow(row) => {
                resp.row_count += 1;
                if !p.discard_rows {
                    p.batch_bytes += row.buffer().len();
                    resp.rows.push(row);
                    if let Some(sink) = p.sink.as_mut() {
                        if resp.rows.len() >= SINK_BATCH_ROWS || p.batch_bytes >= SINK_BATCH_BYTES {
                            p.batch_bytes = 0;
                            sink(std::mem::take(&mut resp.rows));
                        }
                    }
                }
            }
            Message::RowDescription(body) => {
                let mut cols = Vec::new();
                let mut fields = body.fields();
                while let Some(f) = fields.next().map_err(proto)? {
                    cols.push(Column {
                        name: f.name().to_owned(),
                        type_oid: f.type_oid(),
                        type_modifier: f.type_modifier(),
                        format: f.format(),
                    });
                }
                resp.columns = Some(cols);
            }
            Message::ParameterDescription(body) => {
                resp.params = Some(body.parameters().collect().map_err(proto)?);
            }
            Message::CommandComplete(body) => {
                let tag = body.tag().map_err(proto)?;
                self.shared.note_session(session::from_command_tag(tag));
                resp.tags.push(tag.to_owned());
                resp.ends.push(resp.rows.len());
            }
            Message::PortalSuspended => resp.suspended = true,
            Message::ErrorResponse(body) => {
                let mut e = errors::from_fields(body.fields());
                if resp.error.is_none() {
                    // How many statements of the request had completed: names the failing
                    // row of a pipelined executemany.
                    e.fields
                        .push((errors::COMPLETED_BEFORE, resp.tags.len().to_string()));
                    resp.error = Some(e);
                }
            }
            Message::CopyInResponse(_) => {
                if !matches!(p.copy, CopyMode::In) {
                    const MSG: &str = "COPY FROM STDIN needs copy_to_table or \
                                       copy_records_to_table";
                    resp.error.get_or_insert_with(|| Error::interface(MSG));
                    let mut fail = BytesMut::new();
                    frontend::copy_fail(MSG, &mut fail)
                        .map_err(|e| Error::interface(e.to_string()))?;
                    self.shared.enqueue(Command::Raw(fail));
                }
            }
            Message::CopyOutResponse(_) => {
                if !matches!(p.copy, CopyMode::Out(_)) {
                    resp.error.get_or_insert_with(|| {
                        Error::interface("COPY TO STDOUT needs copy_from_query or copy_from_table")
                    });
                }
            }
            Message::CopyData(body) => {
                if matches!(p.copy, CopyMode::Out(_)) {
                    p.copy_buf.extend_from_slice(body.data());
                    self.flush_copy_out(false);
                }
            }
            Message::CopyDone => self.flush_copy_out(true),
            Message::ParseComplete
            | Message::BindComplete
            | Message::CloseComplete
            | Message::NoData
            | Message::EmptyQueryResponse => {}
            Message::ReadyForQuery(body) => {
                self.shared
                    .tx_status
                    .store(body.status(), Ordering::Release);
                let Some(done) = self.current.take() else {
                    return Ok(());
                };
                self.complete(done);
            }
            _ => return Err(Error::protocol("unexpected message from the server")),
        }
        Ok(())
    }

    fn complete(&mut self, mut done: Pending) {
        done.state.finish();
        let next_to_cancel = {
            let mut inflight = self.shared.inflight.lock();
            inflight.pop_front();
            inflight
                .front()
                .filter(|s| s.want_cancel.load(Ordering::Acquire))
                .cloned()
        };
        if let Some(state) = next_to_cancel {
            self.shared.send_cancel(state);
        }
        if let Some(reply) = done.reply.take() {
            let result = match done.response.error.take() {
                Some(e) => Err(e),
                None => Ok(done.response),
            };
            reply.send(result);
        }
    }
}

fn proto(e: std::io::Error) -> Error {
    Error::protocol(format!("malformed message: {e}"))
}
