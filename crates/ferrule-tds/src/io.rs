//! The connection task: it owns the socket and runs one request at a time, in submission
//! order. A request whose caller gives up is cancelled with ATTENTION and drained to the
//! server's acknowledgement, so the next request always starts on a clean stream.

use std::sync::Arc;

use bytes::BytesMut;
use ferrule_core::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use crate::conn::Shared;
use crate::connect::BoxStream;
use crate::decoder::{Event, ResponseDecoder};
use crate::errors;
use crate::job::{cancelled_error, status_text, Batch, Command, Job, Response, ResultSet, Sink};
use crate::packet::{frame_message, kind, status};
use crate::token::{EnvChange, Token};

pub(crate) struct Io {
    pub stream: BoxStream,
    pub dec: ResponseDecoder,
    pub packet_size: usize,
}

pub(crate) async fn connection_task(
    shared: Arc<Shared>,
    mut io: Io,
    mut rx: UnboundedReceiver<Command>,
) {
    let reason = loop {
        // While idle the socket is watched too, so that a connection the server closed (a
        // KILL, a restart) reads as closed before anyone sends on it, e.g. in a pool.
        let next = tokio::select! {
            biased;
            cmd = rx.recv() => cmd,
            read = io.stream.read_buf(io.dec.read_buf()) => match read {
                Ok(0) => break Error::connection_lost("the server closed the connection"),
                // Unasked-for bytes stay in the decoder's buffer, read with the next response.
                Ok(_) => continue,
                Err(e) => break Error::connection_lost(format!("connection lost: {e}")),
            },
        };
        let Some(cmd) = next else {
            let _ = io.stream.shutdown().await;
            break Error::closed("the connection is closed");
        };
        match cmd {
            Command::Close => {
                let _ = io.stream.shutdown().await;
                break Error::closed("the connection is closed");
            }
            Command::Job(job) => {
                if let Err(e) = run_job(&shared, &mut io, job).await {
                    break e;
                }
            }
        }
    };
    shared.mark_closed(reason);
    let reason = shared.closed_error();
    rx.close();
    while let Ok(cmd) = rx.try_recv() {
        if let Command::Job(job) = cmd {
            job.sink.fail(reason.clone());
        }
    }
    shared.finish();
}

enum Outcome {
    Finished,
    Cancelled,
}

/// Runs one job. An `Err` means the connection cannot be used any more; the job's caller has
/// been told.
async fn run_job(shared: &Shared, io: &mut Io, job: Job) -> Result<(), Error> {
    let Job {
        messages,
        on_error,
        mut sink,
        cancel,
    } = job;
    if cancel.is_cancelled() || sink.is_abandoned() {
        sink.fail(cancelled_error());
        return Ok(());
    }
    let mut state = Reading {
        resp: Response::default(),
        error: None,
        batch: None,
    };
    for (i, mut msg) in messages.into_iter().enumerate() {
        if state.error.is_some() {
            break;
        }
        if msg.has_headers && msg.payload.len() >= 18 {
            msg.payload[10..18].copy_from_slice(&shared.descriptor());
        }
        let flags = if i == 0 && shared.take_reset() {
            status::RESET_CONNECTION
        } else {
            0
        };
        let mut out = BytesMut::with_capacity(msg.payload.len() + 64);
        frame_message(msg.kind, flags, &msg.payload, io.packet_size, &mut out);
        let sent = async {
            io.stream.write_all(&out).await?;
            io.stream.flush().await
        };
        tokio::select! {
            biased;
            r = sent => {
                if let Err(e) = r {
                    let e = Error::connection_lost(format!("connection lost: {e}"));
                    sink.fail(e.clone());
                    return Err(e);
                }
            }
            _ = cancel.cancelled() => {
                // Half a message is on the wire: the stream cannot be trusted any more.
                let e = Error::connection_lost(
                    "the request was cancelled while it was being sent; the connection was closed",
                );
                sink.fail(cancelled_error());
                return Err(e);
            }
        }
        io.dec.reset_columns();
        match read_response(shared, io, &mut sink, &cancel, &mut state).await {
            Ok(Outcome::Finished) => {}
            Ok(Outcome::Cancelled) => {
                sink.fail(cancelled_error());
                return Ok(());
            }
            Err(e) => {
                let reported = state.error.take().map(|mut s| {
                    s.kind = ferrule_core::ErrorKind::ConnectionLost;
                    s
                });
                sink.fail(reported.unwrap_or_else(|| e.clone()));
                return Err(e);
            }
        }
    }
    if let (Some(_), Some(mut msg)) = (&state.error, on_error) {
        // Best effort: the original error is what the caller hears about.
        msg.payload[10..18].copy_from_slice(&shared.descriptor());
        let mut out = BytesMut::new();
        frame_message(msg.kind, 0, &msg.payload, io.packet_size, &mut out);
        io.stream.write_all(&out).await?;
        io.stream.flush().await?;
        io.dec.reset_columns();
        let mut scratch = Reading {
            resp: Response::default(),
            error: None,
            batch: None,
        };
        let mut none = Sink::Discard;
        if let Outcome::Cancelled =
            read_response(shared, io, &mut none, &cancel, &mut scratch).await?
        {
            sink.fail(cancelled_error());
            return Ok(());
        }
    }
    match (state.error, sink) {
        (Some(e), sink) => sink.fail(e),
        (None, Sink::Collect { reply, .. }) => {
            let _ = reply.send(Ok(state.resp));
        }
        (None, Sink::Stream { batches, .. }) => {
            let last = state.batch.take().unwrap_or_else(|| Batch {
                columns: Arc::from(Vec::new()),
                rows: Vec::new(),
                done: true,
            });
            tokio::select! {
                _ = batches.send(Ok(Batch { done: true, ..last })) => {}
                _ = cancel.cancelled() => {}
            }
        }
        (None, Sink::Discard) => {}
    }
    Ok(())
}

struct Reading {
    resp: Response,
    error: Option<Error>,
    /// The batch being filled for a streaming sink.
    batch: Option<Batch>,
}

async fn read_response(
    shared: &Shared,
    io: &mut Io,
    sink: &mut Sink,
    cancel: &tokio_util::sync::CancellationToken,
    st: &mut Reading,
) -> Result<Outcome, Error> {
    let mut attention_deadline: Option<Instant> = None;
    loop {
        while let Some(ev) = io.dec.next_event()? {
            let draining = attention_deadline.is_some();
            match ev {
                Event::Row(row) => {
                    if draining {
                        continue;
                    }
                    match sink {
                        Sink::Collect {
                            discard_rows: false,
                            ..
                        } => {
                            if let Some(set) = st.resp.result_sets.last_mut() {
                                set.rows.push(row);
                            }
                        }
                        Sink::Stream { batches, prefetch } => {
                            let Some(b) = st.batch.as_mut() else { continue };
                            b.rows.push(row);
                            if b.rows.len() >= *prefetch {
                                let columns = b.columns.clone();
                                let full = st.batch.replace(Batch {
                                    columns,
                                    rows: Vec::with_capacity(*prefetch),
                                    done: false,
                                });
                                let Some(full) = full else { continue };
                                // Waiting here stops reading the socket: memory stays bounded.
                                let delivered = tokio::select! {
                                    r = batches.send(Ok(full)) => r.is_ok(),
                                    _ = cancel.cancelled() => false,
                                };
                                if !delivered {
                                    attention_deadline = Some(send_attention(shared, io).await?);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                Event::Token(t) => {
                    if let Some(outcome) = on_token(shared, io, sink, st, t, draining).await? {
                        return Ok(outcome);
                    }
                }
            }
        }
        let abandoned = async {
            tokio::select! {
                _ = cancel.cancelled() => {},
                _ = sink.abandoned() => {},
            }
        };
        let ack_deadline = async {
            match attention_deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        enum Wake {
            Read(std::io::Result<usize>),
            Abandoned,
            NoAck,
        }
        let wake = tokio::select! {
            biased;
            r = io.stream.read_buf(io.dec.read_buf()) => Wake::Read(r),
            _ = abandoned, if attention_deadline.is_none() => Wake::Abandoned,
            _ = ack_deadline => Wake::NoAck,
        };
        match wake {
            Wake::Read(Ok(0)) => {
                return Err(Error::connection_lost("the server closed the connection"))
            }
            Wake::Read(Ok(_)) => {}
            Wake::Read(Err(e)) => {
                return Err(Error::connection_lost(format!("connection lost: {e}")))
            }
            Wake::Abandoned => attention_deadline = Some(send_attention(shared, io).await?),
            Wake::NoAck => {
                return Err(Error::connection_lost(format!(
                    "the server did not acknowledge the cancellation within {:.1}s; the \
                     connection was closed",
                    shared.cancel_timeout.as_secs_f64()
                )));
            }
        }
    }
}

/// Sends ATTENTION; returns when the acknowledgement is due at the latest.
async fn send_attention(shared: &Shared, io: &mut Io) -> Result<Instant, Error> {
    let mut out = BytesMut::with_capacity(8);
    frame_message(kind::ATTENTION, 0, &[], io.packet_size, &mut out);
    io.stream.write_all(&out).await?;
    io.stream.flush().await?;
    Ok(Instant::now() + shared.cancel_timeout)
}

async fn on_token(
    shared: &Shared,
    io: &mut Io,
    sink: &mut Sink,
    st: &mut Reading,
    t: Token,
    draining: bool,
) -> Result<Option<Outcome>, Error> {
    let top_level = !matches!(t, Token::DoneInProc(_));
    match t {
        Token::ColMetadata(Some(columns)) if !draining => match sink {
            Sink::Stream { batches, .. } => {
                // A new result set: hand over what the previous one left.
                if let Some(prev) = st.batch.take() {
                    if !prev.rows.is_empty() {
                        let _ = batches.send(Ok(prev)).await;
                    }
                }
                st.batch = Some(Batch {
                    columns,
                    rows: Vec::new(),
                    done: false,
                });
            }
            _ => st.resp.result_sets.push(ResultSet {
                columns,
                rows: Vec::new(),
                row_count: None,
            }),
        },
        Token::Done(d) | Token::DoneProc(d) | Token::DoneInProc(d) => {
            if draining {
                if d.is_attention_ack() {
                    return Ok(Some(Outcome::Cancelled));
                }
                return Ok(None);
            }
            if let Some(count) = d.count() {
                st.resp.status = status_text(d.cur_cmd, Some(count));
                st.resp.rows_affected = Some(count);
                if let Some(set) = st.resp.result_sets.last_mut() {
                    if set.row_count.is_none() && d.cur_cmd == 0xC1 {
                        set.row_count = Some(count);
                    }
                }
            } else if st.resp.status.is_empty() {
                st.resp.status = status_text(d.cur_cmd, None);
            }
            if top_level && !d.has_more() {
                return Ok(Some(Outcome::Finished));
            }
        }
        Token::Error(m) if st.error.is_none() => st.error = Some(errors::from_message(&m)),
        Token::Error(_) => {}
        Token::Info(m) => st.resp.messages.push(m),
        Token::EnvChange(ec) => apply_envchange(shared, io, ec),
        Token::ReturnStatus(s) => st.resp.return_status = Some(s),
        Token::ReturnValue(rv) => st.resp.return_values.push(rv),
        _ => {}
    }
    Ok(None)
}

pub(crate) fn apply_envchange(shared: &Shared, io: &mut Io, ec: EnvChange) {
    match ec {
        EnvChange::BeginTransaction(d) => shared.set_descriptor(d),
        EnvChange::CommitTransaction
        | EnvChange::RollbackTransaction
        | EnvChange::TransactionEnded
        | EnvChange::ResetAck => shared.set_descriptor([0; 8]),
        EnvChange::PacketSize(n) => io.packet_size = n,
        EnvChange::Database(db) => *shared.database.lock() = db,
        _ => {}
    }
}
