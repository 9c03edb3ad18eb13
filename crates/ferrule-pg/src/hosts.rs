//! Multi-host connecting as libpq does it: hosts in order (or shuffled with
//! `load_balance_hosts=random`), each session checked against `target_session_attrs`, from
//! the ParameterStatus values a PostgreSQL 14+ server reports (`in_hot_standby`,
//! `default_transaction_read_only`) or else with one query.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use bytes::BytesMut;
use ferrule_core::{Error, ErrorKind};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::AsyncWriteExt;

use crate::config::TargetSessionAttrs;
use crate::connect::{read_message, Established};
use crate::errors;

/// Shuffles `items` in place (Fisher-Yates) with the standard library's per-process random
/// hashing keys as the source: spreading load needs no cryptographic randomness.
pub fn shuffle<T>(items: &mut [T]) {
    let state = RandomState::new();
    for i in (1..items.len()).rev() {
        let mut h = state.build_hasher();
        h.write_usize(i);
        let j = (h.finish() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// What a session is, as far as `target_session_attrs` cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionKind {
    pub read_only: bool,
    pub standby: bool,
}

impl TargetSessionAttrs {
    pub fn parse(s: &str) -> Option<TargetSessionAttrs> {
        Some(match s {
            "any" => TargetSessionAttrs::Any,
            "read-write" => TargetSessionAttrs::ReadWrite,
            "read-only" => TargetSessionAttrs::ReadOnly,
            "primary" => TargetSessionAttrs::Primary,
            "standby" => TargetSessionAttrs::Standby,
            "prefer-standby" => TargetSessionAttrs::PreferStandby,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
            TargetSessionAttrs::Primary => "primary",
            TargetSessionAttrs::Standby => "standby",
            TargetSessionAttrs::PreferStandby => "prefer-standby",
        }
    }

    /// Whether a session of `kind` is acceptable (prefer-standby's first pass wants a
    /// standby; its second pass is `Any`).
    pub fn accepts(self, kind: SessionKind) -> bool {
        match self {
            TargetSessionAttrs::Any => true,
            TargetSessionAttrs::ReadWrite => !kind.read_only,
            TargetSessionAttrs::ReadOnly => kind.read_only,
            TargetSessionAttrs::Primary => !kind.standby,
            TargetSessionAttrs::Standby | TargetSessionAttrs::PreferStandby => kind.standby,
        }
    }

    fn needs_read_only(self) -> bool {
        matches!(
            self,
            TargetSessionAttrs::ReadWrite | TargetSessionAttrs::ReadOnly
        )
    }
}

fn param<'a>(est: &'a Established, name: &str) -> Option<&'a str> {
    est.server_params
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Classifies the session: from ParameterStatus when the server reports it, else by query
/// (`SHOW transaction_read_only` for read-write/read-only, `pg_is_in_recovery()` for
/// primary/standby), as libpq does.
pub async fn session_kind(
    est: &mut Established,
    attrs: TargetSessionAttrs,
) -> Result<SessionKind, Error> {
    let hot_standby = param(est, "in_hot_standby").map(|v| v == "on");
    let default_ro = param(est, "default_transaction_read_only").map(|v| v == "on");
    if let (Some(standby), Some(ro)) = (hot_standby, default_ro) {
        return Ok(SessionKind {
            read_only: ro || standby,
            standby,
        });
    }
    if attrs.needs_read_only() {
        let ro = query_one(est, "SHOW transaction_read_only").await? == "on";
        Ok(SessionKind {
            read_only: ro,
            standby: ro,
        })
    } else {
        let standby = query_one(est, "SELECT pg_catalog.pg_is_in_recovery()").await? == "t";
        Ok(SessionKind {
            read_only: standby,
            standby,
        })
    }
}

/// Runs `sql` (fixed text, no values) on a fresh session; returns the first column of the
/// first row.
async fn query_one(est: &mut Established, sql: &str) -> Result<String, Error> {
    let mut out = BytesMut::with_capacity(64);
    frontend::query(sql, &mut out).map_err(|e| Error::interface(e.to_string()))?;
    est.stream.write_all(&out).await?;
    let mut value: Option<String> = None;
    let mut failure: Option<Error> = None;
    loop {
        match read_message(&mut est.stream, &mut est.read_buf).await? {
            Message::DataRow(row) => {
                if value.is_none() {
                    let buf = row.buffer();
                    let len = buf
                        .get(..4)
                        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(-1);
                    if len >= 0 {
                        let cell = buf.get(4..4 + len as usize).unwrap_or_default();
                        value = Some(String::from_utf8_lossy(cell).into_owned());
                    }
                }
            }
            Message::ErrorResponse(body) => failure = Some(errors::from_fields(body.fields())),
            Message::ParameterStatus(body) => {
                let name = body.name().map_err(|e| Error::protocol(e.to_string()))?;
                let v = body.value().map_err(|e| Error::protocol(e.to_string()))?;
                est.server_params.push((name.to_owned(), v.to_owned()));
            }
            Message::ReadyForQuery(body) => {
                est.tx_status = body.status();
                return match failure {
                    Some(e) => Err(e),
                    None => value.ok_or_else(|| Error::protocol(format!("{sql} returned no row"))),
                };
            }
            Message::RowDescription(_)
            | Message::CommandComplete(_)
            | Message::NoticeResponse(_)
            | Message::EmptyQueryResponse => {}
            _ => return Err(Error::protocol("unexpected message checking the session")),
        }
    }
}

/// Ends a session that does not match; its socket is dropped right after.
pub async fn reject(mut est: Established) {
    let mut out = BytesMut::with_capacity(8);
    frontend::terminate(&mut out);
    let _ = est.stream.write_all(&out).await;
    let _ = est.stream.shutdown().await;
}

/// The error when no host gave a matching session: every attempt, in order.
pub fn no_match(attrs: TargetSessionAttrs, attempts: &[String]) -> Error {
    Error::new(
        ErrorKind::ConnectionFailure,
        format!(
            "no server matched target_session_attrs={} ({})",
            attrs.as_str(),
            attempts.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_accept() {
        let primary = SessionKind {
            read_only: false,
            standby: false,
        };
        let standby = SessionKind {
            read_only: true,
            standby: true,
        };
        let ro_primary = SessionKind {
            read_only: true,
            standby: false,
        };
        use TargetSessionAttrs::*;
        assert!(Any.accepts(standby) && Any.accepts(primary));
        assert!(ReadWrite.accepts(primary) && !ReadWrite.accepts(ro_primary));
        assert!(ReadOnly.accepts(ro_primary) && ReadOnly.accepts(standby));
        assert!(Primary.accepts(ro_primary) && !Primary.accepts(standby));
        assert!(Standby.accepts(standby) && !Standby.accepts(primary));
        assert!(PreferStandby.accepts(standby) && !PreferStandby.accepts(primary));
        for s in [
            "any",
            "read-write",
            "read-only",
            "primary",
            "standby",
            "prefer-standby",
        ] {
            assert_eq!(TargetSessionAttrs::parse(s).unwrap().as_str(), s);
        }
        assert!(TargetSessionAttrs::parse("master").is_none());
    }

    #[test]
    fn shuffle_permutes() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let mut v = [1, 2, 3];
            shuffle(&mut v);
            let mut sorted = v;
            sorted.sort();
            assert_eq!(sorted, [1, 2, 3]);
            seen.insert(v);
        }
        assert_eq!(
            seen.len(),
            6,
            "every order of 3 items shows up in 200 shuffles"
        );
    }
}
