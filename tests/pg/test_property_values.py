"""Property tests: values that look like SQL or are odd Unicode are bound as data and
round-trip exactly (hypothesis)."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import ferrule

# Fragments that break naive quoting or SQL pasting, and Unicode that trips encoders.
NASTY = [
    "'",
    "''",
    '"',
    "\\",
    "\\'",
    "$$",
    "$1",
    "$tag$",
    "--",
    "/*",
    "*/",
    ";",
    "%s",
    "?",
    "'; DROP TABLE users; --",
    "E'\\x00'",
    "{",
    "}",
    ",",
    "NULL",
    "\n",
    "\r\n",
    "\t",
    "\u200b",
    "\ufeff",
    "\u202e",
    "e\u0301",
    "𝄞",
    "😀",
    "\U0010ffff",
    "\x7f",
    "\x01",
    "ß",
    "İ",
]
# Any code point PostgreSQL text can hold: no NUL, no lone surrogates.
TEXT_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
SQLISH = st.lists(
    st.one_of(st.sampled_from(NASTY), st.text(TEXT_CHARS, max_size=8)), max_size=12
).map("".join)
TEXT = st.one_of(SQLISH, st.text(TEXT_CHARS, max_size=200))

PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(value=TEXT)
@example(value="'; DROP TABLE users; --")
@example(value="$$ $1 $$")
async def test_text_round_trips(conn: ferrule.PgConnection, value: str) -> None:
    got = await conn.fetchrow(
        "SELECT $1::text AS t, length($1::text) AS n, $1::varchar AS v", value
    )
    assert got is not None
    assert got["t"] == value and got["v"] == value
    assert got["n"] == len(value)


@PROPERTY
@given(values=st.lists(st.one_of(st.none(), TEXT), max_size=8))
async def test_text_arrays_round_trip(conn: ferrule.PgConnection, values: list[str | None]) -> None:
    assert await conn.fetchval("SELECT $1::text[]", values) == values


@PROPERTY
@given(
    doc=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), TEXT),
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)
        ),
        max_leaves=12,
    ).filter(lambda d: not isinstance(d, str))  # a str argument is JSON text already
)
async def test_json_round_trips(conn: ferrule.PgConnection, doc: object) -> None:
    assert await conn.fetchval("SELECT $1::json", doc) == doc
    assert await conn.fetchval("SELECT $1::jsonb", doc) == doc


@PROPERTY
@given(value=st.binary(max_size=300))
@example(value=b"\x00")
@example(value=b"'\x00--$$\\")
async def test_bytea_round_trips(conn: ferrule.PgConnection, value: bytes) -> None:
    assert await conn.fetchval("SELECT $1::bytea", value) == value
    assert await conn.fetchval("SELECT length($1::bytea)", value) == len(value)


@PROPERTY
@given(prefix=TEXT, suffix=TEXT)
async def test_text_with_nul_is_refused(
    conn: ferrule.PgConnection, prefix: str, suffix: str
) -> None:
    with pytest.raises(ferrule.DataError, match="NUL"):
        await conn.fetchval("SELECT $1::text", prefix + "\x00" + suffix)


async def test_values_land_in_a_table_as_data(conn: ferrule.PgConnection, pg_table: str) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (id serial PRIMARY KEY, v text)")
    await conn.executemany(f"INSERT INTO {pg_table} (v) VALUES ($1)", [(v,) for v in NASTY])
    rows = await conn.fetch(f"SELECT v FROM {pg_table} ORDER BY id")
    assert [r["v"] for r in rows] == NASTY
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table} WHERE v = $1", "--") == 1


@PROPERTY
@given(value=st.integers(-(2**63), 2**63 - 1))
async def test_int8_round_trips(conn: ferrule.PgConnection, value: int) -> None:
    assert await conn.fetchval("SELECT $1::int8", value) == value


@PROPERTY
@given(value=st.floats(allow_nan=True, allow_infinity=True))
async def test_float8_round_trips(conn: ferrule.PgConnection, value: float) -> None:
    got = await conn.fetchval("SELECT $1::float8", value)
    assert (math.isnan(got) and math.isnan(value)) or got == value


@PROPERTY
@given(
    value=st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: abs(d.adjusted()) < 1000
    )
)
@example(value=Decimal("-0.000"))
@example(value=Decimal("1E+999"))
async def test_numeric_round_trips(conn: ferrule.PgConnection, value: Decimal) -> None:
    got = await conn.fetchval("SELECT $1::numeric", value)
    assert got == value
    assert await conn.fetchval("SELECT $1::numeric = $2::text::numeric", value, str(value))


@PROPERTY
@given(
    value=st.datetimes(
        min_value=dt.datetime(1, 1, 1, 0, 0, 1),
        max_value=dt.datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.sampled_from(
            [
                dt.timezone.utc,
                dt.timezone(dt.timedelta(hours=-11, minutes=-30)),
                dt.timezone(dt.timedelta(hours=13, minutes=45)),
            ]
        ),
    ).filter(
        lambda d: (
            dt.datetime.min.replace(tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
            < d
            < dt.datetime.max.replace(tzinfo=dt.timezone.utc) - dt.timedelta(days=1)
        )
    )
)
async def test_timestamptz_round_trips(conn: ferrule.PgConnection, value: dt.datetime) -> None:
    got = await conn.fetchval("SELECT $1::timestamptz", value)
    assert got == value and got.utcoffset() == dt.timedelta(0)


@PROPERTY
@given(
    value=st.timedeltas(min_value=dt.timedelta(days=-(10**6)), max_value=dt.timedelta(days=10**6))
)
async def test_interval_round_trips(conn: ferrule.PgConnection, value: dt.timedelta) -> None:
    assert await conn.fetchval("SELECT $1::interval", value) == value
    seconds = await conn.fetchval("SELECT extract(epoch FROM $1::interval)", value)
    assert (
        Decimal(seconds)
        == Decimal(value.days * 86400 + value.seconds) + Decimal(value.microseconds) / 1000000
    )


@PROPERTY
@given(value=st.uuids())
async def test_uuid_round_trips(conn: ferrule.PgConnection, value: uuid.UUID) -> None:
    assert await conn.fetchval("SELECT $1::uuid", value) == value
    assert await conn.fetchval("SELECT $1::uuid::text", value) == str(value)
