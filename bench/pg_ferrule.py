"""The ferrule side of the PostgreSQL workloads.

ferrule's API is asyncpg's, so every query step is asyncpg's code unchanged; only loading and
the pool differ.
"""

from __future__ import annotations

import importlib
from typing import Any

from bench.pg_asyncpg import AsyncpgClient


class FerruleClient(AsyncpgClient):
    name = "ferrule"
    package = "ferrule"

    def load(self) -> None:
        lib = importlib.import_module(self.package)
        if not hasattr(lib, "create_pool"):
            raise ImportError("ferrule is not built: run `make build`")
        self.lib = lib

    async def create_pool(self, dsn: str, size: int) -> Any:
        return await self.lib.create_pool(dsn, min_size=size, max_size=size)
