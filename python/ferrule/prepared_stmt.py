"""`PreparedStatement`: a statement parsed once on the server, executed many times."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ferrule import _bridge
from ferrule._codecs import encode_with
from ferrule._rowclass import check_record_class
from ferrule.cursor import CursorFactory, RowsAs

if TYPE_CHECKING:
    from ferrule._ferrule import Record
    from ferrule._native import NativeStatement
    from ferrule.connection import Connection


class PreparedStatement:
    """Returned by :meth:`Connection.prepare`; has the same fetch methods."""

    __slots__ = ("_conn", "_stmt")

    def __init__(self, conn: Connection, stmt: NativeStatement) -> None:
        self._conn = conn
        self._stmt = stmt

    def get_query(self) -> str:
        """The SQL text of the statement."""
        return self._stmt.sql

    def get_parameters(self) -> list[int]:
        """Type OIDs of the parameters, as the server inferred them (PostgreSQL); a backend
        without parameter types describes its parameters its own way (SQLite: names)."""
        return self._param_oids()

    def _param_oids(self) -> list[int]:
        # PostgreSQL's statements carry OIDs; other backends have none (and no encoders).
        oids: list[int] = getattr(self._stmt, "param_oids", [])
        return oids

    def get_attributes(self) -> list[tuple[str, int]]:
        """``(name, type)`` of each result column: the type OID (PostgreSQL) or the declared
        type (SQLite, "" for an expression)."""
        return self._stmt.columns

    async def _run(
        self,
        args: Sequence[Any],
        shape: int,
        column: int,
        timeout: float | None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> Any:
        conn = self._conn
        if conn._encoders:
            args = encode_with(conn._encoders, self._param_oids(), args)
        if record_class is not None or as_class is not None:
            return await conn._query_prepared_as(
                self._stmt,
                args,
                shape,
                conn._timeout(timeout),
                check_record_class(record_class),
                as_class,
            )
        fut = conn._impl.query_prepared(self._stmt, args, shape, column, conn._timeout(timeout))
        return await _bridge.wait(conn._bridge, fut)

    async def fetch(
        self,
        *args: Any,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> list[Any]:
        """Every row; ``record_class`` and ``as_class`` as in :meth:`Connection.fetch`."""
        result: list[Any] = await self._run(args, 0, 0, timeout, record_class, as_class)
        return result

    async def fetchrow(
        self,
        *args: Any,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> Any:
        """The first row or None; ``record_class`` and ``as_class`` as in ``fetch``."""
        return await self._run(args, 1, 0, timeout, record_class, as_class)

    async def fetchval(self, *args: Any, column: int = 0, timeout: float | None = None) -> Any:
        return await self._run(args, 2, column, timeout)

    async def execute(self, *args: Any, timeout: float | None = None) -> str:
        """Execute with ``args`` and return the command status."""
        result: str = await self._run(args, 3, 0, timeout)
        return result

    async def executemany(
        self, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        await self._conn.executemany(self._stmt.sql, args, timeout=timeout)

    def cursor(
        self,
        *args: Any,
        prefetch: int = 50,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> CursorFactory:
        """A cursor over this statement (see :meth:`Connection.cursor`)."""
        conn = self._conn
        rows_as = RowsAs(record_class, as_class)
        return CursorFactory(
            conn, self._stmt.sql, self._stmt, args, prefetch, conn._timeout(timeout), rows_as
        )
