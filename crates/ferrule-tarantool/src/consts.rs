//! IPROTO numbers: request types, header and body keys, iterators, features, error codes.

/// Request and response types (IPROTO_REQUEST_TYPE).
pub mod req {
    pub const OK: u32 = 0x00;
    pub const SELECT: u32 = 0x01;
    pub const INSERT: u32 = 0x02;
    pub const REPLACE: u32 = 0x03;
    pub const UPDATE: u32 = 0x04;
    pub const DELETE: u32 = 0x05;
    pub const AUTH: u32 = 0x07;
    pub const EVAL: u32 = 0x08;
    pub const UPSERT: u32 = 0x09;
    pub const CALL: u32 = 0x0a;
    pub const EXECUTE: u32 = 0x0b;
    pub const PREPARE: u32 = 0x0d;
    pub const BEGIN: u32 = 0x0e;
    pub const COMMIT: u32 = 0x0f;
    pub const ROLLBACK: u32 = 0x10;
    pub const PING: u32 = 0x40;
    pub const ID: u32 = 0x49;
    pub const WATCH: u32 = 0x4a;
    pub const UNWATCH: u32 = 0x4b;
    pub const EVENT: u32 = 0x4c;
    pub const CHUNK: u32 = 0x80;
    /// Set in a response type that is an error; the low bits are the error code.
    pub const TYPE_ERROR: u32 = 0x8000;
}

/// Header map keys.
pub mod hdr {
    pub const REQUEST_TYPE: u8 = 0x00;
    pub const SYNC: u8 = 0x01;
    pub const SCHEMA_VERSION: u8 = 0x05;
    pub const STREAM_ID: u8 = 0x0a;
}

/// Body map keys.
pub mod key {
    pub const SPACE_ID: u8 = 0x10;
    pub const INDEX_ID: u8 = 0x11;
    pub const LIMIT: u8 = 0x12;
    pub const OFFSET: u8 = 0x13;
    pub const ITERATOR: u8 = 0x14;
    pub const INDEX_BASE: u8 = 0x15;
    pub const KEY: u8 = 0x20;
    pub const TUPLE: u8 = 0x21;
    pub const FUNCTION_NAME: u8 = 0x22;
    pub const USER_NAME: u8 = 0x23;
    pub const EXPR: u8 = 0x27;
    pub const OPS: u8 = 0x28;
    pub const OPTIONS: u8 = 0x2b;
    pub const DATA: u8 = 0x30;
    pub const ERROR_24: u8 = 0x31;
    pub const METADATA: u8 = 0x32;
    pub const BIND_METADATA: u8 = 0x33;
    pub const BIND_COUNT: u8 = 0x34;
    pub const SQL_TEXT: u8 = 0x40;
    pub const SQL_BIND: u8 = 0x41;
    pub const SQL_INFO: u8 = 0x42;
    pub const STMT_ID: u8 = 0x43;
    pub const ERROR: u8 = 0x52;
    pub const VERSION: u8 = 0x54;
    pub const FEATURES: u8 = 0x55;
    pub const TIMEOUT: u8 = 0x56;
    pub const EVENT_KEY: u8 = 0x57;
    pub const EVENT_DATA: u8 = 0x58;
    pub const TXN_ISOLATION: u8 = 0x59;
}

/// Keys of one column's map in IPROTO_METADATA.
pub mod field {
    pub const NAME: u64 = 0x00;
    pub const TYPE: u64 = 0x01;
    pub const COLL: u64 = 0x02;
    pub const IS_NULLABLE: u64 = 0x03;
    pub const IS_AUTOINCREMENT: u64 = 0x04;
    pub const SPAN: u64 = 0x05;
}

/// Keys of IPROTO_SQL_INFO.
pub mod sql_info {
    pub const ROW_COUNT: u64 = 0x00;
    pub const AUTOINCREMENT_IDS: u64 = 0x01;
}

/// Keys of an error stack (IPROTO_ERROR and the MP_ERROR extension).
pub mod error_key {
    pub const STACK: u64 = 0x00;
    pub const TYPE: u64 = 0x00;
    pub const FILE: u64 = 0x01;
    pub const LINE: u64 = 0x02;
    pub const MESSAGE: u64 = 0x03;
    pub const ERRNO: u64 = 0x04;
    pub const CODE: u64 = 0x05;
    pub const FIELDS: u64 = 0x06;
}

/// MessagePack extension types Tarantool defines.
pub mod ext {
    pub const DECIMAL: i8 = 1;
    pub const UUID: i8 = 2;
    pub const ERROR: i8 = 3;
    pub const DATETIME: i8 = 4;
    pub const INTERVAL: i8 = 6;
}

/// IPROTO_ID protocol features.
pub mod feature {
    pub const STREAMS: u64 = 0;
    pub const TRANSACTIONS: u64 = 1;
    pub const ERROR_EXTENSION: u64 = 2;
    pub const WATCHERS: u64 = 3;
}

/// The protocol version this client speaks in IPROTO_ID.
pub const PROTOCOL_VERSION: u64 = 3;

/// Box error codes the driver acts on.
pub mod code {
    pub const ER_WRONG_SCHEMA_VERSION: u32 = 109;
    pub const ER_UNKNOWN_REQUEST_TYPE: u32 = 48;
}

/// System spaces read for the schema (the `_v` views only show what the user may see).
pub const VSPACE_ID: u32 = 281;
pub const VINDEX_ID: u32 = 289;

/// Index iterators (IPROTO_ITERATOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Iterator {
    Eq = 0,
    Req = 1,
    All = 2,
    Lt = 3,
    Le = 4,
    Ge = 5,
    Gt = 6,
    BitsAllSet = 7,
    BitsAnySet = 8,
    BitsAllNotSet = 9,
    Overlaps = 10,
    Neighbor = 11,
}

impl Iterator {
    /// Parses an iterator name as Tarantool spells it (`EQ`, `GE`, `ALL`, ... any case).
    pub fn parse(name: &str) -> Option<Iterator> {
        Some(match name.to_ascii_uppercase().as_str() {
            "EQ" | "=" | "==" => Iterator::Eq,
            "REQ" => Iterator::Req,
            "ALL" => Iterator::All,
            "LT" | "<" => Iterator::Lt,
            "LE" | "<=" => Iterator::Le,
            "GE" | ">=" => Iterator::Ge,
            "GT" | ">" => Iterator::Gt,
            "BITS_ALL_SET" | "BITSET_ALL_SET" => Iterator::BitsAllSet,
            "BITS_ANY_SET" | "BITSET_ANY_SET" => Iterator::BitsAnySet,
            "BITS_ALL_NOT_SET" | "BITSET_ALL_NOT_SET" => Iterator::BitsAllNotSet,
            "OVERLAPS" => Iterator::Overlaps,
            "NEIGHBOR" => Iterator::Neighbor,
            _ => return None,
        })
    }

    pub fn from_code(code: u32) -> Option<Iterator> {
        const ALL: [Iterator; 12] = [
            Iterator::Eq,
            Iterator::Req,
            Iterator::All,
            Iterator::Lt,
            Iterator::Le,
            Iterator::Ge,
            Iterator::Gt,
            Iterator::BitsAllSet,
            Iterator::BitsAnySet,
            Iterator::BitsAllNotSet,
            Iterator::Overlaps,
            Iterator::Neighbor,
        ];
        ALL.get(code as usize).copied()
    }
}
