"""Timing, interleaved rounds, medians and ratios shared by every benchmark suite.

The machines are shared and noisy, so a number is only trusted as the median of several rounds
in which every library ran the same workload back to back, in an order rotated each round.
"""

from __future__ import annotations

import asyncio
import gc
import math
import statistics
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

REFERENCE = "asyncpg"


@dataclass(frozen=True)
class Metric:
    """One reported number of a workload, e.g. throughput or p99 latency."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    primary: bool = False


@dataclass
class Workload:
    """A named measurement; `measure(session)` runs it once and returns {metric key: value}."""

    name: str
    title: str
    metrics: tuple[Metric, ...]
    measure: Callable[[Any], Awaitable[dict[str, float]]]

    def metric(self, key: str) -> Metric:
        return next(m for m in self.metrics if m.key == key)


class Named(Protocol):
    name: str


@dataclass
class Row:
    """One line of a results table: a library's median for one metric of one workload."""

    loop: str
    workload: str
    title: str
    metric: Metric
    lib: str
    median: float | None
    spread: float | None
    rounds: int
    vs_reference: float | None
    vs_best_peer: float | None
    error: str | None = None


@dataclass
class Results:
    """Raw per-round values: raw[loop][workload][lib][metric] -> [value per round]."""

    raw: dict[str, dict[str, dict[str, dict[str, list[float]]]]] = field(default_factory=dict)
    errors: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def add(self, loop: str, workload: str, lib: str, values: dict[str, float]) -> None:
        per_lib = self.raw.setdefault(loop, {}).setdefault(workload, {}).setdefault(lib, {})
        for key, value in values.items():
            per_lib.setdefault(key, []).append(value)

    def error(self, loop: str, workload: str, lib: str, message: str) -> None:
        self.errors.setdefault(loop, {}).setdefault(workload, {})[lib] = message

    def failed(self, loop: str, workload: str, lib: str) -> bool:
        return lib in self.errors.get(loop, {}).get(workload, {})

    def values(self, loop: str, workload: str, lib: str, key: str) -> list[float]:
        return self.raw.get(loop, {}).get(workload, {}).get(lib, {}).get(key, [])


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (q in 0..1)."""
    if not sorted_values:
        raise ValueError("percentile of an empty sequence")
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def speed(metric: Metric, value: float) -> float:
    """A number where larger is always better, so ratios read the same for every metric."""
    if metric.higher_is_better:
        return value
    return 1.0 / value if value > 0 else math.inf


def ratio(metric: Metric, value: float | None, other: float | None) -> float | None:
    """How many times better `value` is than `other` (>1: better, <1: worse)."""
    if value is None or other is None or other == 0 or value == 0:
        return None
    return speed(metric, value) / speed(metric, other)


def rotated(items: Sequence[Any], shift: int) -> list[Any]:
    if not items:
        return []
    k = shift % len(items)
    return [*items[k:], *items[:k]]


Log = Callable[[str], None]


async def measure_once(
    workload: Workload, session: Named, timeout: float
) -> tuple[dict[str, float] | None, str | None]:
    """Run one measurement after a full collection, so no library pays for another's garbage."""
    gc.collect()
    try:
        values = await asyncio.wait_for(workload.measure(session), timeout)
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
        return None, f"{type(exc).__name__}: {exc}{where}"
    return values, None


async def run_rounds(
    loop: str,
    workloads: Sequence[Workload],
    sessions: Sequence[Named],
    rounds: int,
    results: Results,
    timeout: float,
    log: Log,
) -> None:
    """Warm every (workload, library) pair up once, then run `rounds` interleaved rounds.

    Round r runs each workload for every library back to back, starting with library r, so
    that drift in machine load is spread evenly instead of always hitting the same library.
    """
    for workload in workloads:
        for session in sessions:
            _, err = await measure_once(workload, session, timeout)
            if err is not None:
                results.error(loop, workload.name, session.name, err)
                log(f"  {workload.name} / {session.name}: {err}")
    for r in range(rounds):
        started = time.perf_counter()
        for workload in workloads:
            for session in rotated(sessions, r):
                if results.failed(loop, workload.name, session.name):
                    continue
                values, err = await measure_once(workload, session, timeout)
                if err is not None:
                    results.error(loop, workload.name, session.name, err)
                    log(f"  {workload.name} / {session.name}: {err}")
                elif values is not None:
                    results.add(loop, workload.name, session.name, values)
        log(f"  round {r + 1}/{rounds} done in {time.perf_counter() - started:.1f} s")


def summarize(
    results: Results,
    loop: str,
    workloads: Sequence[Workload],
    libs: Sequence[str],
    peers: Sequence[str],
) -> list[Row]:
    """Medians, spreads and ratios for every (workload, metric, library) of one loop.

    The best peer of a library is the best of the peers other than itself, so ferrule is
    compared with the best of asyncpg, psqlpy and psycopg.
    """
    rows: list[Row] = []
    for workload in workloads:
        for metric in workload.metrics:
            medians: dict[str, float | None] = {}
            for lib in libs:
                vals = results.values(loop, workload.name, lib, metric.key)
                medians[lib] = statistics.median(vals) if vals else None
            for lib in libs:
                vals = results.values(loop, workload.name, lib, metric.key)
                med = medians[lib]
                spread = (max(vals) - min(vals)) / med if len(vals) > 1 and med else None
                others = [medians[p] for p in peers if p != lib and medians.get(p) is not None]
                best = max(others, key=lambda v: speed(metric, v)) if others else None
                rows.append(
                    Row(
                        loop=loop,
                        workload=workload.name,
                        title=workload.title,
                        metric=metric,
                        lib=lib,
                        median=med,
                        spread=spread,
                        rounds=len(vals),
                        vs_reference=ratio(metric, med, medians.get(REFERENCE)),
                        vs_best_peer=ratio(metric, med, best),
                        error=results.errors.get(loop, {}).get(workload.name, {}).get(lib),
                    )
                )
    return rows


def fmt_value(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_spread(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def text_table(headers: Sequence[str], body: Sequence[Sequence[str]], right: set[int]) -> str:
    """A plain aligned table for the terminal; columns in `right` are right-aligned."""
    widths = [len(h) for h in headers]
    for line in body:
        widths = [max(w, len(cell)) for w, cell in zip(widths, line)]

    def render(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(headers), rule, *(render(line) for line in body)])


def rows_table(rows: Sequence[Row]) -> str:
    """The stdout table of one loop: workload, lib, median, unit, ratios, spread."""
    headers = ["workload", "metric", "lib", "median", "unit", "vs asyncpg", "vs best peer"]
    headers.append("spread")
    body: list[list[str]] = []
    for row in rows:
        if row.error is not None and row.median is None:
            body.append([row.workload, row.metric.label, row.lib, "error", "", "", "", ""])
            continue
        body.append(
            [
                row.workload,
                row.metric.label,
                row.lib,
                fmt_value(row.median),
                row.metric.unit,
                fmt_ratio(row.vs_reference),
                fmt_ratio(row.vs_best_peer),
                fmt_spread(row.spread),
            ]
        )
    return text_table(headers, body, right={3, 5, 6, 7})
