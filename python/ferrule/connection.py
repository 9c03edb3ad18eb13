"""`Connection`: the asyncpg-style API over a native connection.

Every call is one native call: arguments are converted while the GIL is held, the work runs
on ferrule's runtime, and the result is built on the event-loop thread. Calls made
concurrently on one connection are pipelined, never refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ferrule import _bridge
from ferrule._codecs import encode_with
from ferrule._ferrule import rows_as
from ferrule._rowclass import check_record_class
from ferrule.cursor import CursorFactory, RowsAs
from ferrule.exceptions import ConnectionClosedError, InterfaceError
from ferrule.prepared_stmt import PreparedStatement
from ferrule.transaction import Transaction

if TYPE_CHECKING:
    from ferrule._ferrule import Bridge, Record
    from ferrule._native import NativeConnection

# Result shapes understood by the native `query` methods.
ALL, ROW, VALUE, STATUS = 0, 1, 2, 3

ISOLATION_SQL = {
    "read_uncommitted": " ISOLATION LEVEL READ UNCOMMITTED",
    "read_committed": " ISOLATION LEVEL READ COMMITTED",
    "repeatable_read": " ISOLATION LEVEL REPEATABLE READ",
    "serializable": " ISOLATION LEVEL SERIALIZABLE",
}


class Connection:
    """A connection to a database. Create it with :func:`ferrule.connect`.

    The methods here are shared by every backend; each backend's subclass adds its own.
    """

    __slots__ = (
        "__weakref__",
        "_bridge",
        "_command_timeout",
        "_encoders",
        "_impl",
        "_settings",
        "_tx_depth",
    )

    def __init__(
        self,
        impl: NativeConnection,
        bridge: Bridge,
        settings: dict[str, Any],
        command_timeout: float | None,
    ) -> None:
        self._impl = impl
        self._bridge = bridge
        self._settings = settings
        self._command_timeout = command_timeout
        self._tx_depth = 0
        # User encoders by parameter type OID; when any is set, arguments are matched to the
        # statement's parameter types before they are bound (one extra native call).
        self._encoders: dict[int, Callable[[Any], Any]] = {}

    def _timeout(self, timeout: float | None) -> float | None:
        if timeout is None:
            return self._command_timeout
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0, not {timeout}")
        return timeout

    async def _encode_args(self, query: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
        stmt = await _bridge.wait(self._bridge, self._impl.prepare(query, self._command_timeout))
        return encode_with(self._encoders, stmt.param_oids, args)

    def _check_open(self) -> None:
        if self._impl.is_closed():
            raise ConnectionClosedError("the connection is closed")

    async def fetch(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> list[Any]:
        """Run ``query`` with ``args`` bound to ``$1, $2, ...`` and return every row.

        Rows are :class:`Record` objects, or instances of ``record_class`` (a subclass of
        Record that defines neither ``__new__`` nor ``__init__``), or what ``as_class``
        returns when called with the columns as keyword arguments (a dataclass, a pydantic
        model, ...; built natively, one call per row, no dict per row).
        """
        if self._encoders:
            args = await self._encode_args(query, args)
        if record_class is not None or as_class is not None:
            rows: list[Any] = await self._query_as(
                query, args, ALL, self._timeout(timeout), check_record_class(record_class), as_class
            )
            return rows
        fut = self._impl.query(query, args, ALL, 0, self._timeout(timeout))
        result: list[Any] = await _bridge.wait(self._bridge, fut)
        return result

    async def fetchrow(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> Any:
        """Run ``query`` and return its first row, or None when there is none.

        ``record_class`` and ``as_class`` as in :meth:`fetch`.
        """
        if self._encoders:
            args = await self._encode_args(query, args)
        if record_class is not None or as_class is not None:
            return await self._query_as(
                query, args, ROW, self._timeout(timeout), check_record_class(record_class), as_class
            )
        fut = self._impl.query(query, args, ROW, 0, self._timeout(timeout))
        return await _bridge.wait(self._bridge, fut)

    async def _query_as(
        self,
        query: str,
        args: Sequence[Any],
        shape: int,
        timeout: float | None,
        record_class: type[Record] | None,
        as_class: Callable[..., Any] | None,
    ) -> Any:
        """Rows (``shape`` ALL or ROW) as ``record_class`` or ``as_class``: built from the
        backend's Records in one native call; a backend whose calls build them directly
        overrides this."""
        rows = await _bridge.wait(self._bridge, self._impl.query(query, args, shape, 0, timeout))
        return rows_as(rows, record_class, as_class)

    async def _query_prepared_as(
        self,
        stmt: Any,
        args: Sequence[Any],
        shape: int,
        timeout: float | None,
        record_class: type[Record] | None,
        as_class: Callable[..., Any] | None,
    ) -> Any:
        """As :meth:`_query_as`, for a prepared statement."""
        fut = self._impl.query_prepared(stmt, args, shape, 0, timeout)
        return rows_as(await _bridge.wait(self._bridge, fut), record_class, as_class)

    async def fetchval(
        self, query: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any:
        """Run ``query`` and return ``column`` of its first row (None when there is no row)."""
        if column < 0:
            raise ValueError("column must be >= 0")
        if self._encoders:
            args = await self._encode_args(query, args)
        fut = self._impl.query(query, args, VALUE, column, self._timeout(timeout))
        return await _bridge.wait(self._bridge, fut)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        """Run a command and return its status (e.g. ``"INSERT 0 1"``).

        Without arguments the text may hold several statements (simple protocol); with
        arguments it is one statement whose arguments are bound, never pasted in.
        """
        t = self._timeout(timeout)
        if args:
            if self._encoders:
                args = await self._encode_args(query, args)
            fut = self._impl.query(query, args, STATUS, 0, t)
        else:
            fut = self._impl.execute_script(query, t)
        result: str = await _bridge.wait(self._bridge, fut)
        return result

    async def executemany(
        self, command: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        """Run ``command`` once per argument sequence, pipelined in one round trip.

        All rows succeed or none is applied (one implicit transaction).
        """
        if self._encoders:
            stmt = await _bridge.wait(
                self._bridge, self._impl.prepare(command, self._timeout(timeout))
            )
            args = [encode_with(self._encoders, stmt.param_oids, row) for row in args]
        fut = self._impl.executemany(command, args, self._timeout(timeout))
        await _bridge.wait(self._bridge, fut)

    async def prepare(self, query: str, *, timeout: float | None = None) -> PreparedStatement:
        """Prepare ``query`` on the server and return a :class:`PreparedStatement`."""
        fut = self._impl.prepare(query, self._timeout(timeout))
        stmt = await _bridge.wait(self._bridge, fut)
        return PreparedStatement(self, stmt)

    def cursor(
        self,
        query: str,
        *args: Any,
        prefetch: int = 50,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> CursorFactory:
        """A server-side cursor: ``async for row in conn.cursor(...)`` streams rows in
        batches of ``prefetch`` with bounded memory; ``await conn.cursor(...)`` returns a
        :class:`Cursor` to fetch from by hand. Needs a transaction. ``record_class`` and
        ``as_class`` as in :meth:`fetch`, batch by batch."""
        if prefetch <= 0:
            raise InterfaceError("prefetch must be a positive number of rows")
        rows_as = RowsAs(record_class, as_class)
        return CursorFactory(self, query, None, args, prefetch, self._timeout(timeout), rows_as)

    def transaction(
        self,
        *,
        isolation: str | None = None,
        readonly: bool = False,
        deferrable: bool = False,
        mode: str | None = None,
    ) -> Transaction:
        """A transaction block for ``async with``; nested blocks become savepoints.

        ``isolation``: ``"read_committed"``, ``"repeatable_read"``, ``"serializable"``
        (or ``"read_uncommitted"``); None keeps the server's default. ``mode``: how the
        transaction takes its locks, for backends that have such modes (SQLite:
        ``"deferred"``, ``"immediate"``, ``"exclusive"``); None keeps the connection's default.
        """
        if mode is not None and mode not in self._transaction_modes:
            modes = ", ".join(self._transaction_modes) or "none"
            raise InterfaceError(
                f"transaction mode {mode!r} is not one of this backend's modes ({modes})"
            )
        return Transaction(self, isolation, readonly, deferrable, mode)

    def is_in_transaction(self) -> bool:
        """True when the server reports an open (or failed) transaction."""
        return self._impl.transaction_status() != "idle"

    def is_closed(self) -> bool:
        """True once the connection is closed or lost."""
        return self._impl.is_closed()

    async def close(self, *, timeout: float | None = None) -> None:
        """Close gracefully: queued calls finish, then the session ends. After ``timeout``
        seconds (default 10) the socket is closed regardless."""
        await _bridge.wait(self._bridge, self._impl.close(timeout))

    def terminate(self) -> None:
        """Close the connection at once; calls in flight fail."""
        self._impl.terminate()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self.is_closed() else self._impl.transaction_status()
        return f"<ferrule.{type(self).__name__} {state}>"

    # Lock modes a transaction may ask for (``transaction(mode=...)``); none by default.
    _transaction_modes: tuple[str, ...] = ()

    def _rollback_needed(self) -> bool:
        """Whether ending a failed transaction still needs a ROLLBACK (a backend may have
        rolled it back already)."""
        return not self.is_closed()

    # The SQL of transaction control; backends with another dialect override these.
    # Only fixed text and generated savepoint names go in: never a caller's value.
    def _sql_begin_mode(
        self, isolation: str | None, readonly: bool, deferrable: bool, mode: str
    ) -> str:
        """BEGIN with a lock mode (``transaction(mode=...)``), for backends that have modes;
        ``transaction()`` refuses a mode not in ``_transaction_modes`` before this is used."""
        raise InterfaceError(f"{type(self).__name__} has no transaction modes")

    def _sql_begin(self, isolation: str | None, readonly: bool, deferrable: bool) -> str:
        sql = "BEGIN" + (ISOLATION_SQL[isolation] if isolation else "")
        if readonly:
            sql += " READ ONLY"
        if deferrable:
            sql += " DEFERRABLE"
        return sql

    def _sql_savepoint(self, name: str) -> str:
        return f"SAVEPOINT {name}"

    def _sql_release(self, name: str) -> str:
        return f"RELEASE SAVEPOINT {name}"

    def _sql_rollback_to(self, name: str) -> str:
        return f"ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"


async def connect(dsn: str | None = None, **kwargs: Any) -> Connection:
    """Open a connection; the URL scheme picks the backend.

    ``postgresql://user:pw@host:5432/db?sslmode=verify-full`` (also ``postgres://``, or no
    DSN at all to use keyword arguments and the ``PG*`` environment variables);
    ``tarantool://user:pw@host:3301``; ``mssql://user:pw@host:1433/db?encrypt=strict`` or the
    ADO.NET form ``Server=host,1433;Database=db;UID=sa;PWD=pw;`` for SQL Server;
    ``sqlite:///app.db``, ``sqlite://:memory:``, ``sqlite:///file:app.db?mode=ro``;
    ``libsql://host?authToken=...`` (also ``https://``, ``http://``). See the backend's
    ``connect`` for its keyword arguments (:func:`ferrule.pg_connection.connect`,
    :func:`ferrule.tarantool_connection.connect`, :func:`ferrule.mssql_connection.connect`,
    :func:`ferrule.sqlite_connection.connect`, :func:`ferrule.libsql_connection.connect`).
    """
    from ferrule import _mssqldsn

    if dsn and _mssqldsn.is_ado_string(dsn):
        scheme = "mssql"
    else:
        scheme = dsn.split(":", 1)[0].lower() if dsn else "postgresql"
    if scheme in ("postgresql", "postgres"):
        from ferrule import pg_connection

        return await pg_connection.connect(dsn, **kwargs)
    if scheme == "tarantool":
        from ferrule import tarantool_connection

        return await tarantool_connection.connect(dsn, **kwargs)
    if scheme in _mssqldsn.SCHEMES:
        from ferrule import mssql_connection

        return await mssql_connection.connect(dsn, **kwargs)
    if scheme == "sqlite":
        from ferrule import sqlite_connection

        return await sqlite_connection.connect(dsn, **kwargs)
    if scheme in ("libsql", "https", "http") and dsn is not None:
        from ferrule import libsql_connection

        return await libsql_connection.connect(dsn, **kwargs)
    raise InterfaceError(f"unsupported database URL scheme {scheme!r}")


__all__ = ["Connection", "connect"]
