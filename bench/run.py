"""`make bench`: ferrule and its peers on each database, side by side, medians and ratios.

`--backends` picks the databases (default pg,tarantool,sqlite,mssql). For SQLite the peers are
aiosqlite, aiolibsql and stdlib sqlite3 on files in a temporary directory (bench/sqlite.py);
its tables are printed and its raw numbers saved to bench/results/sqlite-*.json. For SQL
Server: python-tds, pymssql and aioodbc (FreeTDS's ODBC driver) through the TDS test server
(bench/mssql.py; bench/results/mssql-*.json).

Starts a throwaway PostgreSQL (or uses FERRULE_PG_DSN), runs every selected workload for
every library in interleaved rounds under each event loop, runs pgbench as the ceiling, prints
one table per loop, saves the raw numbers to bench/results/ and regenerates
docs/benchmarks.md, docs/bench-pg.svg and the README headline.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import (  # noqa: E402
    pg,
    pgbench,
    report,
    sqlite_replica,
)
from bench import sqlite as sqlite_bench  # noqa: E402
from bench.common import Results, rows_table, summarize  # noqa: E402
from bench.summary import Summary, write_summary  # noqa: E402

LOOPS = ("asyncio", "uvloop")
BACKENDS = ("pg", "tarantool", "sqlite", "mssql")
T = TypeVar("T")


def _names(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        given = ", ".join(unknown) or "(none given)"
        raise argparse.ArgumentTypeError(
            f"unknown {what} {given}; choose from {', '.join(allowed)}"
        )
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    workloads = (*pg.WORKLOADS, "pgbench")
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="ferrule against asyncpg, psqlpy and psycopg on PostgreSQL, interleaved.",
    )
    parser.add_argument(
        "--rounds", type=int, help="interleaved rounds per loop (default 5; 1 with --quick)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: small sizes, one round, pgbench -T 1; writes no docs unless --write",
    )
    parser.add_argument(
        "--only",
        type=lambda v: _names(v, workloads, "workload"),
        default=list(workloads),
        help=f"comma-separated workloads (default all): {','.join(workloads)}",
    )
    parser.add_argument(
        "--libs",
        type=lambda v: _names(v, tuple(pg.CLIENTS), "library"),
        default=list(pg.CLIENTS),
        help=f"comma-separated libraries (default {','.join(pg.CLIENTS)})",
    )
    parser.add_argument(
        "--loops",
        type=lambda v: _names(v, LOOPS, "event loop"),
        default=list(LOOPS),
        help="comma-separated event loops (default asyncio,uvloop)",
    )
    parser.add_argument(
        "--backends",
        type=lambda v: _names(v, BACKENDS, "backend"),
        default=list(BACKENDS),
        help=f"comma-separated backends (default {','.join(BACKENDS)})",
    )
    parser.add_argument(
        "--sqlite-only",
        type=lambda v: _names(v, sqlite_bench.WORKLOADS, "SQLite workload"),
        default=list(sqlite_bench.WORKLOADS),
        help=f"SQLite workloads (default all): {','.join(sqlite_bench.WORKLOADS)}",
    )
    parser.add_argument(
        "--sqlite-libs",
        type=lambda v: _names(v, tuple(sqlite_bench.CLIENTS), "SQLite library"),
        default=list(sqlite_bench.CLIENTS),
        help=f"SQLite libraries (default {','.join(sqlite_bench.CLIENTS)})",
    )
    parser.add_argument(
        "--pgbench-seconds", type=int, help="-T of each pgbench run (default 5; 1 with --quick)"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds before one measurement is abandoned"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/ or README.md")
    parser.add_argument("--write", action="store_true", help="write docs even with --quick")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when any measurement failed (for tests)"
    )
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 1 if args.quick else 5
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.pgbench_seconds is None:
        args.pgbench_seconds = 1 if args.quick else 5
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run_in_loop(name: str, main: Callable[[], Awaitable[T]]) -> T:
    loop = loop_factory(name)()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()


def save_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    status = 0
    if "tarantool" in args.backends:
        from bench import tarantool

        loops = [name for name in args.loops if name != "uvloop" or _has_uvloop()]
        status, summary = tarantool.run(loops, args.rounds, args.quick, run_in_loop, log)
        _write(args, summary)
    if "sqlite" in args.backends:
        status = max(status, main_sqlite(args))
    if "mssql" in args.backends:
        from bench import mssql

        loops = [name for name in args.loops if name != "uvloop" or _has_uvloop()]
        failed, summary = mssql.run(loops, args.rounds, args.quick, run_in_loop, log)
        status = max(status, failed)
        _write(args, summary)
    if "pg" not in args.backends:
        return status if args.strict else 0
    return max(status if args.strict else 0, run_pg(args))


def _write(args: argparse.Namespace, summary: Summary | None) -> None:
    """A suite's results into docs/benchmarks.md and the README, unless told not to."""
    if summary is not None and not (args.no_write or (args.quick and not args.write)):
        write_summary(summary, ROOT, log)


def main_sqlite(args: argparse.Namespace) -> int:
    loops = [name for name in args.loops if name != "uvloop" or _has_uvloop()]
    failures = 0
    if any(name != "replica" for name in args.sqlite_only):
        payload, failures, summary = sqlite_bench.run(args, loops, run_in_loop, ROOT, log)
        payload["args"] = vars(args)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = ROOT / "bench" / "results" / f"sqlite-{stamp}.json"
        save_json(out, payload)
        log(f"raw SQLite results: {out.relative_to(ROOT)}")
        _write(args, summary)
    if "replica" in args.sqlite_only:
        try:
            _write(args, sqlite_replica.run(args, loops, run_in_loop, ROOT, log))
        except Exception as exc:  # one suite's failure must not lose the others' results
            log(f"replicas: the measurement failed: {exc!r}")
            failures += 1
    if failures:
        log(f"{failures} SQLite measurement(s) failed; see the errors above")
    return 1 if failures else 0


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        log("event loop uvloop: missing, skipped")
        return False
    return True


def run_pg(args: argparse.Namespace) -> int:
    sizes = pg.Sizes.quick() if args.quick else pg.Sizes()
    workloads = pg.build_workloads(sizes, args.only)
    clients, missing = pg.load_clients(args.libs)
    for lib, why in missing.items():
        log(f"{lib}: missing, not measured ({why})")
    loops = []
    for name in args.loops:
        try:
            loop_factory(name)
            loops.append(name)
        except ImportError as exc:
            log(f"event loop {name}: missing, skipped ({exc})")

    from tests.common.pg_cluster import PgClusterError, get_cluster

    try:
        cluster = get_cluster()
    except (PgClusterError, OSError) as exc:
        log(f"no PostgreSQL server: {exc}")
        return 2
    # Plain TCP for everyone: TLS would measure the TLS stacks, not the drivers.
    dsn = cluster.dsn(sslmode="disable")

    results = Results()
    server: dict[str, str] = {}
    if workloads and clients:
        for name in loops:
            log(f"== {name}: {', '.join(c.name for c in clients)}; {args.rounds} round(s) ==")

            def suite(name: str = name) -> Awaitable[dict[str, str]]:
                return pg.run_suite(
                    name, clients, dsn, workloads, args.rounds, results, args.timeout, log
                )

            server.update(run_in_loop(name, suite))
    ceiling = None
    if "pgbench" in args.only:
        log("== pgbench ==")
        ceiling = pgbench.measure(cluster, min(args.rounds, 3), args.pgbench_seconds, log)

    libs = [lib for lib in args.libs if lib not in missing]
    rows = {loop: summarize(results, loop, workloads, libs, pg.PEERS) for loop in loops}
    for loop in loops if workloads and libs else []:
        rounds = f"{args.rounds} round{'s' if args.rounds > 1 else ''}"
        print(f"\n{loop} ({rounds}; a ratio above 1 means faster than the library compared)")
        print(rows_table(rows[loop]))
    if ceiling is not None:
        print()
        for clients_n in pgbench.CLIENT_THREADS:
            tps = ceiling.median(clients_n)
            shown = f"{tps:,.0f} tps" if tps else ceiling.error or "-"
            print(f"pgbench -S -M prepared -c {clients_n}: {shown}")

    machine = report.machine_info(server.get("server_version"), loops)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"pg-{stamp}.json"
    save_json(
        out,
        {
            "machine": machine,
            "args": vars(args),
            "sizes": dataclasses.asdict(sizes),
            "missing": missing,
            "raw": results.raw,
            "errors": results.errors,
            "summary": {loop: [dataclasses.asdict(r) for r in rows[loop]] for loop in loops},
            "pgbench": ceiling.to_json() if ceiling else None,
        },
    )
    log(f"raw results: {out.relative_to(ROOT)}")

    if args.no_write or (args.quick and not args.write):
        log("docs not written (--no-write or --quick)")
    elif not loops or not libs or not workloads:
        log("docs not written: nothing was measured")
    else:
        data = report.RunData(
            loops=loops,
            rows=rows,
            workloads=workloads,
            libs=libs,
            missing=missing,
            ceiling=ceiling,
            machine=machine,
            rounds=args.rounds,
            quick=args.quick,
        )
        report.write_outputs(data, ROOT, log)
    failures = sum(len(libs) for per_loop in results.errors.values() for libs in per_loop.values())
    if ceiling is not None and ceiling.error:
        failures += 1
    if failures:
        log(f"{failures} measurement(s) failed; see the errors above")
    return 1 if failures and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
