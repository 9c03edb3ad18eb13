//! Request encoding, sans IO: every request is one frame (a MessagePack uint32 length, the
//! header map, the body map). Tuples, keys, operations and arguments arrive already encoded
//! as MessagePack arrays, so callers can encode straight from their own values.

use crate::consts::{hdr, key, req, Iterator};
use crate::encode::MpWriter;

/// Header fields of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Header {
    pub sync: u64,
    /// Sent with requests that depend on the client's schema (space and index ids): the
    /// server refuses them with ER_WRONG_SCHEMA_VERSION when its schema moved on.
    pub schema_version: Option<u64>,
    /// A stream (Tarantool 2.10+): requests of one stream run in order, in one transaction.
    pub stream_id: Option<u64>,
}

/// One request. Byte slices are complete MessagePack values (arrays).
#[derive(Debug, Clone, PartialEq)]
pub enum Request<'a> {
    Ping,
    Auth {
        user: &'a str,
        scramble: &'a [u8],
    },
    Id {
        version: u64,
        features: &'a [u64],
    },
    Select {
        space: u32,
        index: u32,
        limit: u32,
        offset: u32,
        iterator: Iterator,
        key: &'a [u8],
    },
    Insert {
        space: u32,
        tuple: &'a [u8],
    },
    Replace {
        space: u32,
        tuple: &'a [u8],
    },
    Update {
        space: u32,
        index: u32,
        key: &'a [u8],
        ops: &'a [u8],
    },
    Upsert {
        space: u32,
        tuple: &'a [u8],
        ops: &'a [u8],
    },
    Delete {
        space: u32,
        index: u32,
        key: &'a [u8],
    },
    Call {
        function: &'a str,
        args: &'a [u8],
    },
    Eval {
        expr: &'a str,
        args: &'a [u8],
    },
    Execute {
        sql: &'a str,
        bind: &'a [u8],
    },
    ExecutePrepared {
        stmt_id: u64,
        bind: &'a [u8],
    },
    Prepare {
        sql: &'a str,
    },
    Unprepare {
        stmt_id: u64,
    },
    Begin {
        timeout: Option<f64>,
        isolation: Option<u32>,
    },
    Commit,
    Rollback,
    Watch {
        key: &'a str,
    },
    Unwatch {
        key: &'a str,
    },
}

impl Request<'_> {
    pub fn type_code(&self) -> u32 {
        match self {
            Request::Ping => req::PING,
            Request::Auth { .. } => req::AUTH,
            Request::Id { .. } => req::ID,
            Request::Select { .. } => req::SELECT,
            Request::Insert { .. } => req::INSERT,
            Request::Replace { .. } => req::REPLACE,
            Request::Update { .. } => req::UPDATE,
            Request::Upsert { .. } => req::UPSERT,
            Request::Delete { .. } => req::DELETE,
            Request::Call { .. } => req::CALL,
            Request::Eval { .. } => req::EVAL,
            Request::Execute { .. } | Request::ExecutePrepared { .. } => req::EXECUTE,
            Request::Prepare { .. } | Request::Unprepare { .. } => req::PREPARE,
            Request::Begin { .. } => req::BEGIN,
            Request::Commit => req::COMMIT,
            Request::Rollback => req::ROLLBACK,
            Request::Watch { .. } => req::WATCH,
            Request::Unwatch { .. } => req::UNWATCH,
        }
    }

    /// Whether the server answers it (watch requests are answered by events instead).
    pub fn expects_reply(&self) -> bool {
        !matches!(self, Request::Watch { .. } | Request::Unwatch { .. })
    }

    /// Appends the whole frame to `out`.
    pub fn encode(&self, h: &Header, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0xce, 0, 0, 0, 0]);
        let mut w = MpWriter(out);
        let fields = 2 + u32::from(h.schema_version.is_some()) + u32::from(h.stream_id.is_some());
        w.map(fields);
        w.uint(u64::from(hdr::REQUEST_TYPE));
        w.uint(u64::from(self.type_code()));
        w.uint(u64::from(hdr::SYNC));
        w.uint(h.sync);
        if let Some(v) = h.schema_version {
            w.uint(u64::from(hdr::SCHEMA_VERSION));
            w.uint(v);
        }
        if let Some(s) = h.stream_id {
            w.uint(u64::from(hdr::STREAM_ID));
            w.uint(s);
        }
        self.encode_body(&mut w);
        let len = (out.len() - start - 5) as u32;
        out[start + 1..start + 5].copy_from_slice(&len.to_be_bytes());
    }

    fn encode_body(&self, w: &mut MpWriter<'_>) {
        let k = |w: &mut MpWriter<'_>, key: u8| w.uint(u64::from(key));
        match *self {
            Request::Ping | Request::Commit | Request::Rollback => w.map(0),
            Request::Auth { user, scramble } => {
                w.map(2);
                k(w, key::USER_NAME);
                w.str(user);
                k(w, key::TUPLE);
                w.array(2);
                w.str("chap-sha1");
                w.str_bytes(scramble);
            }
            Request::Id { version, features } => {
                w.map(2);
                k(w, key::VERSION);
                w.uint(version);
                k(w, key::FEATURES);
                w.array(features.len() as u32);
                for f in features {
                    w.uint(*f);
                }
            }
            Request::Select {
                space,
                index,
                limit,
                offset,
                iterator,
                key,
            } => {
                w.map(6);
                k(w, key::SPACE_ID);
                w.uint(u64::from(space));
                k(w, key::INDEX_ID);
                w.uint(u64::from(index));
                k(w, key::LIMIT);
                w.uint(u64::from(limit));
                k(w, key::OFFSET);
                w.uint(u64::from(offset));
                k(w, key::ITERATOR);
                w.uint(iterator as u64);
                k(w, key::KEY);
                w.raw(key);
            }
            Request::Insert { space, tuple } | Request::Replace { space, tuple } => {
                w.map(2);
                k(w, key::SPACE_ID);
                w.uint(u64::from(space));
                k(w, key::TUPLE);
                w.raw(tuple);
            }
            Request::Update {
                space,
                index,
                key,
                ops,
            } => {
                w.map(4);
                k(w, key::SPACE_ID);
                w.uint(u64::from(space));
                k(w, key::INDEX_ID);
                w.uint(u64::from(index));
                k(w, key::KEY);
                w.raw(key);
                k(w, key::TUPLE);
                w.raw(ops);
            }
            Request::Upsert { space, tuple, ops } => {
                w.map(3);
                k(w, key::SPACE_ID);
                w.uint(u64::from(space));
                k(w, key::TUPLE);
                w.raw(tuple);
                k(w, key::OPS);
                w.raw(ops);
            }
            Request::Delete { space, index, key } => {
                w.map(3);
                k(w, key::SPACE_ID);
                w.uint(u64::from(space));
                k(w, key::INDEX_ID);
                w.uint(u64::from(index));
                k(w, key::KEY);
                w.raw(key);
            }
            Request::Call { function, args } => {
                w.map(2);
                k(w, key::FUNCTION_NAME);
                w.str(function);
                k(w, key::TUPLE);
                w.raw(args);
            }
            Request::Eval { expr, args } => {
                w.map(2);
                k(w, key::EXPR);
                w.str(expr);
                k(w, key::TUPLE);
                w.raw(args);
            }
            Request::Execute { sql, bind } => {
                w.map(2);
                k(w, key::SQL_TEXT);
                w.str(sql);
                k(w, key::SQL_BIND);
                w.raw(bind);
            }
            Request::ExecutePrepared { stmt_id, bind } => {
                w.map(2);
                k(w, key::STMT_ID);
                w.uint(stmt_id);
                k(w, key::SQL_BIND);
                w.raw(bind);
            }
            Request::Prepare { sql } => {
                w.map(1);
                k(w, key::SQL_TEXT);
                w.str(sql);
            }
            Request::Unprepare { stmt_id } => {
                // A PREPARE without SQL text drops the statement.
                w.map(1);
                k(w, key::STMT_ID);
                w.uint(stmt_id);
            }
            Request::Begin { timeout, isolation } => {
                w.map(u32::from(timeout.is_some()) + u32::from(isolation.is_some()));
                if let Some(t) = timeout {
                    k(w, key::TIMEOUT);
                    w.f64(t);
                }
                if let Some(i) = isolation {
                    k(w, key::TXN_ISOLATION);
                    w.uint(u64::from(i));
                }
            }
            Request::Watch { key } | Request::Unwatch { key } => {
                w.map(1);
                k(w, key::EVENT_KEY);
                w.str(key);
            }
        }
    }
}

/// Transaction isolation levels of IPROTO_BEGIN (2.10+).
pub fn isolation_code(name: &str) -> Option<u32> {
    Some(match name {
        "default" => 0,
        "read_committed" => 1,
        "read_confirmed" => 2,
        "best_effort" => 3,
        _ => return None,
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
