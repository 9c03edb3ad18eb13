"""SQL Server built-in functions as Python functions on each SQLite connection."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import uuid
import zlib
from typing import Any, Protocol

import apsw

from . import temporal
from .types import parse_type
from .values import ConversionError, coerce

_UNITS = {
    "hour": 3600 * temporal.TICKS_PER_SECOND, "hh": 3600 * temporal.TICKS_PER_SECOND,
    "minute": 60 * temporal.TICKS_PER_SECOND, "mi": 60 * temporal.TICKS_PER_SECOND,
    "n": 60 * temporal.TICKS_PER_SECOND, "second": temporal.TICKS_PER_SECOND,
    "ss": temporal.TICKS_PER_SECOND, "s": temporal.TICKS_PER_SECOND,
    "millisecond": 10_000, "ms": 10_000, "microsecond": 10, "mcs": 10, "nanosecond": 1, "ns": 1,
}  # fmt: skip
_PARTS = {
    "yy": "year",
    "yyyy": "year",
    "qq": "quarter",
    "q": "quarter",
    "mm": "month",
    "m": "month",
    "dy": "dayofyear",
    "y": "dayofyear",
    "dd": "day",
    "d": "day",
    "wk": "week",
    "ww": "week",
    "dw": "weekday",
    "w": "weekday",
}


_SERVER_PROPERTIES = {
    "productversion": "16.0.1000.6", "productmajorversion": "16", "productlevel": "RTM",
    "edition": "Developer Edition (64-bit)", "engineedition": 3, "servername": "ferrule-tds",
    "machinename": "ferrule-tds", "collation": "SQL_Latin1_General_CP1_CI_AS",
    "isintegratedsecurityonly": 0,
}  # fmt: skip
_CONNECTION_PROPERTIES = {"net_transport": "TCP", "protocol_type": "TSQL", "auth_scheme": "SQL"}


class SessionFacts(Protocol):
    """What some functions need to know about the session running them."""

    database_name: str
    user: str
    current_error: tuple[int, int, int, str] | None


def _part(name: str) -> str:
    name = str(name).lower()
    return _PARTS.get(name, name)


def _now(utc: bool = False) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) if utc else dt.datetime.now()


def _as_text(moment: dt.datetime, type_name: str) -> str:
    return temporal.canonical_text(temporal.from_python(moment), type_name)


def tds_cast(value: Any, declaration: str) -> Any:
    return coerce(value, parse_type(declaration, default_length=30))


def tds_try_cast(value: Any, declaration: str) -> Any:
    try:
        return tds_cast(value, declaration)
    except ConversionError:
        return None


def _absolute(value: Any) -> tuple[temporal.Temporal, int]:
    parsed = temporal.parse_temporal(str(value))
    date = parsed.date or temporal.DATETIME_EPOCH
    return parsed, date.toordinal() * temporal.TICKS_PER_DAY + parsed.ticks


def _shape(text: str, moment: temporal.Temporal) -> str:
    """`moment` formatted like `text` was (date only, or with as many fraction digits)."""
    if ":" not in text:
        return temporal.canonical_text(moment, "date")
    fraction = text.split(".")[1].split(" ")[0] if "." in text else ""
    kind = "datetimeoffset" if moment.offset is not None else "datetime2"
    return temporal.canonical_text(moment, kind, len(fraction))


def tds_dateadd(part: str, number: int, value: Any) -> Any:
    if value is None or number is None:
        return None
    parsed, _ = _absolute(value)
    part = _part(part)
    date = parsed.date or temporal.DATETIME_EPOCH
    ticks = parsed.ticks
    n = int(number)
    if part in ("year", "quarter", "month"):
        months = n * {"year": 12, "quarter": 3, "month": 1}[part]
        index = date.year * 12 + date.month - 1 + months
        year, month = divmod(index, 12)
        day = date.day
        while True:
            try:
                date = dt.date(year, month + 1, day)
                break
            except ValueError:
                day -= 1
    elif part in ("day", "dayofyear", "weekday"):
        date += dt.timedelta(days=n)
    elif part == "week":
        date += dt.timedelta(weeks=n)
    elif part in _UNITS:
        total = date.toordinal() * temporal.TICKS_PER_DAY + ticks + n * _UNITS[part]
        days, ticks = divmod(total, temporal.TICKS_PER_DAY)
        date = dt.date.fromordinal(days)
    else:
        raise ConversionError(155, f"'{part}' is not a recognized dateadd option.")
    return _shape(str(value), temporal.Temporal(date, ticks, parsed.offset))


def tds_datediff(part: str, start: Any, end: Any) -> Any:
    if start is None or end is None:
        return None
    a, ta = _absolute(start)
    b, tb = _absolute(end)
    da, db = a.date or temporal.DATETIME_EPOCH, b.date or temporal.DATETIME_EPOCH
    part = _part(part)
    if part == "year":
        return db.year - da.year
    if part == "quarter":
        return (db.year * 4 + (db.month - 1) // 3) - (da.year * 4 + (da.month - 1) // 3)
    if part == "month":
        return (db.year * 12 + db.month) - (da.year * 12 + da.month)
    if part in ("day", "dayofyear", "weekday"):
        return (db - da).days
    if part == "week":
        return (db.toordinal() + 1) // 7 - (da.toordinal() + 1) // 7
    if part in _UNITS:
        unit = _UNITS[part]
        return tb // unit - ta // unit
    raise ConversionError(155, f"'{part}' is not a recognized datediff option.")


def tds_datepart(part: str, value: Any) -> Any:
    if value is None:
        return None
    parsed, _ = _absolute(value)
    date = parsed.date or temporal.DATETIME_EPOCH
    part = _part(part)
    seconds, fraction = divmod(parsed.ticks, temporal.TICKS_PER_SECOND)
    simple = {
        "year": date.year, "quarter": (date.month - 1) // 3 + 1, "month": date.month,
        "dayofyear": date.timetuple().tm_yday, "day": date.day,
        "weekday": date.isoweekday() % 7 + 1, "week": int(date.strftime("%U")) + 1,
        "hour": seconds // 3600, "minute": seconds // 60 % 60, "second": seconds % 60,
        "millisecond": fraction // 10_000, "microsecond": fraction // 10,
        "nanosecond": fraction * 100, "tzoffset": parsed.offset or 0,
    }  # fmt: skip
    if part not in simple:
        raise ConversionError(155, f"'{part}' is not a recognized datepart option.")
    return simple[part]


def _numeric_collation(a: str, b: str) -> int:
    try:
        x, y = decimal.Decimal(a), decimal.Decimal(b)
    except decimal.InvalidOperation:
        return (a > b) - (a < b)
    return (x > y) - (x < y)


@functools.lru_cache(maxsize=4096)
def _instant(text: str) -> int | None:
    try:
        parsed = temporal.parse_temporal(text)
    except temporal.TemporalError:
        return None
    date = parsed.date or temporal.DATETIME_EPOCH
    ticks = date.toordinal() * temporal.TICKS_PER_DAY + parsed.ticks
    return ticks - (parsed.offset or 0) * 60 * temporal.TICKS_PER_SECOND


def _temporal_collation(a: str, b: str) -> int:
    x, y = _instant(a), _instant(b)
    if x is None or y is None:
        return (a > b) - (a < b)
    return (x > y) - (x < y)


def _round(value: Any, digits: int = 0, truncate: int = 0) -> Any:
    if value is None:
        return None
    number = decimal.Decimal(str(value))
    mode = decimal.ROUND_DOWN if truncate else decimal.ROUND_HALF_UP
    rounded = number.quantize(decimal.Decimal(1).scaleb(-int(digits)), rounding=mode)
    if isinstance(value, int):
        return int(rounded)
    return float(rounded) if isinstance(value, float) else format(rounded, "f")


def _object_id(conn: apsw.Connection, name: Any, _kind: Any = None) -> Any:
    if name is None:
        return None
    bare = str(name).split(".")[-1].strip('[]"')
    schema = "temp" if bare.startswith("#") or str(name).startswith("tempdb") else "main"
    query = f"SELECT 1 FROM {schema}.sqlite_master WHERE lower(name) = lower(?)"
    if list(conn.execute(query, (bare,))):
        return zlib.crc32(bare.lower().encode()) & 0x7FFFFFFF
    return None


def register(conn: apsw.Connection, session: SessionFacts) -> None:
    def scalar(name: str, fn: Any, deterministic: bool = True) -> None:
        conn.create_scalar_function(name, fn, deterministic=deterministic)

    scalar("tds_cast", tds_cast)
    scalar("tds_try_cast", tds_try_cast)
    scalar("tds_getdate", lambda: _as_text(_now(), "datetime"), False)
    scalar("tds_getutcdate", lambda: _as_text(_now(True).replace(tzinfo=None), "datetime"), False)
    scalar("tds_sysdatetime", lambda: _as_text(_now(), "datetime2"), False)
    scalar(
        "tds_sysutcdatetime", lambda: _as_text(_now(True).replace(tzinfo=None), "datetime2"), False
    )
    scalar("tds_sysdatetimeoffset", lambda: _as_text(_now().astimezone(), "datetimeoffset"), False)
    scalar("tds_newid", lambda: str(uuid.uuid4()).upper(), False)
    scalar("tds_len", lambda s: None if s is None else len(str(s).rstrip(" ")))
    scalar(
        "tds_datalength",
        lambda s: None if s is None else len(s) if isinstance(s, bytes) else 2 * len(str(s)),
    )
    scalar(
        "tds_charindex",
        lambda sub, s, start=1: (
            None
            if sub is None or s is None
            else str(s).lower().find(str(sub).lower(), max(int(start), 1) - 1) + 1
        ),
    )
    scalar("tds_dateadd", tds_dateadd)
    scalar("tds_datediff", tds_datediff)
    scalar("tds_datepart", tds_datepart)
    scalar("tds_year", lambda v: tds_datepart("year", v))
    scalar("tds_month", lambda v: tds_datepart("month", v))
    scalar("tds_day", lambda v: tds_datepart("day", v))
    scalar("tds_left", lambda s, n: None if s is None else str(s)[: max(int(n), 0)])
    scalar("tds_right", lambda s, n: None if s is None else str(s)[len(str(s)) - int(n) :])
    scalar("tds_replicate", lambda s, n: None if s is None else str(s) * max(int(n), 0))
    scalar("tds_space", lambda n: " " * max(int(n), 0))
    scalar("tds_isnumeric", lambda v: int(_is_number(v)))
    scalar("tds_round", _round)
    scalar("tds_object_id", lambda name, kind=None: _object_id(conn, name, kind), False)
    scalar("tds_db_name", lambda *_: session.database_name, False)
    scalar("tds_user_name", lambda *_: session.user, False)
    for index, fname in enumerate(("number", "severity", "state", "message")):
        scalar(f"tds_error_{fname}", _error_getter(session, index), False)
    scalar("tds_serverproperty", lambda name: _SERVER_PROPERTIES.get(str(name).lower()), False)
    scalar("tds_connectionproperty", lambda name: _CONNECTION_PROPERTIES.get(str(name).lower()))
    conn.create_collation("TDS_NUMERIC", _numeric_collation)
    conn.create_collation("TDS_TEMPORAL", _temporal_collation)


def _error_getter(session: SessionFacts, index: int) -> Any:
    return lambda: None if session.current_error is None else session.current_error[index]


def _is_number(value: Any) -> bool:
    if isinstance(value, (int, float)):
        return True
    try:
        decimal.Decimal(str(value))
        return True
    except decimal.InvalidOperation:
        return False
