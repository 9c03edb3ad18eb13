"""10,000 cancellations under 100-way concurrency on a SQLite pool (docs RELIABILITY, first
row): short reads (inline, in held read transactions), long reads (on the connections'
threads, stopped with sqlite3_interrupt), single writes and write transactions, each cancelled
at a random moment. Afterwards: no hung task, every connection back in the pool and idle, no
read transaction left behind, the database intact, and every row a finished write reported
really there."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import ferrule
from ferrule.sqlite_pool import SqlitePool, create_pool

TASKS = 10_000
WAVE = 100
# About 10 ms of work: long enough to be running on a connection's thread when cancelled.
LONG_READ = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    "SELECT count(*) FROM n"
)


async def one_call(pool: SqlitePool, rng: random.Random, done: set[int], i: int) -> None:
    kind = rng.random()
    if kind < 0.55:
        assert await pool.fetchval("SELECT v FROM t WHERE id = ?", rng.randint(1, 500)) is not None
    elif kind < 0.75:
        assert await pool.fetchval(LONG_READ, 20_000) == 20_000
    elif kind < 0.9:
        await pool.execute("INSERT INTO t (id, v) VALUES (?, ?)", 1_000 + i, "single")
        done.add(1_000 + i)
    else:
        async with pool.acquire(write=True) as conn, conn.transaction():
            await conn.execute("INSERT INTO t (id, v) VALUES (?, ?)", 1_000 + i, "txn")
            assert await conn.fetchval("SELECT v FROM t WHERE id = ?", 1_000 + i) == "txn"
        done.add(1_000 + i)


async def test_ten_thousand_cancellations_leave_the_pool_whole(db_path: Path) -> None:
    url = f"sqlite:///{db_path}"
    pool = await create_pool(url, readers=4)
    rng = random.Random(20261121)
    done: set[int] = set()
    cancelled = 0
    try:
        await pool.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        await pool.executemany(
            "INSERT INTO t (id, v) VALUES (?, ?)", [(i, f"row {i}") for i in range(1, 501)]
        )
        for start in range(0, TASKS, WAVE):
            tasks = [
                asyncio.create_task(one_call(pool, rng, done, i))
                for i in range(start, start + WAVE)
            ]
            await asyncio.sleep(rng.random() * 0.004)
            for task in tasks:
                if rng.random() < 0.5 and task.cancel():
                    cancelled += 1
            # No task may hang: each ends, with its result or its cancellation.
            results = await asyncio.wait_for(
                asyncio.gather(*tasks, return_exceptions=True), timeout=30
            )
            errors = [
                r
                for r in results
                if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
            ]
            assert errors == []
        assert cancelled > TASKS // 4
        stats = pool.stats()
        assert stats["idle"] == stats["size"] == 5 and stats["waiting"] == 0
        rows = {r[0]: r[1] for r in await pool.fetch("SELECT id, v FROM t WHERE id > 500")}
        # Every write reported done is there; a cancelled one is there whole or not at all.
        assert done <= rows.keys()
        assert set(rows.values()) <= {"single", "txn"}
        assert await pool.fetchval("SELECT count(*) FROM t WHERE id <= 500") == 500
        await asyncio.sleep(0)
        # With the pool still open and idle, nothing reads or writes any more: a TRUNCATE
        # checkpoint that gives up at once on a reader copies the whole WAL back and empties it.
        check = await ferrule.sqlite_connection.connect(url)
        try:
            await check.execute("PRAGMA busy_timeout = 0")
            assert await check.fetchrow("PRAGMA wal_checkpoint(TRUNCATE)") == (0, 0, 0)
            assert await check.fetchval("PRAGMA integrity_check") == "ok"
        finally:
            await check.close()
    finally:
        await pool.close()
