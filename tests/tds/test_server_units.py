"""Unit tests of the TDS test server's pieces: T-SQL translation, types, dates, values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.tds.server import temporal
from tests.tds.server.client_values import read_value
from tests.tds.server.lexer import tokenize
from tests.tds.server.login7 import deobfuscate_password, obfuscate_password
from tests.tds.server.parser import If, Simple, TryCatch, parse_batch
from tests.tds.server.translate import translate
from tests.tds.server.types import MAX, SqlType, parse_type, read_type_info, write_type_info
from tests.tds.server.values import ConversionError, coerce, encode_value
from tests.tds.server.wire import Reader


@pytest.mark.parametrize(
    ("tsql", "sqlite"),
    [
        ("SELECT TOP 5 [a b] FROM dbo.t ORDER BY 1", 'SELECT "a b" FROM t ORDER BY 1 LIMIT 5'),
        ("SELECT TOP (@n) x FROM #tmp", 'SELECT x FROM "#tmp" LIMIT(@n)'),
        ("SELECT N'x' + name FROM t", "SELECT 'x' || name FROM t"),
        ("SELECT CAST(x AS nvarchar(10)) FROM t", "SELECT tds_cast(x, 'nvarchar(10)') FROM t"),
        ("SELECT CONVERT(date, @d, 120)", "SELECT tds_cast(@d, 'date')"),
        ("SELECT ISNULL(a, 0), GETDATE(), SCOPE_IDENTITY()",
         "SELECT ifnull(a, 0), tds_getdate(), last_insert_rowid()"),
        ("SELECT x FROM t ORDER BY x OFFSET 10 ROWS FETCH NEXT 5 ROWS ONLY",
         "SELECT x FROM t ORDER BY x LIMIT 5 OFFSET 10"),
        ("INSERT INTO t (a) OUTPUT INSERTED.id VALUES (1)",
         "INSERT INTO t(a) VALUES(1) RETURNING id"),
        ("SELECT DATEADD(day, 1, @D), @@ROWCOUNT", "SELECT tds_dateadd('day', 1, @d), @__rowcount"),
        ("SELECT 0xCAFE", "SELECT X'CAFE'"),
    ],
)  # fmt: skip
def test_translation(tsql: str, sqlite: str) -> None:
    assert translate(tokenize(tsql)).sql == sqlite


def test_statements_need_no_semicolons() -> None:
    nodes = parse_batch(tokenize(
        "DECLARE @x int SET @x = 1 INSERT INTO t SELECT 1 UPDATE t SET a = 2 "
        "IF @x = 1 SELECT 1 ELSE SELECT 2 "
        "BEGIN TRY SELECT 1/0 END TRY BEGIN CATCH SELECT ERROR_NUMBER() END CATCH"
    ))  # fmt: skip
    kinds = [n.keyword if isinstance(n, Simple) else type(n).__name__ for n in nodes]
    assert kinds == ["DECLARE", "SET", "INSERT", "UPDATE", "If", "TryCatch"]
    assert isinstance(nodes[4], If) and isinstance(nodes[5], TryCatch)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int", SqlType("int")),
        ("NVARCHAR(MAX)", SqlType("nvarchar", MAX)),
        ("decimal", SqlType("decimal", precision=18, scale=0)),
        ("numeric(10, 2)", SqlType("numeric", precision=10, scale=2)),
        ("float(24)", SqlType("real")),
        ("datetime2", SqlType("datetime2", scale=7)),
        ("varchar", SqlType("varchar", 1)),
        ("sysname", SqlType("nvarchar", 128)),
    ],
)
def test_type_declarations(text: str, expected: SqlType) -> None:
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    ("sql_type", "value"),
    [
        (SqlType("int"), -5), (SqlType("bigint"), 2**62), (SqlType("bit"), 1),
        (SqlType("float"), 2.5), (SqlType("decimal", precision=20, scale=4), "-123.4500"),
        (SqlType("money"), "-12.3400"), (SqlType("nvarchar", 10), "ünï"),
        (SqlType("varbinary", MAX), b"\x00\x01"), (SqlType("date"), "2024-02-29"),
        (SqlType("time", scale=7), "23:59:59.1234567"),
        (SqlType("datetime2", scale=3), "2024-01-02 03:04:05.123"),
        (SqlType("datetimeoffset", scale=7), "2024-01-02 03:04:05.1234567 +05:30"),
        (SqlType("datetime"), "2024-01-02 03:04:05.997"),
        (SqlType("smalldatetime"), "2024-01-02 03:04:00"),
        (SqlType("uniqueidentifier"), "0E984725-C51C-4BF4-9960-E1C80E27ABA0"),
        (SqlType("xml"), "<a/>"), (SqlType("nvarchar", 5), None),
    ],
)  # fmt: skip
def test_values_round_trip_through_the_wire(sql_type: SqlType, value: object) -> None:
    """What the server sends, read back with the server's reader of client values."""
    data = write_type_info(sql_type) + encode_value(sql_type, value)
    reader = Reader(data)
    assert read_value(reader, read_type_info(reader)) == value
    assert reader.remaining() == 0


def test_conversions_follow_sql_server() -> None:
    assert coerce("1.005", SqlType("decimal", precision=5, scale=2)) == "1.01"
    assert coerce("2024-01-02T03:04:05.9999999", SqlType("datetime")) == "2024-01-02 03:04:06.000"
    assert coerce("20240102", SqlType("date")) == "2024-01-02"
    with pytest.raises(ConversionError) as caught:
        coerce("abc", SqlType("int"))
    assert caught.value.number == 245
    with pytest.raises(ConversionError):
        coerce(300, SqlType("tinyint"))
    assert coerce(Decimal("1e3"), SqlType("money")) == "1000.0000"


def test_datetime_resolution_is_three_hundredths() -> None:
    ticks = temporal.parse_temporal("03:04:05.997").ticks
    units = temporal.three_hundredths(ticks)
    assert units % 300 == 299
    assert temporal.from_python(dt.datetime(2024, 1, 2, 3, 4, 5, 997000)).ticks == ticks


def test_password_obfuscation_round_trips() -> None:
    assert deobfuscate_password(obfuscate_password("Pässwörd#1")) == "Pässwörd#1"
    assert obfuscate_password("a") == bytes([0xB3, 0xA5])
