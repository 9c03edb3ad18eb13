"""The type cases shared by ferrule's SQL Server tests and the honesty tests that hold
python-tds, pymssql and tsql to the same list."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))

# (expression, value for python-tds, value for pymssql where it differs, text tsql prints)
SAME = object()
# fmt: off
TYPE_CASES: list[tuple[str, Any, Any, str]] = [
    ("CAST(1 AS bit)", True, SAME, "1"),
    ("CAST(255 AS tinyint)", 255, SAME, "255"),
    ("CAST(-32768 AS smallint)", -32768, SAME, "-32768"),
    ("CAST(-2147483648 AS int)", -2147483648, SAME, "-2147483648"),
    ("CAST(9223372036854775807 AS bigint)", 9223372036854775807, SAME, "9223372036854775807"),
    ("CAST(1.5 AS real)", 1.5, SAME, "1.5"),
    ("CAST(-1.25e300 AS float)", -1.25e300, SAME, "-1.2500000000000001e+300"),
    (
        "CAST('-12345678901234567890.123456789' AS decimal(38,9))",
        Decimal("-12345678901234567890.123456789"),
        SAME,
        "-12345678901234567890.123456789",
    ),
    ("CAST('1.50' AS numeric(5,2))", Decimal("1.50"), SAME, "1.50"),
    (
        "CAST('922337203685477.5807' AS money)",
        Decimal("922337203685477.5807"),
        SAME,
        "922337203685477.5807",
    ),
    ("CAST('-214748.3648' AS smallmoney)", Decimal("-214748.3648"), SAME, "-214748.3648"),
    ("CAST('abc' AS char(5))", "abc  ", SAME, "abc  "),
    ("CAST('abcé' AS varchar(10))", "abcé", SAME, "abcé"),
    ("CAST('txt' AS text)", "txt", SAME, "txt"),
    ("CAST(N'ωx' AS nchar(3))", "ωx ", SAME, "ωx "),
    ("CAST(N'日本語' AS nvarchar(10))", "日本語", SAME, "日本語"),
    ("CAST(N'nt' AS ntext)", "nt", SAME, "nt"),
    ("CAST(REPLICATE(N'ж', 5000) AS nvarchar(max))", "ж" * 5000, SAME, "ж" * 5000),
    ("CAST(0x0102 AS binary(4))", b"\x01\x02\x00\x00", SAME, "01020000"),
    ("CAST(0xDEADBEEF AS varbinary(10))", b"\xde\xad\xbe\xef", SAME, "deadbeef"),
    ("CAST(0x00FF AS image)", b"\x00\xff", SAME, "00ff"),
    ("CAST(0x0102 AS varbinary(max))", b"\x01\x02", SAME, "0102"),
    ("CAST('2024-02-29' AS date)", dt.date(2024, 2, 29), SAME, "Feb 29 2024 12:00AM"),
    (
        "CAST('23:59:59.1234567' AS time)",
        dt.time(23, 59, 59, 123456),
        SAME,
        "Jan  1 1900 11:59PM",
    ),
    (
        "CAST('2024-01-02 03:04:05.997' AS datetime)",
        dt.datetime(2024, 1, 2, 3, 4, 5, 997000),
        SAME,
        "Jan  2 2024 03:04AM",
    ),
    (
        "CAST('2024-01-02 13:04:05.1234567' AS datetime2)",
        dt.datetime(2024, 1, 2, 13, 4, 5, 123456),
        SAME,
        "Jan  2 2024 01:04PM",
    ),
    (
        "CAST('2024-01-02 03:04:29' AS smalldatetime)",
        dt.datetime(2024, 1, 2, 3, 4),
        SAME,
        "Jan  2 2024 03:04AM",
    ),
    (
        "CAST('2024-01-02 03:04:05.1234567 +05:30' AS datetimeoffset)",
        dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=IST),
        SAME,
        "Jan  2 2024 03:04AM",
    ),
    (
        "CAST('6F9619FF-8B86-D011-B42D-00C04FC964FF' AS uniqueidentifier)",
        uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
        SAME,
        "6F9619FF-8B86-D011-B42D-00C04FC964FF",
    ),
    ("CAST('<a>1</a>' AS xml)", "<a>1</a>", SAME, "<a>1</a>"),
    # pymssql hands sql_variant over as the raw bytes of the base value.
    ("CAST(42 AS sql_variant)", 42, b"*\x00\x00\x00", "42"),
    ("CAST(N'vv' AS sql_variant)", "vv", b"vv", "vv"),
    ("CAST(NULL AS int)", None, SAME, "NULL"),
    ("CAST(NULL AS bit)", None, SAME, "NULL"),
    ("CAST(NULL AS nvarchar(max))", None, SAME, "NULL"),
    ("CAST(NULL AS varbinary(max))", None, SAME, "NULL"),
    ("CAST(NULL AS datetime2)", None, SAME, "NULL"),
    ("CAST(NULL AS decimal(10,2))", None, SAME, "NULL"),
    ("CAST(NULL AS text)", None, SAME, "NULL"),
    ("CAST(NULL AS uniqueidentifier)", None, SAME, "NULL"),
]
# fmt: on

# (column type, a value bound as a parameter, what reading the column back gives)
# fmt: off
ROUND_TRIPS: list[tuple[str, Any, Any]] = [
    ("bit", True, True),
    ("bit", False, False),
    ("tinyint", 255, 255),
    ("smallint", -32768, -32768),
    ("int", -2147483648, -2147483648),
    ("bigint", 9223372036854775807, 9223372036854775807),
    ("real", 1.5, 1.5),
    ("float", -1.25e300, -1.25e300),
    ("decimal(38,9)", Decimal("-12345678901234567890.123456789"),
     Decimal("-12345678901234567890.123456789")),
    ("numeric(5,2)", Decimal("1.50"), Decimal("1.50")),
    ("money", Decimal("922337203685477.5807"), Decimal("922337203685477.5807")),
    ("smallmoney", Decimal("-214748.3648"), Decimal("-214748.3648")),
    ("char(5)", "abc", "abc  "),
    ("varchar(10)", "abcé", "abcé"),
    ("varchar(max)", "v" * 9000, "v" * 9000),
    ("text", "txt", "txt"),
    ("nchar(3)", "ωx", "ωx "),
    ("nvarchar(10)", "日本語", "日本語"),
    ("nvarchar(max)", "ж" * 5000, "ж" * 5000),
    ("ntext", "nt", "nt"),
    ("binary(4)", b"\x01\x02", b"\x01\x02\x00\x00"),
    ("varbinary(10)", b"\xde\xad\xbe\xef", b"\xde\xad\xbe\xef"),
    ("varbinary(max)", bytes(range(256)) * 40, bytes(range(256)) * 40),
    ("image", b"\x00\xff", b"\x00\xff"),
    ("date", dt.date(2024, 2, 29), dt.date(2024, 2, 29)),
    ("time", dt.time(23, 59, 59, 123456), dt.time(23, 59, 59, 123456)),
    ("datetime", dt.datetime(2024, 1, 2, 3, 4, 5, 997000),
     dt.datetime(2024, 1, 2, 3, 4, 5, 997000)),
    ("datetime2", dt.datetime(2024, 1, 2, 13, 4, 5, 123456),
     dt.datetime(2024, 1, 2, 13, 4, 5, 123456)),
    ("smalldatetime", dt.datetime(2024, 1, 2, 3, 4), dt.datetime(2024, 1, 2, 3, 4)),
    ("datetimeoffset", dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=IST),
     dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=IST)),
    ("uniqueidentifier", uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
     uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF")),
    ("xml", "<a>1</a>", "<a>1</a>"),
    ("sql_variant", 42, 42),
    ("sql_variant", "vv", "vv"),
]
# fmt: on

# Parameter values that would break a driver pasting them into the SQL text.
HOSTILE = ["'; DROP TABLE x; --", "a'b\"c", "$$", "@p1", "\x00nul", "ünïcödé 😀", "", " "]
