//! ERROR tokens into `ferrule_core::Error`, with the server's fields kept by name.

use ferrule_core::{Error, ErrorKind};

use crate::token::ServerMessage;

/// Login failures: the class of exception is authentication, not database.
const LOGIN_FAILED: [i32; 3] = [18456, 18452, 18488];

/// The error for a server message; `code` is the error number as text.
pub fn from_message(m: &ServerMessage) -> Error {
    let kind = if LOGIN_FAILED.contains(&m.number) {
        ErrorKind::Authentication
    } else {
        ErrorKind::Database
    };
    let mut e = Error::new(kind, m.message.clone()).with_code(m.number.to_string());
    e.fields = vec![
        ("number", m.number.to_string()),
        ("state", m.state.to_string()),
        ("class_", m.class.to_string()),
        ("severity", m.class.to_string()),
        ("server", m.server.clone()),
        ("procedure", m.procedure.clone()),
        ("line", m.line.to_string()),
    ];
    e
}

/// Severity 20 and above ends the connection on the server's side.
pub fn is_fatal(m: &ServerMessage) -> bool {
    m.class >= 20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_kinds() {
        let m = ServerMessage {
            number: 2627,
            state: 1,
            class: 14,
            message: "dup".into(),
            server: "srv".into(),
            procedure: "p".into(),
            line: 3,
        };
        let e = from_message(&m);
        assert_eq!(
            (e.kind, e.code.as_deref()),
            (ErrorKind::Database, Some("2627"))
        );
        assert_eq!(e.field("procedure"), Some("p"));
        assert_eq!(e.field("class_"), Some("14"));
        let e = from_message(&ServerMessage { number: 18456, ..m });
        assert_eq!(e.kind, ErrorKind::Authentication);
    }
}
