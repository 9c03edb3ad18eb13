"""`PgConnection`: the PostgreSQL connection and its `connect`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ferrule import _bridge, _pgdsn
from ferrule._ferrule import pg_connect
from ferrule.connection import Connection

if TYPE_CHECKING:
    from ferrule._ferrule import PgConn


class PgConnection(Connection):
    """A PostgreSQL connection."""

    __slots__ = ()

    _impl: PgConn

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
