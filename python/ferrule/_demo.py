"""The showcase run by ``make demo``: by default on an embedded SQLite file in a temporary
directory (no server needed); ``--dsn`` runs the same on any backend.

It shows the API in a few calls, then times a web-server simulation through a pool, a mixed
read/write workload, and (on SQLite) ferrule against stdlib sqlite3 and aiosqlite, with a
progress bar per run and a table of results. Plain text, no dependencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ferrule

Tick = Callable[[], None]


@dataclass(frozen=True)
class Dialect:
    """The SQL that differs between backends; values are always bound, never pasted."""

    name: str
    marker: str  # "$" (numbered) or "?"
    slow_query: str
    slow_what: str

    def p(self, n: int) -> str:
        return f"${n}" if self.marker == "$" else "?"


POSTGRESQL = Dialect("postgresql", "$", "SELECT pg_sleep(5)", "a 5 s query")
SQLITE = Dialect(
    "sqlite",
    "?",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT count(*) FROM c WHERE x < 0",
    "an endless query",
)


def dialect_of(dsn: str) -> Dialect:
    return (
        SQLITE
        if dsn.split(":", 1)[0].lower() in ("sqlite", "libsql", "https", "http")
        else (POSTGRESQL)
    )


def _bar(done: int, total: int, label: str) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stdout.write(f"\r  {label:<40} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stdout.write("\n")
    sys.stdout.flush()


async def _timed(label: str, n: int, run: Callable[[Tick], Awaitable[None]]) -> float:
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if done % max(n // 30, 1) == 0 or done == n:
            _bar(done, n, label)

    started = time.perf_counter()
    await run(tick)
    return time.perf_counter() - started


async def _pool(dsn: str) -> Any:
    """A pool on any backend: SQLite's writer + readers, or the backend's own pool."""
    if dsn.startswith("sqlite:"):
        from ferrule.sqlite_pool import create_pool

        return await create_pool(dsn, readers=4)
    create = getattr(ferrule, "create_pool", None)
    if create is not None:
        return await create(dsn, min_size=4, max_size=4)
    return _Connections([await ferrule.connect(dsn) for _ in range(4)])


class _Connections:
    """Stands in for a pool where the backend has none: calls go to the connections in
    turn (concurrent calls on one connection are queued or pipelined, never refused)."""

    def __init__(self, conns: list[Any]) -> None:
        self._conns = conns
        self._next = 0

    def _conn(self) -> Any:
        self._next = (self._next + 1) % len(self._conns)
        return self._conns[self._next]

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._conn().fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._conn().fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> Any:
        return await self._conn().execute(sql, *args)

    async def close(self) -> None:
        for conn in self._conns:
            await conn.close()


async def _tour(conn: Any, d: Dialect) -> None:
    print(f"\n  connected: {conn!r}")
    row = await conn.fetchrow("SELECT 42 AS answer, 'ferrule' AS name")
    print(f"  fetchrow  -> {row!r}   row['answer'] = {row['answer']}")
    print(f"  fetchval  -> {await conn.fetchval(f'SELECT {d.p(1)} * 2', 21)}")
    async with conn.transaction():
        count = await conn.fetchval("SELECT count(*) FROM demo_users")
    print(f"  a transaction sees {count:,} users")
    try:
        await conn.execute(f"INSERT INTO demo_users VALUES ({d.p(1)}, {d.p(2)})", 1, "again")
    except ferrule.UniqueViolationError as e:
        print(f"  duplicate key -> {type(e).__name__} (code {e.code})")
    try:
        await conn.fetchval(d.slow_query, timeout=0.2)
    except ferrule.TimeoutError:
        print(f"  timeout=0.2 on {d.slow_what} -> TimeoutError, the statement was stopped")
    print(f"  and the connection still works -> {await conn.fetchval('SELECT 1')}\n")


async def _setup(conn: Any, d: Dialect) -> None:
    await conn.execute("DROP TABLE IF EXISTS demo_orders")
    await conn.execute("DROP TABLE IF EXISTS demo_users")
    await conn.execute("CREATE TABLE demo_users (id INTEGER PRIMARY KEY, name TEXT)")
    await conn.execute(
        "CREATE TABLE demo_orders (id INTEGER PRIMARY KEY, user_id INTEGER, total REAL)"
    )
    await conn.executemany(
        f"INSERT INTO demo_users VALUES ({d.p(1)}, {d.p(2)})",
        [(i, f"user {i}") for i in range(1, 1001)],
    )


async def _workloads(dsn: str, d: Dialect, requests: int) -> list[tuple[str, int, float]]:
    rows: list[tuple[str, int, float]] = []
    pool = await _pool(dsn)
    rng = random.Random(7)
    try:

        async def web(tick: Tick) -> None:
            async def request(i: int) -> None:
                uid = rng.randint(1, 1000)
                await pool.fetchrow(f"SELECT id, name FROM demo_users WHERE id = {d.p(1)}", uid)
                if i % 5 == 0:  # one request in five places an order
                    await pool.execute(
                        f"INSERT INTO demo_orders (user_id, total) VALUES ({d.p(1)}, {d.p(2)})",
                        uid,
                        round(rng.uniform(5, 500), 2),
                    )
                tick()

            await asyncio.gather(*(request(i) for i in range(requests)))

        label = f"web server: {requests} requests via the pool"
        rows.append((label, requests, await _timed(label, requests, web)))

        mixed_n = 2000

        async def mixed(tick: Tick) -> None:
            async def worker(k: int) -> None:
                for i in range(mixed_n // 20):
                    if (i + k) % 4 == 0:
                        await pool.execute(
                            f"UPDATE demo_users SET name = {d.p(1)} WHERE id = {d.p(2)}",
                            f"renamed {i}",
                            rng.randint(1, 1000),
                        )
                    else:
                        await pool.fetchval(
                            f"SELECT count(*) FROM demo_orders WHERE user_id = {d.p(1)}",
                            rng.randint(1, 1000),
                        )
                    tick()

            await asyncio.gather(*(worker(k) for k in range(20)))

        label = f"mixed: {mixed_n} ops, 25% writes, 20 tasks"
        rows.append((label, mixed_n, await _timed(label, mixed_n, mixed)))
    finally:
        await pool.close()
    return rows


async def _against_peers(path: str, n: int) -> list[tuple[str, int, float]]:
    """The same sequential point reads with ferrule, stdlib sqlite3 and aiosqlite."""
    sql = "SELECT name FROM demo_users WHERE id = ?"
    rows: list[tuple[str, int, float]] = []

    conn = await ferrule.connect(f"sqlite:///{path}")
    try:

        async def with_ferrule(tick: Tick) -> None:
            for i in range(n):
                await conn.fetchval(sql, i % 1000 + 1)
                tick()

        label = f"ferrule: {n} awaited point reads"
        rows.append((label, n, await _timed(label, n, with_ferrule)))
    finally:
        await conn.close()

    plain = sqlite3.connect(path)
    try:

        async def with_stdlib(tick: Tick) -> None:
            for i in range(n):
                plain.execute(sql, (i % 1000 + 1,)).fetchone()
                tick()

        label = f"stdlib sqlite3: {n} blocking point reads"
        rows.append((label, n, await _timed(label, n, with_stdlib)))
    finally:
        plain.close()

    if importlib.util.find_spec("aiosqlite") is not None:
        import aiosqlite

        async with aiosqlite.connect(path) as peer:

            async def with_aiosqlite(tick: Tick) -> None:
                for i in range(n):
                    async with peer.execute(sql, (i % 1000 + 1,)) as cur:
                        await cur.fetchone()
                    tick()

            label = f"aiosqlite: {n} awaited point reads"
            rows.append((label, n, await _timed(label, n, with_aiosqlite)))
    else:
        print("  (aiosqlite is not installed: pip install aiosqlite to compare)")
    return rows


def _table(rows: list[tuple[str, int, float]]) -> None:
    print("\n  " + f"{'workload':<44}{'total':>10}{'per call':>12}")
    print("  " + "-" * 66)
    for label, n, seconds in rows:
        print(f"  {label:<44}{seconds * 1e3:>8.1f}ms{seconds / n * 1e6:>10.1f}us")
    print()


async def _showcase(dsn: str, requests: int, sqlite_path: str | None) -> None:
    d = dialect_of(dsn)
    conn = await ferrule.connect(dsn)
    try:
        await _setup(conn, d)
        await _tour(conn, d)
    finally:
        await conn.close()
    rows = await _workloads(dsn, d, requests)
    if sqlite_path is not None:
        rows += await _against_peers(sqlite_path, 5000)
    _table(rows)


@contextlib.asynccontextmanager
async def _temporary_sqlite() -> AsyncIterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="ferrule-demo-") as tmp:
        path = str(Path(tmp) / "demo.db")
        print(f"  an embedded SQLite database in a temporary directory: {path}")
        yield f"sqlite:///{path}", path


async def main(dsn: str | None, requests: int = 500) -> int:
    print(f"ferrule {ferrule.__version__} showcase")
    if dsn:
        path = None
        if dsn.startswith("sqlite:///"):
            path = dsn[len("sqlite:///") :].split("?", 1)[0]
        await _showcase(dsn, requests, path if path and path != ":memory:" else None)
    else:
        async with _temporary_sqlite() as (url, path):
            await _showcase(url, requests, path)
    return 0
