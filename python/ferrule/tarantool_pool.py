"""The Tarantool side of :class:`ferrule.Pool`: its native pool and connection classes.

A released connection that still holds an interactive transaction, watchers or calls
pushing messages has them rolled back, unwatched and cut off before anyone else gets it; a
clean release costs nothing. Pooled connections do not reconnect on their own unless
``reconnect=True`` is passed: the pool replaces a lost connection instead.
"""

from __future__ import annotations

from typing import Any

from ferrule._ferrule import Bridge, TntPool
from ferrule.pool import PoolBackend, PoolConnection
from ferrule.tarantool_connection import TarantoolConnection, connect_settings


class TarantoolPoolConnection(PoolConnection, TarantoolConnection):
    """A Tarantool connection lent by a pool: :class:`~ferrule.TarantoolConnection`'s
    methods until it is released."""

    __slots__ = ()


def _make_native(
    bridge: Bridge,
    settings: dict[str, Any],
    options: dict[str, Any],
    init_hook: bool,
    reset_hook: bool,
) -> TntPool:
    return TntPool(bridge, settings, options, init_hook, reset_hook)


def pool_backend(dsn: str | None, connect_kwargs: dict[str, Any]) -> PoolBackend:
    """What :class:`ferrule.Pool` needs to pool Tarantool connections."""
    settings = connect_settings(dsn, **connect_kwargs)
    settings.setdefault("reconnect", False)
    return PoolBackend(
        settings=settings,
        command_timeout=settings["command_timeout"],
        make_native=_make_native,
        pooled_class=TarantoolPoolConnection,
        connection_class=TarantoolConnection,
    )
