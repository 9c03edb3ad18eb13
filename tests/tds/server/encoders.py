"""Row encoders compiled once per result set: a fast path per column for the common storage
forms (an int in an int column, a str in an nvarchar column), the general encoder otherwise.

Kept apart from values.py so the general rules stay readable; this file only makes large
results (the 100,000-row benchmark) cheap enough that the server is not what is measured.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

from .types import CODEPAGE, INTEGER_SIZES, SqlType
from .values import encode_value

Encoder = Callable[[Any], bytes]
_RANGES = {1: (0, 255), 2: (-(2**15), 2**15 - 1), 4: (-(2**31), 2**31 - 1),
           8: (-(2**63), 2**63 - 1)}  # fmt: skip
_PACK_DOUBLE = struct.Struct("<d").pack


def column_encoder(t: SqlType) -> Encoder:
    def general(value: Any) -> bytes:
        return encode_value(t, value)

    name = t.name
    if name in INTEGER_SIZES:
        size = INTEGER_SIZES[name]
        low, high = _RANGES[size]
        prefix = bytes([size])
        signed = name != "tinyint"

        def integer(value: Any) -> bytes:
            if type(value) is int and low <= value <= high:
                return prefix + value.to_bytes(size, "little", signed=signed)
            return general(value)

        return integer
    if name == "float":

        def double(value: Any) -> bytes:
            if type(value) is float:
                return b"\x08" + _PACK_DOUBLE(value)
            return general(value)

        return double
    if name in ("nvarchar", "varchar") and not t.is_max:
        limit = t.length
        encoding = "utf-16-le" if name == "nvarchar" else CODEPAGE

        def text(value: Any) -> bytes:
            if type(value) is str and len(value) <= limit:
                try:
                    data = value.encode(encoding)
                except UnicodeEncodeError:
                    return general(value)
                return len(data).to_bytes(2, "little") + data
            return general(value)

        return text
    return general


def row_encoder(types: Sequence[SqlType]) -> Callable[[Sequence[Any]], bytes]:
    """ROW, or NBCROW when a value is NULL (as SQL Server does for rows with NULLs)."""
    encoders = [column_encoder(t) for t in types]
    pairs = list(enumerate(encoders))
    bitmap_size = (len(types) + 7) // 8

    def encode(values: Sequence[Any]) -> bytes:
        if None in values:
            bitmap = bytearray(bitmap_size)
            parts = [b"\xd2", b""]
            for i, enc in pairs:
                value = values[i]
                if value is None:
                    bitmap[i >> 3] |= 1 << (i & 7)
                else:
                    parts.append(enc(value))
            parts[1] = bytes(bitmap)
            return b"".join(parts)
        return b"\xd1" + b"".join([enc(values[i]) for i, enc in pairs])

    return encode
