//! The space requests of a call (`select`, `insert`, `update`, `upsert`, `delete`), `ping`,
//! and stored calls (`call`, `eval`, with or without pushed messages). Arguments are encoded
//! to MessagePack under the GIL; space and index names are resolved with the schema.

use std::sync::Arc;

use ferrule_tarantool::encode::MpWriter;
use ferrule_tarantool::{
    IndexRef, Iterator, Request, Response, Schema, SelectOpts, Space, SpaceRef, Tuples,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use super::calls::{Call, ConnHandle, HandleSource};
use super::direct::Outcome;
use super::encode::{encode, encode_array};
use super::results::{MpObject, TupleResult, TupleShape};
use super::streams::Pushes;
use crate::bridge::Unit;

fn space_ref(space: &Bound<'_, PyAny>) -> PyResult<SpaceRef> {
    if let Ok(s) = space.cast::<PyString>() {
        return Ok(SpaceRef::Name(s.to_str()?.to_owned()));
    }
    space
        .extract::<u32>()
        .map(SpaceRef::Id)
        .map_err(|_| PyTypeError::new_err("space must be a name (str) or an id (int)"))
}

fn index_ref(index: Option<&Bound<'_, PyAny>>) -> PyResult<IndexRef> {
    let Some(index) = index else {
        return Ok(IndexRef::Id(0));
    };
    if let Ok(s) = index.cast::<PyString>() {
        return Ok(IndexRef::Name(s.to_str()?.to_owned()));
    }
    index
        .extract::<u32>()
        .map(IndexRef::Id)
        .map_err(|_| PyTypeError::new_err("index must be a name (str) or an id (int)"))
}

fn iterator(it: Option<&Bound<'_, PyAny>>) -> PyResult<Iterator> {
    let Some(it) = it else {
        return Ok(Iterator::Eq);
    };
    if let Ok(s) = it.cast::<PyString>() {
        let name = s.to_str()?;
        return Iterator::parse(name)
            .ok_or_else(|| PyValueError::new_err(format!("unknown iterator {name:?}")));
    }
    let code: u32 = it
        .extract()
        .map_err(|_| PyTypeError::new_err("iterator must be a name or a number"))?;
    Iterator::from_code(code)
        .ok_or_else(|| PyValueError::new_err(format!("unknown iterator {code}")))
}

/// A key: a scalar is a one-part key, a list or tuple a multi-part one.
fn encode_key(key: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if key.is_none() || key.cast::<PyTuple>().is_ok() || key.cast::<PyList>().is_ok() {
        return encode_array(key, "key");
    }
    let mut out = Vec::with_capacity(16);
    MpWriter(&mut out).array(1);
    encode(&mut out, key)?;
    Ok(out)
}

/// Update operations: `[op, field, arg, ...]` each; a field given by name is turned into its
/// number with the space format known now (JSON paths, and names without a known format,
/// pass through as text).
fn encode_ops(
    schema: Option<Arc<Schema>>,
    space: &SpaceRef,
    ops: &Bound<'_, PyAny>,
) -> PyResult<Vec<u8>> {
    let sp = schema.as_ref().and_then(|s| s.space(space).ok());
    let items: Vec<Bound<'_, PyAny>> = ops.try_iter()?.collect::<PyResult<_>>()?;
    let mut out = Vec::with_capacity(16 * items.len() + 4);
    MpWriter(&mut out).array(items.len() as u32);
    for (i, op) in items.iter().enumerate() {
        let parts: Vec<Bound<'_, PyAny>> = op
            .try_iter()
            .map_err(|_| PyTypeError::new_err(format!("operation {i} must be a list")))?
            .collect::<PyResult<_>>()?;
        if parts.len() < 2 {
            return Err(PyValueError::new_err(format!(
                "operation {i} must be [op, field, argument...]"
            )));
        }
        MpWriter(&mut out).array(parts.len() as u32);
        for (j, part) in parts.iter().enumerate() {
            if j == 1 {
                if let Ok(name) = part.cast::<PyString>() {
                    let name = name.to_str()?;
                    if let Some(n) = sp.and_then(|s| s.field_number(name)) {
                        MpWriter(&mut out).uint(u64::from(n));
                        continue;
                    }
                }
            }
            encode(&mut out, part)?;
        }
    }
    Ok(out)
}

/// The tuples of a space request's reply.
fn tuples(resp: Response, space: Arc<Space>, shape: TupleShape) -> Outcome {
    let tuples = Tuples {
        data: resp.data()?,
        space,
    };
    Ok(Box::new(TupleResult { tuples, shape }))
}

fn encode_args(args: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<u8>> {
    match args {
        Some(a) => encode_array(a, "arguments"),
        None => Ok(vec![0x90]),
    }
}

impl<S: HandleSource> Call<'_, S> {
    fn schema(&self) -> Option<Arc<Schema>> {
        self.source.ready().map(|held| held.conn().schema())
    }

    pub fn ping<'py>(self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let (ctl, token) = self.ctl(timeout)?;
        self.direct(
            py,
            &Request::Ping,
            ctl,
            token,
            |_| Ok(Box::new(Unit)),
            |conn, ctl| async move { conn.ping(&ctl).await.map(|()| Unit) },
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub fn select<'py>(
        self,
        py: Python<'py>,
        space: &Bound<'py, PyAny>,
        key: Option<&Bound<'py, PyAny>>,
        index: Option<&Bound<'py, PyAny>>,
        iterator: Option<&Bound<'py, PyAny>>,
        limit: Option<u32>,
        offset: u32,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = space_ref(space)?;
        let key = match key {
            Some(k) => encode_key(k)?,
            None => vec![0x90],
        };
        let mut it = self::iterator(iterator)?;
        if key == [0x90] && iterator.is_none() {
            it = Iterator::All;
        }
        let opts = SelectOpts {
            index: index_ref(index)?,
            iterator: it,
            limit: limit.unwrap_or(u32::MAX),
            offset,
        };
        let (ctl, token) = self.ctl(timeout)?;
        let args = Arc::new((space, key, opts));
        let slow_args = args.clone();
        let (space, key, opts) = &*args;
        self.direct_space(
            py,
            space,
            ctl,
            token,
            |schema, sp, h, out| {
                let index = schema.index(sp, &opts.index)?;
                Request::Select {
                    space: sp.id,
                    index,
                    limit: opts.limit,
                    offset: opts.offset,
                    iterator: opts.iterator,
                    key,
                }
                .encode(h, out);
                Ok(())
            },
            |resp, space| tuples(resp, space, TupleShape::All),
            move |conn, ctl| async move {
                let (space, key, opts) = &*slow_args;
                let tuples = conn.select(space, key, opts, &ctl).await?;
                Ok(TupleResult {
                    tuples,
                    shape: TupleShape::All,
                })
            },
        )
    }

    pub fn insert<'py>(
        self,
        py: Python<'py>,
        space: &Bound<'py, PyAny>,
        tuple: &Bound<'py, PyAny>,
        replace: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = space_ref(space)?;
        let tuple = encode_array(tuple, "tuple")?;
        let (ctl, token) = self.ctl(timeout)?;
        let args = Arc::new((space, tuple));
        let slow_args = args.clone();
        let (space, tuple) = &*args;
        self.direct_space(
            py,
            space,
            ctl,
            token,
            |_, sp, h, out| {
                if replace {
                    Request::Replace {
                        space: sp.id,
                        tuple,
                    }
                    .encode(h, out);
                } else {
                    Request::Insert {
                        space: sp.id,
                        tuple,
                    }
                    .encode(h, out);
                }
                Ok(())
            },
            |resp, space| tuples(resp, space, TupleShape::One),
            move |conn, ctl| async move {
                let (space, tuple) = &*slow_args;
                let tuples = conn.insert(space, tuple, replace, &ctl).await?;
                Ok(TupleResult {
                    tuples,
                    shape: TupleShape::One,
                })
            },
        )
    }

    pub fn update<'py>(
        self,
        py: Python<'py>,
        space: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
        ops: &Bound<'py, PyAny>,
        index: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = space_ref(space)?;
        let key = encode_key(key)?;
        let ops = encode_ops(self.schema(), &space, ops)?;
        let index = index_ref(index)?;
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(1);
            let tuples = handle
                .conn()
                .update(&space, &index, &key, &ops, &ctl)
                .await?;
            Ok(TupleResult {
                tuples,
                shape: TupleShape::One,
            })
        })
    }

    pub fn upsert<'py>(
        self,
        py: Python<'py>,
        space: &Bound<'py, PyAny>,
        tuple: &Bound<'py, PyAny>,
        ops: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = space_ref(space)?;
        let tuple = encode_array(tuple, "tuple")?;
        let ops = encode_ops(self.schema(), &space, ops)?;
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(1);
            handle.conn().upsert(&space, &tuple, &ops, &ctl).await?;
            Ok(Unit)
        })
    }

    pub fn delete<'py>(
        self,
        py: Python<'py>,
        space: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
        index: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = space_ref(space)?;
        let key = encode_key(key)?;
        let index = index_ref(index)?;
        let (ctl, token) = self.ctl(timeout)?;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(1);
            let tuples = handle.conn().delete(&space, &index, &key, &ctl).await?;
            Ok(TupleResult {
                tuples,
                shape: TupleShape::One,
            })
        })
    }

    /// Calls a function (`eval=False`) or evaluates Lua (`eval=True`); resolves to the list of
    /// returned values.
    pub fn call<'py>(
        self,
        py: Python<'py>,
        function: String,
        args: Option<&Bound<'py, PyAny>>,
        eval: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = encode_args(args)?;
        let (ctl, token) = self.ctl(timeout)?;
        let owned = Arc::new((function, args));
        let slow_args = owned.clone();
        let (function, args) = &*owned;
        let r = if eval {
            Request::Eval {
                expr: function,
                args,
            }
        } else {
            Request::Call { function, args }
        };
        self.direct(
            py,
            &r,
            ctl,
            token,
            |resp| Ok(Box::new(MpObject(resp.data()?))),
            move |conn, ctl| async move {
                let (function, args) = &*slow_args;
                let data = if eval {
                    conn.eval(function, args, &ctl).await?
                } else {
                    conn.call(function, args, &ctl).await?
                };
                Ok(MpObject(data))
            },
        )
    }

    /// Like `call`, with pushed messages: resolves to a `TntPushes`.
    pub fn call_pushes<'py>(
        self,
        py: Python<'py>,
        function: String,
        args: Option<&Bound<'py, PyAny>>,
        eval: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = encode_args(args)?;
        let (ctl, token) = self.ctl(timeout)?;
        let bridge = self.bridge.clone_ref(py);
        let deadline = ctl.deadline;
        self.submit(py, Some(token), |source| async move {
            let handle = source.get(&ctl).await?;
            handle.before_call(1);
            let rx = handle
                .conn()
                .call_with_pushes(&function, &args, &ctl, eval)
                .await?;
            Ok(Pushes::new(rx, bridge, deadline))
        })
    }
}
