"""Bulk load: `INSERT BULK table (columns)` announces it, then a BULK_LOAD message brings
COLMETADATA and ROW tokens that are inserted in one go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apsw

from . import tokens as tk
from .client_values import read_value
from .errors import SqlError, syntax_error
from .lexer import Token
from .parser import find_close, split_top
from .types import WireType, parse_type, read_type_info
from .values import ConversionError, coerce
from .wire import ProtocolError, Reader

if TYPE_CHECKING:
    from .engine import SqlSession


@dataclass
class BulkTarget:
    table: str
    columns: list[tuple[str, Any]]  # name, SqlType


def start(session: SqlSession, tokens: list[Token]) -> None:
    """INSERT BULK t (a int, b nvarchar(10)) [WITH (...)]: remember the target."""
    if len(tokens) < 4:
        raise syntax_error("Incorrect syntax near 'BULK'.")
    at = 2
    while at + 2 < len(tokens) and tokens[at + 1].text == ".":
        at += 2
    table = tokens[at].name
    columns = []
    if at + 1 < len(tokens) and tokens[at + 1].text == "(":
        close = find_close(tokens, at + 1)
        for item in split_top(tokens[at + 2 : close]):
            words = [t for t in item]
            cut = next(
                (i for i, t in enumerate(words) if t.is_kw("COLLATE", "NULL", "NOT")), len(words)
            )
            columns.append((words[0].name, parse_type(" ".join(t.text for t in words[1:cut]))))
    session.bulk = BulkTarget(table, columns)
    session.out.statement_done(tk.CMD_OTHER, None)


def _parse_load(payload: bytes) -> tuple[list[tuple[str, WireType]], list[list[Any]]]:
    reader = Reader(payload)
    if reader.u8() != tk.COLMETADATA:
        raise ProtocolError("BULK_LOAD does not start with COLMETADATA")
    columns = []
    for _ in range(reader.u16()):
        reader.u32()  # user type
        reader.u16()  # flags
        wire_type = read_type_info(reader)
        if wire_type.sql.name in ("text", "ntext", "image"):
            for _part in range(reader.u8()):
                reader.us_varchar()
        columns.append((reader.b_varchar(), wire_type))
    rows = []
    while reader.remaining():
        token = reader.u8()
        if token == tk.ROW:
            rows.append([read_value(reader, wt, in_bulk=True) for _, wt in columns])
        elif token == tk.NBCROW:
            bitmap = reader.take((len(columns) + 7) // 8)
            rows.append(
                [
                    None if bitmap[i // 8] >> (i % 8) & 1 else read_value(reader, wt, in_bulk=True)
                    for i, (_, wt) in enumerate(columns)
                ]
            )
        elif token in (tk.DONE, tk.DONEPROC, tk.DONEINPROC):
            break
        else:
            raise ProtocolError(f"unexpected token 0x{token:02x} in BULK_LOAD")
    return columns, rows


async def load(session: SqlSession, payload: bytes) -> None:
    target = session.bulk
    session.bulk = None
    if target is None:
        raise SqlError(
            4022,
            "Bulk load data was expected but not sent. The batch will be terminated.",
            severity=16,
        )
    columns, rows = _parse_load(payload)
    declared = {name.lower(): sql_type for name, sql_type in target.columns}
    # Values convert to the table's own column types, as SQL Server converts them.
    types = [
        session.table_column_type(target.table, name) or declared.get(name.lower(), wt.sql)
        for name, wt in columns
    ]
    names = ", ".join('"' + name.replace('"', '""') + '"' for name, _ in columns)
    marks = ", ".join(f"@c{i}" for i in range(len(columns)))
    sql = f'INSERT INTO "{target.table}" ({names}) VALUES ({marks})'
    try:
        batch = [{f"c{i}": coerce(v, types[i]) for i, v in enumerate(row)} for row in rows]
    except ConversionError as exc:
        raise SqlError(exc.number, str(exc)) from exc
    savepoint = "tds_bulk_load"
    session.conn.execute(f'SAVEPOINT "{savepoint}"')
    try:
        session.conn.cursor().executemany(sql, batch) if batch else None
    except apsw.Error as exc:
        session.conn.execute(f'ROLLBACK TO "{savepoint}"')
        session.conn.execute(f'RELEASE "{savepoint}"')
        raise session.sqlite_error(exc, sql) from exc
    session.conn.execute(f'RELEASE "{savepoint}"')
    session.last_rowcount = len(rows)
    session.out.statement_done(tk.CMD_INSERT, len(rows))
