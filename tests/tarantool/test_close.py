"""close(timeout): calls in flight get their answers, bounded by the timeout; later calls fail."""

from __future__ import annotations

import asyncio
import time

import pytest

import ferrule


async def test_close_lets_calls_in_flight_finish(tnt_dsn: str) -> None:
    conn = await ferrule.connect(tnt_dsn)
    slow = asyncio.ensure_future(conn.call("sleep_for", [0.3, "done"]))  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await conn.close(timeout=5)
    assert 0.15 < time.monotonic() - started < 2.0
    assert await slow == ["done"]
    assert conn.is_closed()
    with pytest.raises(ferrule.InterfaceError):
        await conn.ping()  # type: ignore[attr-defined]


async def test_close_is_bounded_by_its_timeout(tnt_dsn: str) -> None:
    conn = await ferrule.connect(tnt_dsn)
    slow = asyncio.ensure_future(conn.call("sleep_for", [3.0, "late"]))  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await conn.close(timeout=0.2)
    assert time.monotonic() - started < 1.0
    with pytest.raises(ferrule.InterfaceError):
        await slow
    assert conn.is_closed()


async def test_close_refuses_new_calls_at_once(tnt_dsn: str) -> None:
    conn = await ferrule.connect(tnt_dsn)
    slow = asyncio.ensure_future(conn.call("sleep_for", [0.3, "done"]))  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    closing = asyncio.ensure_future(conn.close(timeout=5))
    await asyncio.sleep(0.05)
    with pytest.raises(ferrule.InterfaceError):
        await conn.ping()  # type: ignore[attr-defined]
    await closing
    assert await slow == ["done"]
