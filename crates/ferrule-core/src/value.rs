//! Bound parameter values, converted from Python while the GIL is held and encoded by each
//! backend for the wire once the parameter's server-side type is known.

/// A parameter value in backend-neutral form. Times are microsecond counts so that no
/// calendar crate is needed here; each backend converts to its own epoch.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer outside the i64 range, as decimal digits (numeric / decimal targets).
    BigInt(String),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    /// A decimal as its canonical string form (`"1.50"`, `"NaN"`, `"-Infinity"`).
    Decimal(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight, with an optional UTC offset in seconds (east positive).
    Time {
        micros: i64,
        offset: Option<i32>,
    },
    /// Microseconds since 1970-01-01T00:00:00, local wall time when `offset` is `None`, UTC
    /// otherwise (the offset is kept for backends that store it).
    DateTime {
        micros: i64,
        offset: Option<i32>,
    },
    Interval {
        months: i32,
        days: i32,
        micros: i64,
    },
    Uuid([u8; 16]),
    /// A JSON document already serialized.
    Json(String),
    /// An IP address or network: address bytes (4 or 16), prefix length, and whether the
    /// value was a network (`cidr`) rather than an interface/address (`inet`).
    Inet {
        addr: Vec<u8>,
        prefix: u8,
        is_network: bool,
    },
    /// A list (array) of values; nested lists make multi-dimensional arrays.
    List(Vec<Value>),
    /// A mapping with string keys (named parameters, msgpack maps).
    Map(Vec<(String, Value)>),
}

impl Value {
    /// A short name of the Python-side kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Text(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Decimal(_) => "Decimal",
            Value::Date(_) => "date",
            Value::Time { .. } => "time",
            Value::DateTime { .. } => "datetime",
            Value::Interval { .. } => "timedelta",
            Value::Uuid(_) => "UUID",
            Value::Json(_) => "json",
            Value::Inet { .. } => "ip address",
            Value::List(_) => "list",
            Value::Map(_) => "dict",
        }
    }
}
