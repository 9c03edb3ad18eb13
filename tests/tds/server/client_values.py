"""Values as clients send them (RPC parameters, BULK LOAD rows), read into storage forms."""

from __future__ import annotations

import decimal
import struct
import uuid
from typing import Any

from . import temporal
from . import types as T
from .types import SqlType, WireType
from .values import PLP_NULL, PLP_UNKNOWN, coerce
from .wire import ProtocolError, Reader

_FIXED_SIZES = {
    T.INT1: 1, T.BIT: 1, T.INT2: 2, T.INT4: 4, T.INT8: 8, T.FLT4: 4, T.FLT8: 8,
    T.MONEY: 8, T.MONEY4: 4, T.DATETIME: 8, T.DATETIM4: 4, T.NULLTYPE: 0,
}  # fmt: skip
_BYTELEN = {
    T.INTN, T.BITN, T.FLTN, T.MONEYN, T.DATETIMN, T.DECIMALN, T.NUMERICN, T.DECIMAL, T.NUMERIC,
    T.GUID, T.DATEN, T.TIMEN, T.DATETIME2N, T.DATETIMEOFFSETN, T.CHAR, T.VARCHAR, T.BINARY,
    T.VARBINARY,
}  # fmt: skip
_USHORTLEN = {T.BIGCHAR, T.BIGVARCHAR, T.NCHAR, T.NVARCHAR, T.BIGBINARY, T.BIGVARBINARY}


def read_plp(reader: Reader) -> bytes | None:
    total = reader.u64()
    if total == PLP_NULL:
        return None
    if total != PLP_UNKNOWN and total > reader.remaining():
        raise ProtocolError(f"PLP value of {total} bytes in a shorter message")
    chunks = []
    while True:
        size = reader.u32()
        if size == 0:
            break
        chunks.append(reader.take(size))
    return b"".join(chunks)


def read_value(reader: Reader, wt: WireType, *, in_bulk: bool = False) -> Any:
    """One value in the storage form of `wt.sql`; None for NULL."""
    code = wt.code
    if code in _FIXED_SIZES:
        raw = reader.take(_FIXED_SIZES[code])
        return None if code == T.NULLTYPE else _fixed(wt.sql, raw)
    if wt.sql.is_plp:
        data = read_plp(reader)
        return None if data is None else _bytes_value(wt.sql, data)
    if code in _USHORTLEN:
        size = reader.u16()
        return None if size == 0xFFFF else _bytes_value(wt.sql, reader.take(size))
    if code in (T.TEXT, T.NTEXT, T.IMAGE):
        if in_bulk:
            if reader.u8() == 0:
                return None
            reader.take(16 + 8)  # text pointer and timestamp
            return _bytes_value(wt.sql, reader.take(reader.u32()))
        size = reader.u32()
        return None if size == 0xFFFFFFFF else _bytes_value(wt.sql, reader.take(size))
    if code == T.SSVARIANT:
        size = reader.u32()
        return None if size == 0 else _variant(Reader(reader.take(size)))
    if code in _BYTELEN:
        size = reader.u8()
        if size == 0 and code not in (T.CHAR, T.VARCHAR, T.BINARY, T.VARBINARY):
            return None
        return _fixed(wt.sql, reader.take(size))
    raise ProtocolError(f"cannot read values of type 0x{code:02x}")


def _bytes_value(t: SqlType, data: bytes) -> Any:
    if t.name in ("binary", "varbinary", "image"):
        return data
    if t.is_unicode:
        return data.decode("utf-16-le", errors="replace")
    return data.decode(T.CODEPAGE, errors="replace")


def _fixed(t: SqlType, raw: bytes) -> Any:
    """Fixed-size and byte-length-prefixed values by SQL type."""
    n = t.name
    if n in T.INTEGER_SIZES:
        return int.from_bytes(raw, "little", signed=len(raw) > 1)
    if n == "bit":
        return 1 if raw[0] else 0
    if n in ("real", "float"):
        return struct.unpack("<f" if len(raw) == 4 else "<d", raw)[0]
    if n in ("decimal", "numeric"):
        magnitude = int.from_bytes(raw[1:], "little")
        # A decimal has up to 38 digits: the default context (28) would round it.
        number = decimal.Decimal(magnitude if raw[0] else -magnitude).scaleb(
            -t.scale, context=decimal.Context(prec=40)
        )
        return format(number, "f")
    if n in ("money", "smallmoney"):
        units = (
            int.from_bytes(raw[4:] + raw[:4], "little", signed=True)
            if len(raw) == 8
            else int.from_bytes(raw, "little", signed=True)
        )
        return format(decimal.Decimal(units).scaleb(-4), "f")
    if n == "uniqueidentifier":
        return str(uuid.UUID(bytes_le=raw)).upper()
    if n in ("date", "time", "datetime2", "datetimeoffset", "datetime", "smalldatetime"):
        return _temporal(t, raw)
    return coerce(_bytes_value(t, raw), t)


def _temporal(t: SqlType, raw: bytes) -> str:
    n = t.name
    offset = None
    if n == "date":
        value = temporal.Temporal(temporal.decode_date(raw), 0, None)
    elif n == "datetime":
        value = temporal.Temporal(*temporal.decode_datetime(raw), None)
    elif n == "smalldatetime":
        value = temporal.Temporal(*temporal.decode_smalldatetime(raw), None)
    elif n == "time":
        value = temporal.Temporal(None, temporal.decode_time(raw, t.scale), None)
    else:
        size = T.time_size(t.scale)
        ticks = temporal.decode_time(raw[:size], t.scale)
        date = temporal.decode_date(raw[size : size + 3])
        if n == "datetimeoffset":
            offset = int.from_bytes(raw[size + 3 : size + 5], "little", signed=True)
            date, ticks = temporal.from_utc(date, ticks, offset)
        value = temporal.Temporal(date, ticks, offset)
    return temporal.canonical_text(value, n, t.scale)


def _variant(reader: Reader) -> Any:
    base = reader.u8()
    props = reader.take(reader.u8())
    data = reader.take(reader.remaining())
    if base in (T.BIGVARCHAR, T.BIGCHAR, T.NVARCHAR, T.NCHAR):
        return data.decode("utf-16-le" if base in (T.NVARCHAR, T.NCHAR) else T.CODEPAGE)
    if base in (T.BIGVARBINARY, T.BIGBINARY):
        return data
    if base in (T.DECIMALN, T.NUMERICN):
        return _fixed(SqlType("decimal", precision=props[0], scale=props[1]), data)
    if base in (T.TIMEN, T.DATETIME2N, T.DATETIMEOFFSETN):
        name = {T.TIMEN: "time", T.DATETIME2N: "datetime2", T.DATETIMEOFFSETN: "datetimeoffset"}
        return _temporal(SqlType(name[base], scale=props[0]), data)
    fixed = {
        T.INT1: "tinyint", T.INT2: "smallint", T.INT4: "int", T.INT8: "bigint", T.BIT: "bit",
        T.FLT4: "real", T.FLT8: "float", T.MONEY: "money", T.MONEY4: "smallmoney",
        T.DATETIME: "datetime", T.DATETIM4: "smalldatetime", T.DATEN: "date",
        T.GUID: "uniqueidentifier",
    }  # fmt: skip
    if base in fixed:
        return _fixed(SqlType(fixed[base]), data)
    raise ProtocolError(f"sql_variant of base type 0x{base:02x}")
