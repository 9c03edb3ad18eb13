"""PostgreSQL values without a Python built-in: ranges and the geometric types.

`Range` is native (``ferrule.Range``). The geometric types are named tuples, so a plain tuple
binds as well: ``(1.5, 2)`` for a point, ``((0, 0), (1, 1))`` for a box or a line segment,
``((0, 0), 2)`` for a circle, a list of points for a polygon or an open path.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ferrule._ferrule import Range


class Point(NamedTuple):
    """``point``: (x, y)."""

    x: float
    y: float


class Line(NamedTuple):
    """``line``: the coefficients of ``a*x + b*y + c = 0``."""

    a: float
    b: float
    c: float


class LineSegment(NamedTuple):
    """``lseg``: its two ends."""

    p1: Point
    p2: Point


class Box(NamedTuple):
    """``box``: the upper-right and lower-left corners (the server orders them so)."""

    high: Point
    low: Point


class Path(NamedTuple):
    """``path``: points, open or closed."""

    points: list[Point]
    closed: bool = False


class Polygon(tuple[Point, ...]):
    """``polygon``: a tuple of its points."""

    __slots__ = ()

    def __new__(cls, points: Any) -> Polygon:
        return super().__new__(cls, (Point(*p) for p in points))

    def __repr__(self) -> str:
        return f"Polygon({list(self)!r})"


class Circle(NamedTuple):
    """``circle``: center and radius."""

    center: Point
    radius: float


def _make_range(lower: Any, upper: Any, lower_inc: bool, upper_inc: bool, empty: bool) -> Range:
    """Unpickles a Range."""
    return Range(lower, upper, lower_inc=lower_inc, upper_inc=upper_inc, empty=empty)


__all__ = ["Box", "Circle", "Line", "LineSegment", "Path", "Point", "Polygon", "Range"]
