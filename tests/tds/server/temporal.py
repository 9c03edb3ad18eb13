"""Dates and times: parsing T-SQL literals, the canonical text stored in SQLite, wire forms.

Values are kept as (date, ticks of 100 ns since midnight, offset minutes) so that the seven
fractional digits of datetime2/time/datetimeoffset survive every conversion.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

TICKS_PER_SECOND = 10_000_000
TICKS_PER_DAY = 86_400 * TICKS_PER_SECOND
DATETIME_EPOCH = dt.date(1900, 1, 1)

_LITERAL = re.compile(
    r"^\s*(?:(\d{4})-(\d{1,2})-(\d{1,2})|(\d{4})(\d{2})(\d{2})|(\d{4})/(\d{1,2})/(\d{1,2}))?"
    r"(?:(?:[ T]|^)\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{0,9}))?)?)?"
    r"\s*(?:(Z)|([+-])(\d{1,2}):?(\d{2}))?\s*$"
)


class TemporalError(ValueError):
    """Text that is not a date or time SQL Server would accept."""


@dataclass(frozen=True)
class Temporal:
    date: dt.date | None
    ticks: int  # 100 ns units since midnight
    offset: int | None  # minutes east of UTC


def parse_temporal(text: str) -> Temporal:
    match = _LITERAL.match(text)
    if not match or not text.strip():
        raise TemporalError(f"Conversion failed when converting date and/or time from {text!r}.")
    g = match.groups()
    date = None
    for base in (0, 3, 6):
        if g[base] is not None:
            try:
                date = dt.date(int(g[base]), int(g[base + 1]), int(g[base + 2]))
            except ValueError as exc:
                raise TemporalError(f"out-of-range date in {text!r}") from exc
    ticks = 0
    if g[9] is not None:
        hour, minute, second = int(g[9]), int(g[10]), int(g[11] or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise TemporalError(f"out-of-range time in {text!r}")
        fraction = (g[12] or "")[:7].ljust(7, "0")
        ticks = ((hour * 60 + minute) * 60 + second) * TICKS_PER_SECOND + int(fraction)
    offset = None
    if g[13]:
        offset = 0
    elif g[14]:
        offset = (int(g[15]) * 60 + int(g[16])) * (1 if g[14] == "+" else -1)
    if date is None and g[9] is None:
        raise TemporalError(f"Conversion failed when converting date and/or time from {text!r}.")
    return Temporal(date, ticks, offset)


def from_python(value: dt.date | dt.time | dt.datetime) -> Temporal:
    if isinstance(value, dt.datetime):
        off = value.utcoffset()
        offset = int(off.total_seconds() // 60) if off is not None else None
        return Temporal(value.date(), time_ticks(value.time()), offset)
    if isinstance(value, dt.date):
        return Temporal(value, 0, None)
    return Temporal(None, time_ticks(value), None)


def time_ticks(t: dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * TICKS_PER_SECOND + t.microsecond * 10


def round_ticks(ticks: int, scale: int) -> int:
    """Ticks rounded to `scale` fractional digits (half up, as SQL Server does)."""
    unit = 10 ** (7 - scale)
    return (ticks + unit // 2) // unit * unit


def _clock(ticks: int, digits: int) -> str:
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{hour:02d}:{minute:02d}:{second:02d}"
    if digits:
        text += "." + f"{fraction:07d}"[:digits]
    return text


def _carry(date: dt.date, ticks: int) -> tuple[dt.date, int]:
    days, ticks = divmod(ticks, TICKS_PER_DAY)
    return date + dt.timedelta(days=days), ticks


def three_hundredths(ticks: int) -> int:
    """Ticks rounded to datetime's resolution, 1/300 s."""
    return (ticks * 300 + TICKS_PER_SECOND // 2) // TICKS_PER_SECOND


def _datetime_clock(units: int) -> str:
    """A datetime's time of day (in 1/300 s) as SQL Server shows it: milliseconds, rounded."""
    seconds, rest = divmod(units, 300)
    millis = (rest * 1000 + 150) // 300
    return f"{_clock(seconds * TICKS_PER_SECOND, 0)}.{millis:03d}"


def canonical_text(value: Temporal, type_name: str, scale: int = 7) -> str:
    """The text a value of `type_name` is stored as in SQLite (sortable, exact)."""
    date = value.date or DATETIME_EPOCH
    if type_name == "date":
        if value.date is None:
            raise TemporalError("a time cannot be converted to date")
        return date.isoformat()
    if type_name == "time":
        return _clock(round_ticks(value.ticks, scale) % TICKS_PER_DAY, scale)
    if type_name == "datetime":
        days, units = divmod(three_hundredths(value.ticks), 86_400 * 300)
        return f"{(date + dt.timedelta(days=days)).isoformat()} {_datetime_clock(units)}"
    if type_name == "smalldatetime":
        minute = 60 * TICKS_PER_SECOND
        date, ticks = _carry(date, (value.ticks + minute // 2) // minute * minute)
        return f"{date.isoformat()} {_clock(ticks, 0)}"
    if type_name == "datetime2":
        date, ticks = _carry(date, round_ticks(value.ticks, scale))
        return f"{date.isoformat()} {_clock(ticks, scale)}"
    if type_name == "datetimeoffset":
        date, ticks = _carry(date, round_ticks(value.ticks, scale))
        offset = value.offset or 0
        sign = "+" if offset >= 0 else "-"
        hours, minutes = divmod(abs(offset), 60)
        return f"{date.isoformat()} {_clock(ticks, scale)} {sign}{hours:02d}:{minutes:02d}"
    raise TemporalError(f"{type_name} is not a date/time type")


# -- wire forms --------------------------------------------------------------------------------


def encode_date(date: dt.date) -> bytes:
    return (date.toordinal() - 1).to_bytes(3, "little")


def decode_date(raw: bytes) -> dt.date:
    return dt.date.fromordinal(int.from_bytes(raw, "little") + 1)


def encode_time(ticks: int, scale: int, size: int) -> bytes:
    return (round_ticks(ticks, scale) // 10 ** (7 - scale)).to_bytes(size, "little")


def decode_time(raw: bytes, scale: int) -> int:
    return int.from_bytes(raw, "little") * 10 ** (7 - scale)


def encode_datetime(date: dt.date, ticks: int) -> bytes:
    extra_days, units = divmod(three_hundredths(ticks), 86_400 * 300)
    days = (date - DATETIME_EPOCH).days + extra_days
    return days.to_bytes(4, "little", signed=True) + units.to_bytes(4, "little")


def decode_datetime(raw: bytes) -> tuple[dt.date, int]:
    days = int.from_bytes(raw[:4], "little", signed=True)
    three_hundredths = int.from_bytes(raw[4:], "little")
    ticks = (three_hundredths * TICKS_PER_SECOND + 150) // 300
    return DATETIME_EPOCH + dt.timedelta(days=days), ticks


def encode_smalldatetime(date: dt.date, ticks: int) -> bytes:
    minute = 60 * TICKS_PER_SECOND
    date, ticks = _carry(date, (ticks + minute // 2) // minute * minute)
    days = (date - DATETIME_EPOCH).days
    return days.to_bytes(2, "little") + (ticks // minute).to_bytes(2, "little")


def decode_smalldatetime(raw: bytes) -> tuple[dt.date, int]:
    days = int.from_bytes(raw[:2], "little")
    minutes = int.from_bytes(raw[2:], "little")
    return DATETIME_EPOCH + dt.timedelta(days=days), minutes * 60 * TICKS_PER_SECOND


def to_utc(date: dt.date, ticks: int, offset: int) -> tuple[dt.date, int]:
    return _carry(date, ticks - offset * 60 * TICKS_PER_SECOND)


def from_utc(date: dt.date, ticks: int, offset: int) -> tuple[dt.date, int]:
    return _carry(date, ticks + offset * 60 * TICKS_PER_SECOND)
