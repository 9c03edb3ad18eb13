"""Server-side cursors: iteration with prefetch, bounded memory, manual fetch/forward."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

import ferrule
from tests.pg.helpers import rss_bytes

# The query's own unnamed portal is listed too; cursors are named.
OPEN_PORTALS = "SELECT count(*) FROM pg_cursors WHERE name <> ''"


async def test_iterate(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():
        got = [r["g"] async for r in conn.cursor("SELECT g FROM generate_series(1, 1000) g")]
    assert got == list(range(1, 1001))


@pytest.mark.parametrize("prefetch", [1, 2, 7, 100, 1000, 5000])
async def test_prefetch_sizes(conn: ferrule.PgConnection, prefetch: int) -> None:
    async with conn.transaction():
        cur = conn.cursor("SELECT g FROM generate_series(1, $1::int) g", 1000, prefetch=prefetch)
        got = [r[0] async for r in cur]
    assert got == list(range(1, 1001))


async def test_empty_result(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():
        assert [r async for r in conn.cursor("SELECT 1 WHERE false")] == []


async def test_needs_a_transaction(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.InterfaceError, match="needs a transaction"):
        async for _ in conn.cursor("SELECT 1"):
            pass
    with pytest.raises(ferrule.InterfaceError, match="needs a transaction"):
        await conn.cursor("SELECT 1")
    assert await conn.fetchval("SELECT 1") == 1


async def test_bad_prefetch(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.InterfaceError, match="prefetch"):
        conn.cursor("SELECT 1", prefetch=0)


async def test_manual_fetch_fetchrow_forward(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():
        cur = await conn.cursor("SELECT g FROM generate_series(1, 10) g")
        assert isinstance(cur, ferrule.Cursor)
        assert [r[0] for r in await cur.fetch(3)] == [1, 2, 3]
        row = await cur.fetchrow()
        assert row is not None and row[0] == 4
        assert await cur.forward(4) == 4
        assert [r[0] for r in await cur.fetch(5)] == [9, 10]
        assert await cur.fetchrow() is None
        assert await cur.fetch(5) == []
        assert await cur.forward(3) == 0


async def test_manual_fetch_first_row_then_big_batch(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():
        cur = await conn.cursor("SELECT g FROM generate_series(1, 5) g")
        assert [r[0] for r in await cur.fetch(100)] == [1, 2, 3, 4, 5]
        with pytest.raises(ValueError, match="positive"):
            await cur.fetch(0)


async def test_cursor_with_arguments_and_errors(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():
        cur = await conn.cursor("SELECT $1::text || g FROM generate_series(1, 3) g", "n")
        assert [r[0] for r in await cur.fetch(10)] == ["n1", "n2", "n3"]
    with pytest.raises(ferrule.DivisionByZeroError):
        async with conn.transaction():
            async for _ in conn.cursor(
                "SELECT 1 / (g - 3) FROM generate_series(1, 5) g", prefetch=1
            ):
                pass
    assert not conn.is_in_transaction()
    assert await conn.fetchval("SELECT 2") == 2


async def test_breaking_out_closes_the_portal(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():
        async for row in conn.cursor("SELECT g FROM generate_series(1, 100000) g", prefetch=10):
            if row[0] == 15:
                break
        # The abandoned async generator is closed by the loop's finalizer a moment later.
        await asyncio.sleep(0.01)
        assert await conn.fetchval(OPEN_PORTALS) == 0
        # aclose() closes it at once.
        rows = conn.cursor("SELECT g FROM generate_series(1, 100000) g", prefetch=10).__aiter__()
        assert (await rows.__anext__())[0] == 1
        await rows.aclose()  # type: ignore[attr-defined]
        assert await conn.fetchval(OPEN_PORTALS) == 0
        assert await conn.fetchval("SELECT 3") == 3


async def test_closed_cursor_returns_nothing(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():
        cur = await conn.cursor("SELECT g FROM generate_series(1, 10) g")
        await cur.fetch(2)
        cur.close()
        assert await cur.fetch(5) == []
        assert await conn.fetchval(OPEN_PORTALS) == 0


async def test_two_cursors_interleaved(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():
        a = await conn.cursor("SELECT g FROM generate_series(1, 6) g")
        b = await conn.cursor("SELECT -g FROM generate_series(1, 6) g")
        got = []
        for _ in range(3):
            got += [r[0] for r in await a.fetch(2)]
            got += [r[0] for r in await b.fetch(2)]
    assert got == [1, 2, -1, -2, 3, 4, -3, -4, 5, 6, -5, -6]


async def test_million_rows_in_bounded_memory(conn: ferrule.PgConnection) -> None:
    # Each row carries 100 bytes of text: ~100 MB fetched in total. RSS must stay near flat.
    sql = "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 1000000) g"
    gc.collect()
    start = rss_bytes()
    peak = start
    count = total = 0
    started = time.monotonic()
    async with conn.transaction():
        async for row in conn.cursor(sql, prefetch=2000):
            count += 1
            total += row[0]
            if count % 50000 == 0:
                peak = max(peak, rss_bytes())
    elapsed = time.monotonic() - started
    assert count == 1_000_000
    assert total == 1_000_000 * 1_000_001 // 2
    growth = peak - start
    assert growth < 40 * 1024 * 1024, f"RSS grew by {growth / 2**20:.1f} MiB over {elapsed:.1f}s"
