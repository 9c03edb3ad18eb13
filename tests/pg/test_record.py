"""Record: index, key, get, keys/values/items, len, iteration, equality, hash, repr, slicing."""

from __future__ import annotations

import gc

import pytest

import ferrule


@pytest.fixture
async def row(conn: ferrule.PgConnection) -> ferrule.Record:
    rec = await conn.fetchrow("SELECT 1 AS a, 'two' AS b, NULL::int AS c, 4.5::float8 AS d")
    assert rec is not None
    return rec


def test_index_and_key(row: ferrule.Record) -> None:
    assert (row[0], row[1], row[2], row[3]) == (1, "two", None, 4.5)
    assert (row["a"], row["b"], row["c"], row["d"]) == (1, "two", None, 4.5)
    assert row[-1] == 4.5 and row[-4] == 1


def test_missing_key_and_index(row: ferrule.Record) -> None:
    with pytest.raises(KeyError, match="zzz"):
        row["zzz"]
    with pytest.raises(IndexError):
        row[4]
    with pytest.raises(IndexError):
        row[-5]
    with pytest.raises(TypeError, match="column names or indexes"):
        row[1.5]  # type: ignore[call-overload]


def test_get(row: ferrule.Record) -> None:
    assert row.get("b") == "two"
    assert row.get(1) == "two"
    assert row.get("nope") is None
    assert row.get("nope", 42) == 42
    assert row.get("c", 42) is None  # a NULL column is not a missing one


def test_keys_values_items(row: ferrule.Record) -> None:
    assert list(row.keys()) == ["a", "b", "c", "d"]
    assert list(row.values()) == [1, "two", None, 4.5]
    assert list(row.items()) == [("a", 1), ("b", "two"), ("c", None), ("d", 4.5)]
    assert dict(row.items()) == {"a": 1, "b": "two", "c": None, "d": 4.5}
    assert dict(row) == {"a": 1, "b": "two", "c": None, "d": 4.5}


def test_len_iteration_contains(row: ferrule.Record) -> None:
    assert len(row) == 4
    assert list(row) == [1, "two", None, 4.5]
    assert tuple(row) == (1, "two", None, 4.5)
    assert "a" in row and "zzz" not in row
    a, b, c, d = row
    assert (a, b, c, d) == (1, "two", None, 4.5)


def test_slicing(row: ferrule.Record) -> None:
    assert row[1:3] == ("two", None)
    assert row[::-1] == (4.5, None, "two", 1)
    assert row[::2] == (1, None)
    assert row[10:] == ()


async def test_equality_and_hash(conn: ferrule.PgConnection, row: ferrule.Record) -> None:
    same = await conn.fetchrow("SELECT 1 AS a, 'two' AS b, NULL::int AS c, 4.5::float8 AS d")
    other = await conn.fetchrow("SELECT 1 AS a, 'three' AS b, NULL::int AS c, 4.5::float8 AS d")
    assert row == same and hash(row) == hash(same)
    assert row != other
    assert row == (1, "two", None, 4.5)
    assert row != [1, "two", None, 4.5]
    assert len({row, same, other}) == 2
    assert other < row  # ordered like tuples: 'three' < 'two'


def test_repr(row: ferrule.Record) -> None:
    assert repr(row) == "<Record a=1 b='two' c=None d=4.5>"


async def test_duplicate_column_names(conn: ferrule.PgConnection) -> None:
    rec = await conn.fetchrow("SELECT 1 AS x, 2 AS x")
    assert rec is not None
    assert rec["x"] == 1 and rec[1] == 2 and list(rec.keys()) == ["x", "x"]


async def test_odd_column_names(conn: ferrule.PgConnection) -> None:
    rec = await conn.fetchrow('SELECT 1 AS "with space", 2 AS "ünï", 3 AS "?column?"')
    assert rec is not None
    assert rec["with space"] == 1 and rec["ünï"] == 2 and rec["?column?"] == 3


async def test_zero_columns(conn: ferrule.PgConnection) -> None:
    rec = await conn.fetchrow("SELECT")
    assert rec is not None
    assert len(rec) == 0 and list(rec) == [] and repr(rec) == "<Record>"


async def test_records_of_atomic_values_are_not_gc_tracked(conn: ferrule.PgConnection) -> None:
    atomic = await conn.fetchrow("SELECT 1, 'x', 2.5::float8, now(), NULL")
    container = await conn.fetchrow("SELECT ARRAY[1, 2]")
    assert atomic is not None and container is not None
    assert not gc.is_tracked(atomic)
    assert gc.is_tracked(container)


async def test_records_outlive_their_connection(pg_dsn: str) -> None:
    conn = await ferrule.connect(pg_dsn)
    rows = await conn.fetch("SELECT g AS n FROM generate_series(1, 3) g")
    await conn.close()
    del conn
    gc.collect()
    assert [r["n"] for r in rows] == [1, 2, 3]
