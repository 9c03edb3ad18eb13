"""The SQLite workloads: ferrule, aiosqlite, aiolibsql and stdlib sqlite3 on the same files.

Every library gets its own database file in one temporary directory (WAL mode, as an
application would configure it), the same data and the same SQL. Only library calls are
timed; checks and resets happen outside the timed region.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

from bench.common import Log, Metric, Results, Workload, fmt_value, run_rounds, text_table
from bench.sqlite_clients import (
    CLIENTS,
    SQL_COUNT,
    SQL_CREATE,
    SQL_DELETE,
    SQL_INSERT,
    SQL_SELECT,
    Client,
    async_concurrent_reads,
    stdlib_threaded_reads,
)
from bench.summary import Summary, markdown_table

BASELINE = "sqlite3"
ASYNC_PEERS = ("aiosqlite", "aiolibsql")
# "replica" is bench/sqlite_replica.py's section (embedded replicas, against the libsql client).
WORKLOADS = ("point", "insert", "executemany", "select", "concurrent", "replica")


@dataclass(frozen=True)
class Sizes:
    point: int = 20_000
    inserts: int = 10_000
    many: int = 100_000
    select_rows: int = 100_000
    readers: int = 50
    concurrent_seconds: float = 1.0
    read_keys: int = 1_000

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            point=2_000,
            inserts=1_000,
            many=10_000,
            select_rows=10_000,
            readers=10,
            concurrent_seconds=0.3,
        )


@dataclass
class Session:
    """One library's connection to its own database file, reused by every round."""

    client: Client
    path: str
    conn: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.client.name


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"wrong result: {what}")


def _rows(n: int, start: int = 0) -> list[tuple[int, str, float]]:
    return [(i, f"name-{i}", i * 0.25) for i in range(start, start + n)]


async def _reset(s: Session, rows: list[tuple[int, str, float]] | None = None) -> None:
    """Empty the table (outside the timed region), optionally refilling it."""
    await s.client.execute(s.conn, SQL_DELETE)
    if rows:
        await s.client.executemany(s.conn, SQL_INSERT, rows)


def point(sizes: Sizes) -> Workload:
    n = sizes.point

    async def measure(s: Session) -> dict[str, float]:
        started = perf_counter()
        await s.client.point_loop(s.conn, n)
        wall = perf_counter() - started
        return {"us": wall / n * 1e6}

    metrics = (Metric("us", "awaited SELECT ?", "us/query", False, primary=True),)
    return Workload("point", f"{n:,} awaited point queries (SELECT ?)", metrics, measure)


def inserts(sizes: Sizes) -> Workload:
    rows = _rows(sizes.inserts)

    async def measure(s: Session) -> dict[str, float]:
        await _reset(s)
        started = perf_counter()
        await s.client.insert_loop(s.conn, rows)
        wall = perf_counter() - started
        count = await s.client.fetchval(s.conn, SQL_COUNT)
        _check(count == len(rows), f"{count} rows, expected {len(rows)}")
        return {"ms": wall * 1e3}

    metrics = (Metric("ms", "time", "ms", False, primary=True),)
    title = f"{len(rows):,} single-row INSERTs in one transaction"
    return Workload("insert", title, metrics, measure)


def executemany(sizes: Sizes) -> Workload:
    rows = _rows(sizes.many)

    async def measure(s: Session) -> dict[str, float]:
        await _reset(s)
        started = perf_counter()
        await s.client.executemany(s.conn, SQL_INSERT, rows)
        wall = perf_counter() - started
        count = await s.client.fetchval(s.conn, SQL_COUNT)
        _check(count == len(rows), f"{count} rows, expected {len(rows)}")
        return {"ms": wall * 1e3}

    metrics = (Metric("ms", "time", "ms", False, primary=True),)
    return Workload("executemany", f"executemany of {len(rows):,} rows", metrics, measure)


def select(sizes: Sizes) -> Workload:
    n = sizes.select_rows

    async def measure(s: Session) -> dict[str, float]:
        if s.extra.get("filled") != n:
            await _reset(s, _rows(n))
            s.extra["filled"] = n
        started = perf_counter()
        rows = await s.client.fetch_all(s.conn, SQL_SELECT)
        wall = perf_counter() - started
        _check(len(rows) == n and rows[-1][0] == n - 1, f"{len(rows)} rows")
        return {"ms": wall * 1e3}

    metrics = (Metric("ms", "time", "ms", False, primary=True),)
    return Workload("select", f"SELECT of {n:,} rows x 3 columns", metrics, measure)


def concurrent(sizes: Sizes) -> Workload:
    readers, seconds, keys = sizes.readers, sizes.concurrent_seconds, sizes.read_keys

    async def measure(s: Session) -> dict[str, float]:
        await _reset(s, _rows(keys))
        s.extra.pop("filled", None)
        if s.client.name == BASELINE:
            reads, writes = await asyncio.get_running_loop().run_in_executor(
                None, stdlib_threaded_reads, s.path, readers, seconds, keys
            )
        else:
            reads, writes = await async_concurrent_reads(s.client, s.path, readers, seconds, keys)
        return {"rps": reads / seconds, "wps": writes / seconds}

    metrics = (
        Metric("rps", "reads", "reads/s", True, primary=True),
        Metric("wps", "writes (at most 200/s)", "writes/s", True),
    )
    title = (
        f"{readers} concurrent readers + 1 writer, WAL mode, {seconds:g} s "
        "(sqlite3: a thread per reader)"
    )
    return Workload("concurrent", title, metrics, measure)


def build_workloads(sizes: Sizes, only: list[str]) -> list[Workload]:
    makers = {
        "point": point,
        "insert": inserts,
        "executemany": executemany,
        "select": select,
        "concurrent": concurrent,
    }
    return [makers[name](sizes) for name in WORKLOADS if name in only and name in makers]


def load_clients(names: list[str]) -> tuple[list[Client], dict[str, str]]:
    clients, missing = [], {}
    for name in names:
        client = CLIENTS[name]()
        try:
            client.load()
        except ImportError as exc:
            missing[name] = str(exc)
            continue
        clients.append(client)
    return clients, missing


def _prepare_file(path: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(SQL_CREATE)
    conn.close()


async def run_suite(
    loop_name: str,
    clients: list[Client],
    workloads: list[Workload],
    rounds: int,
    results: Results,
    timeout: float,
    log: Log,
) -> None:
    with tempfile.TemporaryDirectory(prefix="ferrule-bench-") as tmp:
        sessions = []
        for client in clients:
            path = str(Path(tmp) / f"{client.name}.db")
            _prepare_file(path)
            try:
                sessions.append(Session(client, path, await client.open(path)))
            except Exception as exc:
                for w in workloads:
                    results.error(loop_name, w.name, client.name, f"open: {exc}")
                log(f"  {client.name}: cannot open ({exc})")
        try:
            await run_rounds(loop_name, workloads, sessions, rounds, results, timeout, log)
        finally:
            for s in sessions:
                await s.client.close(s.conn)


def table(results: Results, loop: str, workloads: list[Workload], libs: list[str]) -> str:
    """Medians with ratios against stdlib sqlite3 and against the best async peer."""
    headers = ["workload", "lib", "median", "unit", "vs sqlite3", "vs best async peer"]
    body: list[list[str]] = []
    for w in workloads:
        for metric in w.metrics:
            body.extend(_metric_rows(results, loop, w, metric, libs))
    return text_table(headers, body, right={2, 4, 5})


def _metric_rows(
    results: Results, loop: str, w: Workload, metric: Metric, libs: list[str]
) -> list[list[str]]:
    name = w.name if metric.primary else f"{w.name} ({metric.label})"
    medians: dict[str, float | None] = {}
    for lib in libs:
        vals = results.values(loop, w.name, lib, metric.key)
        medians[lib] = statistics.median(vals) if vals else None
    body: list[list[str]] = []
    for lib in libs:
        med = medians[lib]
        if med is None:
            error = results.errors.get(loop, {}).get(w.name, {}).get(lib, "")
            body.append([name, lib, "error", "", error[:60], ""])
            continue
        peers = [medians[p] for p in ASYNC_PEERS if p != lib and medians.get(p)]
        best = (max if metric.higher_is_better else min)(peers) if peers else None
        body.append(
            [
                name,
                lib,
                fmt_value(med),
                metric.unit,
                _ratio(metric, med, medians.get(BASELINE)),
                _ratio(metric, med, best),
            ]
        )
    return body


def headline(results: Results, loop: str, workloads: list[Workload], libs: list[str]) -> str:
    """The README table: each workload's primary number per library, with ferrule's and
    the async peers' ratio to stdlib sqlite3 in brackets."""
    rows: list[list[str]] = []
    for w in workloads:
        metric = next(m for m in w.metrics if m.primary)
        medians = {}
        for lib in libs:
            vals = results.values(loop, w.name, lib, metric.key)
            medians[lib] = statistics.median(vals) if vals else None
        cells = [f"{w.title} ({metric.unit})"]
        for lib in libs:
            med = medians[lib]
            if med is None:
                cells.append("-")
            elif lib == BASELINE or medians.get(BASELINE) is None:
                cells.append(fmt_value(med))
            else:
                cells.append(f"{fmt_value(med)} ({_ratio(metric, med, medians[BASELINE])})")
        rows.append(cells)
    return markdown_table(["workload", *libs], rows)


def _ratio(metric: Metric, value: float, other: float | None) -> str:
    if not other or not value:
        return "-"
    r = value / other if metric.higher_is_better else other / value
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.3f}x"


def run(
    args: Any, loops: list[str], run_in_loop: Any, root: Path, log: Log
) -> tuple[dict[str, Any], int, Summary]:
    """The SQLite part of `make bench`: every loop, the tables on stdout, the raw numbers;
    returns (the JSON payload, the number of failed measurements, the summary for the docs)."""
    sizes = Sizes.quick() if args.quick else Sizes()
    workloads = build_workloads(sizes, args.sqlite_only)
    clients, missing = load_clients(args.sqlite_libs)
    for lib, why in missing.items():
        log(f"{lib}: missing, not measured ({why})")
    results = Results()
    libs = [c.name for c in clients]
    for name in loops:
        log(f"== SQLite, {name}: {', '.join(libs)}; {args.rounds} round(s) ==")

        def suite(name: str = name) -> Any:
            return run_suite(name, clients, workloads, args.rounds, results, args.timeout, log)

        run_in_loop(name, suite)
        rounds = f"{args.rounds} round{'s' if args.rounds > 1 else ''}"
        print(f"\nSQLite, {name} ({rounds}; a ratio above 1 means faster than the one compared)")
        for w in workloads:
            print(f"  {w.name}: {w.title}")
        print(table(results, name, workloads, libs))
    failures = sum(len(v) for per_loop in results.errors.values() for v in per_loop.values())
    payload = {
        "sizes": sizes.__dict__,
        "missing": missing,
        "raw": results.raw,
        "errors": results.errors,
        "tables": {loop: table(results, loop, workloads, libs) for loop in loops},
        "sqlite_version": sqlite3.sqlite_version,
    }
    shown = loops[0]
    rounds = f"{args.rounds} round{'s' if args.rounds > 1 else ''}"
    summary = Summary(
        key="sqlite",
        title="SQLite",
        note=(
            f"{shown} event loop (the tables in docs/benchmarks.md have every loop); in "
            f"brackets: how many times faster than stdlib sqlite3 (its concurrent readers are "
            f"threads); {sizes.readers} readers for {sizes.concurrent_seconds:g} s beside one "
            f"writer; medians of {rounds}."
        ),
        tables=payload["tables"],
        headline=headline(results, shown, workloads, libs),
    )
    return payload, failures, summary
