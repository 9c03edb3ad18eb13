//! The reader and writer tasks of a connection.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use ferrule_core::{Error, ErrorKind};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::conn::{AsyncMessage, Shared};
use crate::connect::{BoxStream, MAX_MESSAGE};
use crate::errors;
use crate::request::{Command, Pending, ReqState, Response};
use crate::statement::Column;

/// Writes commands in arrival order, batching whatever is queued into one write.
pub(crate) async fn writer_task(
    shared: Arc<Shared>,
    mut rx: UnboundedReceiver<Command>,
    mut w: WriteHalf<BoxStream>,
    pending_tx: UnboundedSender<Pending>,
) {
    let mut out = BytesMut::with_capacity(8192);
    while let Some(first) = rx.recv().await {
        let mut terminate = false;
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            match cmd {
                Command::Request(req) => {
                    shared.inflight.lock().push_back(req.state.clone());
                    out.extend_from_slice(&req.buf);
                    let _ = pending_tx.send(Pending {
                        state: req.state,
                        reply: Some(req.reply),
                        discard_rows: req.discard_rows,
                        response: Response::default(),
                    });
                }
                Command::Discard(buf) => {
                    let state = Arc::new(ReqState::default());
                    shared.inflight.lock().push_back(state.clone());
                    out.extend_from_slice(&buf);
                    let _ = pending_tx.send(Pending {
                        state,
                        reply: None,
                        discard_rows: true,
                        response: Response::default(),
                    });
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
        let written = async {
            w.write_all(&out).await?;
            w.flush().await
        };
        if let Err(e) = written.await {
            shared.mark_closed(Error::connection_lost(format!("connection lost: {e}")));
            break;
        }
        out.clear();
        if terminate {
            let _ = w.shutdown().await;
            break;
        }
        if out.capacity() > 1 << 20 {
            out = BytesMut::with_capacity(8192);
        }
    }
}

/// Reads messages and hands each to the request at the front, until the socket ends.
pub(crate) async fn reader_task(
    shared: Arc<Shared>,
    mut r: ReadHalf<BoxStream>,
    mut buf: BytesMut,
    mut pending_rx: UnboundedReceiver<Pending>,
) {
    let mut reader = Reader {
        shared: shared.clone(),
        current: None,
    };
    let reason = loop {
        if let Err(e) = reader.drain(&mut buf, &mut pending_rx) {
            break e;
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16384);
        }
        match r.read_buf(&mut buf).await {
            Ok(0) => break Error::connection_lost("the server closed the connection"),
            Ok(_) => {}
            Err(e) => break Error::connection_lost(format!("connection lost: {e}")),
        }
    };
    shared.mark_closed(reason);
    let reason = shared.closed_error();
    pending_rx.close();
    let fail = |p: Pending| {
        p.state.finish();
        if let Some(reply) = p.reply {
            // A FATAL error the server sent before closing says more than "connection lost".
            let err = match p.response.error {
                Some(mut e) if is_fatal(&e) => {
                    e.kind = ErrorKind::ConnectionLost;
                    e
                }
                _ => reason.clone(),
            };
            let _ = reply.send(Err(err));
        }
    };
    if let Some(p) = reader.current.take() {
        fail(p);
    }
    while let Ok(p) = pending_rx.try_recv() {
        fail(p);
    }
    shared.inflight.lock().clear();
    shared.reader_done.store(true, Ordering::Release);
    shared.finished.notify_waiters();
}

fn is_fatal(e: &Error) -> bool {
    matches!(
        e.field("severity_nonlocalized").or(e.field("severity")),
        Some("FATAL" | "PANIC")
    )
}

struct Reader {
    shared: Arc<Shared>,
    current: Option<Pending>,
}

impl Reader {
    fn drain(
        &mut self,
        buf: &mut BytesMut,
        pending_rx: &mut UnboundedReceiver<Pending>,
    ) -> Result<(), Error> {
        loop {
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
    }

    fn hook(&self, msg: AsyncMessage) {
        let hook = self.shared.hook.lock().clone();
        if let Some(h) = hook {
            h(msg);
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
                    resp.rows.push(row);
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
                resp.tags.push(body.tag().map_err(proto)?.to_owned());
            }
            Message::PortalSuspended => resp.suspended = true,
            Message::ErrorResponse(body) => {
                let e = errors::from_fields(body.fields());
                if resp.error.is_none() {
                    resp.error = Some(e);
                }
            }
            Message::CopyInResponse(_) => {
                resp.error.get_or_insert_with(|| {
                    Error::interface("COPY FROM STDIN is not supported by this method")
                });
                let mut fail = BytesMut::new();
                frontend::copy_fail("COPY FROM STDIN is not supported by this method", &mut fail)
                    .map_err(|e| Error::interface(e.to_string()))?;
                let _ = self.shared.tx.send(Command::Raw(fail));
            }
            Message::CopyOutResponse(_) => {
                resp.error.get_or_insert_with(|| {
                    Error::interface("COPY TO STDOUT is not supported by this method")
                });
            }
            Message::CopyData(_) | Message::CopyDone => {}
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
            let _ = reply.send(result);
        }
    }
}

fn proto(e: std::io::Error) -> Error {
    Error::protocol(format!("malformed message: {e}"))
}
