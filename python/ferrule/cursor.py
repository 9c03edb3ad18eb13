"""Server-side cursors over portals: bounded memory for any result size."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

from ferrule import _bridge
from ferrule._ferrule import rows_as
from ferrule._rowclass import check_record_class
from ferrule.exceptions import InterfaceError

if TYPE_CHECKING:
    from ferrule._ferrule import Record
    from ferrule._native import NativeStatement
    from ferrule.connection import Connection


class RowsAs:
    """What a cursor's rows become: ``record_class`` instances or what ``as_class`` builds
    (``None`` for both: plain Records)."""

    __slots__ = ("as_class", "record_class")

    def __init__(
        self, record_class: type[Record] | None, as_class: Callable[..., Any] | None
    ) -> None:
        self.record_class = check_record_class(record_class)
        self.as_class = as_class

    def convert(self, rows: list[Record]) -> list[Any]:
        if self.record_class is None and self.as_class is None:
            return rows
        converted: list[Any] = rows_as(rows, self.record_class, self.as_class)
        return converted


PLAIN = RowsAs(None, None)


class Cursor:
    """An open portal. Rows are fetched on demand; close it (or leave the transaction) to
    release it on the server."""

    __slots__ = ("_as", "_conn", "_exhausted", "_portal", "_stmt", "_timeout")

    def __init__(
        self,
        conn: Connection,
        stmt: NativeStatement,
        portal: str,
        exhausted: bool,
        timeout: float | None,
        rows_as: RowsAs = PLAIN,
    ) -> None:
        self._conn = conn
        self._stmt = stmt
        self._portal = portal
        self._exhausted = exhausted
        self._timeout = timeout
        self._as = rows_as

    async def fetch(self, n: int, *, timeout: float | None = None) -> list[Record]:
        """Return up to ``n`` next rows (fewer at the end)."""
        if n <= 0:
            raise ValueError("n must be a positive number of rows")
        if self._exhausted:
            return []
        conn = self._conn
        fut = conn._impl.cursor_fetch(
            self._stmt, self._portal, n, timeout if timeout is not None else self._timeout
        )
        rows: list[Record]
        rows, more = await _bridge.wait(conn._bridge, fut)
        self._exhausted = not more
        return self._as.convert(rows)

    async def fetchrow(self, *, timeout: float | None = None) -> Record | None:
        """Return the next row, or None at the end."""
        rows = await self.fetch(1, timeout=timeout)
        return rows[0] if rows else None

    async def forward(self, n: int, *, timeout: float | None = None) -> int:
        """Skip ``n`` rows; return how many were skipped."""
        return len(await self.fetch(n, timeout=timeout))

    def close(self) -> None:
        """Release the portal on the server (queued behind calls already sent)."""
        if not self._exhausted:
            self._exhausted = True
            if not self._conn.is_closed():
                self._conn._impl.cursor_close(self._portal)


class CursorFactory:
    """What :meth:`Connection.cursor` returns: iterate it, or await it for a :class:`Cursor`."""

    __slots__ = ("_args", "_as", "_conn", "_prefetch", "_query", "_stmt", "_timeout")

    def __init__(
        self,
        conn: Connection,
        query: str,
        stmt: NativeStatement | None,
        args: Sequence[Any],
        prefetch: int,
        timeout: float | None,
        rows_as: RowsAs = PLAIN,
    ) -> None:
        self._conn = conn
        self._query = query
        self._stmt = stmt
        self._args = args
        self._prefetch = prefetch
        self._timeout = timeout
        self._as = rows_as

    async def _open(self, prefetch: int) -> tuple[Cursor, list[Record]]:
        conn = self._conn
        stmt = self._stmt
        if stmt is None:
            stmt = await _bridge.wait(conn._bridge, conn._impl.prepare(self._query, self._timeout))
        fut = conn._impl.cursor_open(stmt, self._args, prefetch, self._timeout)
        portal, (rows, more) = await _bridge.wait(conn._bridge, fut)
        cursor = Cursor(conn, stmt, portal, not more, self._timeout, self._as)
        return cursor, self._as.convert(rows)

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self._open_empty().__await__()

    async def _open_empty(self) -> Cursor:
        # Executing with a row limit of 0 would fetch everything; 1 row is read and kept.
        cursor, rows = await self._open(1)
        return _Buffered(cursor, rows) if rows else cursor

    def __aiter__(self) -> AsyncIterator[Record]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Record]:
        cursor, rows = await self._open(self._prefetch)
        try:
            while True:
                for row in rows:
                    yield row
                if cursor._exhausted:
                    return
                rows = await cursor.fetch(self._prefetch)
        finally:
            cursor.close()


class _Buffered(Cursor):
    """A cursor holding rows already read when it was opened."""

    __slots__ = ("_buffer",)

    def __init__(self, cursor: Cursor, rows: list[Record]) -> None:
        super().__init__(
            cursor._conn,
            cursor._stmt,
            cursor._portal,
            cursor._exhausted,
            cursor._timeout,
            cursor._as,
        )
        self._buffer: deque[Record] = deque(rows)

    async def fetch(self, n: int, *, timeout: float | None = None) -> list[Record]:
        if n <= 0:
            raise ValueError("n must be a positive number of rows")
        out: list[Record] = []
        while self._buffer and len(out) < n:
            out.append(self._buffer.popleft())
        if len(out) < n:
            out.extend(await super().fetch(n - len(out), timeout=timeout))
        return out


def _count(n: int) -> int:
    # FETCH/MOVE take no parameters: the count is checked to be a plain int before it is
    # written into the command, so nothing but digits can reach the SQL text.
    if type(n) is not int or not -(2**62) <= n <= 2**62:
        raise InterfaceError(f"a row count must be an int, not {n!r}")
    return n


class ScrollCursor:
    """A scrollable cursor: move and fetch in any direction. Lives until the transaction
    ends or :meth:`close`."""

    __slots__ = ("_as", "_conn", "_name", "_timeout")

    def __init__(
        self, conn: Connection, name: str, timeout: float | None, rows_as: RowsAs = PLAIN
    ) -> None:
        self._conn = conn
        self._name = name
        self._timeout = timeout
        self._as = rows_as

    async def _fetch(self, how: str) -> list[Record]:
        return await self._conn.fetch(
            f'FETCH {how} FROM "{self._name}"',
            timeout=self._timeout,
            record_class=self._as.record_class,
            as_class=self._as.as_class,
        )

    async def _one(self, how: str) -> Record | None:
        rows = await self._fetch(how)
        return rows[0] if rows else None

    async def fetch(self, n: int) -> list[Record]:
        """The next ``n`` rows."""
        return await self._fetch(f"FORWARD {_count(n)}")

    async def fetch_backward(self, n: int) -> list[Record]:
        """The ``n`` rows before the current position, nearest first."""
        return await self._fetch(f"BACKWARD {_count(n)}")

    async def fetchrow(self) -> Record | None:
        return await self._one("NEXT")

    async def next(self) -> Record | None:
        return await self._one("NEXT")

    async def prior(self) -> Record | None:
        return await self._one("PRIOR")

    async def first(self) -> Record | None:
        return await self._one("FIRST")

    async def last(self) -> Record | None:
        return await self._one("LAST")

    async def absolute(self, n: int) -> Record | None:
        """The row at position ``n`` (1 is the first, -1 the last)."""
        return await self._one(f"ABSOLUTE {_count(n)}")

    async def relative(self, n: int) -> Record | None:
        """The row ``n`` rows away from the current position."""
        return await self._one(f"RELATIVE {_count(n)}")

    async def forward(self, n: int) -> int:
        """Move ``n`` rows forward without fetching them; returns how many were skipped."""
        status = await self._conn.execute(f'MOVE FORWARD {_count(n)} IN "{self._name}"')
        return int(status.split()[-1])

    async def backward(self, n: int) -> int:
        """Move ``n`` rows backward; returns how many were skipped."""
        status = await self._conn.execute(f'MOVE BACKWARD {_count(n)} IN "{self._name}"')
        return int(status.split()[-1])

    async def close(self) -> None:
        if not self._conn.is_closed() and self._conn.is_in_transaction():
            await self._conn.execute(f'CLOSE "{self._name}"')


class ScrollCursorFactory:
    """What ``scroll_cursor`` returns: ``await`` it or use it with ``async with``."""

    _seq = 0

    def __init__(
        self,
        conn: Connection,
        query: str,
        args: Sequence[Any],
        timeout: float | None,
        rows_as: RowsAs = PLAIN,
    ) -> None:
        self._conn = conn
        self._query = query
        self._args = args
        self._timeout = timeout
        self._as = rows_as
        self._cursor: ScrollCursor | None = None

    async def _open(self) -> ScrollCursor:
        if not self._conn.is_in_transaction():
            raise InterfaceError(
                "a scrollable cursor needs a transaction: use it inside "
                "`async with conn.transaction()`"
            )
        ScrollCursorFactory._seq += 1
        name = f"ferrule_scroll_{ScrollCursorFactory._seq}"
        # The query's arguments are bound: DECLARE takes parameters like the query itself.
        await self._conn.execute(
            f'DECLARE "{name}" SCROLL CURSOR FOR {self._query}', *self._args, timeout=self._timeout
        )
        return ScrollCursor(self._conn, name, self._timeout, self._as)

    def __await__(self) -> Generator[Any, None, ScrollCursor]:
        return self._open().__await__()

    async def __aenter__(self) -> ScrollCursor:
        self._cursor = await self._open()
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        if self._cursor is not None:
            await self._cursor.close()
