"""Scalar types both ways, table-driven: Python -> server -> Python, the server's text form of
what was sent, the value the server's own literal decodes to, and NULL."""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest

import ferrule

UTC = dt.timezone.utc
PLUS_0530 = dt.timezone(dt.timedelta(hours=5, minutes=30))
MINUS_0800 = dt.timezone(dt.timedelta(hours=-8))
U = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")

# (type, Python value, the server's text output for it). The session runs with TimeZone=UTC.
CASES: list[tuple[str, Any, str]] = [
    ("bool", True, "true"),
    ("bool", False, "false"),
    ("int2", -32768, "-32768"),
    ("int2", 32767, "32767"),
    ("int4", -(2**31), "-2147483648"),
    ("int4", 2**31 - 1, "2147483647"),
    ("int8", -(2**63), "-9223372036854775808"),
    ("int8", 2**63 - 1, "9223372036854775807"),
    ("float4", 1.5, "1.5"),
    ("float4", -0.25, "-0.25"),
    ("float4", math.inf, "Infinity"),
    ("float8", 1.0000000000000002, "1.0000000000000002"),
    ("float8", -1e300, "-1e+300"),
    ("float8", 5e-324, "5e-324"),
    ("float8", math.inf, "Infinity"),
    ("float8", -math.inf, "-Infinity"),
    ("numeric", Decimal("0"), "0"),
    ("numeric", Decimal("-12.3400"), "-12.3400"),
    ("numeric", Decimal("0.0001"), "0.0001"),
    ("numeric", Decimal("-0.00000000015"), "-0.00000000015"),
    ("numeric", Decimal("10000"), "10000"),
    ("numeric", Decimal("99999999.99999999"), "99999999.99999999"),
    ("numeric", Decimal("1" + "0" * 60 + ".5"), "1" + "0" * 60 + ".5"),
    ("numeric", Decimal("3." + "14159265358979323846" * 5), "3." + "14159265358979323846" * 5),
    ("numeric", Decimal("NaN"), "NaN"),
    ("text", "héllo wörld ✓ 𝄞", "héllo wörld ✓ 𝄞"),
    ("text", "", ""),
    ("varchar", "abc", "abc"),
    ("bpchar", "abc", "abc"),
    ("name", "a_name", "a_name"),
    ('"char"', "x", "x"),
    ("bytea", b"", "\\x"),
    ("bytea", b"\x00\x01\xfe\xff", "\\x0001feff"),
    ("date", dt.date(2020, 2, 29), "2020-02-29"),
    ("date", dt.date(1900, 1, 1), "1900-01-01"),
    ("date", dt.date(1, 1, 2), "0001-01-02"),
    ("date", dt.date(9999, 12, 30), "9999-12-30"),
    ("date", dt.date.max, "infinity"),
    ("date", dt.date.min, "-infinity"),
    ("time", dt.time(0, 0), "00:00:00"),
    ("time", dt.time(23, 59, 59, 999999), "23:59:59.999999"),
    ("timetz", dt.time(12, 0, tzinfo=PLUS_0530), "12:00:00+05:30"),
    ("timetz", dt.time(1, 2, 3, 4, tzinfo=MINUS_0800), "01:02:03.000004-08"),
    ("timestamp", dt.datetime(2000, 1, 1), "2000-01-01 00:00:00"),
    ("timestamp", dt.datetime(1969, 12, 31, 23, 59, 59, 999999), "1969-12-31 23:59:59.999999"),
    ("timestamp", dt.datetime(1, 1, 1, 0, 0, 1), "0001-01-01 00:00:01"),
    ("timestamp", dt.datetime.max, "infinity"),
    ("timestamp", dt.datetime.min, "-infinity"),
    ("timestamptz", dt.datetime(2021, 6, 1, 12, 30, tzinfo=UTC), "2021-06-01 12:30:00+00"),
    (
        "timestamptz",
        dt.datetime(1850, 6, 1, 0, 0, 0, 1, tzinfo=UTC),
        "1850-06-01 00:00:00.000001+00",
    ),
    ("timestamptz", dt.datetime.max.replace(tzinfo=UTC), "infinity"),
    ("timestamptz", dt.datetime.min.replace(tzinfo=UTC), "-infinity"),
    ("interval", dt.timedelta(0), "00:00:00"),
    ("interval", dt.timedelta(days=1, seconds=2, microseconds=3), "1 day 00:00:02.000003"),
    # Negative timedeltas are sent with one sign (Python's normal form is days=-1 plus
    # positive seconds, which PostgreSQL would apply as "-1 day" then "+23:59:55").
    ("interval", dt.timedelta(days=-1, seconds=5), "-23:59:55"),
    ("interval", dt.timedelta(microseconds=-1), "-00:00:00.000001"),
    ("interval", dt.timedelta(hours=-1), "-01:00:00"),
    ("interval", dt.timedelta(days=-3), "-3 days"),
    ("interval", dt.timedelta(days=-3, hours=2), "-2 days -22:00:00"),
    ("interval", dt.timedelta(days=999999), "999999 days"),
    ("uuid", U, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ("json", {"a": [1, 2.5, None, True, 'q"uote']}, '{"a":[1,2.5,null,true,"q\\"uote"]}'),
    ("jsonb", {"a": [1, 2.5, None, True, "ü"]}, '{"a": [1, 2.5, null, true, "ü"]}'),
    ("jsonb", [1, "two", {}], '[1, "two", {}]'),
    ("jsonb", "just a string", '"just a string"'),
    ("jsonb", 42, "42"),
    ("inet", ipaddress.ip_address("192.168.0.1"), "192.168.0.1/32"),
    ("inet", ipaddress.ip_address("2001:db8::1"), "2001:db8::1/128"),
    ("inet", ipaddress.ip_interface("10.1.2.3/8"), "10.1.2.3/8"),
    ("inet", ipaddress.ip_interface("2001:db8::1/64"), "2001:db8::1/64"),
    ("cidr", ipaddress.ip_network("10.0.0.0/8"), "10.0.0.0/8"),
    ("cidr", ipaddress.ip_network("2001:db8::/32"), "2001:db8::/32"),
    ("oid", 4294967295, "4294967295"),
]


def _param(case: tuple[str, Any, str]) -> Any:
    # A str parameter for json/jsonb is JSON text already, so a JSON string goes quoted.
    pg_type, value, _ = case
    return f'"{value}"' if pg_type in ("json", "jsonb") and isinstance(value, str) else value


def _case_id(case: tuple[str, Any, str]) -> str:
    return f"{case[0]}-{case[2][:30]}"


@pytest.fixture
async def utc_conn(conn: ferrule.PgConnection) -> ferrule.PgConnection:
    await conn.execute("SET TimeZone = 'UTC'; SET extra_float_digits = 1")
    return conn


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, Decimal) and a.is_nan():
        return isinstance(b, Decimal) and b.is_nan()
    return bool(a == b) and type(a) is type(b)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
async def test_round_trip(utc_conn: ferrule.PgConnection, case: tuple[str, Any, str]) -> None:
    pg_type, value, text = case
    param = _param(case)
    got = await utc_conn.fetchval(f"SELECT $1::{pg_type}", param)
    assert _same(value, got), f"{pg_type}: sent {value!r}, got {got!r}"
    # What the server holds is what was meant, not just something that decodes back.
    assert await utc_conn.fetchval(f"SELECT $1::{pg_type}::text", param) == text
    # And the server's own value of that text decodes to the Python value.
    decoded = await utc_conn.fetchval(f"SELECT $1::text::{pg_type}", text)
    assert _same(value, decoded), f"{pg_type}: {text!r} decoded to {decoded!r}"


@pytest.mark.parametrize("pg_type", sorted({c[0] for c in CASES}))
async def test_null(conn: ferrule.PgConnection, pg_type: str) -> None:
    assert await conn.fetchval(f"SELECT $1::{pg_type}", None) is None
    assert await conn.fetchval(f"SELECT NULL::{pg_type}") is None


async def test_through_a_table(conn: ferrule.PgConnection, pg_table: str) -> None:
    columns = [(f"c{i}", pg_type) for i, (pg_type, _, _) in enumerate(CASES)]
    await conn.execute(
        f"CREATE TABLE {pg_table} ({', '.join(f'{name} {t}' for name, t in columns)})"
    )
    placeholders = ", ".join(f"${i + 1}" for i in range(len(CASES)))
    values = [_param(case) for case in CASES]
    await conn.execute(f"INSERT INTO {pg_table} VALUES ({placeholders})", *values)
    await conn.execute(f"INSERT INTO {pg_table} DEFAULT VALUES")
    rows = await conn.fetch(f"SELECT * FROM {pg_table} ORDER BY c0 NULLS LAST")
    for (_pg_type, value, _), got in zip(CASES, rows[0]):
        assert _same(value, got)
    assert list(rows[1].values()) == [None] * len(CASES)


async def test_float_nan(conn: ferrule.PgConnection) -> None:
    for pg_type in ("float4", "float8"):
        assert math.isnan(await conn.fetchval(f"SELECT $1::{pg_type}", math.nan))
        assert await conn.fetchval(f"SELECT $1::{pg_type}::text", math.nan) == "NaN"
    assert await conn.fetchval("SELECT $1::float4", 1.1) == pytest.approx(1.1, rel=1e-7)


async def test_numeric_infinities(conn: ferrule.PgConnection, pg_server_version_num: int) -> None:
    if pg_server_version_num < 140000:
        pytest.skip("numeric infinity needs PostgreSQL 14")
    for text in ("Infinity", "-Infinity"):
        assert await conn.fetchval("SELECT $1::numeric", Decimal(text)) == Decimal(text)
        assert await conn.fetchval("SELECT $1::numeric::text", Decimal(text)) == text
        assert await conn.fetchval(f"SELECT '{text}'::numeric") == Decimal(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E+5"), "100000"),
        (Decimal("1.5E-10"), "0.00000000015"),
        (Decimal("-2.50E+3"), "-2500"),
        (Decimal("-0"), "0"),
        (Decimal("-NaN"), "NaN"),
        (10**40, "1" + "0" * 40),
        (1.25, "1.25"),
        (7, "7"),
    ],
)
async def test_numeric_from_other_forms(conn: ferrule.PgConnection, value: Any, text: str) -> None:
    assert await conn.fetchval("SELECT $1::numeric::text", value) == text
    assert await conn.fetchval("SELECT $1::numeric", value) == Decimal(text) or text == "NaN"


async def test_numeric_negative_scale(
    conn: ferrule.PgConnection, pg_server_version_num: int
) -> None:
    if pg_server_version_num < 150000:
        pytest.skip("numeric with a negative scale needs PostgreSQL 15")
    assert await conn.fetchval("SELECT $1::numeric(5, -2)", Decimal("12345")) == Decimal("12300")
    assert await conn.fetchval("SELECT 1234567::numeric(7, -3)") == Decimal("1235000")


async def test_signalling_nan_is_refused(conn: ferrule.PgConnection) -> None:
    with pytest.raises(TypeError, match="signaling NaN"):
        await conn.fetchval("SELECT $1::numeric", Decimal("sNaN"))


async def test_numeric_keeps_display_scale(conn: ferrule.PgConnection) -> None:
    got = await conn.fetchval("SELECT 1.500::numeric(10, 3)")
    assert str(got) == "1.500"
    assert str(await conn.fetchval("SELECT 0.000100::numeric")) == "0.000100"


@pytest.mark.parametrize(
    ("pg_type", "value", "match"),
    [
        ("int2", 32768, r"32768 is out of range for smallint"),
        ("int2", -32769, r"out of range for smallint"),
        ("int4", 2**31, r"out of range for integer"),
        ("int8", 2**63, r"out of range for bigint"),
        ("int8", -(2**63) - 1, r"out of range for bigint"),
        ("float4", 1e300, r"out of range for real"),
        ("numeric", Decimal("1E-20000"), r"out of range for numeric"),
        ("oid", -1, r"out of range for oid"),
    ],
)
async def test_range_errors(
    conn: ferrule.PgConnection, pg_type: str, value: Any, match: str
) -> None:
    with pytest.raises(ferrule.DataError, match=rf"\$1 .*{match}"):
        await conn.fetchval(f"SELECT $1::{pg_type}", value)
    assert await conn.fetchval("SELECT 1") == 1


async def test_server_side_range_errors(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.NumericValueOutOfRangeError):
        await conn.fetchval("SELECT $1::numeric(3, 1)", Decimal("1000"))
    with pytest.raises(ferrule.StringDataRightTruncationError):
        await conn.execute("CREATE TEMP TABLE vc (v varchar(2)); INSERT INTO vc VALUES ('abc')")


async def test_int_widening(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT $1::float8", 3) == 3.0
    assert await conn.fetchval("SELECT $1::float4", -2) == -2.0


async def test_char_types_pad_and_truncate(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT $1::char(5)", "ab") == "ab   "
    assert await conn.fetchval("SELECT $1::varchar(3)", "abcdef") == "abc"


async def test_bytes_like_arguments(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT $1::bytea", bytearray(b"\x00ab")) == b"\x00ab"
    assert await conn.fetchval("SELECT $1::bytea", memoryview(b"xyz")[1:]) == b"yz"


async def test_aware_datetimes(conn: ferrule.PgConnection) -> None:
    await conn.execute("SET TimeZone = 'America/New_York'")
    local = dt.datetime(2021, 3, 14, 1, 30, tzinfo=MINUS_0800)
    got = await conn.fetchval("SELECT $1::timestamptz", local)
    assert got == local and got.tzinfo == UTC
    assert got == dt.datetime(2021, 3, 14, 9, 30, tzinfo=UTC)
    # The server's own zone does not change the instant decoded.
    assert await conn.fetchval("SELECT '2021-03-14 04:30:00-05'::timestamptz") == got
    # A naive datetime is taken as UTC for timestamptz.
    assert await conn.fetchval("SELECT $1::timestamptz", dt.datetime(2021, 1, 1)) == dt.datetime(
        2021, 1, 1, tzinfo=UTC
    )
    # An aware datetime sent to a timestamp without time zone arrives as UTC wall time.
    assert await conn.fetchval("SELECT $1::timestamp", local) == dt.datetime(2021, 3, 14, 9, 30)


async def test_negative_interval_across_a_dst_change(conn: ferrule.PgConnection) -> None:
    await conn.execute("SET TimeZone = 'America/New_York'")
    # The day after the spring-forward change: minus one hour is one hour earlier, not
    # "minus a calendar day plus 23 hours".
    at = dt.datetime(2021, 3, 14, 16, 0, tzinfo=UTC)
    got = await conn.fetchval("SELECT $1::timestamptz + $2::interval", at, dt.timedelta(hours=-1))
    assert got == at - dt.timedelta(hours=1)


async def test_time_24_00_is_clamped(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT '24:00:00'::time") == dt.time(23, 59, 59, 999999)


async def test_naive_time_for_timetz_is_utc(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT $1::timetz", dt.time(8, 0)) == dt.time(8, 0, tzinfo=UTC)


async def test_dates_outside_python_range(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ValueError, match="outside Python's range"):
        await conn.fetchval("SELECT '10000-01-01'::date")
    with pytest.raises(ValueError, match="outside Python's range"):
        await conn.fetchval("SELECT '0044-03-15 BC'::timestamp")
    assert await conn.fetchval("SELECT '10000-01-01'::date::text") == "10000-01-01"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 mon", dt.timedelta(days=30)),
        ("1 year", dt.timedelta(days=360)),
        (
            "1 year 2 mons 3 days 04:05:06.7",
            dt.timedelta(days=423, seconds=14706, microseconds=700000),
        ),
        ("-1 mon +1 day", dt.timedelta(days=-29)),
        ("-00:00:01", dt.timedelta(seconds=-1)),
    ],
)
async def test_intervals_with_months(
    conn: ferrule.PgConnection, text: str, expected: dt.timedelta
) -> None:
    # A month has no fixed length in a timedelta: it counts as 30 days.
    assert await conn.fetchval("SELECT $1::text::interval", text) == expected


async def test_interval_outside_timedelta(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ValueError, match="outside timedelta's range"):
        await conn.fetchval("SELECT '178000000 years'::interval")


async def test_uuid_from_str(conn: ferrule.PgConnection) -> None:
    for text in (str(U), "{" + str(U) + "}", U.hex, str(U).upper()):
        assert await conn.fetchval("SELECT $1::uuid", text) == U
    with pytest.raises(ferrule.DataError, match="not a UUID"):
        await conn.fetchval("SELECT $1::uuid", "not-a-uuid")


async def test_json_parameters(conn: ferrule.PgConnection) -> None:
    # A str is JSON text already; dicts, lists and scalars are serialized.
    assert await conn.fetchval("SELECT $1::jsonb", '{"k": [1, 2]}') == {"k": [1, 2]}
    assert await conn.fetchval("SELECT $1::json", "[1, 2]") == [1, 2]
    assert await conn.fetchval("SELECT $1::jsonb", {"n": None, "f": False}) == {
        "n": None,
        "f": False,
    }
    assert await conn.fetchval("SELECT $1::jsonb", {"d": Decimal("1.5")}) == {"d": 1.5}
    assert await conn.fetchval("SELECT $1::jsonb ->> 'k'", {"k": 'v\n\t"\\'}) == 'v\n\t"\\'
    with pytest.raises(ferrule.InvalidTextRepresentationError):
        await conn.fetchval("SELECT $1::jsonb", "not json")
    with pytest.raises(ferrule.DataError, match="not valid JSON"):
        await conn.fetchval("SELECT $1::jsonb", [math.nan])
    with pytest.raises(TypeError, match="dict keys must be str"):
        await conn.fetchval("SELECT $1::jsonb", {1: 2})


async def test_inet_forms(conn: ferrule.PgConnection) -> None:
    # An inet with a host prefix comes back as an address, with a shorter one as an interface.
    assert await conn.fetchval("SELECT '10.0.0.0/8'::inet") == ipaddress.ip_interface("10.0.0.0/8")
    assert await conn.fetchval("SELECT $1::cidr", ipaddress.ip_address("10.0.0.1")) == (
        ipaddress.ip_network("10.0.0.1/32")
    )
    assert await conn.fetchval("SELECT $1::inet", ipaddress.ip_network("10.0.0.0/8")) == (
        ipaddress.ip_interface("10.0.0.0/8")
    )


@pytest.mark.parametrize(
    ("pg_type", "value"),
    [
        ("int4", "12"),
        ("int4", 1.0),
        ("int4", True),
        ("bool", 1),
        ("date", dt.datetime(2020, 1, 1)),
        ("timestamp", dt.date(2020, 1, 1)),
        ("bytea", "text"),
        ("text", b"bytes"),
        ("float8", Decimal("1.5")),
        ("inet", "10.0.0.1"),
    ],
)
async def test_type_mismatch_is_a_clear_error(
    conn: ferrule.PgConnection, pg_type: str, value: Any
) -> None:
    with pytest.raises(ferrule.DataError, match=r"invalid argument \$1 .*cannot be sent as"):
        await conn.fetchval(f"SELECT $1::{pg_type}", value)


async def test_text_with_nul_is_a_clear_error(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.DataError, match=r"\$2 \(text\): text cannot contain NUL"):
        await conn.fetchval("SELECT $1::int, $2::text", 1, "a\x00b")
    assert await conn.fetchval("SELECT $1::bytea", b"a\x00b") == b"a\x00b"


async def test_lone_surrogate_is_a_clear_error(conn: ferrule.PgConnection) -> None:
    with pytest.raises(TypeError, match=r"invalid argument \$1: .*surrogates not allowed"):
        await conn.fetchval("SELECT $1::text", "\ud800")


async def test_void_and_oid_like(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT pg_sleep(0)") is None
    assert await conn.fetchval("SELECT 'pg_class'::regclass::oid") == 1259
