"""Arrays of every built-in type, one- and multi-dimensional, with NULLs; enums as str;
types ferrule has no codec for come back as their text form."""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

import ferrule

UTC = dt.timezone.utc

# (element type, two distinct non-NULL values of it)
ELEMENTS: list[tuple[str, Any, Any]] = [
    ("bool", True, False),
    ("int2", -5, 32767),
    ("int4", -(2**31), 7),
    ("int8", 2**62, -1),
    ("float4", 1.5, -2.25),
    ("float8", 1e-300, 2.5),
    ("numeric", Decimal("1.10"), Decimal("-99999999999999999999.5")),
    ("text", 'quote " comma , brace { } backslash \\', "NULL"),
    ("varchar", "ü", ""),
    ("bpchar", "a", "b"),
    ("name", "n1", "n2"),
    ("bytea", b"\x00\xff", b""),
    ("date", dt.date(2000, 1, 1), dt.date.max),
    ("time", dt.time(1, 2, 3), dt.time(23, 59)),
    ("timetz", dt.time(1, 2, 3, tzinfo=UTC), dt.time(4, 5, tzinfo=UTC)),
    ("timestamp", dt.datetime(2000, 1, 1, 1), dt.datetime.min),
    ("timestamptz", dt.datetime(2000, 1, 1, 1, tzinfo=UTC), dt.datetime(1999, 1, 1, tzinfo=UTC)),
    ("interval", dt.timedelta(days=2), dt.timedelta(microseconds=-5)),
    ("uuid", uuid.UUID(int=1), uuid.UUID(int=2**128 - 1)),
    ("json", {"a": 1}, [1, None]),
    ("jsonb", {"b": [True]}, {"c": "d"}),
    ("inet", ipaddress.ip_address("10.0.0.1"), ipaddress.ip_interface("::1/64")),
    ("cidr", ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::/0")),
    ("oid", 1, 4294967295),
]


@pytest.mark.parametrize(("elem", "a", "b"), ELEMENTS, ids=[e[0] for e in ELEMENTS])
async def test_one_dimension(conn: ferrule.PgConnection, elem: str, a: Any, b: Any) -> None:
    value = [a, None, b, a]
    assert await conn.fetchval(f"SELECT $1::{elem}[]", value) == value
    assert await conn.fetchval(f"SELECT array_length($1::{elem}[], 1)", value) == 4
    assert await conn.fetchval(f"SELECT $1::{elem}[] IS NULL", None) is True
    assert await conn.fetchval(f"SELECT $1::{elem}[]", []) == []
    assert await conn.fetchval(f"SELECT $1::{elem}[]", [None]) == [None]


@pytest.mark.parametrize(("elem", "a", "b"), ELEMENTS, ids=[e[0] for e in ELEMENTS])
async def test_two_dimensions(conn: ferrule.PgConnection, elem: str, a: Any, b: Any) -> None:
    value = [[a, b, None], [None, a, b]]
    assert await conn.fetchval(f"SELECT $1::{elem}[]", value) == value
    assert await conn.fetchval(f"SELECT array_dims($1::{elem}[])", value) == "[1:2][1:3]"


async def test_server_arrays_decode(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT ARRAY[1, NULL, 3]") == [1, None, 3]
    assert await conn.fetchval("SELECT '{{1,2},{3,4}}'::int[]") == [[1, 2], [3, 4]]
    assert await conn.fetchval("SELECT ARRAY[ARRAY[ARRAY['a']]]") == [[["a"]]]
    assert await conn.fetchval("SELECT '{}'::text[]") == []
    assert await conn.fetchval('SELECT \'{"a\\"b", NULL, "NULL"}\'::text[]') == [
        'a"b',
        None,
        "NULL",
    ]
    # Lower bounds other than 1 are not kept: the list starts at the first element.
    assert await conn.fetchval("SELECT '[0:2]={7,8,9}'::int[]") == [7, 8, 9]


async def test_three_dimensions_round_trip(conn: ferrule.PgConnection) -> None:
    cube = [[[i * 4 + j * 2 + k for k in range(2)] for j in range(2)] for i in range(3)]
    assert await conn.fetchval("SELECT $1::int8[]", cube) == cube
    assert await conn.fetchval("SELECT array_dims($1::int8[])", cube) == "[1:3][1:2][1:2]"


async def test_tuples_bind_as_arrays(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT $1::int[]", (1, 2, 3)) == [1, 2, 3]


async def test_json_arrays_as_elements(conn: ferrule.PgConnection) -> None:
    # After a first element that is not a list, lists are JSON values; a JSON array as the
    # first element goes as JSON text, since a list there is a dimension.
    assert await conn.fetchval("SELECT $1::jsonb[]", [{"a": 1}, [1, 2]]) == [{"a": 1}, [1, 2]]
    assert await conn.fetchval("SELECT $1::jsonb[]", ["[1, 2]", {"a": 1}]) == [[1, 2], {"a": 1}]
    assert await conn.fetchval("SELECT array_dims($1::jsonb[])", ["[1, 2]", "3"]) == "[1:2]"


async def test_ragged_arrays_are_refused(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.DataError, match="sub-arrays of matching length"):
        await conn.fetchval("SELECT $1::int[]", [[1, 2], [3]])
    with pytest.raises(ferrule.DataError, match="sub-arrays of matching length"):
        await conn.fetchval("SELECT $1::int[]", [[1, 2], 3])


async def test_array_element_errors_name_the_argument(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.DataError, match=r"\$1 .*out of range for smallint"):
        await conn.fetchval("SELECT $1::int2[]", [1, 70000])
    with pytest.raises(ferrule.DataError, match=r"\$1 .*cannot be sent as integer"):
        await conn.fetchval("SELECT $1::int[]", [1, "2"])


async def test_any_with_an_array(conn: ferrule.PgConnection) -> None:
    got = await conn.fetch("SELECT g FROM generate_series(1, 10) g WHERE g = ANY($1)", [2, 5, 11])
    assert [r[0] for r in got] == [2, 5]


@pytest.fixture
async def mood(conn: ferrule.PgConnection, pg_table: str) -> AsyncIterator[str]:
    name = f"{pg_table}_mood"
    await conn.execute(f"CREATE TYPE {name} AS ENUM ('sad', 'ok', 'happy', 'it''s \"odd\"')")
    yield name
    await conn.execute(f"DROP TYPE IF EXISTS {name} CASCADE")


async def test_enum_as_str(conn: ferrule.PgConnection, mood: str, pg_table: str) -> None:
    assert await conn.fetchval(f"SELECT $1::{mood}", "happy") == "happy"
    assert await conn.fetchval(f"SELECT 'ok'::{mood}") == "ok"
    assert await conn.fetchval(f"SELECT $1::{mood}", 'it\'s "odd"') == 'it\'s "odd"'
    with pytest.raises(ferrule.InvalidTextRepresentationError):
        await conn.fetchval(f"SELECT $1::{mood}", "angry")
    await conn.execute(f"CREATE TABLE {pg_table} (m {mood})")
    await conn.execute(f"INSERT INTO {pg_table} VALUES ($1), ($2), (NULL)", "sad", "ok")
    rows = await conn.fetch(f"SELECT m FROM {pg_table} ORDER BY m NULLS FIRST")
    assert [r["m"] for r in rows] == [None, "sad", "ok"]


async def test_enum_arrays(conn: ferrule.PgConnection, mood: str) -> None:
    # A list binds as an array literal of quoted elements.
    sent = ["ok", None, 'it\'s "odd"']
    assert await conn.fetchval(f"SELECT $1::{mood}[]::text[]", sent) == sent
    assert await conn.fetchval(f"SELECT array_length($1::{mood}[], 1)", [["sad"], ["ok"]]) == 2
    # Enum arrays are lists of str (the enum is looked up once per connection).
    assert await conn.fetchval(f"SELECT '{{ok,sad}}'::{mood}[]") == ["ok", "sad"]
    assert await conn.fetchval(f"SELECT $1::{mood}[]", sent) == sent
    assert await conn.fetchval(f"SELECT '{{ok,sad}}'::{mood}[]::text[]") == ["ok", "sad"]


@pytest.mark.parametrize(
    ("sql", "text"),
    [
        ("SELECT 'a fat cat'::tsvector", "'a' 'cat' 'fat'"),
        ("SELECT '1.5'::money", "$1.50"),
        ("SELECT 'pg_class'::regclass", "pg_class"),
        ("SELECT '0/16B3748'::pg_lsn", "0/16B3748"),
        ("SELECT ARRAY['1.5'::money]", ["$1.50"]),
    ],
)
async def test_text_like_types_come_back_as_text(
    conn: ferrule.PgConnection, sql: str, text: object
) -> None:
    # Ranges, geometric types and the like have codecs of their own (test_types_rich.py).
    assert await conn.fetchval(sql) == text


async def test_structured_types_take_text_parameters(conn: ferrule.PgConnection) -> None:
    # A str for a point or a range goes in text form, for the server to parse.
    assert await conn.fetchval("SELECT $1::point", "(3,4)") == ferrule.Point(3.0, 4.0)
    assert await conn.fetchval("SELECT ($1::point)[0]", "(3,4)") == 3.0
    assert await conn.fetchval("SELECT upper($1::int4range)", "[1,5)") == 5
    with pytest.raises(ferrule.InvalidTextRepresentationError):
        await conn.fetchval("SELECT $1::point", "not a point")


async def test_domain_over_a_builtin(conn: ferrule.PgConnection, pg_table: str) -> None:
    domain = f"{pg_table}_posint"
    await conn.execute(f"CREATE DOMAIN {domain} AS int CHECK (VALUE > 0)")
    try:
        assert await conn.fetchval(f"SELECT $1::{domain}", 5) == 5
        with pytest.raises(ferrule.CheckViolationError):
            await conn.fetchval(f"SELECT $1::{domain}", -5)
    finally:
        await conn.execute(f"DROP DOMAIN {domain}")
