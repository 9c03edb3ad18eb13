"""`SqliteConnection`: an embedded SQLite database on the shared Connection API, and its
`connect`.

Each connection has a thread of its own that runs its calls in order; a short statement
that ran before may run inline, on the event loop, when the connection is idle (see
docs/sqlite.md, "How calls run").
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ferrule import _bridge, _sqlitedsn
from ferrule._ferrule import Ready, SqliteConn, sqlite_connect
from ferrule.connection import ALL, ROW, STATUS, VALUE, Connection
from ferrule.exceptions import InterfaceError
from ferrule.prepared_stmt import PreparedStatement

if TYPE_CHECKING:
    from ferrule._ferrule import Bridge, Record
    from ferrule._native import NativeConnection

TRANSACTION_MODES = ("deferred", "immediate", "exclusive")


class SqlitePreparedStatement(PreparedStatement):
    """A statement prepared (and cached) on a SQLite connection."""

    __slots__ = ()

    def get_attributes(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """``(name, declared type)`` of each result column ("" for an expression)."""
        columns: list[tuple[str, str]] = self._stmt.columns
        return columns

    def get_parameters(self) -> list[str | None]:  # type: ignore[override]
        """The parameter names (``:id``, ``?2``), None for a bare ``?``."""
        names: list[str | None] = getattr(self._stmt, "param_names", [])
        return names


class SqliteDialect(Connection):
    """What every SQLite connection shares, embedded or remote (libSQL): transaction modes,
    savepoints, scripts, statement descriptions."""

    __slots__ = ("_default_mode",)
    _transaction_modes = TRANSACTION_MODES

    def __init__(
        self,
        impl: NativeConnection,
        bridge: Bridge,
        settings: dict[str, Any],
        command_timeout: float | None,
    ) -> None:
        super().__init__(impl, bridge, settings, command_timeout)
        self._default_mode: str | None = settings.get("transaction_mode")

    # The four calls below are the shared ones made cheaper for calls done inline: such a
    # call returns a `Ready` whose result is taken at once (no await, no StopIteration); one
    # queued to the connection's thread returns a future, awaited as usual. They do what
    # Connection's do (SQLite has no type codecs to apply).

    async def fetch(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> list[Any]:
        """Run ``query`` with ``args`` bound to its placeholders and return every row
        (``record_class`` / ``as_class`` as in :meth:`Connection.fetch`)."""
        if record_class is not None or as_class is not None:
            return await super().fetch(
                query, *args, timeout=timeout, record_class=record_class, as_class=as_class
            )
        t = self._command_timeout if timeout is None else self._timeout(timeout)
        fut = self._impl.query(query, args, ALL, 0, t)
        if fut.__class__ is Ready:
            rows: list[Record] = fut.result()
            return rows
        return await self._finish(fut)  # type: ignore[no-any-return]

    async def fetchrow(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> Any:
        """Run ``query`` and return its first row, or None when there is none."""
        if record_class is not None or as_class is not None:
            return await super().fetchrow(
                query, *args, timeout=timeout, record_class=record_class, as_class=as_class
            )
        t = self._command_timeout if timeout is None else self._timeout(timeout)
        fut = self._impl.query(query, args, ROW, 0, t)
        if fut.__class__ is Ready:
            row: Record | None = fut.result()
            return row
        return await self._finish(fut)

    async def fetchval(
        self, query: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any:
        """Run ``query`` and return ``column`` of its first row (None when there is no row)."""
        if column < 0:
            raise ValueError("column must be >= 0")
        t = self._command_timeout if timeout is None else self._timeout(timeout)
        fut = self._impl.query(query, args, VALUE, column, t)
        if fut.__class__ is Ready:
            return fut.result()
        return await self._finish(fut)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        """Run a statement and return its status (``INSERT 0 1``, ``UPDATE 3``); without
        arguments the text may hold several statements."""
        t = self._command_timeout if timeout is None else self._timeout(timeout)
        if args:
            fut = self._impl.query(query, args, STATUS, 0, t)
        else:
            fut = self._impl.execute_script(query, t)
        if fut.__class__ is Ready:
            status: str = fut.result()
            return status
        return await self._finish(fut)  # type: ignore[no-any-return]

    async def _finish(self, fut: Awaitable[Any]) -> Any:
        try:
            return await fut
        except asyncio.CancelledError:
            self._bridge.cancel(fut)
            raise

    async def prepare(self, query: str, *, timeout: float | None = None) -> PreparedStatement:
        """Prepare ``query`` (it is kept in the connection's statement cache)."""
        fut = self._impl.prepare(query, self._timeout(timeout))
        stmt = await _bridge.wait(self._bridge, fut)
        return SqlitePreparedStatement(self, stmt)

    async def executescript(self, script: str, *, timeout: float | None = None) -> None:
        """Run every statement of ``script`` in order, as they come (no implicit COMMIT,
        unlike the stdlib's ``executescript``). A failing statement stops the script; the
        statements before it stay applied unless a transaction around them is rolled back."""
        await _bridge.wait(self._bridge, self._impl.execute_script(script, self._timeout(timeout)))

    def _rollback_needed(self) -> bool:
        # SQLite rolls a transaction back by itself after some errors (an interrupted write,
        # a full disk); ROLLBACK would then fail with "no transaction is active".
        return not self.is_closed() and self.is_in_transaction()

    def _sql_begin(self, isolation: str | None, readonly: bool, deferrable: bool) -> str:
        return self._sql_begin_mode(isolation, readonly, deferrable, self._default_mode or "")

    def _sql_begin_mode(
        self, isolation: str | None, readonly: bool, deferrable: bool, mode: str
    ) -> str:
        if isolation not in (None, "serializable"):
            raise InterfaceError(
                f"SQLite transactions are always serializable; isolation={isolation!r} "
                "is not available"
            )
        if readonly or deferrable:
            raise InterfaceError(
                "SQLite has no READ ONLY or DEFERRABLE transactions; use "
                "transaction(mode='deferred') and only read in it"
            )
        # Fixed keywords only: the mode was checked against TRANSACTION_MODES.
        return f"BEGIN {mode.upper()}" if mode in TRANSACTION_MODES else "BEGIN"


class SqliteConnection(SqliteDialect):
    """A connection to an embedded SQLite database."""

    __slots__ = ()
    _impl: SqliteConn

    @property
    def path(self) -> str:
        """The database file (or ``:memory:``, or the ``file:`` URI) this connection opened."""
        path: str = self._settings["path"]
        return path

    async def backup(
        self, target: str | os.PathLike[str] | SqliteConnection, *, timeout: float | None = None
    ) -> None:
        """Copy the whole database into ``target`` while it stays in use (SQLite's online
        backup): a file path (created or overwritten) or another open SqliteConnection."""
        if isinstance(target, SqliteConnection):
            dest: Any = target._impl
        elif isinstance(target, (str, os.PathLike)):
            dest = os.fspath(target)
        else:
            raise InterfaceError(
                f"backup target must be a path or a SqliteConnection, not {type(target).__name__}"
            )
        await _bridge.wait(self._bridge, self._impl.backup(dest, self._timeout(timeout)))

    def __repr__(self) -> str:
        state = "closed" if self.is_closed() else self._impl.transaction_status()
        return f"<ferrule.SqliteConnection {self.path!r} {state}>"


async def connect(
    dsn: str | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    command_timeout: float | None = None,
    busy_timeout: float | None = None,
    detect_types: bool | None = None,
    read_only: bool | None = None,
    create: bool | None = None,
    journal_mode: str | None = None,
    synchronous: str | None = None,
    foreign_keys: bool | None = None,
    transaction_mode: str | None = None,
    statement_cache_size: int | None = None,
    inline: bool | None = None,
    encryption_key: str | bytes | None = None,
    sync_url: str | None = None,
    auth_token: str | None = None,
    sync_interval: float | None = None,
    read_your_writes: bool | None = None,
    connect_timeout: float | None = None,
    **kwargs: Any,
) -> SqliteConnection:
    """Open a SQLite database.

    ``dsn``: ``sqlite:///app.db`` (relative), ``sqlite:////abs/app.db``, ``sqlite://:memory:``,
    ``sqlite:///file:app.db?mode=ro&cache=shared`` (a SQLite URI); or ``path=`` instead.

    ``busy_timeout`` (seconds, default 5): how long a statement waits for a lock another
    connection holds before ``database is locked``. ``command_timeout``: the default
    ``timeout`` of every call (the statement is interrupted). ``detect_types``: convert
    values by the column's declared type (BOOLEAN, DECIMAL/NUMERIC, DATE, DATETIME/TIMESTAMP,
    TIME, JSON, UUID; see docs/sqlite.md). ``journal_mode`` (``wal``, ``delete``, ...),
    ``synchronous`` (``normal``, ``full``, ...) and ``foreign_keys`` set those PRAGMAs.
    ``transaction_mode``: the default of ``transaction(mode=...)`` (``deferred``,
    ``immediate``, ``exclusive``). ``inline=False`` never runs statements on the event loop.
    ``encryption_key`` (text or bytes): the database is encrypted at rest (SQLCipher); a new
    file is created encrypted, an existing one must have been made with the same key.

    ``sync_url`` (``libsql://``, ``https://`` or ``http://``) makes the file a libSQL
    embedded replica of that primary and returns a :class:`SqliteReplicaConnection`: a new
    file is first copied from the primary and brought up to date; an existing replica opens
    as it is, even with the primary out of reach. ``auth_token``: the primary's token.
    ``sync_interval`` (seconds): also sync in the background. ``read_your_writes`` (default
    True): after a write, pull before answering. ``connect_timeout`` (seconds, default 30):
    for each connection to the primary.
    """
    settings = _sqlitedsn.build_settings(
        dsn,
        {
            "path": os.fspath(path) if path is not None else None,
            "command_timeout": command_timeout,
            "busy_timeout": busy_timeout,
            "detect_types": detect_types,
            "read_only": read_only,
            "create": create,
            "journal_mode": journal_mode,
            "synchronous": synchronous,
            "foreign_keys": foreign_keys,
            "transaction_mode": transaction_mode,
            "statement_cache_size": statement_cache_size,
            "inline": inline,
            "encryption_key": encryption_key,
            "sync_url": sync_url,
            "auth_token": auth_token,
            "sync_interval": sync_interval,
            "read_your_writes": read_your_writes,
            "connect_timeout": connect_timeout,
            **kwargs,
        },
    )
    if settings.get("sync_url") is not None:
        from ferrule.sqlite_replica import connect_replica

        return await connect_replica(settings)
    bridge = _bridge.get_bridge()
    impl = await _bridge.wait(bridge, sqlite_connect(bridge, settings))
    return SqliteConnection(impl, bridge, settings, settings["command_timeout"])
