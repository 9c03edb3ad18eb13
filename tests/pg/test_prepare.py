"""Prepared statements: the same fetch methods, introspection, reuse."""

from __future__ import annotations

import pytest

import ferrule


async def test_fetch_methods(conn: ferrule.PgConnection) -> None:
    stmt = await conn.prepare("SELECT g, g * $1::int AS m FROM generate_series(1, $2::int) g")
    assert isinstance(stmt, ferrule.PreparedStatement)
    rows = await stmt.fetch(10, 3)
    assert [tuple(r) for r in rows] == [(1, 10), (2, 20), (3, 30)]
    row = await stmt.fetchrow(2, 2)
    assert row is not None and row["m"] == 2
    assert await stmt.fetchval(5, 1, column=1) == 5
    assert await stmt.fetchrow(1, 0) is None
    assert await stmt.execute(1, 4) == "SELECT 4"


async def test_introspection(conn: ferrule.PgConnection) -> None:
    stmt = await conn.prepare("SELECT $1::int AS a, $2::text AS b, now() AS c")
    assert stmt.get_query() == "SELECT $1::int AS a, $2::text AS b, now() AS c"
    assert stmt.get_parameters() == [23, 25]
    assert stmt.get_attributes() == [("a", 23), ("b", 25), ("c", 1184)]


async def test_reuse_many_times(conn: ferrule.PgConnection) -> None:
    stmt = await conn.prepare("SELECT $1::int + 1")
    for i in range(200):
        assert await stmt.fetchval(i) == i + 1


async def test_prepare_error(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.UndefinedTableError):
        await conn.prepare("SELECT * FROM no_table_here")
    with pytest.raises(ferrule.PostgresSyntaxError) as info:
        await conn.prepare("SELECT FROM WHERE")
    assert info.value.position is not None


async def test_argument_errors(conn: ferrule.PgConnection) -> None:
    stmt = await conn.prepare("SELECT $1::int")
    with pytest.raises(ferrule.InterfaceError, match="expects 1 argument, 0 were passed"):
        await stmt.fetchval()
    with pytest.raises(ferrule.DataError, match=r"\$1 \(integer\)"):
        await stmt.fetchval("x")
    assert await stmt.fetchval(3) == 3


async def test_statement_cursor(conn: ferrule.PgConnection) -> None:
    stmt = await conn.prepare("SELECT g FROM generate_series(1, $1::int) g")
    async with conn.transaction():
        got = [r[0] async for r in stmt.cursor(25, prefetch=7)]
    assert got == list(range(1, 26))


async def test_statement_survives_cache_eviction(pg_dsn: str) -> None:
    conn = await ferrule.connect(pg_dsn, statement_cache_size=1)
    try:
        stmt = await conn.prepare("SELECT $1::text || '!'")
        for i in range(5):
            await conn.fetchval(f"SELECT {i}")
        assert await stmt.fetchval("still") == "still!"
    finally:
        await conn.close()
