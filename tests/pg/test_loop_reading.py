"""Answers read on the event loop's thread while queries go out one at a time, and the
hand-over to the reader task as soon as they overlap: every answer with its query across the
switches, call order, timeouts and cancellation, notifications, stale statements,
transactions, cursors, pools, a server killed or a connection cut mid-answer, and no
descriptor or loop registration left behind."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import pytest_asyncio

import ferrule
from tests.common.cutproxy import CutProxy
from tests.common.pg_cluster import PgCluster

Connect = Callable[..., Awaitable[ferrule.PgConnection]]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def plain_dsn(pg_cluster: PgCluster) -> str:
    """Without TLS: only plain sockets are read on the loop's thread."""
    return pg_cluster.dsn(sslmode="disable")


@pytest_asyncio.fixture
async def conn(plain_dsn: str) -> AsyncIterator[ferrule.PgConnection]:
    connection = await ferrule.connect(plain_dsn)
    try:
        yield connection
    finally:
        if not connection.is_closed():
            await connection.close(timeout=5)


@pytest.fixture
def connect(plain_dsn: str) -> Iterator[Connect]:
    opened: list[ferrule.PgConnection] = []

    async def _connect() -> ferrule.PgConnection:
        connection = await ferrule.connect(plain_dsn)
        opened.append(connection)
        return connection

    yield _connect
    for connection in opened:
        connection.terminate()


async def test_sequential_and_overlapping_queries_alternate(conn: ferrule.PgConnection) -> None:
    for phase in range(3):
        for i in range(100):
            assert await conn.fetchval("SELECT $1::int + $2::int", phase, i) == phase + i
        got = await asyncio.gather(
            *(conn.fetchval("SELECT $1::int + $2::int", phase, i) for i in range(200))
        )
        assert got == [phase + i for i in range(200)]
        # The first lone query after a burst still gets its own answer.
        assert await conn.fetchval("SELECT $1::text", f"after {phase}") == f"after {phase}"


async def test_call_order_holds_across_the_switch(
    conn: ferrule.PgConnection, pg_table: str
) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (n int)")
    insert = f"INSERT INTO {pg_table} VALUES ($1)"
    for i in range(10):
        await conn.execute(insert, i)
    # Made in this order from one task: they must reach the server in this order.
    calls = [conn.execute(insert, i) for i in range(10, 60)]
    await asyncio.gather(*calls)
    for i in range(60, 70):
        await conn.execute(insert, i)
    rows = await conn.fetch(f"SELECT n FROM {pg_table} ORDER BY ctid")
    assert [r[0] for r in rows] == list(range(70))


async def test_random_mix_keeps_every_answer_with_its_query(conn: ferrule.PgConnection) -> None:
    rng = random.Random(7)

    async def one(tag: int) -> None:
        r = rng.random()
        if r < 0.1:
            with pytest.raises(ferrule.TimeoutError):
                # Far longer than the timeout: a loop stalled by a busy machine cannot see the
                # answer before the timer fires.
                await conn.fetchval("SELECT pg_sleep(2), $1::int", tag, timeout=0.01)
        elif r < 0.2:
            task = asyncio.ensure_future(conn.fetchval("SELECT $1::int", tag))
            await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                assert await task == tag
        else:
            assert await conn.fetchval("SELECT $1::int", tag) == tag

    for round_ in range(40):
        if rng.random() < 0.5:
            for i in range(rng.randint(1, 30)):
                await one(round_ * 1000 + i)
        else:
            await asyncio.gather(*(one(round_ * 1000 + i) for i in range(rng.randint(2, 40))))
    await asyncio.sleep(0.1)
    for i in range(20):
        assert await conn.fetchval("SELECT $1::int", i) == i


async def test_the_loop_watches_the_socket_of_sequential_queries(
    conn: ferrule.PgConnection,
) -> None:
    loop = asyncio.get_running_loop()
    selector = getattr(loop, "_selector", None)
    if selector is None:
        pytest.skip("the loop does not show its registered readers")
    await conn.fetchval("SELECT 1")
    before = set(selector.get_map())
    for _ in range(5):
        await conn.fetchval("SELECT 1")
    assert len(set(selector.get_map()) - before) == 1


async def test_a_lone_query_times_out_and_is_cancelled_on_the_server(
    conn: ferrule.PgConnection,
) -> None:
    for i in range(20):
        assert await conn.fetchval("SELECT $1::int", i) == i
    await conn.fetchval("SELECT pg_sleep($1)", 0.0)
    started = time.monotonic()
    with pytest.raises(ferrule.TimeoutError):
        await conn.fetchval("SELECT pg_sleep($1)", 5.0, timeout=0.2)
    assert 0.15 < time.monotonic() - started < 2.0
    for i in range(20):
        assert await conn.fetchval("SELECT $1::int", i) == i


async def test_a_cancelled_lone_query_leaves_the_connection_in_step(
    conn: ferrule.PgConnection,
) -> None:
    for _ in range(5):
        await conn.fetchval("SELECT pg_sleep($1)", 0.0)
    task = asyncio.ensure_future(conn.fetchval("SELECT pg_sleep($1)", 5.0))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await conn.fetchval("SELECT $1::text", "next") == "next"
    assert time.monotonic() - started < 2.5
    for i in range(20):
        assert await conn.fetchval("SELECT $1::int", i) == i


async def test_notifications_between_lone_queries(connect: Connect) -> None:
    listener = await connect()
    sender = await connect()
    got: list[str] = []
    await listener.add_listener("loop_reading", lambda *args: got.append(args[-1]))
    for _ in range(5):
        await listener.fetchval("SELECT 1")
    for i in range(5):
        await sender.execute("SELECT pg_notify('loop_reading', $1)", str(i))
        assert await listener.fetchval("SELECT $1::int", i) == i
    for _ in range(100):
        if len(got) == 5:
            break
        await asyncio.sleep(0.02)
    assert got == [str(i) for i in range(5)]


async def test_stale_statement_between_lone_queries(
    conn: ferrule.PgConnection, pg_table: str
) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (a int)")
    await conn.execute(f"INSERT INTO {pg_table} VALUES (1)")
    sql = f"SELECT * FROM {pg_table}"
    for _ in range(5):
        assert list(await conn.fetchrow(sql)) == [1]
    await conn.execute(f"ALTER TABLE {pg_table} ADD COLUMN b text DEFAULT 'x'")
    # Outside a transaction the statement is prepared again, transparently.
    assert list(await conn.fetchrow(sql)) == [1, "x"]
    for _ in range(5):
        assert list(await conn.fetchrow(sql)) == [1, "x"]
    await conn.execute(f"ALTER TABLE {pg_table} DROP COLUMN b")
    with pytest.raises(ferrule.Error, match="roll back"):
        async with conn.transaction():
            await conn.fetchrow(sql)
    assert list(await conn.fetchrow(sql)) == [1]


async def test_transactions_and_cursors_between_lone_queries(
    conn: ferrule.PgConnection, pg_table: str
) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (n int)")
    for round_ in range(3):
        async with conn.transaction():
            for i in range(10):
                await conn.execute(f"INSERT INTO {pg_table} VALUES ($1)", round_ * 10 + i)
            seen = [r[0] async for r in conn.cursor(f"SELECT n FROM {pg_table}", prefetch=3)]
            assert len(seen) == (round_ + 1) * 10
        assert await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == (round_ + 1) * 10
    with contextlib.suppress(RuntimeError):
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {pg_table} VALUES (-1)")
            raise RuntimeError("roll back")
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table} WHERE n < 0") == 0


async def test_large_answers_and_copy_between_lone_queries(conn: ferrule.PgConnection) -> None:
    for n in (10, 5_000, 100_000, 3):
        for _ in range(3):
            rows = await conn.fetch("SELECT g, repeat('x', 20) FROM generate_series(1, $1) g", n)
            assert len(rows) == n and rows[-1][0] == n
    out: list[bytes] = []

    async def keep(chunk: bytes) -> None:
        out.append(chunk)

    await conn.copy_from_query("SELECT g FROM generate_series(1, 50000) g", output=keep)
    assert b"".join(out).count(b"\n") == 50000
    assert await conn.fetchval("SELECT 1") == 1


async def test_pooled_connections_take_the_same_path(plain_dsn: str) -> None:
    pool = await ferrule.create_pool(plain_dsn, min_size=2, max_size=2)
    try:
        async with pool.acquire() as conn:
            for i in range(50):
                assert await conn.fetchval("SELECT $1::int", i) == i
        got = await asyncio.gather(*(pool.fetchval("SELECT $1::int", i) for i in range(100)))
        assert got == list(range(100))
        async with pool.acquire() as conn:
            for i in range(50):
                assert await conn.fetchval("SELECT $1::int", i) == i
    finally:
        await pool.close()


async def test_server_killed_during_a_lone_query(pg_cluster: PgCluster, connect: Connect) -> None:
    conn = await connect()
    for _ in range(10):
        await conn.fetchval("SELECT pg_sleep($1)", 0.0)
    call = asyncio.ensure_future(conn.fetchval("SELECT pg_sleep($1)", 10.0))
    await asyncio.sleep(0.2)
    killed = time.monotonic()
    pid = conn.get_server_pid()
    await asyncio.to_thread(pg_cluster.psql, "SELECT pg_terminate_backend(:'pid')", pid=str(pid))
    with pytest.raises(ferrule.ConnectionLostError):
        await call
    assert time.monotonic() - killed < 1.0
    assert conn.is_closed()


async def test_connection_cut_inside_lone_answers(pg_local_cluster: PgCluster) -> None:
    proxy = CutProxy(pg_local_cluster.host, pg_local_cluster.port)
    await proxy.start()
    try:
        for cut in range(900, 2400, 37):
            proxy.cut_at = cut
            try:
                conn = await ferrule.connect(
                    pg_local_cluster.dsn(host="127.0.0.1", port=proxy.port, sslmode="disable")
                )
            except ferrule.Error:
                continue
            started = time.monotonic()
            with pytest.raises((ferrule.ConnectionLostError, ferrule.ConnectionClosedError)):
                for i in range(200):
                    assert await conn.fetchval("SELECT $1::text", f"v{i}", timeout=5) == f"v{i}"
            assert time.monotonic() - started < 2
            assert conn.is_closed()
    finally:
        await proxy.close()


async def test_no_descriptor_or_registration_left_behind(plain_dsn: str) -> None:
    loop = asyncio.get_running_loop()
    selector = getattr(loop, "_selector", None)
    registered = len(selector.get_map()) if selector is not None else 0
    await (await ferrule.connect(plain_dsn)).close()
    before = open_fds()
    for n in range(30):
        conn = await ferrule.connect(plain_dsn)
        for _ in range(5):
            await conn.fetchval("SELECT 1")
        if n % 2 == 0:
            await conn.close()
        else:
            conn.terminate()
        del conn
    await asyncio.sleep(0.2)
    gc.collect()
    await asyncio.sleep(0.1)
    assert open_fds() <= before + 2
    if selector is not None:
        assert len(selector.get_map()) <= registered + 1
