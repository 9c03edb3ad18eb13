"""Many concurrent calls on one connection are pipelined and each gets its own result."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

import ferrule
from tests.common.pg_cluster import PgCluster
from tests.pg.helpers import LatencyProxy


async def test_concurrent_calls_get_their_own_results(conn: ferrule.PgConnection) -> None:
    async def one(i: int) -> tuple[int, str]:
        row = await conn.fetchrow("SELECT $1::int AS i, repeat('x', $1::int % 50) AS s", i)
        assert row is not None
        return row["i"], row["s"]

    results = await asyncio.gather(*(one(i) for i in range(2000)))
    assert results == [(i, "x" * (i % 50)) for i in range(2000)]


async def test_mixed_calls_concurrently(conn: ferrule.PgConnection, pg_table: str) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (id int PRIMARY KEY)")
    stmt = await conn.prepare("SELECT $1::int * 3")

    async def call(i: int) -> object:
        kind = i % 6
        if kind == 0:
            return await conn.fetchval("SELECT $1::text", str(i))
        if kind == 1:
            return len(await conn.fetch("SELECT generate_series(1, $1::int)", i % 100))
        if kind == 2:
            return await conn.execute(f"INSERT INTO {pg_table} VALUES ($1)", i)
        if kind == 3:
            return await stmt.fetchval(i)
        if kind == 4:
            await conn.executemany(f"INSERT INTO {pg_table} VALUES ($1)", [(-i,), (-i - 100000,)])
            return "many"
        try:
            await conn.fetchval("SELECT 1 / ($1::int - $1::int)", i)
        except ferrule.DivisionByZeroError:
            return "div"
        return "no error"

    expected = []
    for i in range(600):
        kind = i % 6
        expected.append([str(i), i % 100, "INSERT 0 1", i * 3, "many", "div"][kind])
    assert await asyncio.gather(*(call(i) for i in range(600))) == expected
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == 100 + 200


async def test_pipelining_overlaps_round_trips(pg_cluster: PgCluster) -> None:
    # Through a link with a 60 ms round trip: 20 calls one after another take 20 round trips;
    # sent together they share a few, because requests are written without waiting for
    # earlier answers.
    proxy = LatencyProxy(pg_cluster.host, pg_cluster.port, delay=0.03)
    await proxy.start()
    try:
        conn = await ferrule.connect(pg_cluster.dsn(port=proxy.port, sslmode="disable"))
        try:
            await conn.fetchval("SELECT $1::int", 0)  # the statement is now cached
            started = time.monotonic()
            for i in range(20):
                assert await conn.fetchval("SELECT $1::int", i) == i
            sequential = time.monotonic() - started
            started = time.monotonic()
            got = await asyncio.gather(*(conn.fetchval("SELECT $1::int", i) for i in range(20)))
            pipelined = time.monotonic() - started
        finally:
            await conn.close()
    finally:
        await proxy.close()
    assert got == list(range(20))
    assert sequential >= 20 * 0.06
    assert pipelined < 4 * 0.06, (sequential, pipelined)


async def test_never_another_operation_in_progress(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():
        results = await asyncio.gather(
            *(conn.fetchval("SELECT $1::int", i) for i in range(100)),
            conn.execute("SELECT pg_sleep(0.01)"),
        )
    assert results[:100] == list(range(100))


async def test_concurrent_cursors_and_queries(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():

        async def drain(n: int) -> list[int]:
            return [
                r[0] async for r in conn.cursor("SELECT generate_series(1, $1::int)", n, prefetch=7)
            ]

        async def query(i: int) -> int:
            return await conn.fetchval("SELECT $1::int", i)  # type: ignore[no-any-return]

        got = await asyncio.gather(drain(50), query(1), drain(30), query(2))
    assert got == [list(range(1, 51)), 1, list(range(1, 31)), 2]


async def test_errors_do_not_disturb_neighbours(conn: ferrule.PgConnection) -> None:
    async def call(i: int) -> object:
        if i % 3 == 0:
            with pytest.raises(ferrule.UndefinedTableError):
                await conn.fetch(f"SELECT * FROM missing_table_{i}")
            return None
        return await conn.fetchval("SELECT $1::int", i)

    got = await asyncio.gather(*(call(i) for i in range(300)))
    assert got == [None if i % 3 == 0 else i for i in range(300)]


async def test_many_connections_at_once(pg_dsn: str) -> None:
    conns = await asyncio.gather(*(ferrule.connect(pg_dsn) for _ in range(30)))
    try:
        pids = await asyncio.gather(*(c.fetchval("SELECT pg_backend_pid()") for c in conns))
        assert len(set(pids)) == 30
        assert pids == [c.get_server_pid() for c in conns]
        random.shuffle(conns)
        sums = await asyncio.gather(
            *(c.fetchval("SELECT $1::int + 1", i) for i, c in enumerate(conns))
        )
        assert sums == [i + 1 for i in range(30)]
    finally:
        await asyncio.gather(*(c.close() for c in conns))


async def test_concurrent_calls_reach_the_server_in_call_order(
    conn: ferrule.PgConnection, pg_table: str
) -> None:
    # Calls made in one instant, some needing a Parse first (new SQL text), some not: the
    # server must see them in the order they were made, whichever worker runs them first.
    await conn.execute(f"CREATE TABLE {pg_table} (id serial PRIMARY KEY, v int)")
    cached = f"INSERT INTO {pg_table} (v) VALUES ($1)"
    await conn.execute(cached, -1)

    def insert(i: int) -> object:
        if i % 7 == 0:
            # A new text each time: a cache miss, so a Parse round trip before the Bind.
            return conn.execute(f"INSERT INTO {pg_table} (v) VALUES ($1) -- {i}", i)
        if i % 7 == 1:
            return conn.fetchval(f"INSERT INTO {pg_table} (v) VALUES ($1) RETURNING v", i)
        return conn.execute(cached, i)

    for _ in range(3):
        await conn.execute(f"TRUNCATE {pg_table}")
        await asyncio.gather(*(insert(i) for i in range(300)))
        order = [r["v"] for r in await conn.fetch(f"SELECT v FROM {pg_table} ORDER BY id")]
        assert order == list(range(300))


async def test_a_call_waiting_its_turn_times_out_alone(conn: ferrule.PgConnection) -> None:
    slow = asyncio.ensure_future(conn.fetchval("SELECT pg_sleep(0.5)::text || $1::text", "x"))
    await asyncio.sleep(0.05)
    with pytest.raises(asyncio.TimeoutError):
        await conn.fetchval("SELECT 1", timeout=0.1)
    assert await slow == "x"
    assert await conn.fetchval("SELECT 2") == 2
