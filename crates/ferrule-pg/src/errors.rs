//! ErrorResponse / NoticeResponse fields into ferrule's error, every field kept.

use fallible_iterator::FallibleIterator;
use ferrule_core::{Error, ErrorKind};
use postgres_protocol::message::backend::ErrorFields;

/// Not a server field: how many statements of the request completed before the error.
pub const COMPLETED_BEFORE: &str = "ferrule_completed_before";

/// The attribute name ferrule gives each field code of the protocol.
fn field_name(code: u8) -> Option<&'static str> {
    Some(match code {
        b'S' => "severity",
        b'V' => "severity_nonlocalized",
        b'C' => "sqlstate",
        b'M' => "message",
        b'D' => "detail",
        b'H' => "hint",
        b'P' => "position",
        b'p' => "internal_position",
        b'q' => "internal_query",
        b'W' => "where",
        b's' => "schema_name",
        b't' => "table_name",
        b'c' => "column_name",
        b'd' => "data_type_name",
        b'n' => "constraint_name",
        b'F' => "file",
        b'L' => "line",
        b'R' => "routine",
        _ => return None,
    })
}

pub fn from_fields(mut fields: ErrorFields<'_>) -> Error {
    let mut err = Error::new(ErrorKind::Database, String::new());
    loop {
        match fields.next() {
            Ok(Some(field)) => {
                let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
                match field.type_() {
                    b'M' => err.message = value,
                    b'C' => {
                        err.code = Some(value.clone());
                        err.fields.push(("sqlstate", value));
                    }
                    code => {
                        if let Some(name) = field_name(code) {
                            err.fields.push((name, value));
                        }
                    }
                }
            }
            Ok(None) => break,
            Err(e) => return Error::protocol(format!("malformed error message from server: {e}")),
        }
    }
    err
}
