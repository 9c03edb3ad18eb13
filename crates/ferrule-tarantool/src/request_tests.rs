//! Golden bytes of every request, checked by hand against the IPROTO specification.

use super::*;

fn frame(r: &Request<'_>, h: Header) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode(&h, &mut out);
    out
}

fn sync(n: u64) -> Header {
    Header {
        sync: n,
        ..Header::default()
    }
}

/// Length prefix + header {0: type, 1: sync} for small types and syncs.
fn head(body_len: usize, ty: u8, sync: u8) -> Vec<u8> {
    let len = (5 + body_len) as u32;
    let mut v = vec![0xce];
    v.extend(len.to_be_bytes());
    v.extend([0x82, 0x00, ty, 0x01, sync]);
    v
}

fn with_body(ty: u8, sync: u8, body: &[u8]) -> Vec<u8> {
    let mut v = head(body.len(), ty, sync);
    v.extend_from_slice(body);
    v
}

#[test]
fn ping() {
    assert_eq!(
        frame(&Request::Ping, sync(1)),
        [0xce, 0, 0, 0, 6, 0x82, 0, 0x40, 1, 1, 0x80]
    );
}

#[test]
fn header_with_schema_version_and_stream() {
    let h = Header {
        sync: 300,
        schema_version: Some(80),
        stream_id: Some(7),
    };
    let want = [
        0xce, 0, 0, 0, 12, 0x84, 0x00, 0x40, 0x01, 0xcd, 0x01, 0x2c, 0x05, 0x50, 0x0a, 0x07, 0x80,
    ];
    assert_eq!(frame(&Request::Ping, h), want);
}

#[test]
fn auth() {
    let scramble = [0xaa; 20];
    let mut body = vec![0x82, 0x23, 0xa3, b'b', b'o', b'b', 0x21, 0x92, 0xa9];
    body.extend(b"chap-sha1");
    body.extend([0xb4]);
    body.extend([0xaa; 20]);
    assert_eq!(
        frame(
            &Request::Auth {
                user: "bob",
                scramble: &scramble
            },
            sync(2)
        ),
        with_body(0x07, 2, &body)
    );
}

#[test]
fn id() {
    let r = Request::Id {
        version: 3,
        features: &[0, 1, 2, 3],
    };
    assert_eq!(
        frame(&r, sync(3)),
        with_body(0x49, 3, &[0x82, 0x54, 3, 0x55, 0x94, 0, 1, 2, 3])
    );
}

#[test]
fn select() {
    let r = Request::Select {
        space: 512,
        index: 1,
        limit: 10,
        offset: 5,
        iterator: Iterator::Ge,
        key: &[0x91, 0x07],
    };
    let body = [
        0x86, 0x10, 0xcd, 0x02, 0x00, 0x11, 1, 0x12, 10, 0x13, 5, 0x14, 5, 0x20, 0x91, 0x07,
    ];
    assert_eq!(frame(&r, sync(4)), with_body(0x01, 4, &body));
}

#[test]
fn insert_and_replace() {
    let t = [0x92, 0x01, 0xa1, b'a'];
    let body = [0x82, 0x10, 0xcd, 0x02, 0x00, 0x21, 0x92, 0x01, 0xa1, b'a'];
    assert_eq!(
        frame(
            &Request::Insert {
                space: 512,
                tuple: &t
            },
            sync(5)
        ),
        with_body(0x02, 5, &body)
    );
    assert_eq!(
        frame(
            &Request::Replace {
                space: 512,
                tuple: &t
            },
            sync(5)
        ),
        with_body(0x03, 5, &body)
    );
}

#[test]
fn update_upsert_delete() {
    let key = [0x91, 0x01];
    let ops = [0x91, 0x93, 0xa1, b'=', 0x01, 0xa1, b'x'];
    let mut body = vec![
        0x84, 0x10, 0xcd, 0x02, 0x00, 0x11, 0x00, 0x20, 0x91, 0x01, 0x21,
    ];
    body.extend(ops);
    assert_eq!(
        frame(
            &Request::Update {
                space: 512,
                index: 0,
                key: &key,
                ops: &ops
            },
            sync(6)
        ),
        with_body(0x04, 6, &body)
    );

    let mut body = vec![0x83, 0x10, 0xcd, 0x02, 0x00, 0x21, 0x91, 0x01, 0x28];
    body.extend(ops);
    assert_eq!(
        frame(
            &Request::Upsert {
                space: 512,
                tuple: &key,
                ops: &ops
            },
            sync(7)
        ),
        with_body(0x09, 7, &body)
    );

    let body = [0x83, 0x10, 0xcd, 0x02, 0x00, 0x11, 0x00, 0x20, 0x91, 0x01];
    assert_eq!(
        frame(
            &Request::Delete {
                space: 512,
                index: 0,
                key: &key
            },
            sync(8)
        ),
        with_body(0x05, 8, &body)
    );
}

#[test]
fn call_and_eval() {
    let args = [0x91, 0x2a];
    let body = [0x82, 0x22, 0xa1, b'f', 0x21, 0x91, 0x2a];
    assert_eq!(
        frame(
            &Request::Call {
                function: "f",
                args: &args
            },
            sync(9)
        ),
        with_body(0x0a, 9, &body)
    );
    let body = [
        0x82, 0x27, 0xa8, b'r', b'e', b't', b'u', b'r', b'n', b' ', b'1', 0x21, 0x91, 0x2a,
    ];
    assert_eq!(
        frame(
            &Request::Eval {
                expr: "return 1",
                args: &args
            },
            sync(10)
        ),
        with_body(0x08, 10, &body)
    );
}

#[test]
fn sql() {
    let bind = [0x92, 0x01, 0x81, 0xa2, b':', b'a', 0x02];
    let mut body = vec![0x82, 0x40, 0xa8];
    body.extend(b"SELECT ?");
    body.push(0x41);
    body.extend(bind);
    assert_eq!(
        frame(
            &Request::Execute {
                sql: "SELECT ?",
                bind: &bind
            },
            sync(11)
        ),
        with_body(0x0b, 11, &body)
    );

    let mut body = vec![0x82, 0x43, 0xce, 0x12, 0x34, 0x56, 0x78, 0x41];
    body.extend(bind);
    assert_eq!(
        frame(
            &Request::ExecutePrepared {
                stmt_id: 0x1234_5678,
                bind: &bind
            },
            sync(12)
        ),
        with_body(0x0b, 12, &body)
    );

    let mut body = vec![0x81, 0x40, 0xa8];
    body.extend(b"SELECT ?");
    assert_eq!(
        frame(&Request::Prepare { sql: "SELECT ?" }, sync(13)),
        with_body(0x0d, 13, &body)
    );
    assert_eq!(
        frame(&Request::Unprepare { stmt_id: 5 }, sync(14)),
        with_body(0x0d, 14, &[0x81, 0x43, 0x05])
    );
}

#[test]
fn transactions() {
    assert_eq!(
        frame(
            &Request::Begin {
                timeout: None,
                isolation: None
            },
            sync(1)
        ),
        with_body(0x0e, 1, &[0x80])
    );
    let body = [0x82, 0x56, 0xcb, 0x40, 0x24, 0, 0, 0, 0, 0, 0, 0x59, 0x01];
    let r = Request::Begin {
        timeout: Some(10.0),
        isolation: isolation_code("read_committed"),
    };
    assert_eq!(frame(&r, sync(1)), with_body(0x0e, 1, &body));
    assert_eq!(
        frame(&Request::Commit, sync(2)),
        with_body(0x0f, 2, &[0x80])
    );
    assert_eq!(
        frame(&Request::Rollback, sync(3)),
        with_body(0x10, 3, &[0x80])
    );
}

#[test]
fn watchers() {
    let body = [0x81, 0x57, 0xa3, b'k', b'e', b'y'];
    assert_eq!(
        frame(&Request::Watch { key: "key" }, sync(1)),
        with_body(0x4a, 1, &body)
    );
    assert_eq!(
        frame(&Request::Unwatch { key: "key" }, sync(1)),
        with_body(0x4b, 1, &body)
    );
    assert!(!Request::Watch { key: "key" }.expects_reply());
}
