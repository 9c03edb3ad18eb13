"""The SQL Server side of :class:`ferrule.Pool`: its native pool and connection classes.

A released connection is reset by the RESETCONNECTION flag on its next request (temporary
tables, ``SET`` options and variables go; an open transaction is rolled back at once).
"""

from __future__ import annotations

from typing import Any

from ferrule._ferrule import Bridge, TdsPool
from ferrule.mssql_connection import MssqlConnection, connect_settings
from ferrule.pool import PoolBackend, PoolConnection


class MssqlPoolConnection(PoolConnection, MssqlConnection):
    """A SQL Server connection lent by a pool: :class:`~ferrule.MssqlConnection`'s methods
    until it is released."""

    __slots__ = ()


def _make_native(
    bridge: Bridge,
    settings: dict[str, Any],
    options: dict[str, Any],
    init_hook: bool,
    reset_hook: bool,
) -> TdsPool:
    return TdsPool(bridge, settings, options, init_hook, reset_hook)


def pool_backend(dsn: str | None, connect_kwargs: dict[str, Any]) -> PoolBackend:
    """What :class:`ferrule.Pool` needs to pool SQL Server connections."""
    settings = connect_settings(dsn, **connect_kwargs)
    return PoolBackend(
        settings=settings,
        command_timeout=settings["command_timeout"],
        make_native=_make_native,
        pooled_class=MssqlPoolConnection,
        connection_class=MssqlConnection,
    )
