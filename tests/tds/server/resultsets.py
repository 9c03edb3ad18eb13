"""Queries and their result sets: running a translated statement, the SQL Server type of each
result column (from the text, the table's declared types, or the values), streaming rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import apsw
import apsw.ext

from . import ddl
from . import tokens as tk
from .hints import Aggregate, ColumnRef, Hint, VarRef
from .lexer import Token
from .translate import Translation, translate
from .types import SqlType

if TYPE_CHECKING:
    from .engine import SqlSession

_CMD = {"SELECT": tk.CMD_SELECT, "INSERT": tk.CMD_INSERT, "UPDATE": tk.CMD_UPDATE,
        "DELETE": tk.CMD_DELETE, "TRUNCATE": tk.CMD_DELETE, "MERGE": tk.CMD_UPDATE}  # fmt: skip


class ResultSets:
    """Mixed into SqlSession."""

    async def query(self: SqlSession, tokens: list[Token]) -> None:
        tr = translate(tokens)
        cursor = await self.sqlite(tr.sql, self.bindings(tr))
        word = tokens[0].upper
        try:
            description = cursor.description_full
        except apsw.ExecutionCompleteError:
            description = self.describe(tr.sql)
            if not description:
                count = self.conn.changes() if word in _CMD and word != "SELECT" else 0
                self.last_rowcount = count
                self.out.statement_done(
                    _CMD.get(word, tk.CMD_OTHER), None if self.nocount else count
                )
                return
            cursor = None
        try:
            rows = self._rows(cursor, tr.sql) if cursor is not None else iter(())
            count = await self.send_rows(tr, description, rows)
        finally:
            if cursor is not None:
                cursor.close()
        self.last_rowcount = count
        self.out.statement_done(_CMD.get(word, tk.CMD_SELECT), None if self.nocount else count)

    async def send_rows(self: SqlSession, tr: Translation, description: Any, rows: Any) -> int:
        types: list[SqlType | None] = []
        hints = tr.hints if tr.hints is not None and len(tr.hints) == len(description) else None
        identity: list[bool] = []
        for i, (_name, decltype, _db, table, origin) in enumerate(description):
            sql_type = self.resolve_hint(hints[i]) if hints else None
            is_identity = bool(table and origin) and (
                (table.lower(), origin.lower()) in self.database.identities
            )
            if sql_type is None and table and origin:
                sql_type = self.column_type(table, origin, decltype)
            if sql_type is None and decltype:
                sql_type = ddl.type_from_decltype(decltype)
            types.append(sql_type)
            identity.append(is_identity)
        if any(t is None for t in types):
            rows = list(rows)
            types = [t or infer_type(rows, i) for i, t in enumerate(types)]
        columns = []
        for i, (name, _decltype, _db, _table, origin) in enumerate(description):
            named = origin is not None or (
                tr.named is not None and i < len(tr.named) and tr.named[i]
            )
            columns.append(
                tk.Column(
                    name if named else "", types[i] or SqlType("int"), not identity[i], identity[i]
                )
            )
        order: list[int] = []
        if tr.order_by:
            positions = {c.name.lower(): k + 1 for k, c in enumerate(columns) if c.name}
            if all(name in positions for name in tr.order_by):
                order = [positions[name] for name in tr.order_by]
        return await self.out.result_set(columns, rows, order)

    def describe(self: SqlSession, sql: str) -> Any:
        """The result columns of a statement, without running it (empty for none)."""
        try:
            return apsw.ext.query_info(self.conn, sql).description_full
        except apsw.Error as exc:
            raise self.sqlite_error(exc, sql) from exc

    def column_type(
        self: SqlSession, table: str, column: str, decltype: str | None
    ) -> SqlType | None:
        identity = self.database.identities.get((table.lower(), column.lower()))
        if identity is not None:
            return identity
        return ddl.type_from_decltype(decltype) if decltype else None

    def resolve_hint(self: SqlSession, hint: Hint) -> SqlType | None:
        if hint is None or isinstance(hint, SqlType):
            return hint
        if isinstance(hint, VarRef):
            variable = self.variables.get(hint.name)
            return variable.type if variable else None
        if isinstance(hint, ColumnRef):
            return self.table_column_type(hint.table, hint.column)
        if isinstance(hint, Aggregate):
            inner = self.resolve_hint(hint.argument)
            return aggregate_type(hint.function, inner)
        return None

    def table_column_type(self: SqlSession, table: str, column: str) -> SqlType | None:
        if not table:
            return None
        for row in self.conn.execute(f'PRAGMA table_xinfo("{table}")'):
            if str(row[1]).lower() == column.lower():
                return self.column_type(table, column, row[2])
        return None


def aggregate_type(function: str, inner: SqlType | None) -> SqlType | None:
    if inner is None or function in ("MIN", "MAX"):
        return inner
    if inner.name in ("tinyint", "smallint", "int"):
        return SqlType("int")
    if inner.name in ("bigint", "money", "float"):
        return inner
    if inner.name in ("smallmoney",):
        return SqlType("money")
    if inner.name == "real":
        return SqlType("float")
    if inner.name in ("decimal", "numeric"):
        scale = inner.scale if function == "SUM" else max(6, inner.scale)
        return SqlType(inner.name, precision=38, scale=scale)
    return None


def infer_type(rows: list[Sequence[Any]], index: int) -> SqlType:
    """A column's type from its values, when neither the text nor SQLite tells it."""
    kinds = {type(row[index]) for row in rows if row[index] is not None}
    if not kinds:
        return SqlType("int")
    if kinds == {int}:
        big = any(not -(2**31) <= row[index] < 2**31 for row in rows if row[index] is not None)
        return SqlType("bigint" if big else "int")
    if kinds <= {int, float}:
        return SqlType("float")
    if kinds == {bytes}:
        longest = max(len(row[index]) for row in rows if row[index] is not None)
        return SqlType("varbinary", longest if 0 < longest <= 8000 else -1)
    longest = max(len(str(row[index])) for row in rows if row[index] is not None)
    return SqlType("nvarchar", longest if 0 < longest <= 4000 else -1)
