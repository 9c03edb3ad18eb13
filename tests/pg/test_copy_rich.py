"""copy_records_to_table with rich column types: ranges, multiranges, composites, hstore,
domains, enums, geometric and bit-string types and arrays of them, encoded by the same typed
encoders as query parameters; and the clear refusals (a type without a binary codec, a text
literal where binary COPY needs the object form, a wrong value named by record and column)."""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

import ferrule
from ferrule import Box, Circle, Path, Point, Polygon, Range

UTC = dt.timezone.utc


@pytest_asyncio.fixture
async def conn(pg_dsn: str) -> AsyncIterator[ferrule.PgConnection]:
    c = await ferrule.connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


@pytest_asyncio.fixture
async def kinds(conn: ferrule.PgConnection, pg_table: str) -> AsyncIterator[dict[str, str]]:
    """An enum, a domain with a CHECK, and a composite using both, dropped afterwards."""
    made = {k: f"{pg_table}_{k}" for k in ("mood", "posint", "pair")}
    await conn.execute(f"CREATE TYPE {made['mood']} AS ENUM ('sad', 'ok', 'it''s')")
    await conn.execute(f"CREATE DOMAIN {made['posint']} AS int CHECK (VALUE > 0)")
    await conn.execute(
        f"CREATE TYPE {made['pair']} AS "
        f"(n {made['posint']}, m {made['mood']}, r int4range, tags text[])"
    )
    yield made
    await conn.execute(f"DROP TABLE IF EXISTS {pg_table}")
    for name in reversed(made.values()):
        await conn.execute(f"DROP TYPE IF EXISTS {name} CASCADE")
        await conn.execute(f"DROP DOMAIN IF EXISTS {name} CASCADE")


async def test_every_rich_kind_round_trips(
    conn: ferrule.PgConnection, pg_table: str, kinds: dict[str, str]
) -> None:
    mood, posint, pair = kinds["mood"], kinds["posint"], kinds["pair"]
    await conn.execute(
        f"CREATE TABLE {pg_table} (id int, r int4range, tr tstzrange, nr numrange, "
        f"m {mood}, ms {mood}[], p {posint}, ps {posint}[], c {pair}, cs {pair}[], "
        "pt point, bx box, ci circle, pa path, pg polygon, bits varbit, j jsonb, "
        "rs int4range[])"
    )
    t0 = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    full = (
        1,
        Range(1, 5),
        Range(t0, None),
        Range(Decimal("1.5"), Decimal("2.25"), lower_inc=False, upper_inc=True),
        "it's",
        ["ok", None, "sad"],
        7,
        [1, None, 3],
        (3, "ok", Range(2, 4), ["a", "b"]),
        [(1, "sad", None, []), None],
        Point(1, 2.5),
        Box(Point(1, 1), Point(0, 0)),
        Circle(Point(1, 2), 3.0),
        Path([Point(0, 0), Point(1, 1)], True),
        Polygon([(0, 0), (1, 1), (1, 0)]),
        "10110",
        {"k": [1, None, "x"]},
        [Range(1, 2), Range(empty=True)],
    )
    nulls = (2, *([None] * (len(full) - 1)))
    assert await conn.copy_records_to_table(pg_table, records=[full, nulls]) == "COPY 2"
    rows = await conn.fetch(f"SELECT * FROM {pg_table} ORDER BY id")
    got = tuple(rows[0])
    assert got[:8] == full[:8]
    assert tuple(got[8]) == full[8]
    assert tuple(got[9][0]) == full[9][0] and got[9][1] is None
    assert got[10:] == full[10:]
    assert tuple(rows[1]) == nulls


async def test_records_and_dicts_for_composites_and_copy_between_tables(
    conn: ferrule.PgConnection, pg_table: str, kinds: dict[str, str]
) -> None:
    pair = kinds["pair"]
    await conn.execute(f"CREATE TABLE {pg_table} (id int, c {pair})")
    await conn.copy_records_to_table(
        pg_table, records=[(1, {"n": 5, "tags": ["x"]}), (2, (6, "sad", Range(1, 9), None))]
    )
    fetched = await conn.fetch(f"SELECT * FROM {pg_table} ORDER BY id")
    # Rows read back are Records; they copy straight into another table.
    await conn.execute(f"CREATE TEMP TABLE {pg_table}_copy (LIKE {pg_table})")
    assert await conn.copy_records_to_table(f"{pg_table}_copy", records=fetched) == "COPY 2"
    again = await conn.fetch(f"SELECT * FROM {pg_table}_copy ORDER BY id")
    assert [tuple(r) for r in again] == [tuple(r) for r in fetched]
    assert tuple(again[0]["c"]) == (5, None, None, ["x"])


async def test_hstore_and_multiranges(
    conn: ferrule.PgConnection, pg_table: str, pg_server_version_num: int
) -> None:
    has_hstore = await conn.fetchval("SELECT to_regtype('hstore') IS NOT NULL")
    if not has_hstore:
        pytest.skip("the hstore extension is not installed")
    if pg_server_version_num < 140000:
        pytest.skip("multiranges need PostgreSQL 14")
    await conn.execute(
        f"CREATE TABLE {pg_table} "
        "(id int, h hstore, hs hstore[], mr int4multirange, dm datemultirange)"
    )
    day = dt.date(2024, 1, 1)
    row = (
        1,
        {"k": "v", "ünï": "çødé", "null": None},
        [{"a": "b"}, None],
        [Range(1, 3), Range(5, 7)],
        [Range(day, day + dt.timedelta(days=4))],
    )
    empty = (2, None, None, [], None)
    await conn.copy_records_to_table(pg_table, records=[row, empty])
    rows = await conn.fetch(f"SELECT * FROM {pg_table} ORDER BY id")
    assert [tuple(r) for r in rows] == [row, empty]


async def test_many_rich_rows_from_a_generator_and_an_async_iterable(
    conn: ferrule.PgConnection, pg_table: str, kinds: dict[str, str]
) -> None:
    mood, pair = kinds["mood"], kinds["pair"]
    await conn.execute(f"CREATE TABLE {pg_table} (id int, m {mood}, r int4range, c {pair})")
    moods = ("sad", "ok", "it's")

    def rows(start: int, n: int) -> Any:
        for i in range(start, start + n):
            yield (i, moods[i % 3], Range(i, i + 10), (i + 1, moods[i % 2], None, [str(i)]))

    async def later(start: int, n: int) -> Any:
        for row in rows(start, n):
            yield row

    assert await conn.copy_records_to_table(pg_table, records=rows(0, 30_000)) == "COPY 30000"
    assert await conn.copy_records_to_table(pg_table, records=later(30_000, 5_000)) == "COPY 5000"
    total, ok, last = await conn.fetchrow(
        f"SELECT count(*), count(*) FILTER (WHERE m = 'ok'), max(upper(r)) FROM {pg_table}"
    )
    assert (total, ok, last) == (35_000, 11_667, 35_009)
    rec = await conn.fetchval(f"SELECT c FROM {pg_table} WHERE id = 34999")
    assert tuple(rec) == (35_000, "ok", None, ["34999"])


async def test_wrong_values_name_record_and_column(
    conn: ferrule.PgConnection, pg_table: str, kinds: dict[str, str]
) -> None:
    pair = kinds["pair"]
    await conn.execute(f"CREATE TABLE {pg_table} (id int, r int4range, c {pair}, pt point)")
    good = [(i, Range(i, i + 1), None, None) for i in range(5000)]
    with pytest.raises(ferrule.DataError, match=r"record 5000: column 3 \(c\):.*has 4 field"):
        await conn.copy_records_to_table(pg_table, records=[*good, (5000, None, (1, 2), None)])
    with pytest.raises(ferrule.DataError, match=r"record 1: column 4 \(pt\): .*point takes"):
        await conn.copy_records_to_table(pg_table, records=[good[0], (1, None, None, (1, 2, 3))])
    # A text literal is parsed by the server only for query parameters: binary COPY needs the
    # value in the form the column's binary codec takes.
    with pytest.raises(ferrule.DataError, match=r"record 0: column 2 \(r\): .*not its text"):
        await conn.copy_records_to_table(pg_table, records=[(1, "[1,5)", None, None)])
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == 0
    assert await conn.fetchval("SELECT $1::int4range", "[1,5)") == Range(1, 5)


async def test_server_checks_still_apply(
    conn: ferrule.PgConnection, pg_table: str, kinds: dict[str, str]
) -> None:
    posint, mood = kinds["posint"], kinds["mood"]
    await conn.execute(f"CREATE TABLE {pg_table} (p {posint}, m {mood})")
    with pytest.raises(ferrule.CheckViolationError):
        await conn.copy_records_to_table(pg_table, records=[(1, "ok"), (-1, "ok")])
    with pytest.raises(ferrule.InvalidTextRepresentationError):
        await conn.copy_records_to_table(pg_table, records=[(1, "angry")])
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == 0
    assert await conn.fetchval("SELECT 1") == 1


async def test_type_without_binary_codec_is_refused_before_any_data(
    conn: ferrule.PgConnection, pg_table: str
) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (id int, price money, doc tsvector)")

    def never() -> Any:
        raise AssertionError("no record may be read")
        yield

    with pytest.raises(ferrule.InterfaceError, match=r'column "price" \(.*money\).*csv'):
        await conn.copy_records_to_table(pg_table, records=never())
    # The other columns still copy; the data of text-only types goes through csv.
    assert await conn.copy_records_to_table(pg_table, records=[(1,)], columns=["id"]) == "COPY 1"
    await conn.copy_to_table(pg_table, source=b"2,3.50,a cat\n", format="csv")
    assert await conn.fetchval(f"SELECT price::numeric FROM {pg_table} WHERE id = 2") == Decimal(
        "3.50"
    )


async def test_binary_user_codec_and_builtin_codec_apply(
    conn: ferrule.PgConnection, pg_table: str, kinds: dict[str, str]
) -> None:
    mood = kinds["mood"]
    await conn.execute(f"CREATE TABLE {pg_table} (id int, m {mood}, n int8)")
    # An enum's binary form is its label: a binary codec exchanging it as bytes.
    await conn.set_type_codec(
        mood,
        encoder=lambda v: v.upper().lower().encode(),
        decoder=lambda b: b.decode().upper(),
        format="binary",
    )
    await conn.copy_records_to_table(pg_table, records=[(1, "OK", None), (2, "Sad", 5)])
    rows = await conn.fetch(f"SELECT id, m, n FROM {pg_table} ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, "OK", None), (2, "SAD", 5)]
    await conn.reset_type_codec(mood)
    await conn.set_type_codec(
        "int8",
        schema="pg_catalog",
        encoder=lambda v: struct.pack("!q", v * 10),
        decoder=lambda b: struct.unpack("!q", b)[0],
        format="binary",
    )
    try:
        await conn.copy_records_to_table(pg_table, records=[(3, None, 7)])
    finally:
        await conn.reset_type_codec("int8", schema="pg_catalog")
    assert await conn.fetchval(f"SELECT n FROM {pg_table} WHERE id = 3") == 70
