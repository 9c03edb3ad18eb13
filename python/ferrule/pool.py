"""`Pool`: a pool of connections over a backend's native pool (see docs/pool.md).

``pool.fetch(...)`` and its siblings are one native call each: the connection is acquired,
used and released inside the runtime, with no trip through Python in between. The class is
backend-neutral: a backend provides its native pool (the methods of :class:`NativePool`) and
its connection classes through :class:`PoolBackend`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, cast

from ferrule import _bridge
from ferrule.connection import ALL, ROW, STATUS, VALUE, Connection
from ferrule.exceptions import InterfaceError

if TYPE_CHECKING:
    from types import TracebackType

    from ferrule._ferrule import Bridge, PoolHookCall, Record
    from ferrule._native import NativePooledConnection

Hook = Callable[[Connection], Awaitable[None]]
RECYCLE_MODES = ("fast", "verified", "clean")


class PoolStats(TypedDict):
    """What :meth:`Pool.stats` returns; times are in seconds."""

    size: int
    idle: int
    in_use: int
    waiting: int
    opening: int
    closing: int
    acquisitions: int
    timeouts: int
    total_wait: float
    avg_wait: float
    connects: int
    connect_errors: int
    resets: int
    closed_broken: int


class NativePool(Protocol):
    """The methods every backend's native pool has (``PgPool``, ``TdsPool``, ``TntPool``)."""

    def start(self) -> asyncio.Future[None]: ...
    def query(
        self, sql: str, args: Sequence[Any], shape: int, column: int, timeout: float | None
    ) -> asyncio.Future[Any]: ...
    def executemany(
        self, sql: str, rows: Iterable[Sequence[Any]], timeout: float | None
    ) -> asyncio.Future[None]: ...
    def execute_script(self, sql: str, timeout: float | None) -> asyncio.Future[str]: ...
    def acquire(self, timeout: float | None) -> asyncio.Future[Any]: ...
    def next_hook(self) -> asyncio.Future[PoolHookCall | None]: ...
    def size(self) -> int: ...
    def idle_size(self) -> int: ...
    def min_size(self) -> int: ...
    def max_size(self) -> int: ...
    def is_closed(self) -> bool: ...
    def stats(self) -> dict[str, int | float]: ...
    def close(self, timeout: float | None) -> asyncio.Future[None]: ...
    def terminate(self) -> None: ...
    def expire_connections(self) -> None: ...


@dataclass(frozen=True)
class PoolBackend:
    """What a backend gives :class:`Pool`: its connection settings, how to make its native
    pool, the class of the connections the pool lends, and the class a hook receives."""

    settings: dict[str, Any]
    command_timeout: float | None
    # (bridge, settings, pool options, has init hook, has reset hook) -> native pool
    make_native: Callable[[Bridge, dict[str, Any], dict[str, Any], bool, bool], NativePool]
    pooled_class: type[PoolConnection]
    connection_class: type[Connection]


class PoolConnection(Connection):
    """A connection lent by a :class:`Pool`. It is a full :class:`Connection` until it is
    released; after that every call raises :class:`~ferrule.ConnectionClosedError`.

    A backend's class combines this with its connection class; this one has no
    ``__slots__``, since two bases that both add slots cannot be combined.
    """

    def __init__(
        self,
        impl: NativePooledConnection,
        bridge: Bridge,
        settings: dict[str, Any],
        command_timeout: float | None,
        pool: Pool,
    ) -> None:
        super().__init__(impl, bridge, settings, command_timeout)
        self._pool = pool

    @property
    def _lent(self) -> NativePooledConnection:
        # The native object of a lent connection is always the pool's kind.
        return cast("NativePooledConnection", self._impl)

    def is_released(self) -> bool:
        """True once the connection went back to its pool."""
        return self._lent.is_released()

    async def release(self) -> None:
        """Give the connection back to its pool (same as ``pool.release(conn)``)."""
        await self._pool.release(self)

    async def _release(self) -> None:
        if not self._lent.is_released():
            # The release happens at this call; awaiting only waits for the pool to have the
            # connection back (after a reset, if one is needed).
            await self._lent.release()

    async def close(self, *, timeout: float | None = None) -> None:
        """Close the underlying connection and release it; the pool opens a replacement."""
        try:
            await super().close(timeout=timeout)
        finally:
            await self._release()

    def terminate(self) -> None:
        """Close the underlying connection at once and release it."""
        self._lent.terminate()

    async def __aexit__(self, *exc: object) -> None:
        await self._release()

    def __repr__(self) -> str:
        if self._lent.is_released():
            return f"<ferrule.{type(self).__name__} released>"
        return super().__repr__()


class _AcquireContext:
    """What :meth:`Pool.acquire` returns: ``async with`` it, or await it."""

    __slots__ = ("_conn", "_pool", "_timeout")

    def __init__(self, pool: Pool, timeout: float | None) -> None:
        self._pool = pool
        self._timeout = timeout
        self._conn: PoolConnection | None = None

    def __await__(self) -> Generator[Any, None, PoolConnection]:
        return self._pool._acquire(self._timeout).__await__()

    async def __aenter__(self) -> PoolConnection:
        if self._conn is not None:
            raise InterfaceError("this acquire context is already in use")
        self._conn = await self._pool._acquire(self._timeout)
        return self._conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn._release()


def _hand_back(fut: asyncio.Future[NativePooledConnection]) -> None:
    """The caller was cancelled: a connection already delivered to its future goes back."""
    if fut.done() and not fut.cancelled() and fut.exception() is None:
        fut.result().release()


class Pool:
    """A pool of connections. Make it with :func:`create_pool`."""

    __slots__ = (
        "_backend",
        "_bridge",
        "_command_timeout",
        "_connect_kwargs",
        "_dsn",
        "_hook_error",
        "_hook_service",
        "_hook_tasks",
        "_init",
        "_native",
        "_options",
        "_reset",
        "_setup",
        "_starting",
    )

    # Set when the pool starts, before `_native`, which is what says it has started.
    _backend: PoolBackend
    _bridge: Bridge

    def __init__(
        self,
        dsn: str | None,
        *,
        min_size: int,
        max_size: int,
        max_queries: int | None,
        max_lifetime: float | None,
        max_idle: float | None,
        acquire_timeout: float | None,
        setup: Hook | None,
        init: Hook | None,
        reset: Hook | None,
        recycle: str,
        connect_kwargs: dict[str, Any],
    ) -> None:
        _check_options(min_size, max_size, max_queries, recycle)
        for name, value in (
            ("max_lifetime", max_lifetime),
            ("max_idle", max_idle),
            ("acquire_timeout", acquire_timeout),
        ):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 or None, not {value}")
        for name, hook in (("setup", setup), ("init", init), ("reset", reset)):
            if hook is not None and not callable(hook):
                raise TypeError(f"{name} must be a coroutine function, not {type(hook).__name__}")
        self._dsn = dsn
        self._connect_kwargs = connect_kwargs
        self._options: dict[str, Any] = {
            "min_size": min_size,
            "max_size": max_size,
            "max_queries": max_queries,
            "max_lifetime": max_lifetime,
            "max_idle": max_idle,
            "acquire_timeout": acquire_timeout,
            "recycle": recycle,
        }
        self._setup = setup
        self._init = init
        self._reset = reset
        self._native: NativePool | None = None
        self._command_timeout: float | None = None
        self._starting: asyncio.Future[None] | None = None
        self._hook_service: asyncio.Task[None] | None = None
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._hook_error: BaseException | None = None

    # Starting ---------------------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, Pool]:
        return self._start().__await__()

    async def __aenter__(self) -> Pool:
        return await self._start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _start(self) -> Pool:
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._open())
        await asyncio.shield(self._starting)
        return self

    async def _open(self) -> None:
        backend = _backend_for(self._dsn, self._connect_kwargs)
        bridge = _bridge.get_bridge()
        native = backend.make_native(
            bridge, backend.settings, self._options, self._init is not None, self._reset is not None
        )
        self._backend, self._bridge = backend, bridge
        self._command_timeout = backend.command_timeout
        if self._init is not None or self._reset is not None:
            self._hook_service = asyncio.ensure_future(self._serve_hooks(native, bridge))
        try:
            await _bridge.wait(bridge, native.start())
        except BaseException as exc:
            native.terminate()
            self._stop_hooks()
            if self._hook_error is not None and isinstance(exc, Exception):
                raise self._hook_error from exc
            raise
        self._native = native

    def _started(self) -> NativePool:
        native = self._native
        if native is None:
            raise InterfaceError(
                "the pool is not started: use `await create_pool(...)` or "
                "`async with create_pool(...) as pool`"
            )
        return native

    # Hooks ------------------------------------------------------------------------------

    async def _serve_hooks(self, native: NativePool, bridge: Bridge) -> None:
        """Runs the ``init`` / ``reset`` hooks the native pool asks for, each in its own task
        so that connections opened together are initialized together."""
        while True:
            call = await _bridge.wait(bridge, native.next_hook())
            if call is None:
                return
            task = asyncio.ensure_future(self._run_hook(call))
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_tasks.discard)

    async def _run_hook(self, call: PoolHookCall) -> None:
        hook = self._init if call.kind == "init" else self._reset
        if hook is None:
            call.finish(f"no {call.kind} hook")
            return
        backend = self._backend
        conn = backend.connection_class(
            call.connection, self._bridge, backend.settings, backend.command_timeout
        )
        try:
            await hook(conn)
        except BaseException as exc:
            self._hook_error = exc
            call.finish(f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, Exception):
                raise
        else:
            call.finish(None)

    def _stop_hooks(self) -> None:
        if self._hook_service is not None:
            self._hook_service.cancel()
            self._hook_service = None
        for task in list(self._hook_tasks):
            task.cancel()

    # Queries: one native call each ------------------------------------------------------

    def _timeout(self, timeout: float | None) -> float | None:
        if timeout is None:
            return self._command_timeout
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0, not {timeout}")
        return timeout

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Record]:
        """Run ``query`` on a pooled connection and return every row.

        ``timeout`` bounds the whole call, the wait for a connection included.
        """
        if self._setup is not None:
            async with self.acquire() as conn:
                return await conn.fetch(query, *args, timeout=timeout)
        fut = self._started().query(query, args, ALL, 0, self._timeout(timeout))
        result: list[Record] = await _bridge.wait(self._bridge, fut)
        return result

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Record | None:
        """Run ``query`` on a pooled connection and return its first row, or None."""
        if self._setup is not None:
            async with self.acquire() as conn:
                row: Record | None = await conn.fetchrow(query, *args, timeout=timeout)
                return row
        fut = self._started().query(query, args, ROW, 0, self._timeout(timeout))
        result: Record | None = await _bridge.wait(self._bridge, fut)
        return result

    async def fetchval(
        self, query: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any:
        """Run ``query`` on a pooled connection and return ``column`` of its first row."""
        if column < 0:
            raise ValueError("column must be >= 0")
        if self._setup is not None:
            async with self.acquire() as conn:
                return await conn.fetchval(query, *args, column=column, timeout=timeout)
        fut = self._started().query(query, args, VALUE, column, self._timeout(timeout))
        return await _bridge.wait(self._bridge, fut)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        """Run a command on a pooled connection and return its status.

        Without arguments the text may hold several statements; with arguments it is one
        statement whose arguments are bound.
        """
        if self._setup is not None:
            async with self.acquire() as conn:
                return await conn.execute(query, *args, timeout=timeout)
        native, t = self._started(), self._timeout(timeout)
        if args:
            fut = native.query(query, args, STATUS, 0, t)
        else:
            fut = native.execute_script(query, t)
        result: str = await _bridge.wait(self._bridge, fut)
        return result

    async def executemany(
        self, command: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        """Run ``command`` once per argument sequence on one pooled connection, pipelined,
        all or nothing."""
        if self._setup is not None:
            async with self.acquire() as conn:
                await conn.executemany(command, args, timeout=timeout)
            return
        fut = self._started().executemany(command, args, self._timeout(timeout))
        await _bridge.wait(self._bridge, fut)

    # Lending ----------------------------------------------------------------------------

    def acquire(self, *, timeout: float | None = None) -> _AcquireContext:
        """Lend a connection: ``async with pool.acquire() as conn:`` releases it at the end;
        ``conn = await pool.acquire()`` needs ``await pool.release(conn)``.

        Waiters are served first come, first served. ``timeout`` (default: the pool's
        ``acquire_timeout``, else no limit) raises :class:`~ferrule.PoolTimeoutError`.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0, not {timeout}")
        return _AcquireContext(self, timeout)

    async def _acquire(self, timeout: float | None) -> PoolConnection:
        native = self._started()
        bridge, backend = self._bridge, self._backend
        fut = native.acquire(timeout)
        try:
            impl = await fut
        except asyncio.CancelledError:
            # Cancelled while waiting: the native acquire stops and keeps nothing. Cancelled
            # as the connection arrived: it is given back here.
            bridge.cancel(fut)
            _hand_back(fut)
            raise
        conn = backend.pooled_class(impl, bridge, backend.settings, backend.command_timeout, self)
        if self._setup is not None:
            try:
                await self._setup(conn)
            except BaseException:
                impl.release()
                raise
        return conn

    async def release(self, connection: PoolConnection) -> None:
        """Give back a connection from ``await pool.acquire()``. A connection left inside a
        transaction or with session state is rolled back and reset before reuse."""
        if not isinstance(connection, PoolConnection) or connection._pool is not self:
            raise InterfaceError(f"{connection!r} was not acquired from this pool")
        await connection._release()

    # Sizes, statistics, ending ------------------------------------------------------------

    def get_size(self) -> int:
        """Open connections, idle or in use."""
        return self._native.size() if self._native is not None else 0

    def get_idle_size(self) -> int:
        """Open connections nobody holds."""
        return self._native.idle_size() if self._native is not None else 0

    def get_min_size(self) -> int:
        return int(self._options["min_size"])

    def get_max_size(self) -> int:
        return int(self._options["max_size"])

    def stats(self) -> PoolStats:
        """A consistent snapshot: sizes, tasks waiting, acquisitions, timeouts, average wait,
        connects, resets, connections closed as broken."""
        return cast("PoolStats", self._started().stats())

    def is_closing(self) -> bool:
        """True once :meth:`close` or :meth:`terminate` was called."""
        return self._native is not None and self._native.is_closed()

    async def close(self, *, timeout: float | None = None) -> None:
        """Stop lending, wait up to ``timeout`` seconds (None: as long as it takes) for the
        connections in use to come back, then close every connection."""
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0, not {timeout}")
        native = self._native
        if native is None:
            return
        try:
            await _bridge.wait(self._bridge, native.close(timeout))
        finally:
            self._stop_hooks()

    def terminate(self) -> None:
        """Close every connection now, in use or not."""
        if self._native is not None:
            self._native.terminate()
        self._stop_hooks()

    async def expire_connections(self) -> None:
        """Replace every connection: idle ones now, the ones in use when they are released."""
        self._started().expire_connections()

    def __repr__(self) -> str:
        if self._native is None:
            return "<ferrule.Pool not started>"
        state = "closed" if self._native.is_closed() else "open"
        return (
            f"<ferrule.Pool {state} size={self.get_size()} idle={self.get_idle_size()} "
            f"min={self.get_min_size()} max={self.get_max_size()}>"
        )


def _check_options(min_size: int, max_size: int, max_queries: int | None, recycle: str) -> None:
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1, not {max_size}")
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0, not {min_size}")
    if min_size > max_size:
        raise ValueError(f"min_size ({min_size}) must not exceed max_size ({max_size})")
    if max_queries is not None and max_queries < 1:
        raise ValueError(f"max_queries must be at least 1 or None, not {max_queries}")
    if recycle not in RECYCLE_MODES:
        raise ValueError(f"recycle must be one of {', '.join(RECYCLE_MODES)}, not {recycle!r}")


def _scheme(dsn: str | None) -> str:
    """The backend's name in ``dsn``: its URL scheme, ``mssql`` for the ADO.NET form."""
    from ferrule import _mssqldsn

    if not dsn:
        return ""
    if _mssqldsn.is_ado_string(dsn):
        return "mssql"
    return dsn.split(":", 1)[0].lower()


def _backend_for(dsn: str | None, connect_kwargs: dict[str, Any]) -> PoolBackend:
    from ferrule import _mssqldsn

    scheme = _scheme(dsn) or "postgresql"
    if scheme in ("postgresql", "postgres"):
        from ferrule import pg_pool

        return pg_pool.pool_backend(dsn, connect_kwargs)
    if scheme in _mssqldsn.SCHEMES:
        from ferrule import mssql_pool

        return mssql_pool.pool_backend(dsn, connect_kwargs)
    if scheme == "tarantool":
        from ferrule import tarantool_pool

        return tarantool_pool.pool_backend(dsn, connect_kwargs)
    raise InterfaceError(f"unsupported database URL scheme {scheme!r}")


def create_pool(
    dsn: str | None = None,
    *,
    min_size: int = 10,
    max_size: int = 10,
    max_queries: int | None = None,
    max_lifetime: float | None = None,
    max_idle: float | None = 300.0,
    acquire_timeout: float | None = None,
    setup: Hook | None = None,
    init: Hook | None = None,
    reset: Hook | None = None,
    recycle: str = "fast",
    **connect_kwargs: Any,
) -> Pool:
    """Make a connection pool: ``pool = await create_pool(dsn)`` or
    ``async with create_pool(dsn) as pool:``. The URL picks the backend: PostgreSQL
    (``postgresql://``, or no DSN), SQL Server (``mssql://`` or the ADO.NET form) or Tarantool
    (``tarantool://``); see docs/pool.md for how each resets a released connection.

    ``min_size`` connections are opened at start and kept; up to ``max_size`` are opened on
    demand. A connection is replaced after ``max_queries`` queries or ``max_lifetime``
    seconds (with 10% jitter); idle ones above ``min_size`` are closed after ``max_idle``
    seconds. ``acquire_timeout`` bounds every wait for a connection. ``recycle`` is the
    check of a connection idle for over a second before it is lent: ``"fast"`` (is it
    closed?), ``"verified"`` (a round trip) or ``"clean"`` (a full session reset).

    Hooks are coroutine functions taking the connection: ``init`` runs once on each new
    connection (on SQL Server again after each reset, which undoes it), ``setup`` at each
    acquire, ``reset`` at each release instead of the built-in reset. Each hook costs a trip
    through the event loop where it runs: with ``setup`` set, ``pool.fetch`` and its
    siblings acquire through Python. Other keywords are the backend's connect arguments (see
    :func:`ferrule.connect`).

    A SQLite URL gives a :class:`ferrule.SqlitePool` instead: one writer and
    ``max_size - 1`` readers in WAL mode, with explicit routing (see
    :func:`ferrule.sqlite_pool.create_pool`).
    """
    if _scheme(dsn) in ("sqlite", "file"):
        from ferrule import sqlite_pool

        # A SQLite pool keeps its connections for its life: these settings have no meaning.
        unused = {
            "min_size": min_size not in (10, max_size),
            "max_queries": max_queries is not None,
            "max_lifetime": max_lifetime is not None,
            "max_idle": max_idle != 300.0,
            "recycle": recycle != "fast",
        }
        if any(unused.values()):
            names = ", ".join(name for name, given in unused.items() if given)
            raise InterfaceError(f"a SQLite pool does not take {names} (see docs/sqlite.md)")
        return sqlite_pool.create_pool(  # type: ignore[return-value]
            dsn,
            readers=max(max_size - 1, 0),
            acquire_timeout=acquire_timeout,
            setup=setup,
            init=init,
            reset=reset,
            **connect_kwargs,
        )
    return Pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=max_queries,
        max_lifetime=max_lifetime,
        max_idle=max_idle,
        acquire_timeout=acquire_timeout,
        setup=setup,
        init=init,
        reset=reset,
        recycle=recycle,
        connect_kwargs=connect_kwargs,
    )


__all__ = ["Pool", "PoolConnection", "PoolStats", "create_pool"]
