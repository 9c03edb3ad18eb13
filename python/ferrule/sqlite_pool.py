"""`SqlitePool`: one writer connection and N readers on one SQLite database in WAL mode.

SQLite lets many readers work beside one writer (WAL), but never two writers at once. The
pool mirrors that: write methods (``execute``, ``executemany``) go to the writer, whose calls
queue in order; read methods (``fetch``, ``fetchrow``, ``fetchval``) are spread over the
readers. The routing is explicit, never guessed from the SQL text: ``WITH ... INSERT`` or
``PRAGMA x = y`` sent to ``fetch`` runs on a reader, which refuses to write
(``PRAGMA query_only``), so a misrouted write is a clear error instead of a silent one.
``pool.acquire(write=True)`` lends the writer for a transaction; ``pool.acquire()`` lends a
reader (for a consistent snapshot over several reads).

PRAGMAs applied to every connection: ``journal_mode = WAL`` (readers do not block the writer
nor the writer the readers), ``synchronous = NORMAL`` (durable at each checkpoint, safe in
WAL mode: a power loss may lose the last transactions, never corrupt the file),
``foreign_keys = ON`` and a ``busy_timeout`` (5 s by default). Readers add
``query_only = ON``; the writer's transactions default to ``BEGIN IMMEDIATE``, so a
transaction takes the write lock at its start instead of failing half-way.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ferrule import _sqlitedsn
from ferrule.exceptions import (
    ConnectionClosedError,
    InterfaceError,
    NotSupportedError,
    PoolTimeoutError,
)
from ferrule.sqlite_connection import SqliteConnection, connect

if TYPE_CHECKING:
    from types import TracebackType

    from ferrule._ferrule import Record

Hook = Callable[[SqliteConnection], Awaitable[None]]
POOL_DEFAULTS = {"journal_mode": "wal", "synchronous": "normal", "foreign_keys": True}


class SqlitePoolConnection(SqliteConnection):
    """A connection lent by a :class:`SqlitePool`; every call fails once it is released."""

    __slots__ = ("_lease",)

    def __init__(self, lease: _Lease) -> None:
        conn = lease.conn
        super().__init__(conn._impl, conn._bridge, conn._settings, conn._command_timeout)
        self._lease = lease
        self._default_mode = conn._default_mode

    def is_released(self) -> bool:
        """True once the connection went back to its pool."""
        return self._lease.released

    def _check_open(self) -> None:
        if self._lease.released:
            raise ConnectionClosedError("the connection was released to its pool")

    async def fetch(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> list[Any]:
        self._check_open()
        return await super().fetch(
            query, *args, timeout=timeout, record_class=record_class, as_class=as_class
        )

    async def fetchrow(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> Any:
        self._check_open()
        return await super().fetchrow(
            query, *args, timeout=timeout, record_class=record_class, as_class=as_class
        )

    async def fetchval(
        self, query: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any:
        self._check_open()
        return await super().fetchval(query, *args, column=column, timeout=timeout)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        self._check_open()
        return await super().execute(query, *args, timeout=timeout)

    async def executemany(
        self, command: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        self._check_open()
        await super().executemany(command, args, timeout=timeout)

    async def release(self) -> None:
        """Give the connection back to its pool (same as ``pool.release(conn)``)."""
        await self._lease.pool.release(self)

    async def close(self, *, timeout: float | None = None) -> None:
        """Release the connection: pooled SQLite connections stay open with their pool."""
        await self.release()

    async def __aexit__(self, *exc: object) -> None:
        await self.release()

    def __repr__(self) -> str:
        role = "writer" if self._lease.write else "reader"
        state = "released" if self._lease.released else self._impl.transaction_status()
        return f"<ferrule.SqlitePoolConnection {role} {state}>"


class _Lease:
    __slots__ = ("conn", "pool", "released", "write")

    def __init__(self, pool: SqlitePool, conn: SqliteConnection, write: bool) -> None:
        self.pool = pool
        self.conn = conn
        self.write = write
        self.released = False


class _AcquireContext:
    __slots__ = ("_conn", "_pool", "_timeout", "_write")

    def __init__(self, pool: SqlitePool, timeout: float | None, write: bool) -> None:
        self._pool = pool
        self._timeout = timeout
        self._write = write
        self._conn: SqlitePoolConnection | None = None

    def __await__(self) -> Generator[Any, None, SqlitePoolConnection]:
        return self._pool._acquire(self._timeout, self._write).__await__()

    async def __aenter__(self) -> SqlitePoolConnection:
        self._conn = await self._pool._acquire(self._timeout, self._write)
        return self._conn

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            await self._pool.release(self._conn)


class SqlitePool:
    """A writer and ``readers`` reader connections on one database; create it with
    :func:`create_pool`."""

    def __init__(
        self,
        dsn: str | None,
        *,
        readers: int = 4,
        acquire_timeout: float | None = None,
        setup: Hook | None = None,
        init: Hook | None = None,
        reset: Hook | None = None,
        **connect_kwargs: Any,
    ) -> None:
        if readers < 0:
            raise InterfaceError(f"readers must be >= 0, not {readers}")
        for name, hook in (("setup", setup), ("init", init), ("reset", reset)):
            if hook is not None and not callable(hook):
                raise InterfaceError(f"{name} must be a coroutine function, not {hook!r}")
        self._setup, self._init, self._reset = setup, init, reset
        settings = _sqlitedsn.build_settings(dsn, {})
        if settings.get("sync_url") is not None or connect_kwargs.get("sync_url") is not None:
            raise NotSupportedError(
                "a pool of libSQL embedded replicas is not supported: each connection would "
                "pull into the same file; open one replica with ferrule.connect()"
            )
        in_memory = settings["path"] == ":memory:" and "path" not in connect_kwargs
        # Each connection to ":memory:" is a database of its own: one connection serves all.
        self._readers_wanted = 0 if in_memory else readers
        self._dsn = dsn
        self._connect_kwargs = {**POOL_DEFAULTS, **connect_kwargs}
        self._acquire_timeout = acquire_timeout
        self._writer: SqliteConnection | None = None
        self._readers: list[SqliteConnection] = []
        self._idle_readers: deque[SqliteConnection] = deque()
        self._reader_waiters: deque[asyncio.Future[SqliteConnection]] = deque()
        self._write_lock = asyncio.Lock()
        self._spread = itertools.count()
        self._started: asyncio.Task[SqlitePool] | None = None
        self._closed = False
        self._counts = {"reads": 0, "writes": 0, "acquisitions": 0, "timeouts": 0}

    def __await__(self) -> Generator[Any, None, SqlitePool]:
        return self._start().__await__()

    async def __aenter__(self) -> SqlitePool:
        return await self._start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _start(self) -> SqlitePool:
        if self._started is None:
            self._started = asyncio.ensure_future(self._open())
        return await asyncio.shield(self._started)

    async def _open(self) -> SqlitePool:
        # The writer first: it creates the file and switches it to WAL before readers open.
        self._writer = await self._connect(write=True)
        try:
            for _ in range(self._readers_wanted):
                reader = await self._connect(write=False)
                self._readers.append(reader)
                self._idle_readers.append(reader)
        except BaseException:
            await self._close_all()
            raise
        return self

    async def _connect(self, *, write: bool) -> SqliteConnection:
        """A new writer or reader, its ``init`` hook run."""
        if write:
            kwargs = {**self._connect_kwargs, "transaction_mode": "immediate"}
        else:
            kwargs = {**self._connect_kwargs, "query_only": True, "create": False}
        conn = await connect(self._dsn, **kwargs)
        if self._init is not None:
            try:
                await self._init(conn)
            except BaseException:
                await conn.close()
                raise
        return conn

    async def _replace(self, old: SqliteConnection, write: bool) -> SqliteConnection:
        """Closes a connection whose session cannot be trusted and opens its successor."""
        old.terminate()
        new = await self._connect(write=write)
        if write:
            self._writer = new
        else:
            self._readers[self._readers.index(old)] = new
        return new

    def _live(self) -> SqliteConnection:
        if self._closed:
            raise ConnectionClosedError("the pool is closed")
        if self._writer is None:
            raise InterfaceError("the pool is not started: await create_pool(...) first")
        return self._writer

    def _timeout(self, timeout: float | None) -> float | None:
        return self._acquire_timeout if timeout is None else timeout

    def _reader_for_call(self) -> SqliteConnection | None:
        """A reader for one statement: any reader not lent out (calls on one connection
        queue in order), spread in turn; None when all are lent."""
        writer = self._live()
        if not self._readers:
            return writer
        if not self._idle_readers:
            return None
        i = next(self._spread) % len(self._idle_readers)
        return self._idle_readers[i]

    async def _read(self, method: str, query: str, args: tuple[Any, ...], **kw: Any) -> Any:
        self._counts["reads"] += 1
        # With a setup hook every call borrows a connection, so that the hook runs first.
        conn = self._reader_for_call() if self._setup is None else None
        if conn is not None:
            return await getattr(conn, method)(query, *args, **kw)
        async with self.acquire() as lent:
            return await getattr(lent, method)(query, *args, **kw)

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Record]:
        """Run a read on a reader and return every row."""
        rows: list[Record] = await self._read("fetch", query, args, timeout=timeout)
        return rows

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Record | None:
        """Run a read on a reader and return its first row, or None."""
        row: Record | None = await self._read("fetchrow", query, args, timeout=timeout)
        return row

    async def fetchval(
        self, query: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any:
        """Run a read on a reader and return one value of its first row."""
        return await self._read("fetchval", query, args, column=column, timeout=timeout)

    async def _write(self, method: str, query: str, args: tuple[Any, ...], **kw: Any) -> Any:
        writer = self._live()
        self._counts["writes"] += 1
        if self._setup is not None:
            async with self.acquire(write=True) as lent:
                return await getattr(lent, method)(query, *args, **kw)
        if not self._write_lock.locked():
            return await getattr(writer, method)(query, *args, **kw)
        # The writer is lent for a transaction: wait for it, never write inside it.
        async with self._write_lock:
            return await getattr(self._live(), method)(query, *args, **kw)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        """Run a write on the writer (queued behind the writes before it)."""
        status: str = await self._write("execute", query, args, timeout=timeout)
        return status

    async def executemany(
        self, command: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        """Run ``command`` for every argument sequence on the writer, all or nothing."""
        await self._write("executemany", command, (args,), timeout=timeout)

    def acquire(self, *, timeout: float | None = None, write: bool = False) -> _AcquireContext:
        """Borrow a connection: the writer with ``write=True`` (one borrower at a time, in
        order), else a reader. Use ``async with pool.acquire() as conn:``, or await it and
        ``release`` it. ``timeout`` bounds the wait (:class:`~ferrule.PoolTimeoutError`)."""
        return _AcquireContext(self, self._timeout(timeout), write)

    async def _acquire(self, timeout: float | None, write: bool) -> SqlitePoolConnection:
        writer = self._live()
        try:
            if write or not self._readers:
                await asyncio.wait_for(self._write_lock.acquire(), timeout)
                conn = writer
                write = True
            elif self._idle_readers:
                conn = self._idle_readers.popleft()
            else:
                waiter: asyncio.Future[SqliteConnection] = (
                    asyncio.get_running_loop().create_future()
                )
                self._reader_waiters.append(waiter)
                try:
                    conn = await asyncio.wait_for(asyncio.shield(waiter), timeout)
                except BaseException:
                    if waiter.done() and not waiter.cancelled():
                        self._give_back(waiter.result())
                    else:
                        waiter.cancel()
                    raise
        except asyncio.TimeoutError:
            self._counts["timeouts"] += 1
            raise PoolTimeoutError(
                f"no {'writer' if write else 'reader'} connection was free within {timeout} s"
            ) from None
        self._counts["acquisitions"] += 1
        lent = SqlitePoolConnection(_Lease(self, conn, write))
        if self._setup is not None:
            try:
                await self._setup(lent)
            except BaseException:
                await self.release(lent)
                raise
        return lent

    def _give_back(self, conn: SqliteConnection) -> None:
        while self._reader_waiters:
            waiter = self._reader_waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle_readers.append(conn)

    async def release(self, connection: SqlitePoolConnection) -> None:
        """Give a borrowed connection back; an open transaction is rolled back first."""
        lease = connection._lease
        if lease.pool is not self:
            raise InterfaceError("the connection belongs to another pool")
        if lease.released:
            return
        conn = lease.conn
        try:
            try:
                if self._reset is not None and not conn.is_closed():
                    await self._reset(connection)
                if not conn.is_closed() and conn.is_in_transaction():
                    await conn.execute("ROLLBACK")
            finally:
                lease.released = True
        except Exception:
            # The session is in an unknown state: the next borrower gets a new connection.
            conn = await self._replace(conn, lease.write)
            raise
        finally:
            if lease.write:
                self._write_lock.release()
            else:
                self._give_back(conn)

    def get_size(self) -> int:
        """Connections open: the writer and the readers."""
        return (self._writer is not None) + len(self._readers)

    def get_idle_size(self) -> int:
        """Connections not lent out."""
        writer_idle = self._writer is not None and not self._write_lock.locked()
        return writer_idle + len(self._idle_readers)

    def get_min_size(self) -> int:
        return 1 + self._readers_wanted

    def get_max_size(self) -> int:
        return 1 + self._readers_wanted

    def is_closed(self) -> bool:
        return self._closed

    def stats(self) -> dict[str, int]:
        """Sizes and counters: ``readers``, ``idle``, ``waiting``, ``reads``, ``writes``,
        ``acquisitions``, ``timeouts``."""
        waiting = sum(not w.done() for w in self._reader_waiters)
        return {
            "size": self.get_size(),
            "readers": len(self._readers),
            "idle": self.get_idle_size(),
            "waiting": waiting,
            **self._counts,
        }

    async def _close_all(self, *, timeout: float | None = None) -> None:
        conns = [c for c in (self._writer, *self._readers) if c is not None]
        await asyncio.gather(*(c.close(timeout=timeout) for c in conns), return_exceptions=True)

    async def close(self, *, timeout: float | None = None) -> None:
        """Close every connection after the calls already queued on it."""
        if self._closed:
            return
        self._closed = True
        for waiter in self._reader_waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionClosedError("the pool is closed"))
        await self._close_all(timeout=timeout)

    def terminate(self) -> None:
        """Close every connection at once; calls in flight fail."""
        self._closed = True
        for conn in (self._writer, *self._readers):
            if conn is not None:
                conn.terminate()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"readers={len(self._readers)}"
        return f"<ferrule.SqlitePool {state}>"


def create_pool(
    dsn: str | None = None,
    *,
    readers: int = 4,
    acquire_timeout: float | None = None,
    setup: Hook | None = None,
    init: Hook | None = None,
    reset: Hook | None = None,
    **connect_kwargs: Any,
) -> SqlitePool:
    """Make a SQLite pool: ``pool = await create_pool("sqlite:///app.db")`` or
    ``async with create_pool(...) as pool:``. ``readers``: reader connections (0 for an
    in-memory database, where one connection serves everything). Other keywords are
    :func:`ferrule.sqlite_connection.connect`'s; the pool's PRAGMAs are defaults they may
    override (e.g. ``journal_mode="delete"``).

    Hooks are coroutine functions taking the connection, as for the other pools: ``init``
    runs once on each new connection, ``setup`` at each acquire (``pool.fetch`` and its
    siblings then borrow a connection for each call), ``reset`` at each release before the
    rollback of a transaction left open; an exception in ``reset`` replaces the connection."""
    return SqlitePool(
        dsn,
        readers=readers,
        acquire_timeout=acquire_timeout,
        setup=setup,
        init=init,
        reset=reset,
        **connect_kwargs,
    )
