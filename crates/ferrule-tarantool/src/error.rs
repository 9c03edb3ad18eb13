//! Tarantool errors: the IPROTO_ERROR stack (and the MP_ERROR extension, which holds the same
//! map) into `ferrule_core::Error`, keeping the box error code and message.

use ferrule_core::{Error, ErrorKind};

use crate::consts::error_key;
use crate::mp::{MpReader, MpValue};

/// A server error with its box error code as the native code.
pub fn database_error(code: u32, message: String) -> Error {
    Error::new(ErrorKind::Database, message).with_code(code.to_string())
}

/// One error of a stack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoxError {
    pub error_type: String,
    pub file: String,
    pub line: u64,
    pub message: String,
    pub errno: u64,
    pub code: u64,
    /// Extra fields of custom and some built-in errors, as text.
    pub fields: Vec<(String, String)>,
}

/// Decodes an error stack map `{0: [error, cause, ...]}`; the first error is the one raised.
pub fn error_stack(r: &mut MpReader<'_>) -> Result<Vec<BoxError>, Error> {
    let v = r.read_value()?;
    let Some(stack) = v.get_uint(error_key::STACK).and_then(MpValue::as_array) else {
        return Err(Error::protocol("an error stack without errors"));
    };
    Ok(stack.iter().map(one_error).collect())
}

fn one_error(v: &MpValue) -> BoxError {
    let text = |k| {
        v.get_uint(k)
            .and_then(MpValue::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let num = |k| v.get_uint(k).and_then(MpValue::as_u64).unwrap_or(0);
    let fields = match v.get_uint(error_key::FIELDS) {
        Some(MpValue::Map(m)) => m
            .iter()
            .map(|(k, v)| (k.as_str().unwrap_or("?").to_owned(), display(v)))
            .collect(),
        _ => Vec::new(),
    };
    BoxError {
        error_type: text(error_key::TYPE),
        file: text(error_key::FILE),
        line: num(error_key::LINE),
        message: text(error_key::MESSAGE),
        errno: num(error_key::ERRNO),
        code: num(error_key::CODE),
        fields,
    }
}

fn display(v: &MpValue) -> String {
    match v {
        MpValue::Str(s) => s.clone(),
        MpValue::UInt(u) => u.to_string(),
        MpValue::Int(i) => i.to_string(),
        MpValue::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// The `Error` for a stack; `code` is the one from the response header when there is one.
pub fn box_error(r: &mut MpReader<'_>, code: Option<u32>) -> Result<Error, Error> {
    let stack = error_stack(r)?;
    let Some(top) = stack.first() else {
        return Err(Error::protocol("an empty error stack"));
    };
    let code = code.unwrap_or(top.code as u32);
    Ok(to_error(code, &stack))
}

/// The `Error` for a decoded stack.
pub fn to_error(code: u32, stack: &[BoxError]) -> Error {
    let top = stack.first().cloned().unwrap_or_default();
    let mut e = database_error(code, top.message.clone());
    if !top.error_type.is_empty() {
        e.fields.push(("error_type", top.error_type.clone()));
    }
    if !top.file.is_empty() {
        e.fields.push(("file", top.file.clone()));
        e.fields.push(("line", top.line.to_string()));
    }
    if top.errno != 0 {
        e.fields.push(("errno", top.errno.to_string()));
    }
    let causes: Vec<String> = stack[1.min(stack.len())..]
        .iter()
        .map(|c| format!("{}: {}", c.error_type, c.message))
        .collect();
    let extra: Vec<String> = top.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !causes.is_empty() || !extra.is_empty() {
        let mut detail = extra.join(", ");
        if !causes.is_empty() {
            if !detail.is_empty() {
                detail.push_str("; ");
            }
            detail.push_str("caused by ");
            detail.push_str(&causes.join("; caused by "));
        }
        e.fields.push(("detail", detail));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_with_cause() {
        // {0: [{0: "ClientError", 1: "f.c", 2: 10, 3: "top", 4: 0, 5: 42},
        //      {0: "CustomError", 3: "cause", 5: 0, 6: {"custom_type": "X"}}]}
        let mut b = vec![0x81, 0x00, 0x92, 0x86, 0x00, 0xab];
        b.extend(b"ClientError");
        b.extend([0x01, 0xa3]);
        b.extend(b"f.c");
        b.extend([0x02, 0x0a, 0x03, 0xa3]);
        b.extend(b"top");
        b.extend([0x04, 0x00, 0x05, 0x2a, 0x84, 0x00, 0xab]);
        b.extend(b"CustomError");
        b.extend([0x03, 0xa5]);
        b.extend(b"cause");
        b.extend([0x05, 0x00, 0x06, 0x81, 0xab]);
        b.extend(b"custom_type");
        b.extend([0xa1, b'X']);
        let e = box_error(&mut MpReader::new(&b), None).unwrap();
        assert_eq!(e.code.as_deref(), Some("42"));
        assert_eq!(e.message, "top");
        assert_eq!(e.field("file"), Some("f.c"));
        assert_eq!(e.field("line"), Some("10"));
        assert_eq!(e.field("detail"), Some("caused by CustomError: cause"));
        let stack = error_stack(&mut MpReader::new(&b)).unwrap();
        assert_eq!(
            stack[1].fields,
            vec![("custom_type".to_owned(), "X".to_owned())]
        );
    }

    #[test]
    fn malformed_stacks() {
        assert!(box_error(&mut MpReader::new(&[0x80]), None).is_err());
        assert!(box_error(&mut MpReader::new(&[0x81, 0x00, 0x90]), None).is_err());
        assert!(box_error(&mut MpReader::new(&[0x81, 0x00]), None).is_err());
    }
}
