//! Type OIDs of the built-in types ferrule encodes and decodes in binary format.

pub type Oid = u32;

pub const BOOL: Oid = 16;
pub const BYTEA: Oid = 17;
pub const CHAR: Oid = 18;
pub const NAME: Oid = 19;
pub const INT8: Oid = 20;
pub const INT2: Oid = 21;
pub const INT4: Oid = 23;
pub const TEXT: Oid = 25;
pub const OID: Oid = 26;
pub const JSON: Oid = 114;
pub const XML: Oid = 142;
pub const CIDR: Oid = 650;
pub const FLOAT4: Oid = 700;
pub const FLOAT8: Oid = 701;
pub const UNKNOWN: Oid = 705;
pub const INET: Oid = 869;
pub const BPCHAR: Oid = 1042;
pub const VARCHAR: Oid = 1043;
pub const DATE: Oid = 1082;
pub const TIME: Oid = 1083;
pub const TIMESTAMP: Oid = 1114;
pub const TIMESTAMPTZ: Oid = 1184;
pub const INTERVAL: Oid = 1186;
pub const TIMETZ: Oid = 1266;
pub const NUMERIC: Oid = 1700;
pub const UUID: Oid = 2950;
pub const JSONB: Oid = 3802;
pub const VOID: Oid = 2278;
pub const REGCLASS: Oid = 2205;
pub const REGTYPE: Oid = 2206;
pub const XID: Oid = 28;
pub const OID_ARRAY: Oid = 1028;
pub const CITEXT_LIKE_TEXT: [Oid; 5] = [TEXT, VARCHAR, BPCHAR, NAME, XML];

/// The element type of a built-in array type, if `oid` is one ferrule handles.
pub fn array_element(oid: Oid) -> Option<Oid> {
    Some(match oid {
        1000 => BOOL,
        1001 => BYTEA,
        1002 => CHAR,
        1003 => NAME,
        1016 => INT8,
        1005 => INT2,
        1007 => INT4,
        1009 => TEXT,
        1028 => OID,
        199 => JSON,
        143 => XML,
        651 => CIDR,
        1021 => FLOAT4,
        1022 => FLOAT8,
        1041 => INET,
        1014 => BPCHAR,
        1015 => VARCHAR,
        1182 => DATE,
        1183 => TIME,
        1115 => TIMESTAMP,
        1185 => TIMESTAMPTZ,
        1187 => INTERVAL,
        1270 => TIMETZ,
        1231 => NUMERIC,
        2951 => UUID,
        3807 => JSONB,
        _ => return None,
    })
}

/// Scalar types with a binary codec in ferrule (arrays of them are handled too).
pub fn is_builtin_scalar(oid: Oid) -> bool {
    matches!(
        oid,
        BOOL | BYTEA
            | CHAR
            | NAME
            | INT8
            | INT2
            | INT4
            | TEXT
            | OID
            | XID
            | JSON
            | XML
            | CIDR
            | FLOAT4
            | FLOAT8
            | INET
            | BPCHAR
            | VARCHAR
            | DATE
            | TIME
            | TIMESTAMP
            | TIMESTAMPTZ
            | INTERVAL
            | TIMETZ
            | NUMERIC
            | UUID
            | JSONB
            | VOID
            | UNKNOWN
    )
}

/// Whether values of `oid` travel in binary format; others use text (their output function).
pub fn is_binary(oid: Oid) -> bool {
    is_builtin_scalar(oid) || array_element(oid).is_some()
}

/// Microseconds between 1970-01-01 (Python's epoch) and 2000-01-01 (PostgreSQL's).
pub const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;
/// Days between 1970-01-01 and 2000-01-01.
pub const PG_EPOCH_OFFSET_DAYS: i32 = 10_957;
