"""SQL Server benchmark: ferrule against python-tds and pymssql, through the TDS test server.

Workloads, interleaved per round: sequential small queries, 100 concurrent queries over 10
connections, 100,000 rows fetched. Reported: wall time, client CPU per query (this process
only: the server is a subprocess) and ratios to ferrule. Medians of several rounds.

Run: .venv/bin/python bench/mssql.py [--rounds N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.common.tds_server import get_tds_server

SMALL = "SELECT @p1 AS n"
ROWS_SQL = (
    "WITH d AS (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 "
    "UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 "
    "UNION ALL SELECT 8 UNION ALL SELECT 9) "
    "SELECT a.n + 10 * b.n + 100 * c.n + 1000 * e.n + 10000 * f.n AS id, N'row' AS name "
    "FROM d a, d b, d c, d e, d f"
)


def _measure(fn: Callable[[], Any], queries: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, (time.process_time() - cpu) / queries * 1e6


def ferrule_suite(dsn: str, n_small: int) -> dict[str, tuple[float, float]]:
    import ferrule

    async def run() -> dict[str, tuple[float, float]]:
        conn = await ferrule.connect(dsn)
        conns = [await ferrule.connect(dsn) for _ in range(10)]
        out: dict[str, tuple[float, float]] = {}

        async def seq() -> None:
            for i in range(n_small):
                await conn.fetchval(SMALL, i)

        async def conc() -> None:
            await asyncio.gather(*(conns[i % 10].fetchval(SMALL, i) for i in range(100)))

        async def big() -> None:
            rows = await conn.fetch(ROWS_SQL)
            assert len(rows) == 100_000

        for name, coro, q in (
            ("sequential", seq, n_small),
            ("concurrent100", conc, 100),
            ("fetch100k", big, 1),
        ):
            wall, cpu = time.perf_counter(), time.process_time()
            await coro()
            out[name] = (time.perf_counter() - wall, (time.process_time() - cpu) / q * 1e6)
        for c in [conn, *conns]:
            await c.close()
        return out

    return asyncio.run(run())


def pytds_suite(server: Any, n_small: int) -> dict[str, tuple[float, float]]:
    import pytds

    def connect() -> Any:
        return pytds.connect(
            server.host, server.database, server.user, server.password, port=server.port,
            autocommit=True,
        )  # fmt: skip

    return _sync_suite(connect, n_small, "%s")


def pymssql_suite(server: Any, n_small: int) -> dict[str, tuple[float, float]]:
    import pymssql

    def connect() -> Any:
        return pymssql.connect(
            server=server.host, port=str(server.port), user=server.user,
            password=server.password, database=server.database, autocommit=True,
        )  # fmt: skip

    return _sync_suite(connect, n_small, "%s")


def _sync_suite(connect: Callable[[], Any], n_small: int, mark: str) -> dict[str, Any]:
    import concurrent.futures

    conn = connect()
    conns = [connect() for _ in range(10)]
    sql = SMALL.replace("@p1", mark)
    out = {}

    def seq() -> None:
        cur = conn.cursor()
        for i in range(n_small):
            cur.execute(sql, (i,))
            cur.fetchall()

    def conc() -> None:
        # Threads: these drivers are blocking, one call at a time per connection.
        def one(k: int) -> None:
            cur = conns[k].cursor()
            for i in range(10):
                cur.execute(sql, (k * 10 + i,))
                cur.fetchall()

        with concurrent.futures.ThreadPoolExecutor(10) as ex:
            list(ex.map(one, range(10)))

    def big() -> None:
        cur = conn.cursor()
        cur.execute(ROWS_SQL)
        assert len(cur.fetchall()) == 100_000

    out["sequential"] = _measure(seq, n_small)
    out["concurrent100"] = _measure(conc, 100)
    out["fetch100k"] = _measure(big, 1)
    for c in [conn, *conns]:
        c.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    server = get_tds_server()
    dsn = server.dsn(encrypt="no")
    n_small = 300 if args.quick else 2000
    suites: dict[str, Callable[[], dict[str, tuple[float, float]]]] = {
        "ferrule": lambda: ferrule_suite(dsn, n_small),
        "python-tds": lambda: pytds_suite(server, n_small),
        "pymssql": lambda: pymssql_suite(server, n_small),
    }
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for _ in range(args.rounds):
        for lib, suite in suites.items():
            try:
                for work, value in suite().items():
                    results.setdefault(lib, {}).setdefault(work, []).append(value)
            except Exception as exc:  # a missing or broken peer must not stop the run
                print(f"{lib}: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(f"{'workload':<14} {'library':<11} {'wall s':>9} {'CPU us/query':>13} {'CPU ratio':>10}")
    for work in ("sequential", "concurrent100", "fetch100k"):
        base = None
        for lib in suites:
            runs = results.get(lib, {}).get(work)
            if not runs:
                continue
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            base = base or cpu
            print(f"{work:<14} {lib:<11} {wall:>9.3f} {cpu:>13.1f} {cpu / base:>9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
