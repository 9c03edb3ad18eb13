"""The SQLite pool: one writer and N readers in WAL mode, explicit routing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import ferrule
from ferrule.sqlite_pool import SqlitePool, create_pool


@pytest.fixture
async def pool(db_url: str) -> SqlitePool:
    p = await create_pool(db_url, readers=3)
    await p.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    yield p  # type: ignore[misc]
    await p.close()


async def test_pragmas_applied(pool: SqlitePool) -> None:
    assert await pool.fetchval("PRAGMA journal_mode") == "wal"
    assert await pool.fetchval("PRAGMA synchronous") == 1
    assert await pool.fetchval("PRAGMA foreign_keys") == 1
    assert await pool.fetchval("PRAGMA query_only") == 1  # a reader answered
    async with pool.acquire(write=True) as w:
        assert await w.fetchval("PRAGMA query_only") == 0
    assert pool.get_size() == 4


async def test_writes_go_to_the_writer_reads_to_readers(pool: SqlitePool) -> None:
    writes_before = pool.stats()["writes"]
    assert await pool.execute("INSERT INTO t (v) VALUES (?)", "a") == "INSERT 0 1"
    await pool.executemany("INSERT INTO t (v) VALUES (?)", [("b",), ("c",)])
    assert await pool.fetchval("SELECT count(*) FROM t") == 3
    # A write sent to a read method is refused by the reader, never run.
    with pytest.raises(ferrule.OperationalError, match=r"readonly|query_only"):
        await pool.fetch("WITH x AS (SELECT 1) INSERT INTO t (v) SELECT 'sneaky' FROM x")
    with pytest.raises(ferrule.OperationalError):
        await pool.fetchval("PRAGMA user_version = 5")
    assert await pool.fetchval("SELECT count(*) FROM t") == 3
    stats = pool.stats()
    assert stats["writes"] == writes_before + 2 and stats["reads"] >= 2


async def test_write_transaction_is_exclusive_and_immediate(pool: SqlitePool) -> None:
    order: list[str] = []
    async with pool.acquire(write=True) as w:
        assert w._sql_begin(None, False, False) == "BEGIN IMMEDIATE"
        async with w.transaction():
            await w.execute("INSERT INTO t (v) VALUES ('in tx')")
            outside = asyncio.ensure_future(pool.execute("INSERT INTO t (v) VALUES ('after')"))
            await asyncio.sleep(0.05)
            # The pool's write waits for the lent writer: it is not part of this transaction.
            assert not outside.done()
            order.append("tx")
            # Readers see the committed state only (WAL snapshot).
            assert await pool.fetchval("SELECT count(*) FROM t") == 0
    await outside
    order.append("outside")
    rows = [r["v"] for r in await pool.fetch("SELECT v FROM t ORDER BY id")]
    assert rows == ["in tx", "after"]


async def test_released_connection_is_rolled_back_and_unusable(pool: SqlitePool) -> None:
    conn = await pool.acquire(write=True)
    await conn.execute("BEGIN IMMEDIATE")
    await conn.execute("INSERT INTO t (v) VALUES ('lost')")
    await pool.release(conn)
    assert conn.is_released()
    with pytest.raises(ferrule.ConnectionClosedError):
        await conn.fetchval("SELECT 1")
    assert await pool.fetchval("SELECT count(*) FROM t") == 0
    # The writer is free again.
    assert await pool.execute("INSERT INTO t (v) VALUES ('kept')") == "INSERT 0 1"


async def test_reader_lease_timeout(db_url: str) -> None:
    async with create_pool(db_url, readers=1) as pool:
        first = await pool.acquire()
        with pytest.raises(ferrule.PoolTimeoutError):
            await pool.acquire(timeout=0.05)
        # pool.fetch waits for the lent reader instead of sharing it.
        pending = asyncio.ensure_future(pool.fetchval("SELECT 7"))
        await asyncio.sleep(0.05)
        assert not pending.done()
        await first.release()
        assert await pending == 7


async def test_many_concurrent_requests(pool: SqlitePool) -> None:
    await pool.executemany("INSERT INTO t (v) VALUES (?)", [(f"v{i}",) for i in range(100)])

    async def request(i: int) -> str:
        if i % 10 == 0:
            await pool.execute("UPDATE t SET v = v || '!' WHERE id = ?", i % 100 + 1)
            return "w"
        return str(await pool.fetchval("SELECT v FROM t WHERE id = ?", i % 100 + 1))

    out = await asyncio.gather(*(request(i) for i in range(500)))
    assert out.count("w") == 50
    assert pool.stats()["waiting"] == 0


async def test_memory_pool_uses_one_connection() -> None:
    async with create_pool("sqlite://:memory:") as pool:
        await pool.execute("CREATE TABLE m (x)")
        await pool.execute("INSERT INTO m VALUES (1)")
        assert await pool.fetchval("SELECT x FROM m") == 1
        assert pool.get_size() == 1


async def test_closed_pool(db_url: str) -> None:
    pool = await create_pool(db_url, readers=1)
    await pool.close()
    with pytest.raises(ferrule.ConnectionClosedError):
        await pool.fetchval("SELECT 1")


async def test_hooks_run_on_connect_acquire_and_release(db_url: str) -> None:
    seen: list[str] = []

    async def init(conn: Any) -> None:
        seen.append("init")
        await conn.execute("PRAGMA cache_size = -4000")

    async def setup(conn: Any) -> None:
        seen.append("setup")

    async def reset(conn: Any) -> None:
        seen.append("reset")

    async with ferrule.create_pool(db_url, max_size=3, init=init, setup=setup, reset=reset) as pool:
        assert seen == ["init"] * 3
        seen.clear()
        assert await pool.fetchval("PRAGMA cache_size") == -4000
        await pool.execute("CREATE TABLE IF NOT EXISTS h (x INTEGER)")
        assert seen == ["setup", "reset", "setup", "reset"]
        seen.clear()
        async with pool.acquire(write=True) as conn:
            await conn.execute("INSERT INTO h VALUES (1)")
        assert seen == ["setup", "reset"]


async def test_failing_reset_replaces_the_connection(db_url: str) -> None:
    failures = [RuntimeError("reset failed")]

    async def reset(conn: Any) -> None:
        if failures:
            await conn.execute("BEGIN")
            raise failures.pop()

    pool = await create_pool(db_url, readers=1, reset=reset)
    try:
        conn = await pool.acquire()
        native = conn._impl
        with pytest.raises(RuntimeError, match="reset failed"):
            await pool.release(conn)
        async with pool.acquire() as again:
            assert again._impl is not native
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_failing_setup_gives_the_connection_back(db_url: str) -> None:
    async def setup(conn: Any) -> None:
        raise ValueError("no")

    async with create_pool(db_url, readers=1, setup=setup, acquire_timeout=1) as pool:
        for _ in range(3):
            with pytest.raises(ValueError, match="no"):
                await pool.fetchval("SELECT 1")
        assert pool.stats()["idle"] == 2


async def test_settings_a_sqlite_pool_has_no_use_for_are_refused(db_url: str) -> None:
    with pytest.raises(ferrule.InterfaceError, match="max_lifetime, recycle"):
        ferrule.create_pool(db_url, max_lifetime=60, recycle="clean")
