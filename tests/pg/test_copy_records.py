"""copy_records_to_table edge cases: the values written straight from Python objects (ints at
the bounds of their column, floats, str, bool, bytes), the sources records come from, record
shapes, and a COPY that fails or is cancelled half-way."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

import ferrule


@pytest_asyncio.fixture
async def conn(pg_dsn: str) -> AsyncIterator[ferrule.PgConnection]:
    c = await ferrule.connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


@pytest_asyncio.fixture
async def table(conn: ferrule.PgConnection) -> str:
    await conn.execute(
        "CREATE TEMP TABLE cr (s int2, i int4, b int8, r real, d float8, t text, v varchar(5), "
        "f bool, y bytea)"
    )
    return "cr"


class Level(enum.IntEnum):
    HIGH = 3


class Name(str):
    pass


async def test_bounds_and_exact_types_round_trip(conn: ferrule.PgConnection, table: str) -> None:
    rows = [
        (-(2**15), -(2**31), -(2**63), -1.5, -0.0, "", "abcde", False, b""),
        (2**15 - 1, 2**31 - 1, 2**63 - 1, 2.0**127, float("inf"), "ünï 🎉", "x", True, b"\0\xff"),
        # Subclasses and other accepted forms take the general path.
        (Level.HIGH, 7, Level.HIGH, 2, 5, Name("n"), Name("v"), True, bytearray(b"a")),
        (None, None, None, None, None, None, None, None, memoryview(b"mv")),
    ]
    assert await conn.copy_records_to_table(table, records=rows) == "COPY 4"
    got = [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY s NULLS LAST")]
    assert got[0] == rows[0]
    assert got[1] == (3, 7, 3, 2.0, 5.0, "n", "v", True, b"a")
    assert got[2] == rows[1]
    assert got[3] == (None,) * 8 + (b"mv",)


@pytest.mark.parametrize(
    ("column", "value", "error", "match"),
    [
        ("s", 2**15, ferrule.DataError, "out of range for smallint"),
        ("i", -(2**31) - 1, ferrule.DataError, "out of range for integer"),
        ("b", 2**63, ferrule.DataError, "out of range for bigint"),
        ("r", 1e39, ferrule.DataError, "out of range for real"),
        ("i", True, ferrule.DataError, "bool cannot be sent as integer"),
        ("i", 1.5, ferrule.DataError, "float cannot be sent as integer"),
        ("t", "a\0b", ferrule.DataError, "NUL"),
        ("t", "\ud800", TypeError, "surrogate"),
        ("d", "1.5", ferrule.DataError, "str cannot be sent as double precision"),
        ("y", "text", ferrule.DataError, "str cannot be sent as bytea"),
        ("f", 1, ferrule.DataError, "int cannot be sent as boolean"),
        ("t", object(), TypeError, "cannot bind a value of type object"),
    ],
)
async def test_bad_values_name_record_and_column(
    conn: ferrule.PgConnection, table: str, column: str, value: Any, error: type, match: str
) -> None:
    fine = {"s": 1, "i": 1, "b": 1, "r": 1.0, "d": 1.0, "t": "x", "v": "x", "f": True, "y": b""}
    records = [(fine[column],)] * 7 + [(value,)]
    with pytest.raises(error, match=rf"record 7[:,] column 1 \({column}\): .*{match}"):
        await conn.copy_records_to_table(table, records=records, columns=[column])
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_varchar_length_is_the_servers_check(conn: ferrule.PgConnection, table: str) -> None:
    with pytest.raises(ferrule.StringDataRightTruncationError):
        await conn.copy_records_to_table(table, records=[("toolong",)], columns=["v"])
    assert await conn.fetchval("SELECT 1") == 1


async def test_sources_and_record_shapes(conn: ferrule.PgConnection, table: str) -> None:
    cols = ["i", "t"]

    async def agen() -> Any:
        for i in range(3):
            yield [i, f"a{i}"]

    fetched = await conn.fetch("SELECT g AS i, 'r' || g AS t FROM generate_series(10, 12) g")
    sources: list[Any] = [
        [(0, "l0"), [1, "l1"]],
        ((0, "t0"), (1, "t1")),
        ((i, f"g{i}") for i in range(2)),
        iter([(5, "it")]),
        {(7, "set")},
        agen(),
        fetched,
        [],
        (),
    ]
    counts = [
        await conn.copy_records_to_table(table, records=source, columns=cols) for source in sources
    ]
    assert counts == [f"COPY {n}" for n in (2, 2, 2, 1, 1, 3, 3, 0, 0)]
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 14
    assert await conn.fetchval(f"SELECT t FROM {table} WHERE i = 12") == "r12"


async def test_wrong_record_shapes(conn: ferrule.PgConnection, table: str) -> None:
    cols = ["i", "t"]
    with pytest.raises(ferrule.InterfaceError, match="record 2 has 1 values for 2 columns"):
        await conn.copy_records_to_table(table, records=[(1, "a")] * 2 + [(1,)], columns=cols)
    with pytest.raises(TypeError, match="record 1 is not a sequence"):
        await conn.copy_records_to_table(table, records=[(1, "a"), 5], columns=cols)
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_large_values_and_many_batches(conn: ferrule.PgConnection, table: str) -> None:
    big = "x" * (3 << 20)
    records = [(i, big if i % 50_000 == 0 else f"t{i}") for i in range(200_000)]
    status = await conn.copy_records_to_table(table, records=records, columns=["b", "t"])
    assert status == "COPY 200000"
    total, longest = await conn.fetchrow(f"SELECT sum(b), max(length(t)) FROM {table}")
    assert (total, longest) == (sum(range(200_000)), 3 << 20)


async def test_a_failing_source_aborts_the_copy(conn: ferrule.PgConnection, table: str) -> None:
    def source() -> Any:
        for i in range(100_000):
            if i == 60_000:
                raise RuntimeError("source broke")
            yield (i,)

    with pytest.raises(RuntimeError, match="source broke"):
        await conn.copy_records_to_table(table, records=source(), columns=["i"])
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_cancelled_copy_leaves_the_connection_usable(
    conn: ferrule.PgConnection, table: str
) -> None:
    async def slow() -> Any:
        for i in range(1_000_000):
            if i % 10_000 == 0:
                await asyncio.sleep(0.001)
            yield (i,)

    task = asyncio.ensure_future(conn.copy_records_to_table(table, records=slow(), columns=["i"]))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await conn.fetchval("SELECT 5") == 5
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_copy_through_a_pooled_connection_and_in_a_transaction(pg_dsn: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TEMP TABLE pc (i int8, t text)")
            async with conn.transaction():
                status = await conn.copy_records_to_table(
                    "pc", records=[(i, str(i)) for i in range(10_000)]
                )
                assert status == "COPY 10000"
            assert await conn.fetchval("SELECT sum(i) FROM pc") == sum(range(10_000))
            with pytest.raises(ferrule.DataError):
                async with conn.transaction():
                    await conn.copy_records_to_table("pc", records=[(1, "ok"), ("x", "bad")])
            assert await conn.fetchval("SELECT count(*) FROM pc") == 10_000


async def test_text_codec_column_is_refused_clearly(conn: ferrule.PgConnection, table: str) -> None:
    await conn.set_type_codec(
        "float8", schema="pg_catalog", encoder=str, decoder=float, format="text"
    )
    with pytest.raises(ferrule.InterfaceError, match=r'column "d" .*no binary codec'):
        await conn.copy_records_to_table(table, records=[(1.5,)], columns=["d"])
    await conn.reset_type_codec("float8", schema="pg_catalog")
    assert await conn.copy_records_to_table(table, records=[(1.5,)], columns=["d"]) == "COPY 1"
