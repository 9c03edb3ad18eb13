//! The connection without Python: jobs in order, the inline path, timeouts, cancellation,
//! busy waits, close.

use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use ferrule_core::{ErrorKind, Result, Value};
use ferrule_sqlite::{CallCtl, CellRef, Keep, QueryResult, SqliteConfig, SqliteConnection};
use tokio_util::sync::CancellationToken;

const ENDLESS: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                       SELECT count(*) FROM c WHERE x < 0";

fn reply<T: Send + 'static>() -> (ferrule_sqlite::Reply<T>, Receiver<Result<T>>) {
    let (tx, rx) = channel();
    (
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
        rx,
    )
}

fn open(cfg: SqliteConfig) -> SqliteConnection {
    let (r, rx) = reply();
    SqliteConnection::open(cfg, r);
    rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap()
}

fn query(
    conn: &SqliteConnection,
    sql: &str,
    args: Vec<Value>,
    ctl: CallCtl,
) -> Result<QueryResult> {
    let (r, rx) = reply();
    conn.query(sql.into(), args, Keep::All, ctl, r);
    rx.recv_timeout(Duration::from_secs(20)).unwrap()
}

fn temp_path(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("ferrule-sqlite-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("t.db").to_string_lossy().into_owned()
}

#[test]
fn jobs_run_in_order_and_return_rows() {
    let conn = open(SqliteConfig::default());
    let ctl = CallCtl::default;
    query(
        &conn,
        "CREATE TABLE t (i INTEGER, s TEXT, b BLOB, r REAL)",
        vec![],
        ctl(),
    )
    .unwrap();
    let (r, rx) = reply();
    let rows: Vec<Vec<Value>> = (0..100)
        .map(|i| {
            vec![
                Value::Int(i),
                Value::Text(format!("s{i}")),
                Value::Bytes(vec![1]),
                Value::Null,
            ]
        })
        .collect();
    conn.execute_many("INSERT INTO t VALUES (?, ?, ?, ?)".into(), rows, ctl(), r);
    assert_eq!(rx.recv().unwrap().unwrap(), 100);
    let res = query(
        &conn,
        "SELECT i, s, b, r FROM t WHERE i >= ?",
        vec![Value::Int(98)],
        ctl(),
    )
    .unwrap();
    assert_eq!(res.rows.len(), 2);
    assert_eq!(res.rows.get(1, 0), CellRef::Int(99));
    assert_eq!(res.rows.get(1, 1), CellRef::Text(b"s99"));
    assert_eq!(res.rows.get(1, 2), CellRef::Blob(&[1]));
    assert_eq!(res.rows.get(1, 3), CellRef::Null);
    assert_eq!(res.status(), "SELECT 2");
}

#[test]
fn short_statements_run_inline_once_known() {
    let conn = open(SqliteConfig::default());
    // Unknown statement: not inline.
    assert!(conn
        .query_inline("SELECT ?", &[Value::Int(1)], Keep::First)
        .is_none());
    query(&conn, "SELECT ?", vec![Value::Int(1)], CallCtl::default()).unwrap();
    let res = conn
        .query_inline("SELECT ?", &[Value::Int(7)], Keep::First)
        .expect("a known short statement runs inline")
        .unwrap();
    assert_eq!(res.rows.get(0, 0), CellRef::Int(7));
    // A long read is stopped inline and handed back to the caller to queue.
    let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) \
                SELECT count(*) FROM c";
    query(&conn, slow, vec![Value::Int(1)], CallCtl::default()).unwrap();
    let started = Instant::now();
    assert!(conn
        .query_inline(slow, &[Value::Int(50_000_000)], Keep::First)
        .is_none());
    assert!(started.elapsed() < Duration::from_millis(100));
}

#[test]
fn timeout_and_cancellation_interrupt() {
    let conn = open(SqliteConfig::default());
    let started = Instant::now();
    let err = query(
        &conn,
        ENDLESS,
        vec![],
        CallCtl::new(Some(Duration::from_millis(100)), None),
    )
    .err()
    .unwrap();
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_millis(500));
    let token = CancellationToken::new();
    let (r, rx) = reply();
    conn.query(
        ENDLESS.into(),
        vec![],
        Keep::All,
        CallCtl::new(None, Some(token.clone())),
        r,
    );
    std::thread::sleep(Duration::from_millis(50));
    token.cancel();
    let err = rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Cancelled);
    assert!(query(&conn, "SELECT 1", vec![], CallCtl::default()).is_ok());
}

#[test]
fn busy_timeout_is_honoured() {
    let path = temp_path("busy");
    let cfg = |busy| SqliteConfig {
        path: path.clone(),
        busy_timeout: busy,
        ..SqliteConfig::default()
    };
    let holder = open(cfg(Duration::from_secs(5)));
    let waiter = open(cfg(Duration::from_millis(200)));
    query(
        &holder,
        "CREATE TABLE t (i INTEGER)",
        vec![],
        CallCtl::default(),
    )
    .unwrap();
    query(&holder, "BEGIN IMMEDIATE", vec![], CallCtl::default()).unwrap();
    let started = Instant::now();
    let err = query(
        &waiter,
        "INSERT INTO t VALUES (1)",
        vec![],
        CallCtl::default(),
    )
    .err()
    .unwrap();
    let waited = started.elapsed();
    assert_eq!(err.code.as_deref(), Some("SQLITE_BUSY"));
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[test]
fn close_answers_queued_jobs_and_then_refuses() {
    let conn = open(SqliteConfig::default());
    let (r, rx) = reply();
    conn.query("SELECT 1".into(), vec![], Keep::All, CallCtl::default(), r);
    let (c, closed) = reply();
    conn.close(c);
    assert!(rx.recv().unwrap().is_ok());
    closed.recv().unwrap().unwrap();
    assert!(conn.is_closed());
    let err = query(&conn, "SELECT 1", vec![], CallCtl::default())
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Closed);
}
