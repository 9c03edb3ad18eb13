"""Pipelines (many statements, one round trip) and scrollable cursors."""

from __future__ import annotations

from typing import Any

import pytest

import ferrule


@pytest.fixture
async def conn(pg_dsn: str) -> Any:
    c = await ferrule.connect(pg_dsn, sslmode="disable")
    yield c
    await c.close()


async def test_pipeline_results_in_order(conn: Any) -> None:
    results = await conn.pipeline(
        [("SELECT $1::int AS a", (1,)), "SELECT 'x' AS b", ("SELECT generate_series(1, $1)", (3,))]
    )
    assert [[tuple(r) for r in rows] for rows in results] == [[(1,)], [("x",)], [(1,), (2,), (3,)]]


async def test_pipeline_errors_independent_or_in_place(conn: Any) -> None:
    await conn.execute("CREATE TEMP TABLE pl (i int PRIMARY KEY)")
    items = [
        ("INSERT INTO pl VALUES ($1)", (1,)),
        ("INSERT INTO pl VALUES ($1)", (1,)),
        ("INSERT INTO pl VALUES ($1)", (2,)),
    ]
    with pytest.raises(ferrule.UniqueViolationError):
        await conn.pipeline(items)
    assert await conn.fetchval("SELECT count(*) FROM pl") == 2
    out = await conn.pipeline(
        [("INSERT INTO pl VALUES ($1) RETURNING i", (3,)), ("SELECT 1/0", ())],
        return_exceptions=True,
    )
    assert out[0][0]["i"] == 3
    assert isinstance(out[1], ferrule.DivisionByZeroError)


async def test_atomic_pipeline_all_or_nothing(conn: Any) -> None:
    await conn.execute("CREATE TEMP TABLE pa (i int PRIMARY KEY)")
    with pytest.raises(ferrule.UniqueViolationError):
        await conn.pipeline(
            [("INSERT INTO pa VALUES ($1)", (1,)), ("INSERT INTO pa VALUES ($1)", (1,))],
            atomic=True,
        )
    assert await conn.fetchval("SELECT count(*) FROM pa") == 0
    out = await conn.pipeline(
        [("INSERT INTO pa VALUES ($1) RETURNING i", (5,)), ("SELECT count(*) FROM pa", ())],
        atomic=True,
    )
    assert out[0][0][0] == 5 and out[1][0][0] == 1


async def test_pipeline_bad_item_is_clear(conn: Any) -> None:
    with pytest.raises(TypeError, match="statement 1"):
        await conn.pipeline([("SELECT $1::int", (1,)), ("SELECT $1::int", (object(),))])
    with pytest.raises(ferrule.InterfaceError, match="statement 0"):
        await conn.pipeline([("SELECT $1::int", (1, 2))])


async def test_scroll_cursor_moves_both_ways(conn: Any) -> None:
    async with conn.transaction():
        async with conn.scroll_cursor("SELECT i FROM generate_series(1, $1::int) i", 10) as cur:
            assert (await cur.last())["i"] == 10
            assert (await cur.first())["i"] == 1
            assert [r["i"] for r in await cur.fetch(3)] == [2, 3, 4]
            assert (await cur.prior())["i"] == 3
            assert (await cur.absolute(-2))["i"] == 9
            assert (await cur.relative(-3))["i"] == 6
            assert [r["i"] for r in await cur.fetch_backward(2)] == [5, 4]
            assert await cur.forward(3) == 3
            assert (await cur.next())["i"] == 8
            assert await cur.backward(100) == 7
            assert await cur.absolute(11) is None
    with pytest.raises(ferrule.InterfaceError, match="transaction"):
        await conn.scroll_cursor("SELECT 1")
    async with conn.transaction():
        cur = await conn.scroll_cursor("SELECT 1")
        with pytest.raises(ferrule.InterfaceError, match="int"):
            await cur.fetch("1; DROP TABLE x")  # type: ignore[arg-type]


async def test_stale_statement_outside_and_inside_transaction(conn: Any) -> None:
    await conn.execute("CREATE TEMP TABLE st (a int)")
    await conn.execute("INSERT INTO st VALUES (1)")
    assert await conn.fetch("SELECT * FROM st") == [(1,)]
    await conn.execute("ALTER TABLE st ADD COLUMN b text DEFAULT 'x'")
    # Outside a transaction: re-prepared once, transparently.
    assert [tuple(r) for r in await conn.fetch("SELECT * FROM st")] == [(1, "x")]
    with pytest.raises(ferrule.FeatureNotSupportedError, match="roll back and run the query"):
        async with conn.transaction():
            await conn.execute("ALTER TABLE st ADD COLUMN c int DEFAULT 7")
            await conn.fetch("SELECT * FROM st")
    # The transaction rolled back; the statement was dropped, so this parses again.
    assert [tuple(r) for r in await conn.fetch("SELECT * FROM st")] == [(1, "x")]
