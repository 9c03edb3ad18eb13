"""The ferrule side of the PostgreSQL workloads.

ferrule's API is asyncpg's, so every query step is asyncpg's code unchanged; only loading and
the pool differ.
"""

from __future__ import annotations

import importlib
from itertools import cycle
from typing import Any

from bench.pg_asyncpg import AsyncpgClient


class RoundRobinConnections:
    """Stands in for a pool while ferrule has none: calls go to the connections in turn.

    ferrule pipelines concurrent calls on one connection, so sharing them is safe.
    """

    def __init__(self, conns: list[Any]) -> None:
        self._conns = conns
        self._next = cycle(conns).__next__

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._next().fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> Any:
        return await self._next().execute(sql, *args)

    async def close(self) -> None:
        for conn in self._conns:
            await conn.close()


class FerruleClient(AsyncpgClient):
    name = "ferrule"
    package = "ferrule"

    def load(self) -> None:
        lib = importlib.import_module(self.package)
        if not hasattr(lib, "connect"):
            raise ImportError("ferrule has no connect() yet: build it with `make build`")
        self.lib = lib

    async def create_pool(self, dsn: str, size: int) -> Any:
        if hasattr(self.lib, "create_pool"):
            return await self.lib.create_pool(dsn, min_size=size, max_size=size)
        return RoundRobinConnections([await self.lib.connect(dsn) for _ in range(size)])
