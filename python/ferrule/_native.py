"""What the shared API needs from a backend's native connection and statement.

Each backend's native class (``PgConn``, ``SqliteConn``, ...) has these methods; the backend's
Python subclass of :class:`ferrule.Connection` reaches its own extras through its own type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ferrule._ferrule import Record


class NativeStatement(Protocol):
    @property
    def sql(self) -> str: ...
    @property
    def columns(self) -> list[tuple[str, Any]]: ...


class NativeConnection(Protocol):
    def query(
        self,
        sql: str,
        args: Sequence[Any],
        shape: int = 0,
        column: int = 0,
        timeout: float | None = None,
    ) -> Awaitable[Any]: ...
    def query_prepared(
        self,
        stmt: Any,
        args: Sequence[Any],
        shape: int = 0,
        column: int = 0,
        timeout: float | None = None,
    ) -> Awaitable[Any]: ...
    def execute_script(self, sql: str, timeout: float | None = None) -> Awaitable[str]: ...
    def executemany(
        self, sql: str, rows: Iterable[Sequence[Any]], timeout: float | None = None
    ) -> asyncio.Future[None]: ...
    def prepare(self, sql: str, timeout: float | None = None) -> asyncio.Future[Any]: ...
    def cursor_open(
        self, stmt: Any, args: Sequence[Any], prefetch: int, timeout: float | None = None
    ) -> asyncio.Future[tuple[str, tuple[list[Record], bool]]]: ...
    def cursor_fetch(
        self, stmt: Any, portal: str, count: int, timeout: float | None = None
    ) -> asyncio.Future[tuple[list[Record], bool]]: ...
    def cursor_close(self, portal: str) -> None: ...
    def close(self, timeout: float | None = None) -> asyncio.Future[None]: ...
    def terminate(self) -> None: ...
    def is_closed(self) -> bool: ...
    def transaction_status(self) -> str: ...


class NativePooledConnection(NativeConnection, Protocol):
    """A connection lent by a native pool (``PgPooledConn``, ``TdsPooledConn``,
    ``TntPooledConn``): the backend's connection calls plus the end of the loan."""

    def is_released(self) -> bool: ...
    def release(self) -> asyncio.Future[None]: ...
