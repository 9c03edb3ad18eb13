"""Response tokens (MS-TDS 2.2.7): COLMETADATA, ROW, NBCROW, DONE*, ERROR, INFO, ENVCHANGE, ..."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .types import LOB_TYPES, SqlType, write_type_info
from .values import encode_value
from .wire import b_varbyte, b_varchar, us_varchar

SERVER_NAME = "ferrule-tds"
PROGRAM_NAME = "Microsoft SQL Server"
PROGRAM_VERSION = bytes([16, 0, 0x03, 0xE8])  # 16.0.1000

COLMETADATA = 0x81
ROW = 0xD1
NBCROW = 0xD2
DONE = 0xFD
DONEPROC = 0xFE
DONEINPROC = 0xFF
ERROR = 0xAA
INFO = 0xAB
ENVCHANGE = 0xE3
LOGINACK = 0xAD
RETURNSTATUS = 0x79
RETURNVALUE = 0xAC
ORDER = 0xA9
FEATUREEXTACK = 0xAE

DONE_FINAL = 0x00
DONE_MORE = 0x01
DONE_ERROR = 0x02
DONE_INXACT = 0x04
DONE_COUNT = 0x10
DONE_ATTN = 0x20
DONE_SRVERROR = 0x100

# CurCmd values SQL Server puts in DONE tokens.
CMD_SELECT = 0xC1
CMD_INSERT = 0xC3
CMD_DELETE = 0xC4
CMD_UPDATE = 0xC5
CMD_EXECUTE = 0xE0
CMD_OTHER = 0x00

ENV_DATABASE = 1
ENV_LANGUAGE = 2
ENV_PACKET_SIZE = 4
ENV_COLLATION = 7
ENV_BEGIN_TRAN = 8
ENV_COMMIT_TRAN = 9
ENV_ROLLBACK_TRAN = 10
ENV_TRAN_ENDED = 17
ENV_RESET_ACK = 18

COL_NULLABLE = 0x0001
COL_UPDATEABLE = 0x0008
COL_IDENTITY = 0x0010


@dataclass(frozen=True)
class Column:
    name: str
    type: SqlType
    nullable: bool = True
    identity: bool = False
    table: str = ""


def done(kind: int, status: int = DONE_FINAL, cmd: int = CMD_OTHER, rows: int = 0) -> bytes:
    return struct.pack("<BHHQ", kind, status, cmd, rows)


def message(
    token: int,
    number: int,
    state: int,
    severity: int,
    text: str,
    procedure: str = "",
    line: int = 1,
) -> bytes:
    body = struct.pack("<iBB", number, state, severity)
    body += us_varchar(text) + b_varchar(SERVER_NAME) + b_varchar(procedure)
    body += struct.pack("<i", line)
    return struct.pack("<BH", token, len(body)) + body


def error(number: int, state: int, severity: int, text: str, procedure: str = "", line: int = 1):
    return message(ERROR, number, state, severity, text, procedure, line)


def info(number: int, state: int, severity: int, text: str, procedure: str = "", line: int = 1):
    return message(INFO, number, state, severity, text, procedure, line)


def envchange_text(kind: int, new: str, old: str) -> bytes:
    body = bytes([kind]) + b_varchar(new) + b_varchar(old)
    return struct.pack("<BH", ENVCHANGE, len(body)) + body


def envchange_bytes(kind: int, new: bytes, old: bytes) -> bytes:
    body = bytes([kind]) + b_varbyte(new) + b_varbyte(old)
    return struct.pack("<BH", ENVCHANGE, len(body)) + body


def loginack(tds_version: int) -> bytes:
    body = b"\x01" + tds_version.to_bytes(4, "big") + b_varchar(PROGRAM_NAME) + PROGRAM_VERSION
    return struct.pack("<BH", LOGINACK, len(body)) + body


def featureextack(features: dict[int, bytes]) -> bytes:
    body = b"".join(bytes([fid]) + struct.pack("<I", len(d)) + d for fid, d in features.items())
    return bytes([FEATUREEXTACK]) + body + b"\xff"


def colmetadata(columns: Sequence[Column]) -> bytes:
    if not columns:
        return struct.pack("<BH", COLMETADATA, 0xFFFF)
    out = bytearray(struct.pack("<BH", COLMETADATA, len(columns)))
    for column in columns:
        flags = (COL_NULLABLE if column.nullable else 0) | COL_UPDATEABLE
        if column.identity:
            flags = (flags & ~COL_UPDATEABLE) | COL_IDENTITY
        out += struct.pack("<IH", 0, flags) + write_type_info(column.type)
        if column.type.name in LOB_TYPES:
            out += b"\x01" + us_varchar(column.table or "t")
        out += b_varchar(column.name)
    return bytes(out)


def row(columns: Sequence[Column], values: Sequence[Any]) -> bytes:
    """ROW, or NBCROW when at least one value is NULL (as SQL Server does for sparse rows)."""
    if any(v is None for v in values):
        bitmap = bytearray((len(values) + 7) // 8)
        parts = []
        for i, (column, value) in enumerate(zip(columns, values)):
            if value is None:
                bitmap[i // 8] |= 1 << (i % 8)
            else:
                parts.append(encode_value(column.type, value))
        return bytes([NBCROW]) + bytes(bitmap) + b"".join(parts)
    return bytes([ROW]) + b"".join(
        encode_value(column.type, value) for column, value in zip(columns, values)
    )


def order(column_numbers: Sequence[int]) -> bytes:
    body = b"".join(struct.pack("<H", n) for n in column_numbers)
    return struct.pack("<BH", ORDER, len(body)) + body


def returnstatus(value: int) -> bytes:
    return struct.pack("<Bi", RETURNSTATUS, value)


def returnvalue(ordinal: int, name: str, t: SqlType, value: Any, *, udf: bool = False) -> bytes:
    head = struct.pack("<BH", RETURNVALUE, ordinal) + b_varchar(name)
    head += bytes([0x02 if udf else 0x01]) + struct.pack("<IH", 0, COL_NULLABLE)
    return head + write_type_info(t) + encode_value(t, value)
