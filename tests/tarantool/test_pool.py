"""The Tarantool pool against the harness's server: creating it, the one-call SQL queries,
lending (space operations, calls), reuse, max_size, acquire timeouts, cancellation while
waiting and while running, lost connections replaced, stats and close. Session resets and
hooks are in test_pool_reset.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

import ferrule
from ferrule.tarantool_connection import TarantoolConnection
from tests.common.tarantool_server import TarantoolServer

LOST = (ferrule.ConnectionLostError, ferrule.ConnectionClosedError)
SESSION_ID = "return box.session.id()"


async def settle(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Polls `check` until it holds or `timeout` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def session_id(conn: TarantoolConnection) -> int:
    (sid,) = await conn.eval(SESSION_ID)
    return int(sid)


async def test_create_pool(tnt_dsn: str) -> None:
    pool = await ferrule.create_pool(tnt_dsn, min_size=2, max_size=4)
    try:
        assert isinstance(pool, ferrule.Pool)
        assert (pool.get_size(), pool.get_idle_size()) == (2, 2)
        assert (pool.get_min_size(), pool.get_max_size()) == (2, 4)
        assert await pool.fetchval("SELECT ? + 1", 41) == 42
        assert "size=2" in repr(pool)
    finally:
        await pool.close()
    assert pool.is_closing()
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            assert isinstance(conn, ferrule.TarantoolPoolConnection)
            assert isinstance(conn, TarantoolConnection)
            assert conn.get_server_version() >= (2, 0, 0)


async def test_one_call_queries(tnt_dsn: str, key: int) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=3) as pool:
        insert = 'REPLACE INTO "tester" ("id", "name") VALUES (?, ?)'
        assert await pool.execute(insert, key, "a") == "ROWS 1"
        await pool.executemany(insert, [(key + 1, "b"), (key + 2, "c")])
        rows = await pool.fetch(
            'SELECT "id", "name" FROM "tester" WHERE "id" >= ? AND "id" < ? ORDER BY "id"',
            key,
            key + 3,
        )
        assert [tuple(r) for r in rows] == [(key, "a"), (key + 1, "b"), (key + 2, "c")]
        row = await pool.fetchrow('SELECT "name" FROM "tester" WHERE "id" = ?', key + 1)
        assert row is not None and row[0] == "b"
        assert await pool.fetchrow('SELECT 1 FROM "tester" WHERE "id" = ?', key + 9) is None
        assert await pool.fetchval("SELECT :a, :b", {"a": 1, "b": 2}, column=1) == 2
        assert await pool.execute('SELECT 1 FROM "tester" WHERE "id" = 1') == "SELECT 0"
        with pytest.raises(ferrule.DatabaseError):
            await pool.fetch("SELEC nonsense")
        # A failed call gives its connection back like any other.
        assert pool.stats()["in_use"] == 0
        assert await pool.fetchval("SELECT 2") == 2


async def test_acquire_context_and_awaitable(tnt_dsn: str, key: int) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=2) as pool:
        async with pool.acquire() as conn:
            assert pool.get_idle_size() == 0
            await conn.ping()
            assert tuple(await conn.insert("tester", [key, "lent", 1])) == (key, "lent", 1)
            updated = await conn.update("tester", key, [["=", "name", "changed"]])
            assert updated is not None and updated["name"] == "changed"
            await conn.upsert("tester", [key, "x", 0], [["+", "value", 41]])
            rows = await conn.select("tester", key)
            assert rows[0]["value"] == 42
            assert await conn.call("echo", [1, "two"]) == [1, "two"]
            assert await conn.eval("return ...", [5]) == [5]
            stmt = await conn.prepare('SELECT "name" FROM "tester" WHERE "id" = ?')
            assert await stmt.fetchval(key) == "changed"
            await stmt.close()
            it = await conn.call("push_messages", [2], push_subscribe=True)
            assert [m async for m in it] == [[1, "message 1"], [2, "message 2"]]
            deleted = await conn.delete("tester", key)
            assert deleted is not None and deleted[0] == key
            assert "tester" in conn.spaces()
        assert conn.is_released()
        assert pool.get_idle_size() == 1

        conn = await pool.acquire(timeout=1.0)
        assert await conn.select("tester", key) == []
        await pool.release(conn)
        await pool.release(conn)  # a second release does nothing
        assert pool.get_idle_size() == pool.get_size()


async def test_released_connection_refuses_use(tnt_dsn: str) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            stmt = await conn.prepare("SELECT ?")
        assert conn.is_closed()
        assert "released" in repr(conn)
        for call in (
            lambda: conn.fetch("SELECT 1"),
            lambda: conn.ping(),
            lambda: conn.select("tester", 1),
            lambda: conn.call("echo", [1]),
            lambda: stmt.fetchval(1),
        ):
            with pytest.raises(ferrule.ConnectionClosedError, match="released"):
                await call()
        with pytest.raises(ferrule.ConnectionClosedError):
            conn.spaces()


async def test_connections_are_reused(tnt_dsn: str) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1) as pool:
        sessions = set()
        for _ in range(5):
            async with pool.acquire() as conn:
                sessions.add(await session_id(conn))
            await pool.fetchval("SELECT 1")
        assert len(sessions) == 1
        stats = pool.stats()
        assert stats["connects"] == 1 and stats["resets"] == 0


async def test_max_size_bounds_the_connections(tnt_dsn: str) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=0, max_size=3) as pool:
        peak = 0

        async def one() -> int:
            nonlocal peak
            async with pool.acquire() as conn:
                peak = max(peak, pool.stats()["in_use"])
                await conn.call("sleep_for", [0.05])
                return await session_id(conn)

        sessions = await asyncio.gather(*(one() for _ in range(30)))
        assert len(set(sessions)) <= 3 and peak <= 3 and pool.get_size() <= 3
        assert pool.stats()["acquisitions"] == 30


async def test_acquire_timeout(tnt_dsn: str) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire():
            started = time.monotonic()
            with pytest.raises(ferrule.PoolTimeoutError, match="size 1 of max 1"):
                await pool.acquire(timeout=0.3)
            assert 0.25 <= time.monotonic() - started < 1.5
            with pytest.raises(ferrule.PoolTimeoutError):
                await pool.fetchval("SELECT 1", timeout=0.2)
        assert pool.stats()["timeouts"] == 2
        assert await pool.fetchval("SELECT 1") == 1


async def test_cancelled_while_waiting_keeps_nothing(tnt_dsn: str) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1) as pool:
        held = await pool.acquire()
        waiting = [asyncio.ensure_future(pool.acquire()) for _ in range(3)]
        one_call = asyncio.ensure_future(pool.fetchval("SELECT 1"))
        await asyncio.sleep(0.1)
        assert pool.stats()["waiting"] == 4
        for task in [*waiting, one_call]:
            task.cancel()
        await asyncio.gather(*waiting, one_call, return_exceptions=True)
        assert await settle(lambda: pool.stats()["waiting"] == 0)
        await pool.release(held)
        assert pool.get_idle_size() == 1
        assert await pool.fetchval("SELECT 2", timeout=2) == 2


async def test_cancelled_while_running_keeps_the_connection(tnt_dsn: str) -> None:
    """Tarantool cannot stop a request it runs: the caller stops waiting, the late answer is
    dropped, and the connection stays in the pool."""
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            sid = await session_id(conn)
            task = asyncio.ensure_future(conn.call("sleep_for", [0.5, "late"]))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            with pytest.raises(ferrule.TimeoutError):
                await conn.call("sleep_for", [0.5, "late"], timeout=0.1)
        # The one-call query, cancelled while its SQL runs on the server.
        slow_sql = (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
            "SELECT count(*) FROM c"
        )
        task = asyncio.ensure_future(pool.fetchval(slow_sql, 300_000))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with pool.acquire() as conn:
            assert await session_id(conn) == sid
        stats = pool.stats()
        assert stats["connects"] == 1 and stats["closed_broken"] == 0


async def test_lent_connection_closed_or_terminated_is_replaced(tnt_dsn: str) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=2, max_size=2) as pool:
        async with pool.acquire() as conn:
            first = await session_id(conn)
            await conn.close()
        assert conn.is_closed()
        conn = await pool.acquire()
        second = await session_id(conn)
        conn.terminate()
        assert conn.is_closed() and conn.is_released()
        assert await settle(lambda: pool.get_size() == 2 and pool.get_idle_size() == 2)
        async with pool.acquire() as a, pool.acquire() as b:
            sessions = {await session_id(a), await session_id(b)}
        assert not sessions & {first, second}


async def test_server_restart_connections_are_replaced(tnt_local: TarantoolServer) -> None:
    async with ferrule.create_pool(tnt_local.dsn(), min_size=2, max_size=2) as pool:
        held = await pool.acquire()
        busy = asyncio.ensure_future(held.call("sleep_for", [5.0]))
        await asyncio.sleep(0.1)
        tnt_local.kill()
        with pytest.raises(LOST):
            await asyncio.wait_for(busy, 2)
        await pool.release(held)
        tnt_local.start()
        # The lost connections read as closed and are replaced, with backoff while the
        # server is away.
        assert await settle(lambda: pool.stats()["closed_broken"] >= 2, timeout=10)

        async def answered() -> bool:
            try:
                return bool(await pool.fetchval("SELECT 1", timeout=1) == 1)
            except ferrule.Error:
                return False

        deadline = time.monotonic() + 15
        while not await answered():
            assert time.monotonic() < deadline, "the pool did not recover"
            await asyncio.sleep(0.1)
        assert await settle(lambda: pool.get_size() == 2 and pool.get_idle_size() == 2)
        results = await asyncio.gather(*(pool.fetchval("SELECT ?", i) for i in range(10)))
        assert results == list(range(10))


async def test_stats(tnt_dsn: str) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=2) as pool:
        for i in range(5):
            await pool.fetchval("SELECT ?", i)
        stats = pool.stats()
        assert stats["acquisitions"] == 5
        assert stats["size"] == 1 and stats["idle"] == 1 and stats["in_use"] == 0
        assert stats["waiting"] == 0 and stats["timeouts"] == 0
        assert stats["connects"] == 1 and stats["resets"] == 0
        assert set(stats) == set(ferrule.PoolStats.__annotations__)


async def test_close_waits_then_closes(tnt_dsn: str) -> None:
    pool = await ferrule.create_pool(tnt_dsn, min_size=2, max_size=2)
    conn = await pool.acquire()
    closing = asyncio.ensure_future(pool.close(timeout=5))
    await asyncio.sleep(0.1)
    assert not closing.done() and pool.is_closing()
    with pytest.raises(ferrule.ConnectionClosedError):
        await pool.fetchval("SELECT 1")
    assert await conn.fetchval("SELECT 3") == 3  # the loan still works until released
    await conn.release()
    await asyncio.wait_for(closing, 5)
    assert pool.get_size() == 0

    pool = await ferrule.create_pool(tnt_dsn, min_size=1, max_size=1)
    conn = await pool.acquire()
    started = time.monotonic()
    await pool.close(timeout=0.2)
    assert time.monotonic() - started < 2
    with pytest.raises(LOST):
        await conn.fetchval("SELECT 1")
    await conn.release()


async def test_terminate(tnt_dsn: str) -> None:
    pool = await ferrule.create_pool(tnt_dsn, min_size=2, max_size=2)
    conn = await pool.acquire()
    pool.terminate()
    assert pool.is_closing()
    # The closes run in tasks: a call sent in the same instant may still get its answer, the
    # next ones fail.
    with pytest.raises(LOST):
        for _ in range(100):
            await conn.ping()
    with pytest.raises(ferrule.ConnectionClosedError):
        await pool.acquire()
