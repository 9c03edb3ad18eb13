"""Through pgbouncer in transaction pooling mode with `statement_cache_size=0`: queries,
concurrent calls, transactions, executemany, cursors, errors, type lookups, and more client
connections than server connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

import ferrule
from tests.common import server_unavailable
from tests.common.pg_cluster import ClusterUnavailableError
from tests.common.pgbouncer import PgBouncer, get_pgbouncer


@pytest.fixture(scope="session")
def bouncer(pg_cluster: object) -> PgBouncer:
    try:
        return get_pgbouncer()
    except ClusterUnavailableError as exc:
        server_unavailable(f"pgbouncer unavailable: {exc}")


@pytest_asyncio.fixture
async def conn(bouncer: PgBouncer) -> AsyncIterator[ferrule.PgConnection]:
    c = await ferrule.connect(bouncer.dsn())
    try:
        yield c
    finally:
        await c.close()


async def test_queries_and_parameters(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT 1") == 1
    assert await conn.fetchval("SELECT $1::int + $2", 2, 3) == 5
    rows = await conn.fetch("SELECT g, 'n' || g AS s FROM generate_series(1, 3) g")
    assert [tuple(r) for r in rows] == [(1, "n1"), (2, "n2"), (3, "n3")]
    assert await conn.fetchrow("SELECT 1 WHERE false") is None
    # Types beyond the built-ins are looked up through pgbouncer too.
    assert await conn.fetchval("SELECT '[1,5)'::int4range") == ferrule.Range(1, 5)
    assert await conn.execute("SELECT 1") == "SELECT 1"


async def test_every_query_parses_again(conn: ferrule.PgConnection) -> None:
    # No named statements exist: each execution sends Parse with its Bind.
    stmt = await conn.prepare("SELECT $1::text || 'x'")
    assert [await stmt.fetchval(str(i)) for i in range(5)] == [f"{i}x" for i in range(5)]
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE '__ferrule%'"
        )
        == 0
    )


async def test_concurrent_calls_on_one_connection(conn: ferrule.PgConnection) -> None:
    got = await asyncio.gather(*(conn.fetchval("SELECT $1::int * 2", i) for i in range(100)))
    assert got == [i * 2 for i in range(100)]


async def test_transactions(conn: ferrule.PgConnection, pg_table: str) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (v int PRIMARY KEY)")
    async with conn.transaction():
        await conn.execute(f"INSERT INTO {pg_table} VALUES ($1)", 1)
        # A transaction keeps one server connection: temp objects and SET LOCAL work.
        await conn.execute("SET LOCAL statement_timeout = '5s'")
        assert await conn.fetchval("SHOW statement_timeout") == "5s"
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {pg_table} VALUES ($1)", 2)
    with pytest.raises(ZeroDivisionError):
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {pg_table} VALUES ($1)", 3)
            raise ZeroDivisionError
    assert await conn.fetchval(f"SELECT array_agg(v ORDER BY v) FROM {pg_table}") == [1, 2]
    async with conn.transaction():
        cursor = await conn.cursor(f"SELECT v FROM {pg_table} ORDER BY v")
        assert [r[0] for r in await cursor.fetch(5)] == [1, 2]


async def test_executemany(conn: ferrule.PgConnection, pg_table: str) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (v int PRIMARY KEY, s text)")
    await conn.executemany(
        f"INSERT INTO {pg_table} VALUES ($1, $2)", [(i, str(i)) for i in range(200)]
    )
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == 200
    # All or nothing: a failing row leaves no row of the batch.
    with pytest.raises(ferrule.UniqueViolationError):
        await conn.executemany(f"INSERT INTO {pg_table} VALUES ($1, $2)", [(500, "a"), (1, "b")])
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table} WHERE v = 500") == 0


async def test_errors_leave_the_connection_usable(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.PostgresSyntaxError):
        await conn.fetch("SELEC 1")
    with pytest.raises(ferrule.DivisionByZeroError):
        await conn.fetchval("SELECT 1 / $1::int", 0)
    with pytest.raises(ferrule.InterfaceError, match=r"expects 1 argument"):
        await conn.fetchval("SELECT $1::int")
    async with conn.transaction():
        with pytest.raises(ferrule.DivisionByZeroError):
            async with conn.transaction():
                await conn.fetchval("SELECT 1 / 0")
        assert await conn.fetchval("SELECT 2") == 2
    assert await conn.fetchval("SELECT 3") == 3


async def test_more_clients_than_server_connections(bouncer: PgBouncer, pg_table: str) -> None:
    conns = [await ferrule.connect(bouncer.dsn()) for _ in range(3 * bouncer.pool_size)]
    try:
        await conns[0].execute(f"CREATE TABLE {pg_table} (c int, v int)")

        async def work(i: int, c: ferrule.PgConnection) -> None:
            for j in range(10):
                async with c.transaction():
                    await c.execute(f"INSERT INTO {pg_table} VALUES ($1, $2)", i, j)
                    await c.fetchval("SELECT pg_sleep(0.001)")

        await asyncio.gather(*(work(i, c) for i, c in enumerate(conns)))
        assert await conns[0].fetchval(f"SELECT count(*) FROM {pg_table}") == 10 * len(conns)
    finally:
        await asyncio.gather(*(c.close() for c in conns))
