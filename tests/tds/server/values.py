"""Values: the SQLite storage form of each SQL Server type, and their bytes on the wire.

Storage forms: integers and bit as int, real/float as float, decimal and money as exact
decimal text, strings as str, binaries as bytes, dates and times as canonical sortable text
(see temporal.py), uniqueidentifier as upper-case text.
"""

from __future__ import annotations

import decimal
import struct
import uuid
from typing import Any

from . import temporal
from .types import (
    CODEPAGE,
    COLLATION,
    INTEGER_SIZES,
    LOB_TYPES,
    SCALED_TIME_TYPES,
    SqlType,
    decimal_size,
    time_size,
)

TEMPORAL_TYPES = {"date", "datetime", "smalldatetime", *SCALED_TIME_TYPES}
_INT_RANGES = {
    "tinyint": (0, 255),
    "smallint": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_DECIMAL_CONTEXT = decimal.Context(prec=80)
PLP_NULL = 0xFFFFFFFFFFFFFFFF
PLP_UNKNOWN = 0xFFFFFFFFFFFFFFFE
_TEXTPTR = b"\x10" + bytes(16) + bytes(8)


class ConversionError(ValueError):
    """A value that does not fit its type; carries the SQL Server error number."""

    def __init__(self, number: int, message: str) -> None:
        super().__init__(message)
        self.number = number


def _to_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, bool):
        return decimal.Decimal(int(value))
    if isinstance(value, (int, decimal.Decimal)):
        return decimal.Decimal(value)
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            return decimal.Decimal(text.strip())
        except decimal.InvalidOperation:
            raise ConversionError(8114, f"Error converting varchar {text!r} to numeric") from None
    raise ConversionError(8114, f"cannot convert {type(value).__name__} to numeric")


def _to_int(value: Any, t: SqlType) -> int:
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value)
    else:
        text = value.decode() if isinstance(value, bytes) else str(value)
        try:
            number = int(text.strip())
        except ValueError:
            try:
                number = int(decimal.Decimal(text.strip()))
            except decimal.InvalidOperation:
                raise ConversionError(
                    245,
                    f"Conversion failed when converting the varchar value '{text}' to "
                    f"data type {t.name}.",
                ) from None
    low, high = _INT_RANGES[t.name]
    if not low <= number <= high:
        raise ConversionError(
            8115, f"Arithmetic overflow error converting expression to data type {t.name}."
        )
    return number


def _temporal_of(value: Any) -> temporal.Temporal:
    if isinstance(value, str):
        return temporal.parse_temporal(value)
    raise ConversionError(
        241, f"Conversion failed when converting date and/or time from {value!r}."
    )


def coerce(value: Any, t: SqlType) -> Any:
    """`value` (a storage form or Python value) converted to the storage form of `t`."""
    if value is None:
        return None
    n = t.name
    try:
        if n in INTEGER_SIZES:
            return _to_int(value, t)
        if n == "bit":
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return int(value.strip().lower() == "true")
            return 1 if _to_decimal(value) != 0 else 0
        if n in ("real", "float"):
            return float(value) if not isinstance(value, bytes) else float(value.decode())
        if n in ("decimal", "numeric", "money", "smallmoney"):
            scale = t.scale if n in ("decimal", "numeric") else 4
            number = _to_decimal(value).quantize(
                decimal.Decimal(1).scaleb(-scale),
                rounding=decimal.ROUND_HALF_UP,
                context=_DECIMAL_CONTEXT,
            )
            if n in ("decimal", "numeric") and len(number.as_tuple().digits) > t.precision:
                if number != 0:
                    raise ConversionError(
                        8115,
                        "Arithmetic overflow error converting "
                        f"{type(value).__name__} to data type numeric.",
                    )
            return format(number, "f")
        if n in ("char", "varchar", "nchar", "nvarchar", "text", "ntext", "xml"):
            if isinstance(value, bytes):
                text = value.decode("utf-16-le" if t.is_unicode else CODEPAGE, errors="replace")
            elif isinstance(value, float):
                text = repr(value)
            else:
                text = str(value)
            if not t.is_max and n in ("char", "varchar", "nchar", "nvarchar"):
                text = text[: t.length]
            return text
        if n in ("binary", "varbinary", "image"):
            if isinstance(value, str):
                data = value.encode(CODEPAGE, errors="replace")
            elif isinstance(value, int):
                data = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
            else:
                data = bytes(value)
            return data if t.is_max or n == "image" else data[: t.length]
        if n in TEMPORAL_TYPES:
            return temporal.canonical_text(_temporal_of(value), n, t.scale)
        if n == "uniqueidentifier":
            raw = value.decode() if isinstance(value, bytes) and len(value) != 16 else value
            if isinstance(raw, bytes):
                return str(uuid.UUID(bytes_le=raw)).upper()
            return str(uuid.UUID(str(raw).strip("{} "))).upper()
        if n == "sql_variant":
            return value
    except temporal.TemporalError as exc:
        raise ConversionError(241, str(exc)) from exc
    except (ValueError, TypeError, OverflowError) as exc:
        if isinstance(exc, ConversionError):
            raise
        raise ConversionError(
            8114 if n in ("decimal", "numeric") else 245,
            f"Conversion failed when converting the value {value!r} to data type {n}: {exc}",
        ) from exc
    raise ConversionError(245, f"no conversion to {n}")


# -- server -> client ----------------------------------------------------------------------------


def _plp(data: bytes) -> bytes:
    if not data:
        return len(data).to_bytes(8, "little") + bytes(4)
    return len(data).to_bytes(8, "little") + len(data).to_bytes(4, "little") + data + bytes(4)


def _string_bytes(t: SqlType, text: str) -> bytes:
    if t.name in ("nchar", "char") and len(text) < t.length:
        text = text.ljust(t.length)
    return text.encode("utf-16-le") if t.is_unicode else text.encode(CODEPAGE, errors="replace")


def encode_value(t: SqlType, value: Any) -> bytes:
    """The bytes of one value in a ROW or RETURNVALUE, length prefix included."""
    n = t.name
    if value is None:
        if t.is_plp:
            return PLP_NULL.to_bytes(8, "little")
        if n in ("char", "varchar", "nchar", "nvarchar", "binary", "varbinary"):
            return b"\xff\xff"
        if n in LOB_TYPES:
            return b"\x00"
        if n == "sql_variant":
            return bytes(4)
        return b"\x00"
    value = coerce(value, t)
    if n in INTEGER_SIZES:
        size = INTEGER_SIZES[n]
        return bytes([size]) + value.to_bytes(size, "little", signed=n != "tinyint")
    if n == "bit":
        return bytes([1, value])
    if n == "real":
        return b"\x04" + struct.pack("<f", value)
    if n == "float":
        return b"\x08" + struct.pack("<d", value)
    if n in ("decimal", "numeric"):
        number = decimal.Decimal(value).scaleb(t.scale, context=_DECIMAL_CONTEXT)
        unscaled = int(number)
        size = decimal_size(t.precision)
        sign = 1 if unscaled >= 0 else 0
        return bytes([size, sign]) + abs(unscaled).to_bytes(size - 1, "little")
    if n == "money":
        units = int(decimal.Decimal(value).scaleb(4, context=_DECIMAL_CONTEXT))
        raw = units.to_bytes(8, "little", signed=True)
        return b"\x08" + raw[4:] + raw[:4]
    if n == "smallmoney":
        units = int(decimal.Decimal(value).scaleb(4, context=_DECIMAL_CONTEXT))
        return b"\x04" + units.to_bytes(4, "little", signed=True)
    if n in TEMPORAL_TYPES:
        return _encode_temporal(t, temporal.parse_temporal(value))
    if n == "uniqueidentifier":
        return b"\x10" + uuid.UUID(value).bytes_le
    if n in ("char", "varchar", "nchar", "nvarchar"):
        data = _string_bytes(t, value)
        return _plp(data) if t.is_max else len(data).to_bytes(2, "little") + data
    if n in ("binary", "varbinary"):
        data = value.ljust(t.length, b"\x00") if n == "binary" else value
        return _plp(data) if t.is_max else len(data).to_bytes(2, "little") + data
    if n in LOB_TYPES:
        data = value if n == "image" else _string_bytes(t, value)
        return _TEXTPTR + len(data).to_bytes(4, "little") + data
    if n == "xml":
        return _plp(value.encode("utf-16-le"))
    if n == "sql_variant":
        body = _encode_variant(value)
        return len(body).to_bytes(4, "little") + body
    raise ConversionError(245, f"cannot send a value of type {n}")


def _encode_temporal(t: SqlType, value: temporal.Temporal) -> bytes:
    n = t.name
    date = value.date or temporal.DATETIME_EPOCH
    if n == "date":
        return b"\x03" + temporal.encode_date(date)
    if n == "datetime":
        return b"\x08" + temporal.encode_datetime(date, value.ticks)
    if n == "smalldatetime":
        return b"\x04" + temporal.encode_smalldatetime(date, value.ticks)
    size = time_size(t.scale)
    if n == "time":
        return bytes([size]) + temporal.encode_time(value.ticks, t.scale, size)
    ticks = temporal.round_ticks(value.ticks, t.scale)
    if n == "datetime2":
        date, ticks = temporal.from_utc(date, ticks, 0)
        body = temporal.encode_time(ticks, t.scale, size) + temporal.encode_date(date)
        return bytes([len(body)]) + body
    offset = value.offset or 0
    date, ticks = temporal.to_utc(date, ticks, offset)
    body = temporal.encode_time(ticks, t.scale, size) + temporal.encode_date(date)
    body += offset.to_bytes(2, "little", signed=True)
    return bytes([len(body)]) + body


def _encode_variant(value: Any) -> bytes:
    """sql_variant keeps only the SQLite storage class: int, float, text or binary."""
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return b"\x38\x00" + value.to_bytes(4, "little", signed=True)
        return b"\x7f\x00" + value.to_bytes(8, "little", signed=True)
    if isinstance(value, float):
        return b"\x3e\x00" + struct.pack("<d", value)
    if isinstance(value, bytes):
        return b"\xa5\x02" + (8000).to_bytes(2, "little") + value
    data = str(value).encode("utf-16-le")
    return b"\xe7\x07" + COLLATION + (8000).to_bytes(2, "little") + data
