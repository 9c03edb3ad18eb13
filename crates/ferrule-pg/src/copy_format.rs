//! The binary COPY format: the header and trailer of a stream, and rows written field by field
//! with the same binary encoders as bound parameters, plain built-ins and the types of
//! `typeinfo` alike (ranges, composites, hstore, enums, domains, arrays of them).

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use ferrule_core::{Error, ErrorKind, Value};

use crate::encode::{encode_binary, type_label};
use crate::encode_rich::{encode_typed, takes_text};
use crate::statement::Statement;
use crate::typeinfo::PgType;
use crate::types::{self, Oid};

/// The signature, flags and extension area that open a binary COPY stream.
pub const COPY_BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The field count -1 that ends a binary COPY stream.
pub const COPY_BINARY_TRAILER: &[u8] = &[0xff, 0xff];

/// One target column of a binary COPY: its name, its type OID, and the type details when it
/// is not a plain built-in.
#[derive(Debug, Clone)]
pub struct CopyColumn {
    pub name: String,
    pub oid: Oid,
    pub ty: Option<Arc<PgType>>,
}

impl CopyColumn {
    /// A column of a plain built-in type.
    pub fn plain(name: impl Into<String>, oid: Oid) -> CopyColumn {
        CopyColumn {
            name: name.into(),
            oid,
            ty: None,
        }
    }

    /// The columns of `stmt`'s result (a `SELECT` of the target columns, parsed and never
    /// run), refused up front when a type has no binary form in ferrule: binary COPY needs
    /// every field in binary.
    pub fn from_statement(stmt: &Statement) -> Result<Vec<CopyColumn>, Error> {
        let mut out = Vec::with_capacity(stmt.columns.len());
        for (i, c) in stmt.columns.iter().enumerate() {
            let ty = stmt.column_types.get(i).cloned().flatten();
            let binary = match &ty {
                Some(t) => t.binary,
                None => types::is_binary(c.type_oid),
            };
            if !binary {
                let name = ty
                    .as_ref()
                    .map_or(type_label(c.type_oid), |t| t.name.as_str());
                return Err(Error::interface(format!(
                    "column \"{}\" ({name}) has no binary codec, which binary COPY needs; \
                     load such data with copy_to_table in text or csv format",
                    c.name
                )));
            }
            out.push(CopyColumn {
                name: c.name.clone(),
                oid: c.type_oid,
                ty,
            });
        }
        Ok(out)
    }

    /// Writes the binary form of non-NULL `value` (without the length word).
    pub fn encode(
        &self,
        value: &Value,
        out: &mut BytesMut,
    ) -> Result<(), Box<dyn std::error::Error + Sync + Send>> {
        match &self.ty {
            Some(t) => encode_typed(value, t, out),
            None => encode_binary(value, self.oid, out),
        }
    }
}

/// Appends one field: its length word and binary form, or -1 for NULL. The error names the
/// column (1-based `index`), for the caller to prefix with the record.
pub fn encode_copy_field(
    value: &Value,
    column: &CopyColumn,
    index: usize,
    out: &mut BytesMut,
) -> Result<(), Error> {
    if matches!(value, Value::Null) {
        out.put_i32(-1);
        return Ok(());
    }
    let at = out.len();
    out.put_i32(0);
    if let Err(e) = column.encode(value, out) {
        out.truncate(at);
        // Query parameters may carry such a str in text form for the server to parse; a
        // binary COPY row cannot.
        let text_hint = match (value, &column.ty) {
            (Value::Text(_), Some(t)) if !takes_text(t) => {
                "; binary COPY takes the value's object form, not its text"
            }
            _ => "",
        };
        return Err(Error::new(
            ErrorKind::Data,
            format!("column {index} ({}): {e}{text_hint}", column.name),
        ));
    }
    let n = i32::try_from(out.len() - at - 4)
        .map_err(|_| Error::new(ErrorKind::Data, format!("column {index}: value too long")))?;
    out[at..at + 4].copy_from_slice(&n.to_be_bytes());
    Ok(())
}

/// Appends one row of a binary COPY: the field count, then each value for its column.
pub fn encode_copy_row(
    values: &[Value],
    columns: &[CopyColumn],
    out: &mut BytesMut,
) -> Result<(), Error> {
    if values.len() != columns.len() {
        return Err(Error::interface(format!(
            "a record has {} values for {} columns",
            values.len(),
            columns.len()
        )));
    }
    let start = out.len();
    out.put_i16(columns.len() as i16);
    for (i, (value, column)) in values.iter().zip(columns).enumerate() {
        if let Err(e) = encode_copy_field(value, column, i + 1, out) {
            out.truncate(start);
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typeinfo::TypeKind;

    #[test]
    fn header_and_row_golden_bytes() {
        assert_eq!(COPY_BINARY_HEADER.len(), 19);
        assert_eq!(&COPY_BINARY_HEADER[..11], b"PGCOPY\n\xff\r\n\0");
        let columns = [
            CopyColumn::plain("a", types::INT4),
            CopyColumn::plain("b", types::INT8),
            CopyColumn::plain("c", types::TEXT),
        ];
        let mut b = BytesMut::new();
        encode_copy_row(
            &[Value::Int(7), Value::Null, Value::Text("hi".into())],
            &columns,
            &mut b,
        )
        .unwrap();
        assert_eq!(
            b.to_vec(),
            vec![0, 3, 0, 0, 0, 4, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, b'h', b'i']
        );
    }

    #[test]
    fn a_failed_row_leaves_nothing_behind() {
        let columns = [
            CopyColumn::plain("id", types::INT4),
            CopyColumn::plain("n", types::INT4),
        ];
        let mut b = BytesMut::from(&b"kept"[..]);
        let err = encode_copy_row(&[Value::Int(1), Value::Text("x".into())], &columns, &mut b)
            .unwrap_err();
        assert!(err.message.contains("column 2 (n)"), "{}", err.message);
        assert_eq!(err.kind, ErrorKind::Data);
        assert_eq!(&b[..], b"kept");
        let err = encode_copy_row(&[Value::Int(1)], &columns, &mut b).unwrap_err();
        assert!(
            err.message.contains("1 values for 2 columns"),
            "{}",
            err.message
        );
    }

    #[test]
    fn typed_columns_use_the_rich_encoders() {
        let label = Arc::new(PgType::new(90_001, "public.mood", TypeKind::Enum));
        let column = CopyColumn {
            name: "m".into(),
            oid: 90_001,
            ty: Some(label),
        };
        let mut b = BytesMut::new();
        encode_copy_field(&Value::Text("happy".into()), &column, 1, &mut b).unwrap();
        assert_eq!(&b[..], b"\0\0\0\x05happy");
        let err = encode_copy_field(&Value::Int(3), &column, 1, &mut b).unwrap_err();
        assert!(err.message.contains("public.mood"), "{}", err.message);
    }
}
