"""`PgConnection`: the PostgreSQL connection and its `connect`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ferrule import _bridge, _pgcopy, _pgdsn
from ferrule._ferrule import pg_connect
from ferrule.connection import Connection
from ferrule.cursor import RowsAs, ScrollCursorFactory
from ferrule.exceptions import InterfaceError

if TYPE_CHECKING:
    from ferrule._ferrule import PgConn, PgPooledConn, Record


class PgConnection(Connection):
    """A PostgreSQL connection."""

    __slots__ = ("_listeners", "_log_listeners", "_termination_listeners")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._listeners: dict[str, list[Callable[..., Any]]] | None = None
        self._log_listeners: list[Callable[..., Any]] = []
        self._termination_listeners: list[Callable[..., Any]] = []

    async def pipeline(
        self,
        queries: Iterable[tuple[str, Sequence[Any]] | str],
        *,
        atomic: bool = False,
        return_exceptions: bool = False,
        timeout: float | None = None,
    ) -> list[Any]:
        """Send every query before reading any result; return each one's rows in order.

        ``queries`` holds ``(query, args)`` pairs (or bare query strings). Each statement runs
        as it would alone: outside a transaction a failure affects only that statement and
        raises once all have run (or, with ``return_exceptions=True``, takes its place in the
        result list). Inside a transaction a failure aborts the transaction, so the later
        statements fail too. ``atomic=True`` runs the batch as one implicit transaction: all
        statements take effect or none, and the first error is raised.
        """
        items = [(q, ()) if isinstance(q, str) else (q[0], tuple(q[1])) for q in queries]
        fut = self._impl.pipeline(items, atomic, return_exceptions, self._timeout(timeout))
        result: list[Any] = await _bridge.wait(self._bridge, fut)
        return result

    def scroll_cursor(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
        as_class: Callable[..., Any] | None = None,
    ) -> ScrollCursorFactory:
        """A scrollable server-side cursor (``DECLARE ... SCROLL CURSOR``), inside a
        transaction: ``async with conn.scroll_cursor(q) as cur: await cur.last()``.
        ``record_class`` and ``as_class`` as in :meth:`fetch`."""
        rows_as = RowsAs(record_class, as_class)
        return ScrollCursorFactory(self, query, args, self._timeout(timeout), rows_as)

    # COPY ------------------------------------------------------------------------------------

    async def copy_records_to_table(
        self,
        table_name: str,
        *,
        records: Iterable[Sequence[Any]] | AsyncIterable[Sequence[Any]],
        columns: Sequence[str] | None = None,
        schema_name: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Copy ``records`` (tuples, from any iterable or async iterable) into a table with
        binary COPY; returns the status (``"COPY 1000"``). Records stream in batches, so
        memory stays bounded for any number; an error aborts the whole COPY and names the
        record and column. Values take the forms of query parameters (``Range``, tuples or
        dicts for composites, ...); a column type without a binary codec is refused."""
        return await _pgcopy.copy_records_to_table(
            self, table_name, records, columns, schema_name, self._timeout(timeout)
        )

    async def copy_to_table(
        self,
        table_name: str,
        *,
        source: _pgcopy.Source,
        columns: Sequence[str] | None = None,
        schema_name: str | None = None,
        format: str | None = None,
        header: bool | None = None,
        timeout: float | None = None,
    ) -> str:
        """Copy data in COPY format (``text``, ``csv`` or ``binary``) from a path, bytes, a
        binary file, or an (async) iterable of bytes into a table; returns the status."""
        return await _pgcopy.copy_to_table(
            self, table_name, source, columns, schema_name, format, header, self._timeout(timeout)
        )

    async def copy_from_table(
        self,
        table_name: str,
        *,
        output: _pgcopy.Output,
        columns: Sequence[str] | None = None,
        schema_name: str | None = None,
        format: str | None = None,
        header: bool | None = None,
        timeout: float | None = None,
    ) -> str:
        """Copy a table out to a path, a binary file, or an async callable taking bytes."""
        cols = " (" + ", ".join(_pgcopy.quote_ident(c) for c in columns) + ")" if columns else ""
        target = _pgcopy.table_ref(table_name, schema_name)
        sql = f"COPY {target}{cols} TO STDOUT{_pgcopy.copy_options(format, header)}"
        return await _pgcopy.copy_out(self, sql, (), output, self._timeout(timeout))

    async def copy_from_query(
        self,
        query: str,
        *args: Any,
        output: _pgcopy.Output,
        format: str | None = None,
        header: bool | None = None,
        timeout: float | None = None,
    ) -> str:
        """Copy the result of ``query`` out like :meth:`copy_from_table`.

        PostgreSQL takes no parameters in a COPY statement, and ferrule never pastes values
        into SQL text: with ``args`` this raises :class:`InterfaceError`. Filter through a
        temporary table, a view or a function instead."""
        if args:
            raise InterfaceError(
                "COPY takes no bound parameters and ferrule never pastes values into SQL; "
                "select into a temporary table first, then copy that"
            )
        sql = f"COPY ({query}) TO STDOUT{_pgcopy.copy_options(format, header)}"
        return await _pgcopy.copy_out(self, sql, args, output, self._timeout(timeout))

    # LISTEN / NOTIFY, notices, termination ---------------------------------------------------

    def _events(self) -> dict[str, list[Callable[..., Any]]]:
        if self._listeners is None:
            self._listeners = {}
            self._impl.set_event_callback(self._on_event)
        return self._listeners

    def _on_event(self, kind: str, a: Any, b: Any, c: Any) -> None:
        # Called by the bridge on the loop thread; user callbacks run in their own turn.
        loop = asyncio.get_running_loop()
        if kind == "notification":
            for cb in list((self._listeners or {}).get(b, ())):
                loop.call_soon(_call, cb, self, a, b, c)
        elif kind == "notice":
            for cb in list(self._log_listeners):
                loop.call_soon(_call, cb, self, a)
        elif kind == "terminated":
            for cb in list(self._termination_listeners):
                loop.call_soon(_call, cb, self)

    async def add_listener(self, channel: str, callback: Callable[..., Any]) -> None:
        """``LISTEN`` on ``channel``; ``callback(connection, pid, channel, payload)`` runs for
        each notification (a coroutine function is scheduled as a task)."""
        listeners = self._events()
        if channel not in listeners:
            await self.execute(f"LISTEN {_pgcopy.quote_ident(channel)}")
            listeners[channel] = []
        listeners[channel].append(callback)

    async def remove_listener(self, channel: str, callback: Callable[..., Any]) -> None:
        """Remove a callback; the last one for a channel sends ``UNLISTEN``."""
        listeners = self._events()
        callbacks = listeners.get(channel)
        if not callbacks or callback not in callbacks:
            return
        callbacks.remove(callback)
        if not callbacks:
            del listeners[channel]
            if not self.is_closed():
                await self.execute(f"UNLISTEN {_pgcopy.quote_ident(channel)}")

    def notifications(self, channel: str, *, maxsize: int = 0) -> Notifications:
        """An async iterator of ``(pid, channel, payload)`` for ``channel``:
        ``async with conn.notifications("jobs") as it: async for n in it: ...``."""
        return Notifications(self, channel, maxsize)

    def add_log_listener(self, callback: Callable[..., Any]) -> None:
        """``callback(connection, message)`` for each notice or warning the server sends
        (``message`` is a ferrule exception instance carrying the server's fields)."""
        self._events()
        self._log_listeners.append(callback)

    def remove_log_listener(self, callback: Callable[..., Any]) -> None:
        if callback in self._log_listeners:
            self._log_listeners.remove(callback)

    def add_termination_listener(self, callback: Callable[..., Any]) -> None:
        """``callback(connection)`` once the connection has ended, however it ended."""
        self._events()
        self._termination_listeners.append(callback)

    def remove_termination_listener(self, callback: Callable[..., Any]) -> None:
        if callback in self._termination_listeners:
            self._termination_listeners.remove(callback)

    # A connection of its own, or one lent by a pool (`ferrule.PgPoolConnection`).
    _impl: PgConn | PgPooledConn

    async def _query_as(
        self,
        query: str,
        args: Sequence[Any],
        shape: int,
        timeout: float | None,
        record_class: type[Record] | None,
        as_class: Callable[..., Any] | None,
    ) -> Any:
        # Built natively as the rows are decoded: no intermediate Records.
        fut = self._impl.query(query, args, shape, 0, timeout, record_class, as_class)
        return await _bridge.wait(self._bridge, fut)

    async def _query_prepared_as(
        self,
        stmt: Any,
        args: Sequence[Any],
        shape: int,
        timeout: float | None,
        record_class: type[Record] | None,
        as_class: Callable[..., Any] | None,
    ) -> Any:
        fut = self._impl.query_prepared(stmt, args, shape, 0, timeout, record_class, as_class)
        return await _bridge.wait(self._bridge, fut)

    def get_server_pid(self) -> int:
        """The process id of the server session (used by ``pg_cancel_backend`` and logs)."""
        return self._impl.process_id()

    def get_server_version(self) -> tuple[int, ...]:
        """The server version as a tuple of ints, e.g. ``(15, 18)``."""
        text = self._impl.server_parameters().get("server_version", "0")
        nums = []
        for part in text.split(" ")[0].split("."):
            digits = "".join(ch for ch in part if ch.isdigit())
            if not digits:
                break
            nums.append(int(digits))
        return tuple(nums)

    def get_settings(self) -> dict[str, str]:
        """Server parameters reported at startup and on change (``TimeZone``, ...)."""
        return self._impl.server_parameters()

    def clear_statement_cache(self) -> None:
        """Forget every cached prepared statement (they are closed on the server)."""
        self._impl.clear_statement_cache()

    async def _type_oid(self, typename: str, schema: str | None) -> int:
        if schema is None:
            oid = await self.fetchval("SELECT to_regtype($1)::oid", typename)
        else:
            oid = await self.fetchval(
                "SELECT t.oid FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n"
                " ON n.oid = t.typnamespace WHERE t.typname = $1 AND n.nspname = $2",
                typename,
                schema,
            )
        if oid is None:
            raise InterfaceError(f"unknown type {typename!r}")
        return int(oid)

    async def set_type_codec(
        self,
        typename: str,
        *,
        schema: str | None = None,
        encoder: Callable[[Any], Any] | None = None,
        decoder: Callable[[Any], Any] | None = None,
        format: str = "text",
    ) -> None:
        """Register a codec for a type (an extension type, an enum, or a built-in one).

        With ``format="text"`` the ``decoder`` receives the value's text form (a ``str``) and
        the ``encoder`` returns one; with ``format="binary"`` they exchange the type's binary
        wire form as ``bytes`` (what its ``typsend``/``typreceive`` functions produce). The
        decoder also applies to the type inside arrays, composites and ranges; the encoder
        to parameters of exactly that type. ``typename`` is resolved through the search path
        unless ``schema`` is given. Cached statements are dropped so the codec applies at once.
        """
        if format not in ("text", "binary"):
            raise InterfaceError(f"format must be 'text' or 'binary', not {format!r}")
        oid = await self._type_oid(typename, schema)
        self._impl.set_type_decoder(oid, decoder, format == "binary")
        if encoder is None:
            self._encoders.pop(oid, None)
        else:
            self._encoders[oid] = encoder

    async def reset_type_codec(self, typename: str, *, schema: str | None = None) -> None:
        """Restore ferrule's own handling of a type (undoes ``set_type_codec`` and
        ``set_builtin_type_codec``)."""
        oid = await self._type_oid(typename, schema)
        self._impl.set_type_decoder(oid, None)
        self._impl.set_builtin_codec(oid, None)
        self._encoders.pop(oid, None)

    async def set_builtin_type_codec(
        self, typename: str, *, schema: str | None = None, codec_name: str
    ) -> None:
        """Handle a type with one of ferrule's own codecs, by the codec's type name.

        For types whose wire form is that of a built-in type: an extension type built on
        ``int4``'s functions uses ``codec_name="int4"``; an hstore-like type
        ``codec_name="hstore"``. Values are then read and written as that type, in binary.
        """
        oid = await self._type_oid(typename, schema)
        self._impl.set_type_decoder(oid, None)
        self._encoders.pop(oid, None)
        try:
            self._impl.set_builtin_codec(oid, codec_name)
        except ValueError as exc:
            raise InterfaceError(str(exc)) from None

    def reload_schema_state(self) -> None:
        """Forget what the connection learned about types (composite fields, enums, ...) and
        every cached statement: call it after ``ALTER TYPE`` or reinstalling an extension."""
        self._impl.reload_schema_state()

    def __repr__(self) -> str:
        state = "closed" if self.is_closed() else self._impl.transaction_status()
        return f"<ferrule.{type(self).__name__} pid={self.get_server_pid()} {state}>"


_background: set[asyncio.Future[Any]] = set()


def _call(cb: Callable[..., Any], *args: Any) -> None:
    result = cb(*args)
    if asyncio.iscoroutine(result):
        task = asyncio.ensure_future(result)
        _background.add(task)
        task.add_done_callback(_background.discard)


class Notifications:
    """Notifications of one channel as an async iterator; LISTEN while it is open."""

    def __init__(self, conn: PgConnection, channel: str, maxsize: int) -> None:
        self._conn = conn
        self._channel = channel
        self._queue: asyncio.Queue[tuple[int, str, str]] = asyncio.Queue(maxsize)

    def _put(self, _conn: PgConnection, pid: int, channel: str, payload: str) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((pid, channel, payload))

    async def __aenter__(self) -> Notifications:
        await self._conn.add_listener(self._channel, self._put)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._conn.remove_listener(self._channel, self._put)

    def __aiter__(self) -> Notifications:
        return self

    async def __anext__(self) -> tuple[int, str, str]:
        return await self._queue.get()


async def connect(
    dsn: str | None = None,
    *,
    host: str | Sequence[str] | None = None,
    port: int | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    ssl: str | bool | None = None,
    sslmode: str | None = None,
    timeout: float | None = None,
    command_timeout: float | None = None,
    statement_cache_size: int | None = None,
    server_settings: dict[str, str] | None = None,
    **kwargs: Any,
) -> PgConnection:
    """Open a PostgreSQL connection.

    ``dsn`` is a URL (``postgresql://user:pw@host:5432/db?sslmode=verify-full``); keyword
    arguments override it, and the ``PG*`` environment variables fill in what neither gives.
    ``timeout`` bounds connecting; ``command_timeout`` is the default timeout of every call;
    ``statement_cache_size=0`` disables named prepared statements (pgbouncer in transaction
    mode). Other keywords: ``sslrootcert``, ``sslcert``, ``sslkey``, ``application_name``,
    ``options``, ``passfile``, ``cancel_timeout`` (seconds to wait for a cancellation to be
    confirmed before the connection is closed, default 2).

    Several hosts (``postgresql://h1:5432,h2:5433/db`` or ``host=["h1", "h2"]``) are tried
    in order, each attempt bounded by ``timeout``, until one gives a session that
    ``target_session_attrs`` accepts: ``any`` (default), ``read-write``, ``read-only``,
    ``primary``, ``standby`` or ``prefer-standby`` (a standby if there is one, else any).
    ``load_balance_hosts=random`` tries the hosts in random order.
    """
    settings = connect_settings(
        dsn,
        host=host,
        port=port,
        user=user,
        password=password,
        database=database,
        ssl=ssl,
        sslmode=sslmode,
        timeout=timeout,
        command_timeout=command_timeout,
        statement_cache_size=statement_cache_size,
        server_settings=server_settings,
        **kwargs,
    )
    bridge = _bridge.get_bridge()
    impl = await _bridge.wait(bridge, pg_connect(bridge, settings))
    return PgConnection(impl, bridge, settings, settings["command_timeout"])


def connect_settings(
    dsn: str | None = None,
    *,
    host: str | Sequence[str] | None = None,
    port: int | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    ssl: str | bool | None = None,
    sslmode: str | None = None,
    timeout: float | None = None,
    command_timeout: float | None = None,
    statement_cache_size: int | None = None,
    server_settings: dict[str, str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The native settings dict for :func:`connect`'s arguments (also used by the pool)."""
    return _pgdsn.build_settings(
        dsn,
        {
            "host": host,
            "port": port,
            "user": user,
            "password": password,
            "database": database,
            "sslmode": sslmode if sslmode is not None else ssl,
            "connect_timeout": timeout,
            "command_timeout": command_timeout,
            "statement_cache_size": statement_cache_size,
            "server_settings": server_settings,
            **kwargs,
        },
    )
