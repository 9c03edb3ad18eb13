"""SQLite values: the five storage classes, bound Python types, declared-type conversions."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ferrule


async def test_storage_classes_round_trip(mem: ferrule.SqliteConnection) -> None:
    row = await mem.fetchrow(
        "SELECT ?, ?, ?, ?, ?, ?", 1, -(2**63), 1.5, "tekst ✓", b"\x00\xff", None
    )
    assert tuple(row or ()) == (1, -(2**63), 1.5, "tekst ✓", b"\x00\xff", None)
    assert await mem.fetchval("SELECT ?", bytearray(b"ab")) == b"ab"
    assert await mem.fetchval("SELECT ?", memoryview(b"cd")) == b"cd"
    assert await mem.fetchval("SELECT ?", True) == 1


async def test_python_types_are_stored_as_text(mem: ferrule.SqliteConnection) -> None:
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    row = await mem.fetchrow(
        "SELECT ?, ?, ?, ?, ?",
        dt.date(2024, 2, 29),
        dt.datetime(2024, 2, 29, 13, 4, 5, 6),
        dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        decimal.Decimal("1.50"),
        u,
    )
    assert tuple(row or ()) == (
        "2024-02-29",
        "2024-02-29 13:04:05.000006",
        "2024-01-01 12:00:00+02:00",
        "1.50",
        str(u),
    )
    # SQLite's own date functions read them.
    assert await mem.fetchval("SELECT date(?, '+1 day')", dt.date(2024, 2, 29)) == "2024-03-01"


async def test_unbindable_values_say_which_argument(mem: ferrule.SqliteConnection) -> None:
    with pytest.raises(ferrule.InterfaceError, match=r"\?2.*outside SQLite's 64-bit"):
        await mem.fetchval("SELECT ?, ?", 1, 2**70)
    with pytest.raises(ferrule.InterfaceError, match="interval"):
        await mem.fetchval("SELECT ?", dt.timedelta(1))
    with pytest.raises(ferrule.InterfaceError, match="array"):
        await mem.fetchval("SELECT ?", [1, 2])
    with pytest.raises(TypeError, match=r"invalid argument \?1"):
        await mem.fetchval("SELECT ?", object())


async def test_declared_types_convert_with_detect_types(db_url: str) -> None:
    conn = await ferrule.connect(db_url, detect_types=True)
    try:
        await conn.execute(
            "CREATE TABLE t (b BOOLEAN, d DECIMAL(10,2), n NUMERIC, day DATE, at DATETIME, "
            "ts TIMESTAMP, tm TIME, doc JSON, id UUID, plain TEXT)"
        )
        u = uuid.uuid4()
        aware = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
        await conn.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            True,
            decimal.Decimal("12.25"),
            7,
            dt.date(2024, 5, 6),
            dt.datetime(2024, 5, 6, 7, 8, 9, 10),
            aware,
            dt.time(1, 2, 3),
            json.dumps({"k": [1, 2]}),
            u,
            "2024-05-06",
        )
        row = await conn.fetchrow("SELECT * FROM t")
        assert row is not None
        assert row["b"] is True
        assert row["d"] == decimal.Decimal("12.25")
        assert row["n"] == decimal.Decimal(7)
        assert row["day"] == dt.date(2024, 5, 6)
        assert row["at"] == dt.datetime(2024, 5, 6, 7, 8, 9, 10)
        assert row["ts"] == aware
        assert row["tm"] == dt.time(1, 2, 3)
        assert row["doc"] == {"k": [1, 2]}
        assert row["id"] == u
        assert row["plain"] == "2024-05-06"
        # Expressions have no declared type: no conversion.
        assert await conn.fetchval("SELECT b FROM t") is True
        assert await conn.fetchval("SELECT b + 0 FROM t") == 1
        # NULL stays None whatever the declared type.
        await conn.execute("INSERT INTO t (b) VALUES (NULL)")
        assert await conn.fetchval("SELECT day FROM t WHERE b IS NULL") is None
        await conn.execute("INSERT INTO t (b, day) VALUES (0, 'not a date')")
        with pytest.raises(ValueError, match=r'column "day" \(declared DATE\)'):
            await conn.fetch("SELECT day FROM t WHERE b = 0")
    finally:
        await conn.close()


async def test_without_detect_types_values_are_as_stored(conn: ferrule.SqliteConnection) -> None:
    await conn.execute("CREATE TABLE t (b BOOLEAN, day DATE)")
    await conn.execute("INSERT INTO t VALUES (?, ?)", True, dt.date(2020, 1, 2))
    assert tuple(await conn.fetchrow("SELECT * FROM t") or ()) == (1, "2020-01-02")


async def test_invalid_utf8_text_is_a_clear_error(mem: ferrule.SqliteConnection) -> None:
    with pytest.raises(ValueError, match='column "x"'):
        await mem.fetchval("SELECT CAST(x'ff' AS TEXT) AS x")


@settings(max_examples=60, deadline=None)
@given(
    value=st.one_of(
        st.text(),
        st.binary(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False),
        st.none(),
    )
)
def test_values_round_trip_exactly(value: object) -> None:
    async def check() -> None:
        conn = await ferrule.connect("sqlite://:memory:")
        try:
            assert await conn.fetchval("SELECT ?", value) == value
        finally:
            await conn.close()

    import asyncio

    asyncio.run(check())
