"""`PgConnection`: the PostgreSQL connection and its `connect`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ferrule import _bridge, _pgdsn
from ferrule._ferrule import pg_connect
from ferrule.connection import Connection
from ferrule.exceptions import InterfaceError


class PgConnection(Connection):
    """A PostgreSQL connection."""

    __slots__ = ()

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

    async def set_type_codec(
        self,
        typename: str,
        *,
        schema: str | None = None,
        encoder: Callable[[Any], Any] | None = None,
        decoder: Callable[[str], Any] | None = None,
        format: str = "text",
    ) -> None:
        """Register a codec for a type (an extension type, an enum, or a built-in one).

        ``decoder`` receives the value's text form (``format="text"``, the only format user
        codecs use) and returns the Python value; ``encoder`` receives the Python value and
        returns its text form (a ``str``), sent in text format for parameters of that type.
        ``typename`` is resolved through the search path unless ``schema`` is given. Cached
        statements are dropped so the codec applies at once.
        """
        if format != "text":
            raise InterfaceError("user codecs exchange values in text format only")
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
        self._impl.set_type_decoder(oid, decoder)
        if encoder is None:
            self._encoders.pop(oid, None)
        else:
            self._encoders[oid] = encoder

    async def reset_type_codec(self, typename: str, *, schema: str | None = None) -> None:
        """Restore ferrule's own handling of a type."""
        await self.set_type_codec(typename, schema=schema)

    def __repr__(self) -> str:
        state = "closed" if self.is_closed() else self._impl.transaction_status()
        return f"<ferrule.PgConnection pid={self.get_server_pid()} {state}>"


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
    """
    settings = _pgdsn.build_settings(
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
    bridge = _bridge.get_bridge()
    impl = await _bridge.wait(bridge, pg_connect(bridge, settings))
    return PgConnection(impl, bridge, settings, settings["command_timeout"])
