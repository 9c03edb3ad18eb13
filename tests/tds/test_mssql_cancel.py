"""Cancellation: a cancelled task or a timeout sends ATTENTION and drains to the server's
acknowledgement; the connection stays in sync and usable."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

import ferrule
from ferrule import MssqlConnection

pytestmark = pytest.mark.timeout(300)


async def test_timeout_cancels_waitfor(conn: MssqlConnection) -> None:
    started = time.monotonic()
    with pytest.raises(ferrule.TimeoutError):
        await conn.fetchval("WAITFOR DELAY '00:00:10'; SELECT 1", timeout=0.2)
    elapsed = time.monotonic() - started
    assert 0.15 < elapsed < 1.0, elapsed
    assert await conn.fetchval("SELECT @p1", "after") == "after"
    assert not conn.is_closed()


async def test_command_timeout(mssql_dsn: str) -> None:
    c = await ferrule.connect(mssql_dsn, command_timeout=0.2)
    with pytest.raises(ferrule.TimeoutError):
        await c.execute("WAITFOR DELAY '00:00:05'")
    assert await c.fetchval("SELECT 3") == 3
    await c.close()


async def test_cancel_at_random_points_1000_times(mssql_dsn: str) -> None:
    """1,000 cancellations of a long WAITFOR at random moments (before it is sent, while the
    server holds it, as it completes): every later call gets its own answer. The test server
    acknowledges every ATTENTION, even one behind its still-queued request, so no connection
    may be closed for want of an acknowledgement (one would be counted and replaced)."""
    rnd = random.Random(6)
    conns = [await ferrule.connect(mssql_dsn) for _ in range(4)]
    out_of_sync = cancelled = closed = 0

    async def one(k: int, i: int) -> None:
        nonlocal out_of_sync, cancelled, closed
        c = conns[k]
        delay = rnd.choice(["00:00:05", "00:00:00.010", "00:00:00"])
        task = asyncio.ensure_future(c.fetchval(f"WAITFOR DELAY '{delay}'; SELECT @p1", i))
        await asyncio.sleep(rnd.random() * 0.02)
        task.cancel()
        try:
            if await task != i:
                out_of_sync += 1
        except asyncio.CancelledError:
            cancelled += 1
        marker = f"m{i}"
        try:
            if await c.fetchval("SELECT @p1", marker) != marker:
                out_of_sync += 1
        except ferrule.ConnectionLostError:
            assert c.is_closed()
            closed += 1
            conns[k] = await ferrule.connect(mssql_dsn)

    for start in range(0, 1000, len(conns)):
        await asyncio.gather(*(one(k, start + k) for k in range(len(conns))))
    print(f"cancelled {cancelled}, closed for want of an acknowledgement {closed}")
    assert out_of_sync == 0
    assert cancelled > 300
    assert closed == 0
    for c in conns:
        await c.close()


async def test_queued_call_cancelled_before_it_runs(conn: MssqlConnection) -> None:
    # The slow call holds the connection long enough that even a loaded machine cancels the
    # queued one while it still waits its turn.
    slow = asyncio.ensure_future(conn.fetchval("WAITFOR DELAY '00:00:01.500'; SELECT 1"))
    # Calls started in the same instant may reach the connection in either order; the slow
    # one is given time to be running before the second is queued behind it.
    await asyncio.sleep(0.1)
    queued = asyncio.ensure_future(conn.fetchval("SELECT 2"))
    await asyncio.sleep(0.05)
    assert not queued.done()
    queued.cancel()
    assert await slow == 1
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert await conn.fetchval("SELECT 3") == 3
