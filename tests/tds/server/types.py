"""SQL Server data types: parsing declarations (`nvarchar(max)`) and TYPE_INFO on the wire."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .wire import ProtocolError, Reader

MAX = -1  # the length of a (max) type

# SQL_Latin1_General_CP1_CI_AS: LCID 0x0409, ignore case/kana/width, sort id 52.
COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])
CODEPAGE = "cp1252"

# TYPE_INFO type bytes (MS-TDS 2.2.5.4).
NULLTYPE, INT1, BIT, INT2, INT4, DATETIM4, FLT4, MONEY, DATETIME, FLT8 = (
    0x1F, 0x30, 0x32, 0x34, 0x38, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E,
)  # fmt: skip
MONEY4, INT8, GUID, INTN, DECIMAL, NUMERIC, BITN, DECIMALN, NUMERICN = (
    0x7A, 0x7F, 0x24, 0x26, 0x37, 0x3F, 0x68, 0x6A, 0x6C,
)  # fmt: skip
FLTN, MONEYN, DATETIMN, DATEN, TIMEN, DATETIME2N, DATETIMEOFFSETN = (
    0x6D, 0x6E, 0x6F, 0x28, 0x29, 0x2A, 0x2B,
)  # fmt: skip
CHAR, VARCHAR, BINARY, VARBINARY = 0x2F, 0x27, 0x2D, 0x25
BIGVARBINARY, BIGVARCHAR, BIGBINARY, BIGCHAR, NVARCHAR, NCHAR = (
    0xA5, 0xA7, 0xAD, 0xAF, 0xE7, 0xEF,
)  # fmt: skip
XML, UDT, TEXT, IMAGE, NTEXT, SSVARIANT = 0xF1, 0xF0, 0x23, 0x22, 0x63, 0x62

INTEGER_SIZES = {"tinyint": 1, "smallint": 2, "int": 4, "bigint": 8}
CHAR_TYPES = {"char", "varchar", "nchar", "nvarchar"}
BINARY_TYPES = {"binary", "varbinary"}
SCALED_TIME_TYPES = {"time", "datetime2", "datetimeoffset"}
LOB_TYPES = {"text", "ntext", "image"}
KNOWN_TYPES = {
    *INTEGER_SIZES, "bit", "real", "float", "decimal", "numeric", "money", "smallmoney",
    *CHAR_TYPES, *BINARY_TYPES, *LOB_TYPES, *SCALED_TIME_TYPES, "date", "datetime",
    "smalldatetime", "uniqueidentifier", "xml", "sql_variant",
}  # fmt: skip
_ALIASES = {
    "integer": "int",
    "double precision": "float",
    "dec": "decimal",
    "character": "char",
    "character varying": "varchar",
    "national character varying": "nvarchar",
    "national char varying": "nvarchar",
    "national character": "nchar",
    "national char": "nchar",
    "sysname": "nvarchar(128)",
    "rowversion": "binary(8)",
    "timestamp": "binary(8)",
}
_DECL = re.compile(r"^\s*([a-z_][a-z0-9_ ]*?)\s*(?:\(\s*([^)]*)\))?\s*$", re.IGNORECASE)


class TypeDeclarationError(ValueError):
    """A type name SQL Server would reject (error 2715: "Cannot find data type")."""


@dataclass(frozen=True)
class SqlType:
    """A declared SQL Server type. `length` is in characters for char types, bytes for
    binary types, MAX for (max); precision/scale for decimal, scale for time types."""

    name: str
    length: int = 0
    precision: int = 0
    scale: int = 0

    @property
    def is_max(self) -> bool:
        return self.length == MAX

    @property
    def is_unicode(self) -> bool:
        return self.name in ("nchar", "nvarchar", "ntext", "xml")

    @property
    def is_plp(self) -> bool:
        return self.is_max or self.name == "xml"

    def declaration(self) -> str:
        if self.name in CHAR_TYPES or self.name in BINARY_TYPES:
            return f"{self.name}({'max' if self.is_max else self.length})"
        if self.name in ("decimal", "numeric"):
            return f"{self.name}({self.precision},{self.scale})"
        if self.name in SCALED_TIME_TYPES:
            return f"{self.name}({self.scale})"
        return self.name


@functools.lru_cache(maxsize=1024)
def parse_type(text: str, *, default_length: int = 1) -> SqlType:
    """`nvarchar(50)`, `decimal(10, 2)`, `varbinary(max)`, `float(24)`, `datetime2(3)`, ...

    `default_length` is 1 in declarations and 30 in CAST/CONVERT, as in SQL Server.
    """
    match = _DECL.match(text)
    if not match:
        raise TypeDeclarationError(f"Cannot find data type {text.strip()}.")
    name = " ".join(match.group(1).lower().split())
    args = match.group(2)
    alias = _ALIASES.get(name)
    if alias is not None:
        if "(" in alias and args is None:
            return parse_type(alias)
        name = alias
    if name not in KNOWN_TYPES:
        raise TypeDeclarationError(f"Cannot find data type {name}.")
    parts = [p.strip().lower() for p in args.split(",")] if args is not None else []
    try:
        if name in CHAR_TYPES or name in BINARY_TYPES:
            if not parts:
                return SqlType(name, default_length)
            if parts[0] == "max":
                if name in ("char", "nchar", "binary"):
                    raise TypeDeclarationError(f"'max' is not allowed for {name}")
                return SqlType(name, MAX)
            length = int(parts[0])
            limit = 4000 if name.startswith("n") else 8000
            if not 1 <= length <= limit:
                raise TypeDeclarationError(
                    f"The size ({length}) given to the type '{name}' exceeds the maximum "
                    f"allowed ({limit})."
                )
            return SqlType(name, length)
        if name in ("decimal", "numeric"):
            precision = int(parts[0]) if parts else 18
            scale = int(parts[1]) if len(parts) > 1 else 0
            if not 1 <= precision <= 38 or not 0 <= scale <= precision:
                raise TypeDeclarationError(f"invalid precision/scale in {text.strip()}")
            return SqlType(name, precision=precision, scale=scale)
        if name in SCALED_TIME_TYPES:
            scale = int(parts[0]) if parts else 7
            if not 0 <= scale <= 7:
                raise TypeDeclarationError(f"Specified scale {scale} is invalid.")
            return SqlType(name, scale=scale)
        if name == "float":
            bits = int(parts[0]) if parts else 53
            return SqlType("real" if bits <= 24 else "float")
    except ValueError as exc:
        if isinstance(exc, TypeDeclarationError):
            raise
        raise TypeDeclarationError(f"invalid type arguments in {text.strip()}") from exc
    return SqlType(name)


def decimal_size(precision: int) -> int:
    """Bytes of a DECIMALN value: sign byte plus 4, 8, 12 or 16 bytes of magnitude."""
    if precision <= 9:
        return 5
    if precision <= 19:
        return 9
    if precision <= 28:
        return 13
    return 17


def time_size(scale: int) -> int:
    return 3 if scale <= 2 else 4 if scale <= 4 else 5


def write_type_info(t: SqlType) -> bytes:
    """TYPE_INFO as a server sends it in COLMETADATA and RETURNVALUE (nullable variants)."""
    n = t.name
    if n in INTEGER_SIZES:
        return bytes([INTN, INTEGER_SIZES[n]])
    if n == "bit":
        return bytes([BITN, 1])
    if n in ("real", "float"):
        return bytes([FLTN, 4 if n == "real" else 8])
    if n in ("decimal", "numeric"):
        code = DECIMALN if n == "decimal" else NUMERICN
        return bytes([code, decimal_size(t.precision), t.precision, t.scale])
    if n in ("money", "smallmoney"):
        return bytes([MONEYN, 8 if n == "money" else 4])
    if n in ("datetime", "smalldatetime"):
        return bytes([DATETIMN, 8 if n == "datetime" else 4])
    if n == "date":
        return bytes([DATEN])
    if n in SCALED_TIME_TYPES:
        code = {"time": TIMEN, "datetime2": DATETIME2N, "datetimeoffset": DATETIMEOFFSETN}[n]
        return bytes([code, t.scale])
    if n == "uniqueidentifier":
        return bytes([GUID, 16])
    if n in CHAR_TYPES or n in BINARY_TYPES:
        code = {
            "char": BIGCHAR,
            "varchar": BIGVARCHAR,
            "nchar": NCHAR,
            "nvarchar": NVARCHAR,
            "binary": BIGBINARY,
            "varbinary": BIGVARBINARY,
        }[n]
        size = 0xFFFF if t.is_max else t.length * (2 if t.is_unicode else 1)
        info = bytes([code]) + size.to_bytes(2, "little")
        return info + COLLATION if n in CHAR_TYPES else info
    if n == "text":
        return bytes([TEXT]) + (0x7FFFFFFF).to_bytes(4, "little") + COLLATION
    if n == "ntext":
        return bytes([NTEXT]) + (0x7FFFFFFE).to_bytes(4, "little") + COLLATION
    if n == "image":
        return bytes([IMAGE]) + (0x7FFFFFFF).to_bytes(4, "little")
    if n == "xml":
        return bytes([XML, 0])
    if n == "sql_variant":
        return bytes([SSVARIANT]) + (8016).to_bytes(4, "little")
    raise ValueError(f"no TYPE_INFO for {n}")


_FIXED = {
    INT1: SqlType("tinyint"), BIT: SqlType("bit"), INT2: SqlType("smallint"),
    INT4: SqlType("int"), INT8: SqlType("bigint"), FLT4: SqlType("real"), FLT8: SqlType("float"),
    MONEY: SqlType("money"), MONEY4: SqlType("smallmoney"), DATETIME: SqlType("datetime"),
    DATETIM4: SqlType("smalldatetime"), NULLTYPE: SqlType("int"),
}  # fmt: skip
_INTN_BY_SIZE = {1: "tinyint", 2: "smallint", 4: "int", 8: "bigint"}


@dataclass(frozen=True)
class WireType:
    """A TYPE_INFO read from a client: the SQL type plus how its values are framed."""

    sql: SqlType
    code: int
    size: int  # the max length/size byte(s) as sent; 0 for fixed types


def read_type_info(reader: Reader) -> WireType:
    """TYPE_INFO as a client sends it in RPC parameters and BULK LOAD COLMETADATA."""
    code = reader.u8()
    if code in _FIXED:
        return WireType(_FIXED[code], code, 0)
    if code == INTN:
        size = reader.u8()
        if size not in _INTN_BY_SIZE:
            raise ProtocolError(f"INTN of size {size}")
        return WireType(SqlType(_INTN_BY_SIZE[size]), code, size)
    if code == BITN:
        return WireType(SqlType("bit"), code, reader.u8())
    if code == FLTN:
        size = reader.u8()
        return WireType(SqlType("real" if size == 4 else "float"), code, size)
    if code == MONEYN:
        size = reader.u8()
        return WireType(SqlType("smallmoney" if size == 4 else "money"), code, size)
    if code == DATETIMN:
        size = reader.u8()
        return WireType(SqlType("smalldatetime" if size == 4 else "datetime"), code, size)
    if code in (DECIMALN, NUMERICN, DECIMAL, NUMERIC):
        size, precision, scale = reader.u8(), reader.u8(), reader.u8()
        name = "decimal" if code in (DECIMALN, DECIMAL) else "numeric"
        return WireType(SqlType(name, precision=precision, scale=scale), code, size)
    if code == DATEN:
        return WireType(SqlType("date"), code, 3)
    if code in (TIMEN, DATETIME2N, DATETIMEOFFSETN):
        name = {TIMEN: "time", DATETIME2N: "datetime2", DATETIMEOFFSETN: "datetimeoffset"}[code]
        return WireType(SqlType(name, scale=reader.u8()), code, 0)
    if code == GUID:
        return WireType(SqlType("uniqueidentifier"), code, reader.u8())
    if code in (BIGCHAR, BIGVARCHAR, NCHAR, NVARCHAR, BIGBINARY, BIGVARBINARY):
        size = reader.u16()
        if code in (BIGCHAR, BIGVARCHAR, NCHAR, NVARCHAR):
            reader.take(5)
        name = {
            BIGCHAR: "char",
            BIGVARCHAR: "varchar",
            NCHAR: "nchar",
            NVARCHAR: "nvarchar",
            BIGBINARY: "binary",
            BIGVARBINARY: "varbinary",
        }[code]
        if size == 0xFFFF:
            return WireType(SqlType(name, MAX), code, size)
        length = size // 2 if code in (NCHAR, NVARCHAR) else size
        return WireType(SqlType(name, max(length, 1)), code, size)
    if code in (CHAR, VARCHAR, BINARY, VARBINARY):
        # Legacy short types carry no collation (only the BIG* and N* types do).
        size = reader.u8()
        name = {CHAR: "char", VARCHAR: "varchar", BINARY: "binary", VARBINARY: "varbinary"}
        return WireType(SqlType(name[code], max(size, 1)), code, size)
    if code in (TEXT, NTEXT, IMAGE):
        size = reader.u32()
        if code != IMAGE:
            reader.take(5)
        return WireType(SqlType({TEXT: "text", NTEXT: "ntext", IMAGE: "image"}[code]), code, size)
    if code == XML:
        if reader.u8():
            reader.b_varchar()
            reader.b_varchar()
            reader.us_varchar()
        return WireType(SqlType("xml"), code, 0)
    if code == SSVARIANT:
        return WireType(SqlType("sql_variant"), code, reader.u32())
    raise ProtocolError(f"unsupported TYPE_INFO type 0x{code:02x}")
