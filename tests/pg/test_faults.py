"""Faults: the connection cut at every byte of a response, a frozen server, a killed session.
Whatever happens, a call either returns the right result or raises a clear error; never a
partial result reported as success, never a hang."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from typing import Any

import pytest

import ferrule
from tests.common.cutproxy import CutProxy

QUERY = "SELECT i, repeat('x', i % 50) AS pad FROM generate_series(1, $1::int) i"


def expected(n: int) -> list[tuple[int, str]]:
    return [(i, "x" * (i % 50)) for i in range(1, n + 1)]


@pytest.fixture
async def proxy(pg_cluster: Any) -> Any:
    p = CutProxy(pg_cluster.host, pg_cluster.port)
    await p.start()
    yield p
    await p.close()


async def run_through(proxy: CutProxy, pg_cluster: Any, cut: int | None, n: int) -> str:
    proxy.cut_at = cut
    dsn = pg_cluster.dsn(host="127.0.0.1", port=str(proxy.port), sslmode="disable")
    try:
        conn = await ferrule.connect(dsn, timeout=5)
    except ferrule.Error:
        return "connect-error"
    try:
        rows = await asyncio.wait_for(conn.fetch(QUERY, n), 5)
    except ferrule.Error as e:
        assert isinstance(
            e, (ferrule.ConnectionLostError, ferrule.ProtocolError, ferrule.InterfaceError)
        ), repr(e)
        assert conn.is_closed()
        return "error"
    finally:
        conn.terminate()
    assert [tuple(r) for r in rows] == expected(n), f"wrong result with cut at {cut}"
    return "ok"


async def test_cut_at_every_offset_of_the_first_kilobytes(proxy: CutProxy, pg_cluster: Any) -> None:
    # Measure how long the exchange is, then cut at every offset of it (startup included).
    outcomes: dict[str, int] = {}
    for cut in range(0, 3000):
        outcome = await run_through(proxy, pg_cluster, cut, 40)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("error", 0) + outcomes.get("connect-error", 0) > 0
    assert outcomes.get("ok", 0) > 0, outcomes


async def test_cut_at_random_offsets_of_a_64k_response(proxy: CutProxy, pg_cluster: Any) -> None:
    rng = random.Random(7)
    seen_ok = seen_err = 0
    for cut in [*sorted(rng.sample(range(400, 80_000), 300)), None]:
        outcome = await run_through(proxy, pg_cluster, cut, 2000)
        seen_ok += outcome == "ok"
        seen_err += outcome != "ok"
    assert seen_ok >= 1 and seen_err >= 1


async def test_frozen_server_is_bounded_by_timeout_and_cancel_bound(
    pg_local_cluster: Any, pg_dsn: str
) -> None:
    conn = await ferrule.connect(pg_dsn, sslmode="disable", cancel_timeout=0.5)
    backend = conn.get_server_pid()
    os.kill(backend, signal.SIGSTOP)
    try:
        start = time.monotonic()
        with pytest.raises((ferrule.TimeoutError, ferrule.ConnectionLostError)):
            await conn.fetchval("SELECT 1", timeout=0.3)
        elapsed = time.monotonic() - start
        # timeout + cancel bound, with slack for a loaded machine
        assert elapsed < 0.3 + 0.5 + 1.0, elapsed
        # The cancellation could not be confirmed: the connection is closed, not left in doubt.
        await asyncio.sleep(0.7)
        assert conn.is_closed()
    finally:
        os.kill(backend, signal.SIGCONT)
        conn.terminate()
    other = await ferrule.connect(pg_dsn, sslmode="disable")
    assert await other.fetchval("SELECT 1") == 1
    await other.close()


async def test_killed_session_fails_fast_and_clearly(pg_dsn: str) -> None:
    conn = await ferrule.connect(pg_dsn, sslmode="disable")
    killer = await ferrule.connect(pg_dsn, sslmode="disable")
    pid = conn.get_server_pid()
    task = asyncio.ensure_future(conn.fetchval("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.2)
    start = time.monotonic()
    assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid) is True
    with pytest.raises(ferrule.ConnectionLostError):
        await task
    assert time.monotonic() - start < 1.0
    assert conn.is_closed()
    with pytest.raises(ferrule.Error):
        await conn.fetchval("SELECT 1")
    await killer.close()
