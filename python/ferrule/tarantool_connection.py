"""`TarantoolConnection`: the Tarantool connection, its space operations and its `connect`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union
from urllib.parse import parse_qsl, unquote, urlsplit

from ferrule import _bridge
from ferrule._ferrule import tnt_connect
from ferrule.connection import Connection
from ferrule.exceptions import InterfaceError, NotSupportedError
from ferrule.prepared_stmt import PreparedStatement
from ferrule.tarantool_transaction import TarantoolTransaction

if TYPE_CHECKING:
    from ferrule._ferrule import Record, TntConn, TntPushes, TntStmt, TntWatcher
    from ferrule.cursor import CursorFactory

Space = Union[str, int]
Index = Union[str, int]


class PushIterator:
    """The messages a call pushes (``box.session.push``), then its result.

    ``async for message in it`` yields each message as it arrives; afterwards ``it.result``
    holds the call's returned values. An error of the call is raised by the iteration.
    """

    __slots__ = ("_bridge", "_done", "_native", "result")

    def __init__(self, native: TntPushes, bridge: Any) -> None:
        self._native = native
        self._bridge = bridge
        self._done = False
        self.result: list[Any] | None = None

    def __aiter__(self) -> PushIterator:
        return self

    async def __anext__(self) -> Any:
        if self._done:
            raise StopAsyncIteration
        kind, value = await _bridge.wait(self._bridge, self._native.next())
        if kind == 1:
            self._done = True
            self.result = value
            raise StopAsyncIteration
        return value


class Watcher:
    """Values of a watched key (``box.broadcast``): ``async for value in watcher``."""

    __slots__ = ("_bridge", "_native")

    def __init__(self, native: TntWatcher, bridge: Any) -> None:
        self._native = native
        self._bridge = bridge

    @property
    def key(self) -> str:
        return self._native.key

    def __aiter__(self) -> Watcher:
        return self

    async def __anext__(self) -> Any:
        return await _bridge.wait(self._bridge, self._native.next())

    async def close(self) -> None:
        """Stop watching."""
        await _bridge.wait(self._bridge, self._native.close())


class TarantoolPreparedStatement(PreparedStatement):
    """An SQL statement prepared on the server (IPROTO_PREPARE); executed by id."""

    __slots__ = ()

    def get_parameters(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """``(name, type)`` of each parameter."""
        stmt: TntStmt = self._stmt  # type: ignore[assignment]
        return stmt.params

    def get_attributes(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """``(name, type)`` of each result column."""
        stmt: TntStmt = self._stmt  # type: ignore[assignment]
        return stmt.columns

    async def close(self, *, timeout: float | None = None) -> None:
        """Drop the statement on the server (IPROTO_PREPARE with only its id)."""
        conn = self._conn
        impl: TntConn = conn._impl  # type: ignore[assignment]
        stmt: TntStmt = self._stmt  # type: ignore[assignment]
        await _bridge.wait(conn._bridge, impl.unprepare(stmt, conn._timeout(timeout)))


class TarantoolConnection(Connection):
    """A Tarantool connection: SQL through the common methods (``?`` and ``:name``
    placeholders), plus space operations by space and index name or id.

    Tuples come back as Records readable by index and, where the space has a format, by field
    name. Field numbers (update operations) count from 0, as in IPROTO.
    """

    __slots__ = ()

    @property
    def _tnt(self) -> TntConn:
        impl: TntConn = self._impl  # type: ignore[assignment]
        return impl

    async def _run(self, fut: Any) -> Any:
        return await _bridge.wait(self._bridge, fut)

    async def ping(self, *, timeout: float | None = None) -> None:
        """A round trip to the server."""
        await self._run(self._tnt.ping(self._timeout(timeout)))

    async def select(
        self,
        space: Space,
        key: Any = None,
        *,
        index: Index | None = None,
        iterator: str | int | None = None,
        limit: int | None = None,
        offset: int = 0,
        timeout: float | None = None,
    ) -> list[Record]:
        """Tuples of ``space`` whose ``index`` key matches ``key`` under ``iterator``
        (``"EQ"``, ``"GE"``, ``"ALL"``, ...; all tuples when there is no key)."""
        fut = self._tnt.select(space, key, index, iterator, limit, offset, self._timeout(timeout))
        result: list[Record] = await self._run(fut)
        return result

    async def insert(
        self, space: Space, tuple: Sequence[Any], *, timeout: float | None = None
    ) -> Record:
        """Insert a tuple (``UniqueViolationError`` when the key exists); returns it."""
        result: Record = await self._run(
            self._tnt.insert(space, tuple, False, self._timeout(timeout))
        )
        return result

    async def replace(
        self, space: Space, tuple: Sequence[Any], *, timeout: float | None = None
    ) -> Record:
        """Insert or replace a tuple; returns it."""
        result: Record = await self._run(
            self._tnt.insert(space, tuple, True, self._timeout(timeout))
        )
        return result

    async def update(
        self,
        space: Space,
        key: Any,
        operations: Sequence[Sequence[Any]],
        *,
        index: Index | None = None,
        timeout: float | None = None,
    ) -> Record | None:
        """Apply ``operations`` (``[["=", "name", "x"], ["+", 2, 1]]``, fields by name or by
        number from 0) to the tuple with ``key``; returns the new tuple, or None."""
        result: Record | None = await self._run(
            self._tnt.update(space, key, operations, index, self._timeout(timeout))
        )
        return result

    async def upsert(
        self,
        space: Space,
        tuple: Sequence[Any],
        operations: Sequence[Sequence[Any]],
        *,
        timeout: float | None = None,
    ) -> None:
        """Insert ``tuple``, or apply ``operations`` to the existing one with its key."""
        await self._run(self._tnt.upsert(space, tuple, operations, self._timeout(timeout)))

    async def delete(
        self, space: Space, key: Any, *, index: Index | None = None, timeout: float | None = None
    ) -> Record | None:
        """Delete the tuple with ``key``; returns it, or None when there was none."""
        result: Record | None = await self._run(
            self._tnt.delete(space, key, index, self._timeout(timeout))
        )
        return result

    async def call(
        self,
        function: str,
        args: Sequence[Any] | None = None,
        *,
        timeout: float | None = None,
        push_subscribe: bool = False,
    ) -> Any:
        """Call a stored function; returns the list of its results.

        With ``push_subscribe=True`` returns a :class:`PushIterator` over the messages the
        function pushes, whose ``result`` is set once the call returns.
        """
        return await self._invoke(function, args, False, timeout, push_subscribe)

    async def eval(
        self,
        expression: str,
        args: Sequence[Any] | None = None,
        *,
        timeout: float | None = None,
        push_subscribe: bool = False,
    ) -> Any:
        """Evaluate Lua (``"return ..."``, arguments in ``...``); returns the list of results,
        or a :class:`PushIterator` with ``push_subscribe=True``."""
        return await self._invoke(expression, args, True, timeout, push_subscribe)

    async def _invoke(
        self,
        target: str,
        args: Sequence[Any] | None,
        is_eval: bool,
        timeout: float | None,
        push_subscribe: bool,
    ) -> Any:
        t = self._timeout(timeout)
        if push_subscribe:
            native = await self._run(self._tnt.call_pushes(target, args, is_eval, t))
            return PushIterator(native, self._bridge)
        return await self._run(self._tnt.call(target, args, is_eval, t))

    async def prepare(
        self, query: str, *, timeout: float | None = None
    ) -> TarantoolPreparedStatement:
        """Prepare SQL on the server (IPROTO_PREPARE); run it with the statement's fetch
        methods (EXECUTE by id) and drop it with ``close()``."""
        stmt = await self._run(self._tnt.prepare(query, self._timeout(timeout)))
        return TarantoolPreparedStatement(self, stmt)  # a TntStmt stands in for a PgStmt

    async def watch(self, key: str) -> Watcher:
        """Watch ``key`` (Tarantool 2.10+, else NotSupportedError)."""
        return Watcher(await self._run(self._tnt.watch(key)), self._bridge)

    def cursor(self, query: str, *args: Any, **options: Any) -> CursorFactory:
        """Not available: Tarantool SQL has no server-side cursors."""
        raise NotSupportedError("Tarantool has no server-side cursors; use fetch() or LIMIT")

    def transaction(  # type: ignore[override]
        self,
        *,
        isolation: str | None = None,
        readonly: bool = False,
        deferrable: bool = False,
        timeout: float | None = None,
    ) -> TarantoolTransaction:
        """An interactive transaction on a stream (IPROTO_BEGIN / COMMIT / ROLLBACK): every
        call made on this connection inside the block joins it. Needs Tarantool 2.10+
        (NotSupportedError otherwise). ``isolation``: ``"read_committed"``,
        ``"read_confirmed"``, ``"best_effort"`` or None; ``timeout`` bounds the transaction
        on the server."""
        if readonly or deferrable:
            raise InterfaceError("Tarantool transactions have no readonly or deferrable mode")
        return TarantoolTransaction(self, isolation, timeout)

    def is_in_transaction(self) -> bool:
        return self._tnt.transaction_status() != "idle"

    def is_connected(self) -> bool:
        """False while the connection is being re-established after a loss."""
        return self._tnt.is_connected()

    def reconnect_count(self) -> int:
        """How many times the connection was re-established."""
        return self._tnt.reconnect_count()

    def get_server_version(self) -> tuple[int, int, int]:
        """The server version from its greeting, e.g. ``(2, 6, 0)``."""
        return self._tnt.server_version()

    def get_features(self) -> list[int]:
        """IPROTO_ID features the server offers (empty before 2.10)."""
        return self._tnt.features()

    def spaces(self) -> dict[str, dict[str, Any]]:
        """The schema known to the connection, by space name."""
        return self._tnt.spaces()

    def schema_version(self) -> int:
        return self._tnt.schema_version()

    async def refresh_schema(self) -> None:
        """Read the spaces and indexes again now (done automatically on schema changes)."""
        await self._run(self._tnt.refresh_schema())

    def __repr__(self) -> str:
        state = "closed" if self.is_closed() else self._impl.transaction_status()
        major, minor, patch = self.get_server_version()
        return f"<ferrule.TarantoolConnection {major}.{minor}.{patch} {state}>"


_BOOL = {"1": True, "true": True, "yes": True, "on": True}
_FLOAT_OPTIONS = ("connect_timeout", "reconnect_delay", "reconnect_max_delay", "reconnect_wait")


def parse_dsn(dsn: str) -> dict[str, Any]:
    """Settings from ``tarantool://user:password@host:3301?connect_timeout=5`` or
    ``tarantool://user:password@unix/:/path/to.sock``."""
    settings: dict[str, Any] = {}
    rest = dsn.split("://", 1)[1] if "://" in dsn else ""
    query = ""
    if "?" in rest:
        rest, query = rest.split("?", 1)
    creds, at, location = rest.rpartition("@")
    if at:
        user, colon, password = creds.partition(":")
        settings["user"] = unquote(user) or None
        if colon:
            settings["password"] = unquote(password)
    if location.startswith("unix/:"):
        settings["unix_path"] = unquote(location[len("unix/:") :])
    elif location.startswith("/"):
        settings["unix_path"] = unquote(location)
    elif location:
        parts = urlsplit(f"//{location}")
        settings["host"] = parts.hostname or "127.0.0.1"
        try:
            settings["port"] = parts.port or 3301
        except ValueError:
            raise InterfaceError(f"invalid port in {dsn!r}") from None
    for name, value in parse_qsl(query):
        if name in _FLOAT_OPTIONS:
            settings[name] = float(value)
        elif name in ("reconnect", "fetch_schema"):
            settings[name] = _BOOL.get(value.lower(), False)
        else:
            raise InterfaceError(f"unknown Tarantool connection option {name!r}")
    return settings


def connect_settings(
    dsn: str | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    unix_path: str | None = None,
    user: str | None = None,
    password: str | None = None,
    timeout: float | None = None,
    command_timeout: float | None = None,
    reconnect: bool | None = None,
    reconnect_delay: float | None = None,
    reconnect_max_delay: float | None = None,
    reconnect_wait: float | None = None,
    fetch_schema: bool | None = None,
) -> dict[str, Any]:
    """The native settings dict for :func:`connect`'s arguments (also used by the pool);
    ``command_timeout`` rides along under its own name."""
    settings = parse_dsn(dsn) if dsn else {}
    overrides = {
        "host": host,
        "port": port,
        "unix_path": unix_path,
        "user": user,
        "password": password,
        "connect_timeout": timeout,
        "reconnect": reconnect,
        "reconnect_delay": reconnect_delay,
        "reconnect_max_delay": reconnect_max_delay,
        "reconnect_wait": reconnect_wait,
        "fetch_schema": fetch_schema,
    }
    settings.update({k: v for k, v in overrides.items() if v is not None})
    settings["command_timeout"] = command_timeout
    return settings


async def connect(
    dsn: str | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    unix_path: str | None = None,
    user: str | None = None,
    password: str | None = None,
    timeout: float | None = None,
    command_timeout: float | None = None,
    reconnect: bool | None = None,
    reconnect_delay: float | None = None,
    reconnect_max_delay: float | None = None,
    reconnect_wait: float | None = None,
    fetch_schema: bool | None = None,
) -> TarantoolConnection:
    """Open a Tarantool connection.

    ``dsn``: ``tarantool://user:password@host:3301`` or ``tarantool://user:pw@unix/:/path``;
    keyword arguments override it. ``timeout`` bounds connecting (default 10 s);
    ``command_timeout`` is the default timeout of every call. After a lost connection it
    reconnects with backoff (``reconnect=False`` closes instead); calls in flight then fail
    with ConnectionLostError and are never re-sent; calls made while reconnecting wait up to
    their timeout (or ``reconnect_wait``, default 10 s).
    """
    settings = connect_settings(
        dsn,
        host=host,
        port=port,
        unix_path=unix_path,
        user=user,
        password=password,
        timeout=timeout,
        command_timeout=command_timeout,
        reconnect=reconnect,
        reconnect_delay=reconnect_delay,
        reconnect_max_delay=reconnect_max_delay,
        reconnect_wait=reconnect_wait,
        fetch_schema=fetch_schema,
    )
    bridge = _bridge.get_bridge()
    impl = await _bridge.wait(bridge, tnt_connect(bridge, settings))
    return TarantoolConnection(impl, bridge, settings, command_timeout)


__all__ = [
    "PushIterator",
    "TarantoolConnection",
    "TarantoolPreparedStatement",
    "Watcher",
    "connect",
    "connect_settings",
]
