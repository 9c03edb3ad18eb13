//! Building a statement's type details: OIDs that are neither plain built-ins nor known yet
//! are read from pg_catalog with one query (the whole tree of every type at once) before the
//! statement is first bound, then cached for the connection.

use std::collections::HashMap;
use std::sync::Arc;

use ferrule_core::{Error, Value};

use crate::conn::{CallCtl, PgConnection};
use crate::statement::{Column, Statement};
use crate::typeinfo::{RawType, Resolved};
use crate::types::{self, Oid};

/// Every type reachable from `$1` (array elements, domain bases, range subtypes, the range of
/// a multirange, composite fields), one row per type and composite field.
const LOOKUP_SQL: &str = "\
WITH RECURSIVE deps(oid) AS (
    SELECT unnest($1::pg_catalog.oid[])
  UNION
    SELECT d.dep FROM deps
    JOIN pg_catalog.pg_type t ON t.oid = deps.oid
    CROSS JOIN LATERAL (
        SELECT t.typelem WHERE t.typelem <> 0 AND t.typlen = -1
        UNION ALL SELECT t.typbasetype WHERE t.typbasetype <> 0
        UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid
        MULTIRANGE_DEP
        UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
    ) d(dep)
)
SELECT t.oid, n.nspname::pg_catalog.text || '.' || t.typname::pg_catalog.text, t.typtype,
    CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN t.typelem ELSE 0::pg_catalog.oid END,
    t.typbasetype,
    COALESCE((SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid),
        0::pg_catalog.oid),
    MULTIRANGE_COL,
    a.attname::pg_catalog.text, COALESCE(a.atttypid, 0::pg_catalog.oid)
FROM deps
JOIN pg_catalog.pg_type t ON t.oid = deps.oid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_attribute a
    ON a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY t.oid, a.attnum";

/// Multiranges (and `pg_range.rngmultitypid`) exist from PostgreSQL 14.
fn lookup_sql(server_major: u32) -> String {
    if server_major >= 14 {
        LOOKUP_SQL
            .replace(
                "MULTIRANGE_DEP",
                "UNION ALL SELECT r.rngtypid FROM pg_catalog.pg_range r \
                 WHERE r.rngmultitypid = t.oid",
            )
            .replace(
                "MULTIRANGE_COL",
                "COALESCE((SELECT r.rngtypid FROM pg_catalog.pg_range r \
                 WHERE r.rngmultitypid = t.oid), 0::pg_catalog.oid)",
            )
    } else {
        LOOKUP_SQL
            .replace("MULTIRANGE_DEP", "")
            .replace("MULTIRANGE_COL", "0::pg_catalog.oid")
    }
}

/// Result columns of the lookup, all in binary format.
fn lookup_columns() -> Vec<Column> {
    let col = |name: &str, oid: Oid| Column {
        name: name.to_owned(),
        type_oid: oid,
        type_modifier: -1,
        format: 1,
    };
    vec![
        col("oid", types::OID),
        col("name", types::TEXT),
        col("typtype", types::CHAR),
        col("elem", types::OID),
        col("base", types::OID),
        col("subtype", types::OID),
        col("multirange_of", types::OID),
        col("attname", types::TEXT),
        col("atttypid", types::OID),
    ]
}

impl PgConnection {
    /// Builds the statement the server described, with the format and type details of every
    /// parameter and column; types not known yet are read from pg_catalog first.
    pub(crate) async fn typed_statement(
        &self,
        name: String,
        sql: &str,
        params: Vec<Oid>,
        columns: Vec<Column>,
        closer: Option<crate::statement::Closer>,
        ctl: &CallCtl,
    ) -> Result<Statement, Error> {
        // Built first: should the lookup fail, dropping it closes the statement on the server.
        let mut stmt = Statement::new(
            name,
            sql.to_owned(),
            params.clone(),
            vec![1; params.len()],
            columns,
            closer,
        );
        let text_oids = self.shared.text_oids.lock().clone();
        let registry = &self.shared.types;
        let mut unknown: Vec<Oid> = Vec::new();
        for &oid in params
            .iter()
            .chain(stmt.columns.iter().map(|c| &c.type_oid))
        {
            if registry.resolve(oid, &text_oids).is_none() && !unknown.contains(&oid) {
                unknown.push(oid);
            }
        }
        if !unknown.is_empty() {
            self.load_types(&unknown, &text_oids, ctl).await?;
        }
        // A type that vanished meanwhile is read as text.
        let resolve = |oid: Oid| {
            registry.resolve(oid, &text_oids).unwrap_or_else(|| {
                Resolved::Typed(Arc::new(crate::typeinfo::PgType::new(
                    oid,
                    "an unknown type",
                    crate::typeinfo::TypeKind::Text,
                )))
            })
        };
        let mut column_types = Vec::new();
        let mut cols: Vec<Column> = stmt.columns.to_vec();
        for c in &mut cols {
            let r = resolve(c.type_oid);
            c.format = r.format();
            column_types.push(r.into_type());
        }
        stmt.columns = cols.into();
        let mut param_types = Vec::new();
        for (i, &oid) in params.iter().enumerate() {
            let r = resolve(oid);
            stmt.param_formats[i] = r.format();
            param_types.push(r.into_type());
        }
        // Plain-only statements keep empty lists: the per-row fast path checks nothing.
        if column_types.iter().any(Option::is_some) {
            stmt.column_types = column_types;
        }
        if param_types.iter().any(Option::is_some) {
            stmt.param_types = param_types;
        }
        Ok(stmt)
    }

    /// Reads the trees of `oids` from pg_catalog into the connection's type registry.
    async fn load_types(
        &self,
        oids: &[Oid],
        text_oids: &[Oid],
        ctl: &CallCtl,
    ) -> Result<(), Error> {
        let major = self
            .server_parameter("server_version")
            .and_then(|v| {
                let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .unwrap_or(0);
        let stmt = Arc::new(Statement::new(
            String::new(),
            lookup_sql(major),
            vec![types::OID_ARRAY],
            vec![1],
            lookup_columns(),
            None,
        ));
        let arg = Value::List(oids.iter().map(|&o| Value::Int(i64::from(o))).collect());
        let result = self.query_prepared(&stmt, &[arg], 0, None, ctl).await?;
        let mut raw: HashMap<Oid, RawType> = HashMap::new();
        for row in &result.rows {
            let cells = split_row(row.buffer())?;
            let oid = cell_oid(cells[0])?;
            let entry = raw.entry(oid).or_insert_with(|| RawType {
                name: cell_text(cells[1]),
                typtype: cells[2].and_then(|c| c.first().copied()).unwrap_or(b'b'),
                elem: cell_oid(cells[3]).unwrap_or(0),
                base: cell_oid(cells[4]).unwrap_or(0),
                range_subtype: cell_oid(cells[5]).unwrap_or(0),
                multirange_of: cell_oid(cells[6]).unwrap_or(0),
                fields: Vec::new(),
            });
            if let Some(attname) = cells[7] {
                let field_type = cell_oid(cells[8])?;
                entry
                    .fields
                    .push((String::from_utf8_lossy(attname).into_owned(), field_type));
            }
        }
        self.shared.types.insert_loaded(&raw, text_oids);
        Ok(())
    }

    /// Forgets the types read from pg_catalog and every cached statement (after `ALTER TYPE`
    /// or an extension's reinstall changed a type under the connection).
    pub fn reload_schema_state(&self) {
        self.shared.types.clear();
        self.clear_statement_cache();
    }

    /// Sets (or with None clears) the user's codec choice for `oid`: a codec of their own in
    /// text or binary format, or a built-in codec. Cached statements are dropped so the
    /// change applies at once.
    pub fn set_type_override(&self, oid: Oid, choice: Option<crate::typeinfo::Override>) {
        self.shared.types.set_override(oid, choice);
        self.clear_statement_cache();
    }
}

fn malformed() -> Error {
    Error::protocol("malformed row in the answer to the type lookup")
}

/// The 9 cells of a lookup row; None for NULL.
fn split_row(buf: &[u8]) -> Result<[Option<&[u8]>; 9], Error> {
    let mut out = [None; 9];
    let mut pos = 0usize;
    for cell in &mut out {
        let len = buf.get(pos..pos + 4).ok_or_else(malformed)?;
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        pos += 4;
        if len >= 0 {
            let end = pos + len as usize;
            *cell = Some(buf.get(pos..end).ok_or_else(malformed)?);
            pos = end;
        }
    }
    Ok(out)
}

fn cell_oid(cell: Option<&[u8]>) -> Result<Oid, Error> {
    let b = cell.ok_or_else(malformed)?;
    Ok(Oid::from_be_bytes(b.try_into().map_err(|_| malformed())?))
}

fn cell_text(cell: Option<&[u8]>) -> String {
    cell.map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_sql_per_version() {
        assert!(lookup_sql(15).contains("rngmultitypid"));
        assert!(!lookup_sql(13).contains("rngmultitypid"));
        assert!(!lookup_sql(13).contains("MULTIRANGE"));
    }

    #[test]
    fn rows_split_with_nulls() {
        let mut b = Vec::new();
        for i in 0..9 {
            if i == 7 {
                b.extend_from_slice(&(-1i32).to_be_bytes());
            } else {
                b.extend_from_slice(&4i32.to_be_bytes());
                b.extend_from_slice(&(i as u32).to_be_bytes());
            }
        }
        let cells = split_row(&b).unwrap();
        assert_eq!(cell_oid(cells[3]).unwrap(), 3);
        assert!(cells[7].is_none());
        assert!(split_row(&b[..10]).is_err());
    }
}
