"""LISTEN/NOTIFY, server notices and termination listeners."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import ferrule


@pytest.fixture
async def conn(pg_dsn: str) -> Any:
    c = await ferrule.connect(pg_dsn, sslmode="disable")
    yield c
    if not c.is_closed():
        await c.close()


async def test_listener_callbacks_and_payloads(conn: Any, pg_dsn: str) -> None:
    got: list[tuple[Any, ...]] = []
    done = asyncio.Event()

    def on_note(c: Any, pid: int, channel: str, payload: str) -> None:
        got.append((c is conn, channel, payload))
        if len(got) == 3:
            done.set()

    await conn.add_listener("jobs chan", on_note)
    other = await ferrule.connect(pg_dsn, sslmode="disable")
    for payload in ("a", "it's $$ -- odd", "ünï"):
        await other.execute("SELECT pg_notify($1, $2)", "jobs chan", payload)
    await asyncio.wait_for(done.wait(), 5)
    assert got == [
        (True, "jobs chan", "a"),
        (True, "jobs chan", "it's $$ -- odd"),
        (True, "jobs chan", "ünï"),
    ]
    await conn.remove_listener("jobs chan", on_note)
    await other.execute("SELECT pg_notify($1, $2)", "jobs chan", "late")
    await asyncio.sleep(0.2)
    assert len(got) == 3
    await other.close()


async def test_async_callback_and_iterator(conn: Any, pg_dsn: str) -> None:
    seen = asyncio.Queue[str]()

    async def on_note(c: Any, pid: int, channel: str, payload: str) -> None:
        await seen.put(payload)

    await conn.add_listener("c1", on_note)
    other = await ferrule.connect(pg_dsn, sslmode="disable")
    await other.execute("NOTIFY c1, 'hello'")
    assert await asyncio.wait_for(seen.get(), 5) == "hello"
    async with conn.notifications("c2") as it:
        await other.execute("SELECT pg_notify('c2', 'x'), pg_notify('c2', 'y')")
        first = await asyncio.wait_for(it.__anext__(), 5)
        second = await asyncio.wait_for(it.__anext__(), 5)
    assert (first[1:], second[1:]) == (("c2", "x"), ("c2", "y"))
    await other.close()


async def test_notices_reach_log_listeners(conn: Any) -> None:
    notices: list[Any] = []
    conn.add_log_listener(lambda c, msg: notices.append(msg))
    await conn.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END $$")
    await asyncio.sleep(0.1)
    assert [n.message for n in notices] == ["hello 42", "careful"]
    assert notices[0].severity == "NOTICE"
    assert isinstance(notices[0], ferrule.Error)


async def test_termination_listener_runs_once(conn: Any, pg_dsn: str) -> None:
    ended = asyncio.Event()
    calls: list[Any] = []

    def on_end(c: Any) -> None:
        calls.append(c)
        ended.set()

    conn.add_termination_listener(on_end)
    killer = await ferrule.connect(pg_dsn, sslmode="disable")
    await killer.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())
    await asyncio.wait_for(ended.wait(), 5)
    await asyncio.sleep(0.1)
    assert calls == [conn]
    assert conn.is_closed()
    await killer.close()
