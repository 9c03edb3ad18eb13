"""The psycopg 3 (async) side of the PostgreSQL workloads."""

from __future__ import annotations

import importlib
import re
from time import perf_counter_ns
from typing import Any

_DOLLAR = re.compile(r"\$(\d+)")


class PsycopgClient:
    """Connections are in autocommit, as asyncpg's are, so no BEGIN/ROLLBACK is added.

    Fetches use binary results (`binary=True`), psycopg's fastest loaders.
    """

    name = "psycopg"
    package = "psycopg"
    unsupported: dict[str, str] = {}

    def __init__(self) -> None:
        self.lib: Any = None
        self.pool_lib: Any = None

    def load(self) -> None:
        self.lib = importlib.import_module("psycopg")
        self.pool_lib = importlib.import_module("psycopg_pool")

    def placeholders(self, sql: str) -> str:
        """The same SQL with psycopg's `%s` markers; `$n` must appear once each, in order."""
        numbers = [int(n) for n in _DOLLAR.findall(sql)]
        if not numbers:
            return sql
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"placeholders must be $1..$n in order, once each: {sql!r}")
        return _DOLLAR.sub("%s", sql.replace("%", "%%"))

    async def connect(self, dsn: str) -> Any:
        return await self.lib.AsyncConnection.connect(dsn, autocommit=True)

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def create_pool(self, dsn: str, size: int) -> Any:
        pool = self.pool_lib.AsyncConnectionPool(
            dsn, min_size=size, max_size=size, kwargs={"autocommit": True}, open=False
        )
        await pool.open(wait=True)
        return pool

    async def close_pool(self, pool: Any) -> None:
        await pool.close()

    async def run_script(self, conn: Any, sql: str) -> None:
        await conn.execute(sql)

    async def select_loop(self, conn: Any, sql: str, n: int, latencies: list[int]) -> None:
        cur = conn.cursor()
        execute, fetchone = cur.execute, cur.fetchone
        for i in range(n):
            started = perf_counter_ns()
            await execute(sql)
            await fetchone()
            latencies[i] = perf_counter_ns() - started
        await cur.close()

    async def fetch_all(self, conn: Any, sql: str, arg: Any) -> list[Any]:
        cur = await conn.execute(sql, (arg,), binary=True)
        return await cur.fetchall()

    async def execute(self, conn: Any, sql: str, args: tuple[Any, ...]) -> None:
        await conn.execute(sql, args)

    async def executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        async with conn.cursor() as cur:
            await cur.executemany(sql, rows)

    async def copy_in(
        self,
        conn: Any,
        table: str,
        columns: tuple[str, ...],
        types: tuple[str, ...],
        records: list[tuple[Any, ...]],
    ) -> int:
        """Binary COPY, psycopg's fastest form: the types set once, then `write_row`."""
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        async with conn.cursor() as cur:
            async with cur.copy(sql) as copy:
                copy.set_types(list(types))
                write_row = copy.write_row
                for record in records:
                    await write_row(record)
            rows: int = cur.rowcount
        return rows

    async def copy_out(self, conn: Any, table: str, chunks: list[bytes]) -> int:
        """Binary COPY, each block of data psycopg hands out appended to `chunks`."""
        async with conn.cursor() as cur:
            async with cur.copy(f"COPY {table} TO STDOUT (FORMAT BINARY)") as copy:
                async for data in copy:
                    chunks.append(bytes(data))
            rows: int = cur.rowcount
        return rows

    async def pool_loop(self, pool: Any, sql: str, arg: Any, n: int) -> None:
        for _ in range(n):
            async with pool.connection() as conn:
                cur = await conn.execute(sql, (arg,))
                await cur.fetchone()

    async def pool_fetchval(self, pool: Any, sql: str, arg: Any) -> Any:
        async with pool.connection() as conn:
            cur = await conn.execute(sql, (arg,))
            row = await cur.fetchone()
        return row[0]

    async def pool_execute(self, pool: Any, sql: str, args: tuple[Any, ...]) -> None:
        async with pool.connection() as conn:
            await conn.execute(sql, args)
