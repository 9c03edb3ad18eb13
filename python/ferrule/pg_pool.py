"""The PostgreSQL side of :class:`ferrule.Pool`: its native pool and connection classes."""

from __future__ import annotations

from typing import Any

from ferrule._ferrule import Bridge, PgPool
from ferrule.pg_connection import PgConnection, connect_settings
from ferrule.pool import PoolBackend, PoolConnection


class PgPoolConnection(PoolConnection, PgConnection):
    """A PostgreSQL connection lent by a pool: :class:`~ferrule.PgConnection`'s methods until
    it is released."""

    __slots__ = ()


def _make_native(
    bridge: Bridge,
    settings: dict[str, Any],
    options: dict[str, Any],
    init_hook: bool,
    reset_hook: bool,
) -> PgPool:
    return PgPool(bridge, settings, options, init_hook, reset_hook)


def pool_backend(dsn: str | None, connect_kwargs: dict[str, Any]) -> PoolBackend:
    """What :class:`ferrule.Pool` needs to pool PostgreSQL connections."""
    settings = connect_settings(dsn, **connect_kwargs)
    return PoolBackend(
        settings=settings,
        command_timeout=settings["command_timeout"],
        make_native=_make_native,
        pooled_class=PgPoolConnection,
        connection_class=PgConnection,
    )
