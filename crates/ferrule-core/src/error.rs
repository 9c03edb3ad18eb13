//! The error every backend returns. The Python exception is built from it only at the
//! boundary (ferrule-py), from `kind`, `code` and `fields`.

use std::fmt;

/// What went wrong, normalized across backends. The Python layer picks the exception class
/// from this and, for `Database`, from the backend's native code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Misuse of the API or a value that cannot be bound (PEP 249 InterfaceError).
    Interface,
    /// An error reported by the server; `code` holds the native code (SQLSTATE, number, ...).
    Database,
    /// The connection could not be opened (unreachable, refused, TLS setup, startup).
    ConnectionFailure,
    /// An open connection was lost; the connection is closed.
    ConnectionLost,
    /// The peer sent bytes that break the protocol; the connection is closed.
    Protocol,
    /// The call's `timeout` expired; the work was cancelled on the server.
    Timeout,
    /// The operation was cancelled by the caller.
    Cancelled,
    /// The connection (or pool) was closed by the user.
    Closed,
    /// Authentication failed or is not supported.
    Authentication,
    /// A value received from the server could not be represented.
    Data,
    /// The server lacks a feature the call needs.
    NotSupported,
    /// A pool could not hand out a connection in time.
    PoolTimeout,
}

/// A backend-neutral error with the server's fields kept verbatim.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    /// The backend's native code as text (`"23505"`, `"2627"`, `"SQLITE_CONSTRAINT_UNIQUE"`).
    pub code: Option<String>,
    pub message: String,
    /// Extra server fields (`detail`, `hint`, `constraint_name`, ...), in arrival order.
    pub fields: Vec<(&'static str, String)>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            code: None,
            message: message.into(),
            fields: Vec::new(),
        }
    }
    pub fn interface(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Interface, message)
    }
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }
    pub fn connection_failure(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ConnectionFailure, message)
    }
    pub fn connection_lost(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ConnectionLost, message)
    }
    pub fn closed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Closed, message)
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
    /// True when the connection that produced this error can no longer be used.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::ConnectionLost | ErrorKind::Protocol | ErrorKind::Closed
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::connection_lost(format!("connection lost: {e}"))
    }
}
