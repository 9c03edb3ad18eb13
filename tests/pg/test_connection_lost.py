"""Lost connections (pg_terminate_backend, busy and idle), close() and terminate()."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable

import pytest

import ferrule
from tests.common.pg_cluster import PgCluster
from tests.pg.helpers import backend_state, wait_until

Connect = Callable[..., Awaitable[ferrule.PgConnection]]


async def _terminate(pg_cluster: PgCluster, pid: int) -> None:
    await asyncio.to_thread(pg_cluster.psql, "SELECT pg_terminate_backend(:'pid')", pid=str(pid))


async def test_terminate_backend_while_busy(pg_cluster: PgCluster, connect: Connect) -> None:
    conn = await connect()
    task = asyncio.create_task(conn.fetchval("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await _terminate(pg_cluster, conn.get_server_pid())
    with pytest.raises(ferrule.ConnectionLostError) as info:
        await task
    assert time.monotonic() - started < 1.0
    assert "terminat" in str(info.value)
    assert conn.is_closed()
    with pytest.raises((ferrule.ConnectionLostError, ferrule.ConnectionClosedError)):
        await conn.fetchval("SELECT 1")


async def test_terminate_backend_while_idle(pg_cluster: PgCluster, connect: Connect) -> None:
    conn = await connect()
    assert await conn.fetchval("SELECT 1") == 1
    await _terminate(pg_cluster, conn.get_server_pid())

    async def closed() -> bool:
        return conn.is_closed()

    assert await wait_until(closed, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ferrule.ConnectionLostError):
        await conn.fetchval("SELECT 1")
    assert time.monotonic() - started < 0.1


async def test_every_queued_call_fails(pg_cluster: PgCluster, connect: Connect) -> None:
    conn = await connect()
    tasks = [asyncio.create_task(conn.fetchval("SELECT pg_sleep(0.2)")) for _ in range(20)]
    await asyncio.sleep(0.1)
    await _terminate(pg_cluster, conn.get_server_pid())
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 2)
    assert all(isinstance(r, ferrule.ConnectionLostError) for r in results), results


async def test_close(pg_cluster: PgCluster, pg_dsn: str) -> None:
    conn = await ferrule.connect(pg_dsn)
    pid = conn.get_server_pid()
    await conn.close()
    assert conn.is_closed()
    assert "closed" in repr(conn)
    with pytest.raises(ferrule.ConnectionClosedError, match="closed"):
        await conn.fetchval("SELECT 1")
    await conn.close()  # idempotent
    assert await wait_until(lambda: _gone(pg_cluster, pid), timeout=2)


async def _gone(cluster: PgCluster, pid: int) -> bool:
    return await asyncio.to_thread(backend_state, cluster, pid) == ""


async def test_close_lets_sent_calls_finish(pg_dsn: str) -> None:
    conn = await ferrule.connect(pg_dsn)
    query = "SELECT $1::int FROM pg_sleep(0.01)"
    assert await conn.fetchval(query, -1) == -1  # cached: the calls below need no Parse
    calls = [asyncio.create_task(conn.fetchval(query, i)) for i in range(50)]
    await asyncio.sleep(0.05)  # the requests are on the wire; the server is working on them
    await conn.close()
    assert await asyncio.gather(*calls) == list(range(50))


async def test_close_timeout_on_a_busy_connection(pg_dsn: str) -> None:
    conn = await ferrule.connect(pg_dsn)
    busy = asyncio.create_task(conn.fetchval("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await conn.close(timeout=0.3)
    assert time.monotonic() - started < 1.0
    assert conn.is_closed()
    with pytest.raises((ferrule.ConnectionClosedError, ferrule.ConnectionLostError)):
        await busy


async def test_terminate(pg_cluster: PgCluster, pg_dsn: str) -> None:
    conn = await ferrule.connect(pg_dsn)
    pid = conn.get_server_pid()
    busy = asyncio.create_task(conn.fetchval("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    conn.terminate()
    assert conn.is_closed()
    with pytest.raises(ferrule.ConnectionClosedError, match="terminated"):
        await busy
    assert time.monotonic() - started < 0.5
    conn.terminate()  # idempotent
    # The socket is closed at once; the server notices when it next reads (an idle one at
    # once, a busy one when its statement ends).
    idle = await ferrule.connect(pg_dsn)
    idle_pid = idle.get_server_pid()
    idle.terminate()
    assert await wait_until(lambda: _gone(pg_cluster, idle_pid), timeout=2)
    assert pid != idle_pid


async def test_server_restart(pg_local_cluster: PgCluster, pg_dsn: str) -> None:
    conn = await ferrule.connect(pg_dsn)
    busy = asyncio.create_task(conn.fetchval("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.1)
    await asyncio.to_thread(pg_local_cluster.restart, "fast")
    with pytest.raises(ferrule.ConnectionLostError):
        await asyncio.wait_for(busy, 5)
    assert conn.is_closed()
    fresh = await ferrule.connect(pg_dsn)
    try:
        assert await fresh.fetchval("SELECT 1") == 1
    finally:
        await fresh.close()


async def test_frozen_server_is_bounded(pg_local_cluster: PgCluster, pg_dsn: str) -> None:
    # The whole server frozen, postmaster included: the CancelRequest's own connection is
    # accepted by the kernel and never answered. timeout + cancel_timeout still bound the call.
    conn = await ferrule.connect(pg_dsn, sslmode="disable", cancel_timeout=0.5)
    frozen = [pg_local_cluster.pid(), conn.get_server_pid()]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(ferrule.TimeoutError):
            await asyncio.wait_for(conn.fetchval("SELECT 1", timeout=0.3), 5)
        assert time.monotonic() - started < 0.3 + 0.5 + 0.5
        assert conn.is_closed()
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    conn = await ferrule.connect(pg_dsn)
    assert await conn.fetchval("SELECT 1") == 1
    await conn.close()
