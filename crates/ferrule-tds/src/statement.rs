//! Prepared statements: `sp_prepare` once per parameter declaration, `sp_execute` after, and
//! `sp_unprepare` when the statement is dropped.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use ferrule_core::{Error, Value};
use parking_lot::Mutex;

use crate::conn::{CallCtl, RowStream, TdsConnection};
use crate::job::{Message, Response};
use crate::packet::kind;
use crate::params::Param;
use crate::request;
use crate::token::Column;
use crate::types::read_cell;
use crate::wire::Cur;

/// The server lost the handle (the session was reset): prepare again.
const HANDLE_NOT_FOUND: &str = "8179";

#[derive(Clone)]
struct Handle {
    id: i32,
    decl: String,
}

pub struct Statement {
    pub sql: String,
    handle: Mutex<Option<Handle>>,
    /// Columns of the first result set, known once the statement has run (or was prepared
    /// without parameters).
    pub columns: Mutex<Option<Arc<[Column]>>>,
    conn: TdsConnection,
    /// Whatever the binding layer keeps with the statement (its record description).
    pub binding_cache: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl Drop for Statement {
    fn drop(&mut self) {
        if let Some(h) = self.handle.lock().take() {
            unprepare(&self.conn, h.id);
        }
    }
}

fn unprepare(conn: &TdsConnection, id: i32) {
    if conn.is_closed() {
        return;
    }
    let mut payload = BytesMut::new();
    if request::sp_unprepare(&mut payload, &[0; 8], id).is_ok() {
        conn.fire_and_forget(vec![Message {
            kind: kind::RPC,
            payload,
            has_headers: true,
        }]);
    }
}

fn rpc(payload: BytesMut) -> Message {
    Message {
        kind: kind::RPC,
        payload,
        has_headers: true,
    }
}

/// The handle `sp_prepare` returned as its output parameter.
fn returned_handle(resp: &Response) -> Result<i32, Error> {
    let rv = resp
        .return_values
        .first()
        .ok_or_else(|| Error::protocol("sp_prepare returned no handle"))?;
    let mut c = Cur::new(&rv.raw);
    match read_cell(&mut c, &rv.type_info) {
        Ok(Some(b)) if b.len() == 4 => Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        _ => Err(Error::protocol("sp_prepare returned a malformed handle")),
    }
}

impl TdsConnection {
    /// A statement to execute many times. With no `@` in the text it cannot take
    /// parameters, so it is prepared now (errors and columns come early); otherwise it is
    /// prepared on first execution, when the parameter types are known.
    pub async fn prepare(&self, sql: &str, ctl: &CallCtl) -> Result<Arc<Statement>, Error> {
        let stmt = Arc::new(Statement {
            sql: sql.to_owned(),
            handle: Mutex::new(None),
            columns: Mutex::new(None),
            conn: self.clone(),
            binding_cache: OnceLock::new(),
        });
        if !sql.contains('@') {
            self.prepare_handle(&stmt, "", ctl).await?;
        }
        Ok(stmt)
    }

    async fn prepare_handle(
        &self,
        stmt: &Statement,
        decl: &str,
        ctl: &CallCtl,
    ) -> Result<i32, Error> {
        let mut payload = BytesMut::new();
        request::sp_prepare(&mut payload, &[0; 8], &stmt.sql, decl)?;
        let resp = self.roundtrip(vec![rpc(payload)], false, ctl).await?;
        let id = returned_handle(&resp)?;
        if let Some(set) = resp.result_sets.first() {
            *stmt.columns.lock() = Some(set.columns.clone());
        }
        let old = stmt.handle.lock().replace(Handle {
            id,
            decl: decl.to_owned(),
        });
        if let Some(old) = old {
            unprepare(self, old.id);
        }
        Ok(id)
    }

    /// Executes a prepared statement with positional values bound to `@p1, @p2, ...`.
    pub async fn execute_prepared(
        &self,
        stmt: &Arc<Statement>,
        values: &[Value],
        discard_rows: bool,
        ctl: &CallCtl,
    ) -> Result<Response, Error> {
        let params: Vec<Param> = values
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, v)| Param::positional(i, v))
            .collect();
        let decl = request::declaration(&params)?;
        for attempt in 0..2 {
            let current = stmt.handle.lock().clone();
            let id = match current {
                Some(h) if h.decl == decl => h.id,
                _ => self.prepare_handle(stmt, &decl, ctl).await?,
            };
            let mut payload = BytesMut::new();
            request::sp_execute(&mut payload, &[0; 8], id, &params)?;
            match self.roundtrip(vec![rpc(payload)], discard_rows, ctl).await {
                Err(e) if attempt == 0 && e.code.as_deref() == Some(HANDLE_NOT_FOUND) => {
                    stmt.handle.lock().take();
                }
                Ok(resp) => {
                    if let Some(set) = resp.result_sets.first() {
                        stmt.columns
                            .lock()
                            .get_or_insert_with(|| set.columns.clone());
                    }
                    return Ok(resp);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::protocol(
            "the prepared statement could not be re-prepared",
        ))
    }

    /// Streams the rows of a prepared statement in batches of `prefetch` (a cursor).
    pub async fn stream_prepared(
        &self,
        stmt: &Arc<Statement>,
        values: &[Value],
        prefetch: usize,
        ctl: &CallCtl,
    ) -> Result<RowStream, Error> {
        let params: Vec<Param> = values
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, v)| Param::positional(i, v))
            .collect();
        let decl = request::declaration(&params)?;
        let current = stmt.handle.lock().clone();
        let id = match current {
            Some(h) if h.decl == decl => h.id,
            _ => self.prepare_handle(stmt, &decl, ctl).await?,
        };
        let mut payload = BytesMut::new();
        request::sp_execute(&mut payload, &[0; 8], id, &params)?;
        self.my_turn(ctl).await?;
        self.stream(vec![rpc(payload)], prefetch)
    }
}
