"""The LRU statement cache: reuse, eviction, size 0 (no named statements), schema changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

import ferrule

Connect = Callable[..., Awaitable[ferrule.PgConnection]]

NAMED = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE '__ferrule_%'"


async def _named_statements(conn: ferrule.PgConnection) -> int:
    # Runs through the cache itself, so it counts as one of the statements.
    return int(await conn.fetchval(NAMED))


async def test_statements_are_reused(connect: Connect) -> None:
    conn = await connect()
    for i in range(20):
        assert await conn.fetchval("SELECT $1::int * 2", i) == i * 2
    assert await _named_statements(conn) == 2
    listing = "SELECT statement FROM pg_prepared_statements"
    stmts = await conn.fetch(listing)
    assert sorted(r[0] for r in stmts) == sorted(["SELECT $1::int * 2", NAMED, listing])


async def test_lru_evicts_and_closes_on_the_server(connect: Connect) -> None:
    conn = await connect(statement_cache_size=3)
    for i in range(10):
        assert await conn.fetchval(f"SELECT {i}") == i
    # The evicted statements were closed on the server; at most 3 remain (NAMED is one).
    assert await _named_statements(conn) <= 3
    await conn.fetchval("SELECT 9")  # still cached: no new statement
    assert await _named_statements(conn) <= 3


async def test_recently_used_statement_survives(connect: Connect) -> None:
    conn = await connect(statement_cache_size=3)
    await conn.fetchval("SELECT 'keep'")
    for i in range(5):
        await conn.fetchval("SELECT 'keep'")
        await conn.fetchval(f"SELECT {i}")
    stmts = await conn.fetch("SELECT statement FROM pg_prepared_statements")
    assert "SELECT 'keep'" in {r[0] for r in stmts}


async def test_cache_size_zero_uses_no_named_statements(connect: Connect, pg_table: str) -> None:
    conn = await connect(statement_cache_size=0)
    await conn.execute(f"CREATE TABLE {pg_table} (id int, v text)")
    for i in range(5):
        await conn.execute(f"INSERT INTO {pg_table} VALUES ($1, $2)", i, str(i))
    await conn.executemany(f"INSERT INTO {pg_table} VALUES ($1, $2)", [(9, "9"), (10, "10")])
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == 7
    stmt = await conn.prepare(f"SELECT v FROM {pg_table} WHERE id = $1")
    assert await stmt.fetchval(3) == "3"
    async with conn.transaction():
        rows = [r async for r in conn.cursor(f"SELECT id FROM {pg_table} ORDER BY id", prefetch=2)]
    assert [r[0] for r in rows] == [0, 1, 2, 3, 4, 9, 10]
    assert await conn.fetchval("SELECT count(*) FROM pg_prepared_statements") == 0


async def test_cache_size_zero_from_the_url(pg_dsn: str) -> None:
    conn = await ferrule.connect(pg_dsn + "?statement_cache_size=0")
    try:
        assert await conn.fetchval("SELECT $1::text", "x") == "x"
        assert await conn.fetchval("SELECT count(*) FROM pg_prepared_statements") == 0
    finally:
        await conn.close()


async def test_clear_statement_cache(connect: Connect) -> None:
    conn = await connect()
    for i in range(5):
        await conn.fetchval(f"SELECT {i}")
    conn.clear_statement_cache()
    # The Close messages are queued before the next query.
    assert await _named_statements(conn) == 1


async def test_schema_change_under_a_cached_statement(connect: Connect, pg_table: str) -> None:
    conn = await connect()
    await conn.execute(f"CREATE TABLE {pg_table} (a int)")
    await conn.execute(f"INSERT INTO {pg_table} VALUES (1)")
    query = f"SELECT * FROM {pg_table}"
    assert list(await conn.fetchrow(query) or ()) == [1]
    await conn.execute(f"ALTER TABLE {pg_table} ADD COLUMN b text DEFAULT 'x'")
    # Outside a transaction the statement is prepared again, transparently.
    assert list(await conn.fetchrow(query) or ()) == [1, "x"]
    await conn.execute(f"ALTER TABLE {pg_table} ALTER COLUMN a TYPE bigint")
    assert list(await conn.fetchrow(query) or ()) == [1, "x"]


async def test_schema_change_inside_a_transaction(connect: Connect, pg_table: str) -> None:
    conn = await connect()
    await conn.execute(f"CREATE TABLE {pg_table} (a int)")
    query = f"SELECT * FROM {pg_table}"
    await conn.fetch(query)
    with pytest.raises(ferrule.FeatureNotSupportedError, match="cached plan"):
        async with conn.transaction():
            await conn.execute(f"ALTER TABLE {pg_table} ADD COLUMN b int")
            await conn.fetch(query)
    assert not conn.is_in_transaction()
    assert await conn.fetch(query) == []
