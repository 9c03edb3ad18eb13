//! Hrana 3 pipeline messages as JSON: statements with bound arguments out, results in.
//! Values travel as Hrana's typed values (`{"type": "integer", "value": "42"}`); SQL text is
//! sent as the caller wrote it.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ferrule_core::{Error, ErrorKind, Result, Value};
use serde_json::{json, Map, Value as Json};

use crate::bind::as_text;
use crate::rows::{CellRef, QueryResult, RowSet};
use crate::stmt::{Column, StmtMeta};

/// A Hrana value for a bound parameter; kinds SQLite has no class for are stored as text,
/// exactly as the embedded backend binds them.
fn value_json(v: &Value) -> Result<Json> {
    Ok(match v {
        Value::Null => json!({"type": "null"}),
        Value::Bool(b) => json!({"type": "integer", "value": i64::from(*b).to_string()}),
        Value::Int(i) => json!({"type": "integer", "value": i.to_string()}),
        Value::Float(f) if f.is_finite() => json!({"type": "float", "value": f}),
        Value::Float(_) => {
            return Err(Error::interface(
                "a non-finite float cannot be sent to a libSQL server (JSON has no NaN/inf)",
            ))
        }
        Value::Text(s) | Value::Decimal(s) | Value::Json(s) => json!({"type": "text", "value": s}),
        Value::Bytes(b) => json!({"type": "blob", "base64": B64.encode(b)}),
        other => match as_text(other)? {
            Some(s) => json!({"type": "text", "value": s}),
            None => {
                return Err(Error::interface(format!(
                    "a {} cannot be bound to a libSQL parameter",
                    other.kind()
                )))
            }
        },
    })
}

/// The `stmt` object: positional `args`, or `named_args` when the single argument is a map.
pub fn stmt_json(sql: &str, args: &[Value], want_rows: bool) -> Result<Json> {
    let mut stmt = Map::new();
    stmt.insert("sql".into(), Json::String(sql.to_owned()));
    stmt.insert("want_rows".into(), Json::Bool(want_rows));
    if let [Value::Map(named)] = args {
        let named_args = named
            .iter()
            .map(|(k, v)| {
                let value = value_json(v).map_err(|e| in_param(e, &format!(":{k}")))?;
                // The server matches names with their sigil; `:` is what callers use most.
                Ok(json!({"name": format!(":{k}"), "value": value}))
            })
            .collect::<Result<Vec<_>>>()?;
        stmt.insert("named_args".into(), Json::Array(named_args));
    } else {
        let values = args
            .iter()
            .enumerate()
            .map(|(i, v)| value_json(v).map_err(|e| in_param(e, &format!("?{}", i + 1))))
            .collect::<Result<Vec<_>>>()?;
        stmt.insert("args".into(), Json::Array(values));
    }
    Ok(Json::Object(stmt))
}

fn in_param(e: Error, placeholder: &str) -> Error {
    Error::interface(format!("invalid argument {placeholder}: {}", e.message))
}

/// The error a failed request reports, with its code when it has one.
pub fn error_of(obj: &Json) -> Error {
    let message = obj
        .get("message")
        .and_then(Json::as_str)
        .unwrap_or("the libSQL server reported an error")
        .to_owned();
    let code = obj.get("code").and_then(Json::as_str);
    let mut e = Error::new(ErrorKind::Database, message);
    if let Some(code) = code {
        e = e.with_code(code);
    }
    e
}

fn bad(what: &str) -> Error {
    Error::protocol(format!("malformed Hrana response: {what}"))
}

/// One result of a pipeline: its `response` object, or the error it reports.
pub fn response_of(result: &Json) -> Result<&Json> {
    match result.get("type").and_then(Json::as_str) {
        Some("ok") => result
            .get("response")
            .ok_or_else(|| bad("ok without response")),
        Some("error") => Err(error_of(result.get("error").unwrap_or(&Json::Null))),
        _ => Err(bad("result type")),
    }
}

/// Turns an execute result (`cols`, `rows`, `affected_row_count`) into a `QueryResult`.
pub fn query_result(
    sql: &str,
    params: usize,
    result: &Json,
    first_only: bool,
) -> Result<QueryResult> {
    let cols = result
        .get("cols")
        .and_then(Json::as_array)
        .ok_or_else(|| bad("cols"))?;
    let columns = cols
        .iter()
        .map(|c| Column {
            name: c
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_owned(),
            decltype: c.get("decltype").and_then(Json::as_str).map(str::to_owned),
        })
        .collect::<Vec<_>>();
    let ncols = columns.len();
    let meta = Arc::new(StmtMeta::remote(sql, columns, params));
    let mut rows = RowSet::new(meta);
    let raw = result
        .get("rows")
        .and_then(Json::as_array)
        .ok_or_else(|| bad("rows"))?;
    for row in raw.iter().take(if first_only { 1 } else { usize::MAX }) {
        let cells = row.as_array().ok_or_else(|| bad("row"))?;
        if cells.len() != ncols {
            return Err(bad("row length"));
        }
        for cell in cells {
            push_value(&mut rows, cell)?;
        }
    }
    let changes = result
        .get("affected_row_count")
        .and_then(Json::as_u64)
        .unwrap_or(0);
    Ok(QueryResult {
        rows,
        row_count: raw.len() as u64,
        changes,
        more: false,
    })
}

fn push_value(rows: &mut RowSet, cell: &Json) -> Result<()> {
    match cell.get("type").and_then(Json::as_str) {
        Some("null") => rows.push(CellRef::Null),
        Some("integer") => {
            let v = cell.get("value");
            let i = match v {
                Some(Json::String(s)) => s.parse::<i64>().map_err(|_| bad("integer"))?,
                Some(Json::Number(n)) => n.as_i64().ok_or_else(|| bad("integer"))?,
                _ => return Err(bad("integer")),
            };
            rows.push(CellRef::Int(i));
        }
        Some("float") => {
            let f = cell
                .get("value")
                .and_then(Json::as_f64)
                .ok_or_else(|| bad("float"))?;
            rows.push(CellRef::Real(f));
        }
        Some("text") => {
            let s = cell
                .get("value")
                .and_then(Json::as_str)
                .ok_or_else(|| bad("text"))?;
            rows.push(CellRef::Text(s.as_bytes()));
        }
        Some("blob") => {
            let b = cell
                .get("base64")
                .and_then(Json::as_str)
                .ok_or_else(|| bad("blob"))?;
            let bytes = B64
                .decode(b)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b))
                .map_err(|_| bad("blob base64"))?;
            rows.push(CellRef::Blob(&bytes));
        }
        _ => return Err(bad("value type")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_and_results() {
        let s = stmt_json(
            "SELECT ?",
            &[Value::Int(7), Value::Bytes(vec![0, 255])],
            true,
        )
        .unwrap();
        assert_eq!(
            s,
            json!({"sql": "SELECT ?", "want_rows": true, "args": [
                {"type": "integer", "value": "7"}, {"type": "blob", "base64": "AP8="}]})
        );
        let named = stmt_json(":a", &[Value::Map(vec![("a".into(), Value::Null)])], false).unwrap();
        assert_eq!(named["named_args"][0]["name"], ":a");
        assert!(stmt_json("?", &[Value::Float(f64::NAN)], true).is_err());
        let result = json!({"cols": [{"name": "x", "decltype": "INT"}, {"name": "y"}],
            "rows": [[{"type": "integer", "value": "-3"}, {"type": "text", "value": "é"}],
                     [{"type": "float", "value": 0.5}, {"type": "blob", "base64": "AP8="}]],
            "affected_row_count": 0});
        let r = query_result("SELECT x, y", 0, &result, false).unwrap();
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows.get(0, 0), CellRef::Int(-3));
        assert_eq!(r.rows.get(0, 1), CellRef::Text("é".as_bytes()));
        assert_eq!(r.rows.get(1, 1), CellRef::Blob(&[0, 255]));
        assert_eq!(r.rows.meta.columns[0].decltype.as_deref(), Some("INT"));
        let bad_row = json!({"cols": [{"name": "x"}], "rows": [[]]});
        assert!(query_result("SELECT 1", 0, &bad_row, false).is_err());
    }
}
