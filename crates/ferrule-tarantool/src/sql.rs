//! SQL responses: column metadata, the SQL info of DML (row count, autoincrement ids) and the
//! statement of IPROTO_PREPARE.

use bytes::Bytes;
use ferrule_core::Error;

use crate::consts::{field, key, sql_info};
use crate::mp::{MpReader, MpValue};
use crate::response::Response;

/// One result column (IPROTO_METADATA) or bind parameter (IPROTO_BIND_METADATA).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Column {
    pub name: String,
    pub type_name: String,
    pub collation: Option<String>,
    pub is_nullable: Option<bool>,
    pub is_autoincrement: Option<bool>,
    pub span: Option<String>,
}

/// The outcome of an SQL EXECUTE.
#[derive(Debug, Clone, Default)]
pub struct SqlResult {
    pub columns: Vec<Column>,
    /// The rows as a MessagePack array of arrays (empty array for DML).
    pub rows: Bytes,
    /// Rows changed by DML (None for a query).
    pub row_count: Option<u64>,
    pub autoincrement_ids: Vec<i64>,
}

/// A prepared statement's description (IPROTO_PREPARE).
#[derive(Debug, Clone, Default)]
pub struct PreparedInfo {
    pub stmt_id: u64,
    pub bind_count: u64,
    pub params: Vec<Column>,
    pub columns: Vec<Column>,
}

pub fn columns(raw: Option<Bytes>) -> Result<Vec<Column>, Error> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let v = MpReader::new(&raw).read_value()?;
    let Some(items) = v.as_array() else {
        return Err(Error::protocol("SQL metadata is not an array"));
    };
    let text = |m: &MpValue, k| m.get_uint(k).and_then(MpValue::as_str).map(str::to_owned);
    Ok(items
        .iter()
        .map(|m| Column {
            name: text(m, field::NAME).unwrap_or_default(),
            type_name: text(m, field::TYPE).unwrap_or_default(),
            collation: text(m, field::COLL),
            is_nullable: m.get_uint(field::IS_NULLABLE).and_then(MpValue::as_bool),
            is_autoincrement: m
                .get_uint(field::IS_AUTOINCREMENT)
                .and_then(MpValue::as_bool),
            span: text(m, field::SPAN),
        })
        .collect())
}

pub fn sql_result(resp: &Response) -> Result<SqlResult, Error> {
    let mut out = SqlResult {
        columns: columns(resp.field(key::METADATA)?)?,
        rows: resp.data()?,
        ..SqlResult::default()
    };
    if let Some(info) = resp.field(key::SQL_INFO)? {
        let v = MpReader::new(&info).read_value()?;
        out.row_count = v.get_uint(sql_info::ROW_COUNT).and_then(MpValue::as_u64);
        if let Some(ids) = v
            .get_uint(sql_info::AUTOINCREMENT_IDS)
            .and_then(MpValue::as_array)
        {
            out.autoincrement_ids = ids
                .iter()
                .filter_map(|i| match i {
                    MpValue::UInt(u) => i64::try_from(*u).ok(),
                    MpValue::Int(i) => Some(*i),
                    _ => None,
                })
                .collect();
        }
    }
    Ok(out)
}

pub fn prepared_info(resp: &Response) -> Result<PreparedInfo, Error> {
    let num = |k| -> Result<Option<u64>, Error> {
        match resp.field(k)? {
            Some(raw) => MpReader::new(&raw).read_u64().map(Some),
            None => Ok(None),
        }
    };
    let Some(stmt_id) = num(key::STMT_ID)? else {
        return Err(Error::protocol("PREPARE answered without a statement id"));
    };
    Ok(PreparedInfo {
        stmt_id,
        bind_count: num(key::BIND_COUNT)?.unwrap_or(0),
        params: columns(resp.field(key::BIND_METADATA)?)?,
        columns: columns(resp.field(key::METADATA)?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &[u8]) -> Response {
        let mut p = vec![0x82, 0x00, 0x00, 0x01, 0x01];
        p.extend_from_slice(body);
        Response::parse(Bytes::from(p)).unwrap()
    }

    #[test]
    fn query_metadata_and_rows() {
        // {0x32: [{0: "A", 1: "integer"}], 0x30: [[1]]}
        let body = [
            0x82, 0x32, 0x91, 0x82, 0x00, 0xa1, b'A', 0x01, 0xa7, b'i', b'n', b't', b'e', b'g',
            b'e', b'r', 0x30, 0x91, 0x91, 0x01,
        ];
        let r = sql_result(&response(&body)).unwrap();
        assert_eq!(r.columns.len(), 1);
        assert_eq!(
            (r.columns[0].name.as_str(), r.columns[0].type_name.as_str()),
            ("A", "integer")
        );
        assert_eq!(&r.rows[..], &[0x91, 0x91, 0x01]);
        assert_eq!(r.row_count, None);
    }

    #[test]
    fn dml_info() {
        // {0x42: {0: 2, 1: [5, 6]}}
        let body = [0x81, 0x42, 0x82, 0x00, 0x02, 0x01, 0x92, 0x05, 0x06];
        let r = sql_result(&response(&body)).unwrap();
        assert_eq!(r.row_count, Some(2));
        assert_eq!(r.autoincrement_ids, vec![5, 6]);
        assert_eq!(&r.rows[..], &[0x90]);
    }

    #[test]
    fn prepare_answer() {
        // {0x43: 77, 0x34: 1, 0x33: [{0: "?", 1: "ANY"}]}
        let body = [
            0x83, 0x43, 0x4d, 0x34, 0x01, 0x33, 0x91, 0x82, 0x00, 0xa1, b'?', 0x01, 0xa3, b'A',
            b'N', b'Y',
        ];
        let p = prepared_info(&response(&body)).unwrap();
        assert_eq!((p.stmt_id, p.bind_count, p.params.len()), (77, 1, 1));
        assert!(prepared_info(&response(&[0x80])).is_err());
    }
}
