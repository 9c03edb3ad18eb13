//! `RemoteConnection`: a libSQL database over Hrana 3 on HTTP. One Hrana stream per
//! connection, kept open between calls by its baton, so a transaction spans calls as it does
//! locally. Calls on one connection take turns (the baton chains them).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrule_core::{Error, ErrorKind, Result, Value};
use serde_json::{json, Value as Json};
use tokio::sync::Mutex;

use super::http::{Endpoint, HttpClient};
use super::proto::{error_of, query_result, response_of, stmt_json};
use crate::rows::QueryResult;
use crate::session::Keep;
use crate::stmt::{Column, StmtMeta};

const PIPELINE: &str = "/v3/pipeline";

#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// `libsql://host`, `https://host[:port]` or `http://host[:port]`.
    pub url: String,
    pub auth_token: Option<String>,
    pub connect_timeout: Duration,
}

struct Stream {
    http: HttpClient,
    baton: Option<String>,
    /// A request was abandoned half-way (timeout, cancellation): the HTTP connection and the
    /// server stream are in doubt and are replaced before the next request.
    in_doubt: bool,
}

struct Remote {
    stream: Mutex<Stream>,
    closed: AtomicBool,
    in_transaction: AtomicBool,
}

/// A handle on one remote connection; clones share it.
#[derive(Clone)]
pub struct RemoteConnection {
    inner: Arc<Remote>,
}

impl RemoteConnection {
    /// Opens a stream on the server (one round trip, which also checks the credentials).
    pub async fn connect(cfg: &RemoteConfig) -> Result<RemoteConnection> {
        let conn = RemoteConnection::unopened(cfg)?;
        conn.pipeline(Vec::new()).await.map_err(|e| {
            if e.kind == ErrorKind::ConnectionLost {
                Error::connection_failure(e.message)
            } else {
                e
            }
        })?;
        Ok(conn)
    }

    /// A connection whose stream opens with its first call: nothing is sent yet (an embedded
    /// replica must open while its primary is out of reach).
    pub fn unopened(cfg: &RemoteConfig) -> Result<RemoteConnection> {
        let endpoint = Endpoint::parse(&cfg.url)?;
        let http = HttpClient::new(endpoint, cfg.auth_token.clone(), cfg.connect_timeout);
        Ok(RemoteConnection {
            inner: Arc::new(Remote {
                stream: Mutex::new(Stream {
                    http,
                    baton: None,
                    in_doubt: false,
                }),
                closed: AtomicBool::new(false),
                in_transaction: AtomicBool::new(false),
            }),
        })
    }

    /// Sends `requests` (plus a `get_autocommit`) in one pipeline on the connection's stream
    /// and returns their results in order.
    async fn pipeline(&self, mut requests: Vec<Json>) -> Result<Vec<Json>> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::closed("the connection is closed"));
        }
        let mut stream = self.inner.stream.lock().await;
        if stream.in_doubt {
            stream.http.reset();
            stream.baton = None;
            stream.in_doubt = false;
            if self.inner.in_transaction.swap(false, Ordering::AcqRel) {
                return Err(Error::connection_lost(
                    "an abandoned call left the libSQL stream in doubt; its transaction was \
                     lost and the stream was replaced",
                ));
            }
        }
        let n = requests.len();
        requests.push(json!({"type": "get_autocommit"}));
        let body = json!({"baton": stream.baton, "requests": requests});
        let body = serde_json::to_vec(&body).map_err(|e| Error::interface(e.to_string()))?;
        // Left set if this future is dropped while the request is in flight.
        stream.in_doubt = true;
        let response = stream.http.post(PIPELINE, &body).await;
        stream.in_doubt = false;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                stream.http.reset();
                stream.baton = None;
                self.inner.in_transaction.store(false, Ordering::Release);
                return Err(e);
            }
        };
        if response.status != 200 {
            stream.baton = None;
            self.inner.in_transaction.store(false, Ordering::Release);
            let text = String::from_utf8_lossy(&response.body);
            let detail = serde_json::from_slice::<Json>(&response.body)
                .ok()
                .map(|j| error_of(&j).message)
                .unwrap_or_else(|| text.chars().take(200).collect());
            let kind = match response.status {
                401 | 403 => ErrorKind::Authentication,
                404 => ErrorKind::ConnectionFailure,
                _ => ErrorKind::Database,
            };
            return Err(Error::new(
                kind,
                format!("libSQL server answered HTTP {}: {detail}", response.status),
            ));
        }
        let mut parsed: Json = serde_json::from_slice(&response.body)
            .map_err(|e| Error::protocol(format!("malformed Hrana response: {e}")))?;
        stream.baton = parsed
            .get("baton")
            .and_then(Json::as_str)
            .map(str::to_owned);
        if let Some(base) = parsed.get("base_url").and_then(Json::as_str) {
            if !base.is_empty() {
                stream.http.set_endpoint(Endpoint::parse(base)?);
            }
        }
        let mut results = match parsed.get_mut("results").map(Json::take) {
            Some(Json::Array(r)) if r.len() == n + 1 => r,
            _ => return Err(Error::protocol("malformed Hrana response: results")),
        };
        let autocommit = results.pop().unwrap_or(Json::Null);
        if let Ok(resp) = response_of(&autocommit) {
            let auto = resp
                .get("is_autocommit")
                .and_then(Json::as_bool)
                .unwrap_or(true);
            self.inner.in_transaction.store(!auto, Ordering::Release);
        }
        Ok(results)
    }

    async fn one(&self, request: Json) -> Result<Json> {
        let result = self
            .pipeline(vec![request])
            .await?
            .pop()
            .unwrap_or(Json::Null);
        response_of(&result).cloned()
    }

    /// Runs one statement.
    pub async fn query(&self, sql: &str, args: &[Value], keep: Keep) -> Result<QueryResult> {
        let want_rows = keep != Keep::Count;
        let stmt = stmt_json(sql, args, want_rows)?;
        let resp = self.one(json!({"type": "execute", "stmt": stmt})).await?;
        let result = resp.get("result").unwrap_or(&Json::Null);
        let params = match args {
            [Value::Map(_)] => 0,
            _ => args.len(),
        };
        query_result(sql, params, result, keep == Keep::First)
    }

    /// Runs a script of statements in order (a Hrana `sequence`).
    pub async fn execute_script(&self, sql: &str) -> Result<String> {
        self.one(json!({"type": "sequence", "sql": sql})).await?;
        Ok(String::new())
    }

    /// Runs `sql` once per row, all or nothing: one batch whose steps each depend on the one
    /// before, inside a savepoint that is rolled back when any step fails.
    pub async fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        let mut steps = vec![json!({"stmt": {"sql": "SAVEPOINT ferrule_many"}})];
        for (i, args) in rows.iter().enumerate() {
            let stmt = stmt_json(sql, args, false).map_err(|e| row_error(i, e))?;
            steps.push(json!({"condition": {"type": "ok", "step": i}, "stmt": stmt}));
        }
        let last = rows.len();
        let ok_last = json!({"type": "ok", "step": last});
        steps.push(json!({"condition": ok_last, "stmt": {"sql": "RELEASE ferrule_many"}}));
        let failed = json!({"type": "not", "cond": {"type": "ok", "step": last + 1}});
        steps.push(json!({"condition": failed, "stmt": {"sql": "ROLLBACK TO ferrule_many"}}));
        steps.push(json!({"condition": failed, "stmt": {"sql": "RELEASE ferrule_many"}}));
        let resp = self
            .one(json!({"type": "batch", "batch": {"steps": steps}}))
            .await?;
        let result = resp.get("result").unwrap_or(&Json::Null);
        let errors = result.get("step_errors").and_then(Json::as_array);
        if let Some(errors) = errors {
            if let Some((i, e)) = errors.iter().enumerate().find(|(_, e)| !e.is_null()) {
                let e = error_of(e);
                return Err(if (1..=last).contains(&i) {
                    row_error(i - 1, e)
                } else {
                    e
                });
            }
        }
        let changes = result
            .get("step_results")
            .and_then(Json::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|s| s.get("affected_row_count").and_then(Json::as_u64))
                    .sum()
            })
            .unwrap_or(0);
        Ok(changes)
    }

    /// Describes a statement (its parameters and columns) without running it.
    pub async fn describe(&self, sql: &str) -> Result<Arc<StmtMeta>> {
        let resp = self.one(json!({"type": "describe", "sql": sql})).await?;
        let result = resp.get("result").unwrap_or(&Json::Null);
        let columns = result
            .get("cols")
            .and_then(Json::as_array)
            .map(|cols| {
                cols.iter()
                    .map(|c| Column {
                        name: c
                            .get("name")
                            .and_then(Json::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        decltype: c.get("decltype").and_then(Json::as_str).map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let params = result.get("params").and_then(Json::as_array);
        let mut meta = StmtMeta::remote(sql, columns, params.map_or(0, Vec::len));
        if let Some(params) = params {
            meta.params = params
                .iter()
                .map(|p| p.get("name").and_then(Json::as_str).map(str::to_owned))
                .collect();
        }
        Ok(Arc::new(meta))
    }

    /// Closes the server stream (best effort) and the connection.
    pub async fn close(&self) {
        if self.inner.closed.load(Ordering::Acquire) {
            return;
        }
        let _ = self.pipeline_close().await;
        self.inner.closed.store(true, Ordering::Release);
    }

    async fn pipeline_close(&self) -> Result<()> {
        let mut stream = self.inner.stream.lock().await;
        if stream.baton.is_none() || stream.in_doubt {
            return Ok(());
        }
        let body = json!({"baton": stream.baton, "requests": [{"type": "close"}]});
        let body = serde_json::to_vec(&body).map_err(|e| Error::interface(e.to_string()))?;
        stream.http.post(PIPELINE, &body).await?;
        stream.baton = None;
        Ok(())
    }

    /// Closes at once; the server drops the stream when it expires.
    pub fn terminate(&self) {
        self.inner.closed.store(true, Ordering::Release);
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    pub fn in_transaction(&self) -> bool {
        self.inner.in_transaction.load(Ordering::Acquire)
    }
}

fn row_error(i: usize, mut e: Error) -> Error {
    e.message = format!("row {i}: {}", e.message);
    e
}
