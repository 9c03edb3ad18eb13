//! The requests of a connection, one method each. Tuples, keys, operations and arguments
//! are MessagePack arrays encoded by the caller; results stay bytes for the caller to decode.

use std::sync::Arc;

use bytes::Bytes;
use ferrule_core::Error;

use crate::conn::{CallCtl, TntConnection};
use crate::consts::Iterator;
use crate::request::Request;
use crate::schema::{IndexRef, Space, SpaceRef};
use crate::sql::{prepared_info, sql_result, PreparedInfo, SqlResult};

/// Tuples returned by a space request, with the space they belong to (for field names).
pub struct Tuples {
    pub data: Bytes,
    pub space: Arc<Space>,
}

/// Options of a select.
#[derive(Debug, Clone)]
pub struct SelectOpts {
    pub index: IndexRef,
    pub iterator: Iterator,
    pub limit: u32,
    pub offset: u32,
}

impl Default for SelectOpts {
    fn default() -> Self {
        SelectOpts {
            index: IndexRef::Id(0),
            iterator: Iterator::Eq,
            limit: u32::MAX,
            offset: 0,
        }
    }
}

impl TntConnection {
    pub async fn ping(&self, ctl: &CallCtl) -> Result<(), Error> {
        self.request(&Request::Ping, ctl).await.map(|_| ())
    }

    pub async fn select(
        &self,
        space: &SpaceRef,
        key: &[u8],
        opts: &SelectOpts,
        ctl: &CallCtl,
    ) -> Result<Tuples, Error> {
        let (resp, space) = self
            .space_request(space, ctl, |schema, sp, h, out| {
                let index = schema.index(sp, &opts.index)?;
                let r = Request::Select {
                    space: sp.id,
                    index,
                    limit: opts.limit,
                    offset: opts.offset,
                    iterator: opts.iterator,
                    key,
                };
                r.encode(h, out);
                Ok(())
            })
            .await?;
        Ok(Tuples {
            data: resp.data()?,
            space,
        })
    }

    /// insert (`replace = false`) or replace a tuple; returns the stored tuple.
    pub async fn insert(
        &self,
        space: &SpaceRef,
        tuple: &[u8],
        replace: bool,
        ctl: &CallCtl,
    ) -> Result<Tuples, Error> {
        let (resp, space) = self
            .space_request(space, ctl, |_, sp, h, out| {
                let r = if replace {
                    Request::Replace {
                        space: sp.id,
                        tuple,
                    }
                } else {
                    Request::Insert {
                        space: sp.id,
                        tuple,
                    }
                };
                r.encode(h, out);
                Ok(())
            })
            .await?;
        Ok(Tuples {
            data: resp.data()?,
            space,
        })
    }

    pub async fn update(
        &self,
        space: &SpaceRef,
        index: &IndexRef,
        key: &[u8],
        ops: &[u8],
        ctl: &CallCtl,
    ) -> Result<Tuples, Error> {
        let (resp, space) = self
            .space_request(space, ctl, |schema, sp, h, out| {
                let index = schema.index(sp, index)?;
                Request::Update {
                    space: sp.id,
                    index,
                    key,
                    ops,
                }
                .encode(h, out);
                Ok(())
            })
            .await?;
        Ok(Tuples {
            data: resp.data()?,
            space,
        })
    }

    pub async fn upsert(
        &self,
        space: &SpaceRef,
        tuple: &[u8],
        ops: &[u8],
        ctl: &CallCtl,
    ) -> Result<(), Error> {
        self.space_request(space, ctl, |_, sp, h, out| {
            Request::Upsert {
                space: sp.id,
                tuple,
                ops,
            }
            .encode(h, out);
            Ok(())
        })
        .await
        .map(|_| ())
    }

    pub async fn delete(
        &self,
        space: &SpaceRef,
        index: &IndexRef,
        key: &[u8],
        ctl: &CallCtl,
    ) -> Result<Tuples, Error> {
        let (resp, space) = self
            .space_request(space, ctl, |schema, sp, h, out| {
                let index = schema.index(sp, index)?;
                Request::Delete {
                    space: sp.id,
                    index,
                    key,
                }
                .encode(h, out);
                Ok(())
            })
            .await?;
        Ok(Tuples {
            data: resp.data()?,
            space,
        })
    }

    /// Calls a stored function; returns the array of its results.
    pub async fn call(&self, function: &str, args: &[u8], ctl: &CallCtl) -> Result<Bytes, Error> {
        self.request(&Request::Call { function, args }, ctl)
            .await?
            .data()
    }

    /// Evaluates a Lua expression; returns the array of its results.
    pub async fn eval(&self, expr: &str, args: &[u8], ctl: &CallCtl) -> Result<Bytes, Error> {
        self.request(&Request::Eval { expr, args }, ctl)
            .await?
            .data()
    }

    /// Runs SQL with bound parameters (`bind` is an array; named ones are one-key maps).
    pub async fn execute(&self, sql: &str, bind: &[u8], ctl: &CallCtl) -> Result<SqlResult, Error> {
        let resp = self.request(&Request::Execute { sql, bind }, ctl).await?;
        sql_result(&resp)
    }

    pub async fn execute_prepared(
        &self,
        stmt_id: u64,
        bind: &[u8],
        ctl: &CallCtl,
    ) -> Result<SqlResult, Error> {
        let resp = self
            .request(&Request::ExecutePrepared { stmt_id, bind }, ctl)
            .await?;
        sql_result(&resp)
    }

    pub async fn prepare(&self, sql: &str, ctl: &CallCtl) -> Result<PreparedInfo, Error> {
        let resp = self.request(&Request::Prepare { sql }, ctl).await?;
        prepared_info(&resp)
    }

    pub async fn unprepare(&self, stmt_id: u64, ctl: &CallCtl) -> Result<(), Error> {
        self.request(&Request::Unprepare { stmt_id }, ctl)
            .await
            .map(|_| ())
    }

    /// Begins a transaction on `ctl.stream` (a stream from `new_stream`). The stream counts
    /// as holding a transaction until it is committed or rolled back (`session_state.rs`).
    pub async fn begin(
        &self,
        txn_timeout: Option<f64>,
        isolation: Option<u32>,
        ctl: &CallCtl,
    ) -> Result<(), Error> {
        let Some(stream) = ctl.stream else {
            return Err(Error::interface("a transaction needs a stream"));
        };
        self.transaction_may_be_open(stream);
        let outcome = self
            .request(
                &Request::Begin {
                    timeout: txn_timeout,
                    isolation,
                },
                ctl,
            )
            .await
            .map(|_| ());
        if outcome.is_err() {
            self.transaction_settled(stream, &outcome);
        }
        outcome
    }

    pub async fn commit(&self, ctl: &CallCtl) -> Result<(), Error> {
        let outcome = self.request(&Request::Commit, ctl).await.map(|_| ());
        if let Some(stream) = ctl.stream {
            self.transaction_settled(stream, &outcome);
        }
        outcome
    }

    pub async fn rollback(&self, ctl: &CallCtl) -> Result<(), Error> {
        let outcome = self.request(&Request::Rollback, ctl).await.map(|_| ());
        if let Some(stream) = ctl.stream {
            self.transaction_settled(stream, &outcome);
        }
        outcome
    }
}
