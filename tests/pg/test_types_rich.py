"""Rich types both ways, with NULL: ranges, multiranges, composites (introspected), hstore,
domains, enums, money, bit strings, text-search types, geometric types, arrays of them, and
the codec controls (set_builtin_type_codec, binary user codecs, reload_schema_state)."""

from __future__ import annotations

import datetime as dt
import gc
import pickle
import struct
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ferrule
from ferrule import Box, Circle, Line, LineSegment, Path, Point, Polygon, Range


@pytest_asyncio.fixture
async def conn(pg_dsn: str) -> AsyncIterator[ferrule.PgConnection]:
    c = await ferrule.connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


@pytest_asyncio.fixture
async def names(conn: ferrule.PgConnection, pg_table: str) -> AsyncIterator[dict[str, str]]:
    """Type names no other test uses, dropped afterwards."""
    made = {k: f"{pg_table}_{k}" for k in ("mood", "pair", "outer", "posint", "label", "other")}
    yield made
    for name in made.values():
        await conn.execute(f"DROP TYPE IF EXISTS {name} CASCADE")
        await conn.execute(f"DROP DOMAIN IF EXISTS {name} CASCADE")


UTC = dt.timezone.utc
T0 = dt.datetime(2024, 1, 2, 3, 4, 5)

RANGES = [
    ("int4range", "[1,5)", Range(1, 5)),
    ("int4range", "[1,5]", Range(1, 6)),  # discrete ranges are canonical [)
    ("int4range", "(,5)", Range(None, 5)),
    ("int4range", "[3,)", Range(3, None)),
    ("int4range", "empty", Range(empty=True)),
    ("int8range", "[-9000000000,9000000000)", Range(-9000000000, 9000000000)),
    (
        "numrange",
        "(1.5,2.25]",
        Range(Decimal("1.5"), Decimal("2.25"), lower_inc=False, upper_inc=True),
    ),
    ("numrange", "(,)", Range(None, None)),
    ("daterange", "[2024-01-01,2024-02-01)", Range(dt.date(2024, 1, 1), dt.date(2024, 2, 1))),
    ("tsrange", f"[{T0},)", Range(T0, None)),
    (
        "tstzrange",
        "[2024-01-02 03:04:05+00,2024-01-03 00:00:00+00]",
        Range(T0.replace(tzinfo=UTC), dt.datetime(2024, 1, 3, tzinfo=UTC), upper_inc=True),
    ),
]


@pytest.mark.parametrize(("pg_type", "text", "value"), RANGES)
async def test_ranges_both_ways(
    conn: ferrule.PgConnection, pg_type: str, text: str, value: Range
) -> None:
    assert await conn.fetchval(f"SELECT $1::text::{pg_type}", text) == value
    assert await conn.fetchval(f"SELECT $1::{pg_type}", value) == value
    assert await conn.fetchval(f"SELECT $1::{pg_type} = $2::text::{pg_type}", value, text)
    assert await conn.fetchval(f"SELECT $1::{pg_type}", None) is None
    arr = await conn.fetchval(f"SELECT $1::{pg_type}[]", [value, None])
    assert arr == [value, None]


async def test_ranges_of_atomic_bounds_stay_out_of_the_collector(
    conn: ferrule.PgConnection,
) -> None:
    row = await conn.fetchrow("SELECT '[1,5)'::int4range AS r, 'empty'::int4range AS e")
    assert not gc.is_tracked(row["r"]) and not gc.is_tracked(row)


async def test_range_parameters_take_tuples_and_text(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT $1::int4range", (2, 4)) == Range(2, 4)
    assert await conn.fetchval("SELECT $1::int4range", (None, 4)) == Range(None, 4)
    # A str goes in text form for the server to parse.
    assert await conn.fetchval("SELECT $1::int4range", "[2,4]") == Range(2, 5)
    assert await conn.fetchval("SELECT upper($1::int4range)", "[1,5)") == 5
    with pytest.raises(ferrule.DataError, match=r"\$1 .*int4range.*Range"):
        await conn.fetchval("SELECT $1::int4range", 5)
    with pytest.raises(ferrule.DataError, match=r"\$1"):
        await conn.fetchval("SELECT $1::int4range", Range("a", "b"))


def test_range_object() -> None:
    r = Range(1, 5)
    assert (r.lower, r.upper, r.lower_inc, r.upper_inc, r.isempty) == (1, 5, True, False, False)
    assert not r.lower_inf and not r.upper_inf
    assert repr(r) == "<Range [1, 5)>"
    assert repr(Range(None, 5, upper_inc=True)) == "<Range (, 5]>"
    assert repr(Range(empty=True)) == "<Range empty>"
    assert Range(None, 5).lower_inc is False and Range(None, 5).lower_inf
    assert not Range(empty=True) and Range(1, 2)
    assert Range(1, 5) == Range(1, 5) != Range(1, 5, upper_inc=True)
    assert Range(1, 5) != (1, 5)
    assert len({Range(1, 5), Range(1, 5), Range(empty=True)}) == 2
    assert pickle.loads(pickle.dumps(Range(1, None, lower_inc=False))) == Range(
        1, None, lower_inc=False
    )
    assert pickle.loads(pickle.dumps(Range(empty=True))).isempty


async def test_multiranges(conn: ferrule.PgConnection, pg_server_version_num: int) -> None:
    if pg_server_version_num < 140000:
        pytest.skip("multiranges need PostgreSQL 14")
    got = await conn.fetchval("SELECT '{[1,3), [5,7)}'::int4multirange")
    assert got == [Range(1, 3), Range(5, 7)]
    assert await conn.fetchval("SELECT '{}'::int4multirange") == []
    sent = [Range(Decimal(1), Decimal(2)), Range(Decimal(3), None)]
    assert await conn.fetchval("SELECT $1::nummultirange", sent) == sent
    dates = [Range(dt.date(2024, 1, 1), dt.date(2024, 1, 5))]
    assert await conn.fetchval("SELECT $1::datemultirange", dates) == dates
    assert await conn.fetchval("SELECT $1::int4multirange[]", [[Range(1, 2)], None]) == [
        [Range(1, 2)],
        None,
    ]
    assert await conn.fetchval("SELECT $1::int4multirange", None) is None


async def test_composite_is_introspected(conn: ferrule.PgConnection, names: dict[str, str]) -> None:
    mood, pair, outer = names["mood"], names["pair"], names["outer"]
    await conn.execute(f"CREATE TYPE {mood} AS ENUM ('sad', 'ok')")
    await conn.execute(f"CREATE TYPE {pair} AS (a int, m {mood}, r int4range, t text[])")
    await conn.execute(f"CREATE TYPE {outer} AS (p {pair}, ps {pair}[], n numeric)")
    rec = await conn.fetchval(f"SELECT ROW(1, 'ok', '[1,2)', '{{a,b}}')::{pair}")
    assert isinstance(rec, ferrule.Record)
    assert list(rec.keys()) == ["a", "m", "r", "t"]
    assert rec["m"] == "ok" and rec["r"] == Range(1, 2) and rec["t"] == ["a", "b"]
    # From a tuple, a Record (fields in order) or a dict (by name, missing ones NULL).
    assert tuple(await conn.fetchval(f"SELECT $1::{pair}", (2, "sad", None, ["x"]))) == (
        2,
        "sad",
        None,
        ["x"],
    )
    assert await conn.fetchval(f"SELECT $1::{pair}", rec) == rec
    assert tuple(await conn.fetchval(f"SELECT $1::{pair}", {"a": 5})) == (5, None, None, None)
    nested = await conn.fetchval(
        f"SELECT $1::{outer}", ((1, "ok", (1, 3), []), [(2, None, None, None), None], 1.5)
    )
    assert nested["p"]["r"] == Range(1, 3)
    assert nested["ps"][0]["a"] == 2 and nested["ps"][1] is None
    assert nested["n"] == Decimal("1.5")
    assert await conn.fetchval(f"SELECT $1::{pair}", None) is None
    with pytest.raises(ferrule.DataError, match="has 4 field"):
        await conn.fetchval(f"SELECT $1::{pair}", (1, 2))
    with pytest.raises(ferrule.DataError, match="no field"):
        await conn.fetchval(f"SELECT $1::{pair}", {"nope": 1})


async def test_composite_table_rows(conn: ferrule.PgConnection, pg_table: str) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (id int, name text)")
    await conn.execute(f"INSERT INTO {pg_table} VALUES (1, 'x'), (2, NULL)")
    rows = await conn.fetchval(f"SELECT array_agg(t ORDER BY id) FROM {pg_table} t")
    assert [tuple(r) for r in rows] == [(1, "x"), (2, None)]
    await conn.execute(f"INSERT INTO {pg_table} SELECT ($1::{pg_table}).*", (3, "y"))
    assert await conn.fetchval(f"SELECT name FROM {pg_table} WHERE id = 3") == "y"


async def test_composite_with_a_text_only_field(
    conn: ferrule.PgConnection, names: dict[str, str]
) -> None:
    # money has no binary codec in ferrule, so the composite travels as its text literal.
    pair = names["pair"]
    await conn.execute(f"CREATE TYPE {pair} AS (a int, m money, t text, f float8, b bool)")
    rec = await conn.fetchval(f"SELECT ROW(1, 2.5, 'x, \"y\"', 'NaN', true)::{pair}")
    assert rec["a"] == 1 and rec["m"] == "$2.50" and rec["t"] == 'x, "y"' and rec["b"] is True
    assert rec["f"] != rec["f"]  # NaN
    sent = (7, "3", 'a "quoted", (paren)', 1.5, False)
    got = await conn.fetchval(f"SELECT $1::{pair}", sent)
    assert tuple(got) == (7, "$3.00", 'a "quoted", (paren)', 1.5, False)
    assert tuple(await conn.fetchval(f"SELECT $1::{pair}", (None,) * 5)) == (None,) * 5


text_values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=text_values, key=text_values)
async def test_hostile_text_inside_structures(
    conn: ferrule.PgConnection, names: dict[str, str], value: str, key: str
) -> None:
    # Text-form literals quote every element: no value can change their structure. A money
    # field makes the composite travel in text form both ways.
    pair = names["pair"]
    if not await conn.fetchval("SELECT to_regtype($1) IS NOT NULL", pair):
        await conn.execute(f"CREATE TYPE {pair} AS (a text, m money, b text)")
    got = await conn.fetchval(f"SELECT $1::{pair}", (value, "1", key))
    assert tuple(got) == (value, "$1.00", key)
    got = await conn.fetchval(f"SELECT ROW($1, NULL, $2)::{pair}", value, key)
    assert tuple(got) == (value, None, key)
    got = await conn.fetchval(f"SELECT $1::{pair}[]", [(value, None, key), None])
    assert tuple(got[0]) == (value, None, key) and got[1] is None
    assert await conn.fetchval("SELECT $1::money[]::text[]", ["1", None]) == ["$1.00", None]
    rec = await conn.fetchval("SELECT ROW($1::text, $2::text)", value, key)
    assert tuple(rec) == (value, key)
    if await conn.fetchval("SELECT to_regtype('hstore') IS NOT NULL"):
        assert await conn.fetchval("SELECT $1::hstore", {key: value}) == {key: value}


async def test_hstore(conn: ferrule.PgConnection) -> None:
    if not await conn.fetchval("SELECT to_regtype('hstore') IS NOT NULL"):
        pytest.skip("the hstore extension is not installed")
    assert await conn.fetchval("SELECT 'a=>1, b=>NULL'::hstore") == {"a": "1", "b": None}
    sent = {"k": "v", "ünï": "çødé", "empty": "", "null": None}
    assert await conn.fetchval("SELECT $1::hstore", sent) == sent
    assert await conn.fetchval("SELECT $1::hstore", {}) == {}
    assert await conn.fetchval("SELECT $1::hstore[]", [{"a": "b"}, None]) == [{"a": "b"}, None]
    assert await conn.fetchval("SELECT $1::hstore -> 'k'", {"k": "v"}) == "v"
    with pytest.raises(ferrule.DataError, match="hstore values are str or None"):
        await conn.fetchval("SELECT $1::hstore", {"a": 1})


async def test_domains_decode_as_their_base(
    conn: ferrule.PgConnection, names: dict[str, str]
) -> None:
    posint, label = names["posint"], names["label"]
    await conn.execute(f"CREATE DOMAIN {posint} AS int CHECK (VALUE > 0)")
    await conn.execute(f"CREATE DOMAIN {label} AS text")
    assert await conn.fetchval(f"SELECT 5::{posint}") == 5
    assert await conn.fetchval(f"SELECT $1::{posint}", 7) == 7
    assert await conn.fetchval(f"SELECT $1::{posint}[]", [1, None, 3]) == [1, None, 3]
    assert await conn.fetchval(f"SELECT $1::{label}", "x") == "x"
    with pytest.raises(ferrule.CheckViolationError):
        await conn.fetchval(f"SELECT $1::{posint}", -1)


async def test_enums_and_enum_arrays(conn: ferrule.PgConnection, names: dict[str, str]) -> None:
    mood = names["mood"]
    await conn.execute(f"CREATE TYPE {mood} AS ENUM ('sad', 'ok', 'it''s \"odd\"')")
    assert await conn.fetchval(f"SELECT 'ok'::{mood}") == "ok"
    assert await conn.fetchval(f"SELECT $1::{mood}", 'it\'s "odd"') == 'it\'s "odd"'
    assert await conn.fetchval(f"SELECT '{{ok,sad}}'::{mood}[]") == ["ok", "sad"]
    assert await conn.fetchval(f"SELECT $1::{mood}[]", ["ok", None]) == ["ok", None]
    with pytest.raises(ferrule.InvalidTextRepresentationError):
        await conn.fetchval(f"SELECT $1::{mood}", "angry")


@pytest.mark.parametrize(
    ("sql", "value"),
    [
        ("SELECT '1.5'::money", "$1.50"),
        ("SELECT '{1.5,NULL}'::money[]", ["$1.50", None]),
        ("SELECT 'a fat cat'::tsvector", "'a' 'cat' 'fat'"),
        ("SELECT 'fat & cat'::tsquery", "'fat' & 'cat'"),
        ("SELECT B'10101'", "10101"),
        ("SELECT B'101'::bit(8)", "10100000"),
        ("SELECT ARRAY[B'1', NULL]", ["1", None]),
        ("SELECT '08:00:2b:01:02:03'::macaddr", "08:00:2b:01:02:03"),
        ("SELECT 'pg_class'::regclass", "pg_class"),
        ("SELECT '0/16B3748'::pg_lsn", "0/16B3748"),
    ],
)
async def test_text_like_types(conn: ferrule.PgConnection, sql: str, value: Any) -> None:
    assert await conn.fetchval(sql) == value


async def test_money_bits_and_text_search_parameters(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT $1::money", "12.5") == "$12.50"
    assert await conn.fetchval("SELECT $1::money", Decimal("3.25")) == "$3.25"
    assert await conn.fetchval("SELECT $1::money::numeric", 7) == Decimal("7.00")
    assert await conn.fetchval("SELECT $1::varbit", "1011") == "1011"
    assert await conn.fetchval("SELECT $1::bit(4)", "1100") == "1100"
    assert await conn.fetchval("SELECT $1::varbit[]", ["1", None, "0000000011"]) == [
        "1",
        None,
        "0000000011",
    ]
    with pytest.raises(ferrule.DataError, match="not a bit string"):
        await conn.fetchval("SELECT $1::varbit", "102")
    assert await conn.fetchval("SELECT $1::tsvector @@ $2::tsquery", "a fat cat", "cat") is True


GEOMETRY = [
    ("point", "(1,2.5)", Point(1.0, 2.5), (1, 2.5)),
    ("line", "{1,2,3}", Line(1.0, 2.0, 3.0), (1, 2, 3)),
    ("lseg", "[(0,0),(1,1)]", LineSegment(Point(0, 0), Point(1, 1)), ((0, 0), (1, 1))),
    ("box", "(1,1),(0,0)", Box(Point(1, 1), Point(0, 0)), ((0, 0), (1, 1))),
    ("path", "[(0,0),(1,1)]", Path([Point(0, 0), Point(1, 1)], False), [(0, 0), (1, 1)]),
    ("path", "((0,0),(1,1))", Path([Point(0, 0), Point(1, 1)], True), Path([(0, 0), (1, 1)], True)),
    ("polygon", "((0,0),(1,1),(1,0))", Polygon([(0, 0), (1, 1), (1, 0)]), [(0, 0), (1, 1), (1, 0)]),
    ("circle", "<(1,2),3>", Circle(Point(1, 2), 3.0), ((1, 2), 3)),
]


@pytest.mark.parametrize(("pg_type", "text", "value", "sent"), GEOMETRY)
async def test_geometric_types(
    conn: ferrule.PgConnection, pg_type: str, text: str, value: Any, sent: Any
) -> None:
    assert await conn.fetchval(f"SELECT $1::text::{pg_type}", text) == value
    assert await conn.fetchval(f"SELECT $1::{pg_type}", sent) == value
    assert await conn.fetchval(f"SELECT $1::{pg_type}", value) == value
    assert await conn.fetchval(f"SELECT $1::{pg_type}", text) == value
    assert await conn.fetchval(f"SELECT $1::{pg_type}[]", [value, None]) == [value, None]
    assert await conn.fetchval(f"SELECT $1::{pg_type}", None) is None


async def test_geometric_errors(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.DataError, match=r"point takes \(x, y\)"):
        await conn.fetchval("SELECT $1::point", (1, 2, 3))
    with pytest.raises(ferrule.InvalidTextRepresentationError):
        await conn.fetchval("SELECT $1::point", "not a point")


async def test_anonymous_records(conn: ferrule.PgConnection, names: dict[str, str]) -> None:
    rec = await conn.fetchval("SELECT ROW(1, 'a', NULL, '[1,2)'::int4range)")
    assert tuple(rec) == (1, "a", None, Range(1, 2))
    assert list(rec.keys()) == ["f1", "f2", "f3", "f4"]
    mood = names["mood"]
    await conn.execute(f"CREATE TYPE {mood} AS ENUM ('ok')")
    with pytest.raises(ValueError, match="cast the value"):
        await conn.fetchval(f"SELECT ROW('ok'::{mood})")


async def test_unknown_extension_types_are_text(conn: ferrule.PgConnection) -> None:
    await conn.execute("CREATE EXTENSION IF NOT EXISTS cube")
    await conn.execute("CREATE EXTENSION IF NOT EXISTS citext")
    assert await conn.fetchval("SELECT '(1,2)'::cube") == "(1, 2)"
    assert await conn.fetchval("SELECT ARRAY['(1)'::cube, NULL]") == ["(1)", None]
    assert await conn.fetchval("SELECT $1::cube", "(3)") == "(3)"
    assert await conn.fetchval("SELECT $1::citext = 'ABC'", "abc") is True
    assert await conn.fetchval("SELECT $1::citext[]", ["a", None]) == ["a", None]


async def test_set_builtin_type_codec(conn: ferrule.PgConnection, names: dict[str, str]) -> None:
    t = names["other"]
    # A base type with int4's functions, hence int4's wire forms.
    await conn.execute(
        f"CREATE TYPE {t}; "
        f"CREATE FUNCTION {t}_in(cstring) RETURNS {t} LANGUAGE internal IMMUTABLE STRICT "
        "AS 'int4in'; "
        f"CREATE FUNCTION {t}_out({t}) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT "
        "AS 'int4out'; "
        f"CREATE FUNCTION {t}_recv(internal) RETURNS {t} LANGUAGE internal IMMUTABLE STRICT "
        "AS 'int4recv'; "
        f"CREATE FUNCTION {t}_send({t}) RETURNS bytea LANGUAGE internal IMMUTABLE STRICT "
        "AS 'int4send'; "
        f"CREATE TYPE {t} (INPUT = {t}_in, OUTPUT = {t}_out, RECEIVE = {t}_recv, "
        f"SEND = {t}_send, LIKE = int4)"
    )
    assert await conn.fetchval(f"SELECT '42'::{t}") == "42"
    await conn.set_builtin_type_codec(t, codec_name="int4")
    assert await conn.fetchval(f"SELECT '42'::{t}") == 42
    assert await conn.fetchval(f"SELECT $1::{t}", 7) == 7
    assert await conn.fetchval(f"SELECT ARRAY['1'::{t}, NULL]") == [1, None]
    await conn.reset_type_codec(t)
    assert await conn.fetchval(f"SELECT '42'::{t}") == "42"
    with pytest.raises(ferrule.InterfaceError, match="not a built-in codec"):
        await conn.set_builtin_type_codec(t, codec_name="nope")


async def test_binary_user_codec(conn: ferrule.PgConnection, names: dict[str, str]) -> None:
    await conn.set_type_codec(
        "int4",
        schema="pg_catalog",
        format="binary",
        decoder=lambda b: ("raw", struct.unpack("!i", b)[0]),
        encoder=lambda v: struct.pack("!i", v * 10),
    )
    assert await conn.fetchval("SELECT 5::int4") == ("raw", 5)
    assert await conn.fetchval("SELECT $1::int4", 3) == ("raw", 30)
    assert await conn.fetchval("SELECT ARRAY[1, NULL]::int4[]") == [("raw", 1), None]
    await conn.reset_type_codec("int4", schema="pg_catalog")
    assert await conn.fetchval("SELECT ARRAY[1, NULL]::int4[]") == [1, None]
    # A text codec applies inside arrays and composites too.
    mood, pair = names["mood"], names["pair"]
    await conn.execute(f"CREATE TYPE {mood} AS ENUM ('sad', 'ok')")
    await conn.execute(f"CREATE TYPE {pair} AS (a int, m {mood})")
    await conn.set_type_codec(mood, decoder=str.upper, encoder=str.lower)
    assert await conn.fetchval(f"SELECT '{{ok,sad}}'::{mood}[]") == ["OK", "SAD"]
    rec = await conn.fetchval(f"SELECT ROW(1, 'ok')::{pair}")
    assert tuple(rec) == (1, "OK")
    assert await conn.fetchval(f"SELECT $1::{mood}", "SAD") == "SAD"


async def test_reload_schema_state(conn: ferrule.PgConnection, names: dict[str, str]) -> None:
    pair = names["pair"]
    await conn.execute(f"CREATE TYPE {pair} AS (a int)")
    assert tuple(await conn.fetchval(f"SELECT ROW(1)::{pair}")) == (1,)
    await conn.execute(f"ALTER TYPE {pair} ADD ATTRIBUTE b text")
    conn.clear_statement_cache()
    with pytest.raises(ValueError, match="reload_schema_state"):
        await conn.fetchval(f"SELECT ROW(1, 'x')::{pair}")
    conn.reload_schema_state()
    assert tuple(await conn.fetchval(f"SELECT ROW(1, 'x')::{pair}")) == (1, "x")


async def test_types_inside_a_failed_lookup_leave_the_connection_usable(
    conn: ferrule.PgConnection,
) -> None:
    with pytest.raises(ferrule.UndefinedObjectError):
        await conn.fetchval("SELECT $1::no_such_type_anywhere", "x")
    assert await conn.fetchval("SELECT '[1,2)'::int4range") == Range(1, 2)
