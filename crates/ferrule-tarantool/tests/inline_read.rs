//! Replies read on the caller's thread (`InlineReader`) against a fake server: reading goes
//! to the caller after a few lone requests, back to the reader task when requests overlap,
//! each answer reaches the request with its sync id, and the end of the connection is seen.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferrule_core::runtime::runtime;
use ferrule_core::{Error, ErrorKind};
use ferrule_tarantool::encode::MpWriter;
use ferrule_tarantool::mp::MpReader;
use ferrule_tarantool::response::frame_length;
use ferrule_tarantool::{
    CallCtl, Endpoint, InlineRead, InlineReader, LoopRead, Request, Response, Sent, TntConfig,
    TntConnection,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn greeting() -> Vec<u8> {
    let mut g = format!(
        "{:<63}\n",
        "Tarantool 2.6.0 (Binary) 00000000-0000-0000-0000-000000000000"
    )
    .into_bytes();
    g.extend(format!("{:<63}\n", "UIM++KN1GZ5slVLXwqrRPe5T+Sd8hPsYdSBMk6VqYoM=").into_bytes());
    g
}

/// An empty OK answer to `sync`.
fn ok(sync: u64) -> Vec<u8> {
    let mut payload = Vec::new();
    let mut w = MpWriter(&mut payload);
    w.map(2);
    w.uint(0x00);
    w.uint(0);
    w.uint(0x01);
    w.uint(sync);
    w.map(0);
    let mut frame = vec![0xce];
    frame.extend((payload.len() as u32).to_be_bytes());
    frame.extend(payload);
    frame
}

/// The request type and sync id of a request frame.
fn header_of(frame: &[u8]) -> (u64, u64) {
    let mut r = MpReader::new(frame);
    let (mut kind, mut sync) = (0, 0);
    for _ in 0..r.read_map_len().unwrap() {
        match r.read_u64().unwrap() {
            0x00 => kind = r.read_u64().unwrap(),
            0x01 => sync = r.read_u64().unwrap(),
            _ => r.skip().unwrap(),
        }
    }
    (kind, sync)
}

/// Greets, then answers every request, except an EVAL: on that one it hangs up.
async fn serve(mut s: TcpStream) {
    s.write_all(&greeting()).await.unwrap();
    let mut buf = Vec::new();
    loop {
        while let Some((prefix, len)) = frame_length(&buf).unwrap() {
            if buf.len() < prefix + len {
                break;
            }
            let (kind, sync) = header_of(&buf[prefix..prefix + len]);
            buf.drain(..prefix + len);
            if kind == 0x08 {
                return;
            }
            s.write_all(&ok(sync)).await.unwrap();
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn connect() -> TntConnection {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            serve(s).await;
        });
        let cfg = TntConfig {
            endpoint: Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port,
            },
            fetch_schema: false,
            reconnect: false,
            ..TntConfig::default()
        };
        TntConnection::connect(cfg).await.unwrap()
    })
}

type Replies = mpsc::Receiver<Result<Response, Error>>;

fn send(conn: &TntConnection, r: &Request<'_>) -> (Sent, Replies) {
    let (tx, rx) = mpsc::channel();
    let sent = conn.send_now(r, &CallCtl::default(), true, move |r| {
        let _ = tx.send(r);
    });
    (sent.ok().expect("a session is up"), rx)
}

fn ping(conn: &TntConnection) -> (Sent, Replies) {
    send(conn, &Request::Ping)
}

/// Reads on this thread until `rx` has its answer.
fn read_until(reader: &InlineReader, rx: &Replies) -> Result<Response, Error> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(r) = rx.try_recv() {
            return r;
        }
        assert!(Instant::now() < deadline, "no answer read");
        assert_ne!(reader.read(), InlineRead::Released);
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn inline(sent: Sent) -> InlineReader {
    match sent {
        Sent::Inline(reader) => reader,
        Sent::ByTask => panic!("the reply should be read on this thread"),
    }
}

/// Pings until reading is this thread's: after a few lone requests, once the reader task no
/// longer holds the buffer.
fn settle(conn: &TntConnection) {
    for _ in 0..100 {
        match ping(conn) {
            (Sent::Inline(reader), rx) => {
                read_until(&reader, &rx).unwrap();
                return;
            }
            (Sent::ByTask, rx) => {
                rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
                // The answer was handed over while the task still holds the buffer.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    panic!("reading never went to this thread");
}

#[test]
fn lone_requests_are_read_by_the_caller_and_overlapping_ones_by_the_task() {
    let conn = connect();
    settle(&conn);
    for _ in 0..3 {
        let (sent, rx) = ping(&conn);
        let reader = inline(sent);
        assert_eq!(read_until(&reader, &rx).unwrap().code, 0);
    }
    let (first, rx1) = ping(&conn);
    let reader = inline(first);
    let (second, rx2) = ping(&conn);
    assert!(matches!(second, Sent::ByTask));
    // Both answers come from the reader task, unread by this thread.
    let a = rx1.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    let b = rx2.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(b.sync, a.sync + 1);
    // The task may still hold the buffer a moment after its last dispatch.
    let mut read = reader.read();
    while read == InlineRead::Busy {
        read = reader.read();
    }
    assert_eq!(read, InlineRead::Released);
    // A lone request right after overlapping ones is still the task's.
    let (sent, rx) = ping(&conn);
    assert!(matches!(sent, Sent::ByTask));
    rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    settle(&conn);
}

#[test]
fn the_caller_sees_the_end_of_the_connection() {
    let conn = connect();
    settle(&conn);
    let (sent, rx) = send(
        &conn,
        &Request::Eval {
            expr: "hang up",
            args: &[0x90],
        },
    );
    let reader = inline(sent);
    let deadline = Instant::now() + Duration::from_secs(5);
    while reader.read() != InlineRead::Ended {
        assert!(Instant::now() < deadline, "the end was not seen");
        std::thread::sleep(Duration::from_millis(1));
    }
    let err = rx
        .recv_timeout(Duration::from_secs(1))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::ConnectionLost);
    assert!(err.message.contains("not re-sent"), "{}", err.message);
}
