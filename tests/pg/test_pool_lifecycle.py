"""Replacing connections (max_queries, max_lifetime, max_idle, expire_connections), recycle
checks, and ending a pool (close waits for connections in use, terminate does not)."""

from __future__ import annotations

import asyncio
import time

import pytest

import ferrule
from tests.common.pg_cluster import PgCluster
from tests.pg.pool_support import app_name, settle, settle_sessions


async def pids_of(pool: ferrule.Pool, n: int) -> set[int]:
    """The server pids of `n` connections held at once."""
    conns = [await pool.acquire(timeout=5) for _ in range(n)]
    try:
        return {c.get_server_pid() for c in conns}
    finally:
        for c in conns:
            await pool.release(c)


async def test_max_queries(pg_dsn: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1, max_queries=3) as pool:
        pids = [await pool.fetchval("SELECT pg_backend_pid()") for _ in range(7)]
        assert pids[0] == pids[1] == pids[2]
        assert pids[3] == pids[4] == pids[5] != pids[0]
        assert pids[6] not in (pids[0], pids[3])
        # executemany counts each row.
        await pool.executemany("SELECT $1::int4", [(1,), (2,), (3,)])
        assert await pool.fetchval("SELECT pg_backend_pid()") not in pids
        assert pool.stats()["closed_broken"] == 0


async def test_max_lifetime(pg_dsn: str, pg_cluster: PgCluster) -> None:
    app = app_name("lifetime")
    async with ferrule.create_pool(
        pg_dsn, min_size=2, max_size=2, max_lifetime=0.3, application_name=app
    ) as pool:
        first = await pids_of(pool, 2)
        # 0.3 s +- 10% jitter, plus the sweep period (a quarter of the lifetime).
        await asyncio.sleep(0.6)
        assert await settle(lambda: pool.get_size() == 2)
        later = await pids_of(pool, 2)
        assert not first & later
        assert await settle_sessions(pg_cluster, app, 2) == 2


async def test_max_idle_shrinks_to_min_size(pg_dsn: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=5, max_idle=0.2) as pool:
        await pids_of(pool, 5)
        assert pool.get_size() == 5
        assert await settle(lambda: pool.get_size() == 1, timeout=3)
        assert await pool.fetchval("SELECT 1") == 1


async def test_expire_connections(pg_dsn: str, pg_cluster: PgCluster) -> None:
    app = app_name("expire")
    async with ferrule.create_pool(pg_dsn, min_size=3, max_size=3, application_name=app) as pool:
        before = await pids_of(pool, 3)
        held = await pool.acquire()
        try:
            held_pid = held.get_server_pid()
            await pool.expire_connections()
            # The idle ones are replaced now, the one in use when it comes back.
            assert await settle(lambda: pool.get_size() == 3)
        finally:
            await pool.release(held)
        assert await settle(lambda: pool.get_size() == 3 and pool.get_idle_size() == 3)
        after = await pids_of(pool, 3)
        assert not before & after
        assert held_pid not in after
        assert await settle_sessions(pg_cluster, app, 3) == 3


@pytest.mark.parametrize("recycle", ["fast", "verified", "clean"])
async def test_recycle_modes_after_idle(pg_dsn: str, recycle: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1, recycle=recycle) as pool:
        pid = await pool.fetchval("SELECT pg_backend_pid()")
        await asyncio.sleep(1.1)
        # Past check_after_idle (1 s): checked before hand-out, and still the same session.
        assert await pool.fetchval("SELECT pg_backend_pid()") == pid
        assert pool.stats()["closed_broken"] == 0


async def test_close_waits_for_connections_in_use(pg_dsn: str, pg_cluster: PgCluster) -> None:
    app = app_name("closewait")
    pool = await ferrule.create_pool(pg_dsn, min_size=1, max_size=1, application_name=app)
    conn = await pool.acquire()
    waiter = asyncio.ensure_future(pool.acquire(timeout=10))
    await asyncio.sleep(0.05)
    closing = asyncio.ensure_future(pool.close())
    # The waiter is told at once; the close waits for the connection in use.
    with pytest.raises(ferrule.ConnectionClosedError):
        await waiter
    await asyncio.sleep(0.2)
    assert not closing.done()
    assert await conn.fetchval("SELECT 1") == 1
    with pytest.raises(ferrule.ConnectionClosedError):
        await pool.fetchval("SELECT 1")
    await pool.release(conn)
    await asyncio.wait_for(closing, 5)
    assert pool.get_size() == 0
    assert await settle_sessions(pg_cluster, app, 0) == 0


async def test_close_timeout_closes_connections_still_in_use(
    pg_dsn: str, pg_cluster: PgCluster
) -> None:
    app = app_name("closetimeout")
    pool = await ferrule.create_pool(pg_dsn, min_size=2, max_size=2, application_name=app)
    conn = await pool.acquire()
    busy = asyncio.ensure_future(conn.execute("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await pool.close(timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 2.0
    with pytest.raises((ferrule.ConnectionClosedError, ferrule.ConnectionLostError)):
        await asyncio.wait_for(busy, 2)
    assert conn.is_closed()
    assert await settle_sessions(pg_cluster, app, 0) == 0


async def test_terminate(pg_dsn: str, pg_cluster: PgCluster) -> None:
    app = app_name("terminate")
    pool = await ferrule.create_pool(pg_dsn, min_size=3, max_size=3, application_name=app)
    busy = asyncio.ensure_future(pool.execute("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    pool.terminate()
    with pytest.raises((ferrule.ConnectionClosedError, ferrule.ConnectionLostError)):
        await asyncio.wait_for(busy, 2)
    assert time.monotonic() - started < 0.5
    assert pool.is_closing()
    assert await settle_sessions(pg_cluster, app, 0) == 0
    with pytest.raises(ferrule.ConnectionClosedError):
        await pool.fetchval("SELECT 1")
    await pool.close()  # closing a terminated pool is harmless
