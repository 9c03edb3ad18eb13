"""The SQLite libraries under test, each behind the same small async interface.

stdlib sqlite3 is called directly (its calls block, which is what it costs); the async
libraries are awaited one call at a time, as an application awaits them.
"""

from __future__ import annotations

import abc
import asyncio
import importlib
import inspect
import sqlite3
import threading
import time
from typing import Any

SQL_POINT = "SELECT ?"
SQL_CREATE = "CREATE TABLE IF NOT EXISTS items (a INTEGER, b TEXT, c REAL)"
SQL_INSERT = "INSERT INTO items (a, b, c) VALUES (?, ?, ?)"
SQL_DELETE = "DELETE FROM items"
SQL_SELECT = "SELECT a, b, c FROM items"
SQL_COUNT = "SELECT count(*) FROM items"
SQL_READ = "SELECT b FROM items WHERE rowid = ?"  # a primary-key lookup
# The writer's pause between two writes: at most 200 writes/s, so the count of writes shows
# whether the readers starve it (a thread that cannot get the GIL, a task that never yields).
WRITE_PAUSE = 0.005


class Client(abc.ABC):
    """One library. `open` returns a connection; every other method takes it."""

    name = ""
    package = ""

    def load(self) -> None:
        self.lib = importlib.import_module(self.package)

    @abc.abstractmethod
    async def open(self, path: str) -> Any: ...

    @abc.abstractmethod
    async def close(self, conn: Any) -> None: ...

    @abc.abstractmethod
    async def fetchval(self, conn: Any, sql: str, *args: Any) -> Any: ...

    @abc.abstractmethod
    async def fetch_all(self, conn: Any, sql: str) -> list[Any]: ...

    @abc.abstractmethod
    async def execute(self, conn: Any, sql: str, *args: Any) -> None: ...

    @abc.abstractmethod
    async def executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None: ...

    async def point_loop(self, conn: Any, n: int) -> None:
        for i in range(n):
            await self.fetchval(conn, SQL_POINT, i)

    async def insert_loop(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        await self.execute(conn, "BEGIN")
        for row in rows:
            await self.execute(conn, SQL_INSERT, *row)
        await self.execute(conn, "COMMIT")


class FerruleClient(Client):
    name = "ferrule"
    package = "ferrule"

    async def open(self, path: str) -> Any:
        return await self.lib.connect(f"sqlite:///{path}")

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def fetchval(self, conn: Any, sql: str, *args: Any) -> Any:
        return await conn.fetchval(sql, *args)

    async def fetch_all(self, conn: Any, sql: str) -> list[Any]:
        rows: list[Any] = await conn.fetch(sql)
        return rows

    async def execute(self, conn: Any, sql: str, *args: Any) -> None:
        await conn.execute(sql, *args)

    async def executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await conn.executemany(sql, rows)

    async def point_loop(self, conn: Any, n: int) -> None:
        fetchval = conn.fetchval
        for i in range(n):
            await fetchval(SQL_POINT, i)

    async def insert_loop(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        execute = conn.execute
        async with conn.transaction():
            for row in rows:
                await execute(SQL_INSERT, *row)


class AiosqliteClient(Client):
    name = "aiosqlite"
    package = "aiosqlite"

    async def open(self, path: str) -> Any:
        return await self.lib.connect(path, isolation_level=None)

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def fetchval(self, conn: Any, sql: str, *args: Any) -> Any:
        async with conn.execute(sql, args) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def fetch_all(self, conn: Any, sql: str) -> list[Any]:
        rows: list[Any] = await conn.execute_fetchall(sql)
        return rows

    async def execute(self, conn: Any, sql: str, *args: Any) -> None:
        await conn.execute(sql, args)

    async def executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await conn.execute("BEGIN")
        await conn.executemany(sql, rows)
        await conn.execute("COMMIT")


class AiolibsqlClient(Client):
    name = "aiolibsql"
    package = "aiolibsql"

    async def open(self, path: str) -> Any:
        conn = await self.lib.connect(path, autocommit=True)
        return conn

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def fetchval(self, conn: Any, sql: str, *args: Any) -> Any:
        cur = await conn.execute(sql, args)
        row = await _maybe_await(cur.fetchone())
        return row[0] if row else None

    async def fetch_all(self, conn: Any, sql: str) -> list[Any]:
        cur = await conn.execute(sql)
        rows: list[Any] = await _maybe_await(cur.fetchall())
        return rows

    async def execute(self, conn: Any, sql: str, *args: Any) -> None:
        await conn.execute(sql, args)

    async def executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await conn.execute("BEGIN")
        await conn.executemany(sql, rows)
        await conn.execute("COMMIT")


async def _maybe_await(value: Any) -> Any:
    # aiolibsql's cursor methods return futures in some versions and values in others.
    return await value if inspect.isawaitable(value) else value


class StdlibClient(Client):
    """stdlib sqlite3, called directly: the cost of the work without any async layer."""

    name = "sqlite3"
    package = "sqlite3"

    async def open(self, path: str) -> Any:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    async def close(self, conn: Any) -> None:
        conn.close()

    async def fetchval(self, conn: Any, sql: str, *args: Any) -> Any:
        row = conn.execute(sql, args).fetchone()
        return row[0] if row else None

    async def fetch_all(self, conn: Any, sql: str) -> list[Any]:
        rows: list[Any] = conn.execute(sql).fetchall()
        return rows

    async def execute(self, conn: Any, sql: str, *args: Any) -> None:
        conn.execute(sql, args)

    async def executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")

    async def point_loop(self, conn: Any, n: int) -> None:
        execute = conn.execute
        for i in range(n):
            execute(SQL_POINT, (i,)).fetchone()

    async def insert_loop(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        execute = conn.execute
        execute("BEGIN")
        for row in rows:
            execute(SQL_INSERT, row)
        execute("COMMIT")


CLIENTS: dict[str, type[Client]] = {
    c.name: c for c in (FerruleClient, AiosqliteClient, AiolibsqlClient, StdlibClient)
}


def stdlib_threaded_reads(path: str, readers: int, seconds: float, keys: int) -> tuple[int, int]:
    """The baseline of the concurrent workload: a thread and a connection per reader, one
    writer thread; returns (reads, writes) done in `seconds`."""
    stop = threading.Event()
    counts = [0] * (readers + 1)

    def reader(slot: int) -> None:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        n = 0
        while not stop.is_set():
            conn.execute(SQL_READ, (n % keys + 1,)).fetchone()
            n += 1
        counts[slot] = n
        conn.close()

    def writer() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=5)
        n = 0
        while not stop.is_set():
            conn.execute(SQL_INSERT, (keys + n, "w", 0.5))
            n += 1
            time.sleep(WRITE_PAUSE)
        counts[readers] = n
        conn.close()

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts[:readers]), counts[readers]


async def async_concurrent_reads(
    client: Client, path: str, readers: int, seconds: float, keys: int
) -> tuple[int, int]:
    """The concurrent workload for an async library: a task and a connection per reader,
    one writer task; returns (reads, writes) done in `seconds`."""
    conns = [await client.open(path) for _ in range(readers)]
    writer_conn = await client.open(path)
    deadline = time.perf_counter() + seconds
    counts = [0] * (readers + 1)

    async def reader(slot: int) -> None:
        conn, n = conns[slot], 0
        while time.perf_counter() < deadline:
            await client.fetchval(conn, SQL_READ, n % keys + 1)
            n += 1
        counts[slot] = n

    async def writer() -> None:
        n = 0
        while time.perf_counter() < deadline:
            await client.execute(writer_conn, SQL_INSERT, keys + n, "w", 0.5)
            n += 1
            await asyncio.sleep(WRITE_PAUSE)
        counts[readers] = n

    try:
        await asyncio.gather(*(reader(i) for i in range(readers)), writer())
    finally:
        for conn in [*conns, writer_conn]:
            await client.close(conn)
    return sum(counts[:readers]), counts[readers]
