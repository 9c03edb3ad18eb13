"""SQL Server benchmark: ferrule against python-tds, pymssql and aioodbc (FreeTDS's ODBC
driver), through the TDS test server, in interleaved rounds.

Workloads: sequential small queries, 100 concurrent queries over 10 connections (ferrule
through its pool), 100,000 rows fetched. Reported: wall time per query, client CPU per query
(this process only, every thread of it: the server is a subprocess) and each library's CPU as
a multiple of ferrule's. Medians of the rounds. The blocking drivers run their concurrent
queries from 10 threads, one connection each; ferrule and aioodbc run under each selected
event loop.

Run through `bench/run.py --backends mssql`, or alone: `.venv/bin/python bench/mssql.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.summary import Summary, markdown_table  # noqa: E402

CLIENTS = ("ferrule", "python-tds", "pymssql", "aioodbc")
ASYNC_CLIENTS = ("ferrule", "aioodbc")
WORKLOADS = ("sequential", "concurrent100", "fetch100k")
ODBC_DRIVER = "FreeTDS"
SMALL = "SELECT @p1 AS n"
ROWS = 100_000
ROWS_SQL = (
    "WITH d AS (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 "
    "UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 "
    "UNION ALL SELECT 8 UNION ALL SELECT 9) "
    "SELECT a.n + 10 * b.n + 100 * c.n + 1000 * e.n + 10000 * f.n AS id, N'row' AS name "
    "FROM d a, d b, d c, d e, d f"
)
Measured = dict[str, tuple[float, float]]


@dataclass
class Samples:
    """wall_us[label][workload] and cpu_us[...]: per query, one value per round."""

    wall_us: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    cpu_us: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, label: str, measured: Measured) -> None:
        for work, (wall, cpu) in measured.items():
            self.wall_us.setdefault(label, {}).setdefault(work, []).append(wall)
            self.cpu_us.setdefault(label, {}).setdefault(work, []).append(cpu)


def _queries(work: str, n_small: int) -> int:
    return {"sequential": n_small, "concurrent100": 100, "fetch100k": 1}[work]


async def ferrule_suite(dsn: str, n_small: int) -> Measured:
    import ferrule

    conn = await ferrule.connect(dsn)
    pool = await ferrule.create_pool(dsn, min_size=10, max_size=10)

    async def seq() -> None:
        for i in range(n_small):
            await conn.fetchval(SMALL, i)

    async def conc() -> None:
        await asyncio.gather(*(pool.fetchval(SMALL, i) for i in range(100)))

    async def big() -> None:
        assert len(await conn.fetch(ROWS_SQL)) == ROWS

    try:
        return await _async_measure(
            {"sequential": seq, "concurrent100": conc, "fetch100k": big}, n_small
        )
    finally:
        await conn.close()
        await pool.close()


async def aioodbc_suite(dsn: str, n_small: int) -> Measured:
    import aioodbc

    conn = await aioodbc.connect(dsn=dsn, autocommit=True)
    conns = [await aioodbc.connect(dsn=dsn, autocommit=True) for _ in range(10)]
    sql = SMALL.replace("@p1", "?")

    async def one(c: Any, i: int) -> None:
        async with c.cursor() as cur:
            await cur.execute(sql, (i,))
            await cur.fetchall()

    async def seq() -> None:
        for i in range(n_small):
            await one(conn, i)

    async def conc() -> None:
        # An ODBC connection runs one statement at a time: each takes its 10 in turn.
        async def ten(k: int) -> None:
            for i in range(10):
                await one(conns[k], k * 10 + i)

        await asyncio.gather(*(ten(k) for k in range(10)))

    async def big() -> None:
        async with conn.cursor() as cur:
            await cur.execute(ROWS_SQL)
            assert len(await cur.fetchall()) == ROWS

    try:
        return await _async_measure(
            {"sequential": seq, "concurrent100": conc, "fetch100k": big}, n_small
        )
    finally:
        for c in [conn, *conns]:
            await c.close()


async def _async_measure(works: dict[str, Callable[[], Awaitable[None]]], n_small: int) -> Measured:
    out = {}
    for name, work in works.items():
        q = _queries(name, n_small)
        wall, cpu = time.perf_counter(), time.process_time()
        await work()
        out[name] = ((time.perf_counter() - wall) / q * 1e6, (time.process_time() - cpu) / q * 1e6)
    return out


def pytds_suite(server: Any, n_small: int) -> Measured:
    import pytds

    def connect() -> Any:
        return pytds.connect(
            server.host, server.database, server.user, server.password, port=server.port,
            autocommit=True,
        )  # fmt: skip

    return _sync_suite(connect, n_small)


def pymssql_suite(server: Any, n_small: int) -> Measured:
    import pymssql

    def connect() -> Any:
        return pymssql.connect(
            server=server.host, port=str(server.port), user=server.user,
            password=server.password, database=server.database, autocommit=True,
        )  # fmt: skip

    return _sync_suite(connect, n_small)


def _sync_suite(connect: Callable[[], Any], n_small: int) -> Measured:
    conn = connect()
    conns = [connect() for _ in range(10)]
    sql = SMALL.replace("@p1", "%s")

    def seq() -> None:
        cur = conn.cursor()
        for i in range(n_small):
            cur.execute(sql, (i,))
            cur.fetchall()

    def conc() -> None:
        # Threads: these drivers block, one call at a time per connection.
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
        assert len(cur.fetchall()) == ROWS

    out = {}
    try:
        for name, work in (("sequential", seq), ("concurrent100", conc), ("fetch100k", big)):
            q = _queries(name, n_small)
            wall, cpu = time.perf_counter(), time.process_time()
            work()
            out[name] = (
                (time.perf_counter() - wall) / q * 1e6,
                (time.process_time() - cpu) / q * 1e6,
            )
    finally:
        for c in [conn, *conns]:
            c.close()
    return out


def odbc_dsn(server: Any) -> str:
    return (
        f"DRIVER={{{ODBC_DRIVER}}};SERVER={server.host};PORT={server.port};"
        f"DATABASE={server.database};UID={server.user};PWD={{{server.password}}};"
        "TDS_Version=7.4;Encrypt=no"
    )


def available(libs: list[str], log: Callable[[str], None]) -> list[str]:
    found = []
    for lib in libs:
        module = {"python-tds": "pytds"}.get(lib, lib)
        try:
            __import__(module)
        except ImportError as exc:
            log(f"{lib}: missing, not measured ({exc})")
            continue
        if lib == "aioodbc":
            import pyodbc

            if ODBC_DRIVER not in pyodbc.drivers():
                log(f"aioodbc: no ODBC driver {ODBC_DRIVER!r} registered, not measured")
                continue
        found.append(lib)
    return found


def table(samples: Samples, labels: list[str], n_small: int) -> str:
    head = f"{'workload':<14} {'library':<18} {'wall us/query':>14} {'CPU us/query':>13}"
    lines = [head + f" {'CPU vs ferrule':>15}"]
    for work in WORKLOADS:
        base = None
        for label in labels:
            cpu_runs = samples.cpu_us.get(label, {}).get(work)
            wall_runs = samples.wall_us.get(label, {}).get(work)
            if not cpu_runs or not wall_runs:
                lines.append(f"{work:<14} {label:<18} {'-':>14} {'-':>13}")
                continue
            cpu = statistics.median(cpu_runs)
            if label.startswith("ferrule") and base is None:
                base = cpu
            ratio = f"{cpu / base:>14.2f}x" if base else f"{'-':>15}"
            wall = statistics.median(wall_runs)
            lines.append(f"{work:<14} {label:<18} {wall:>14,.1f} {cpu:>13,.1f} {ratio}")
    sizes = f"sequential: {n_small:,} queries; concurrent: 100 over 10 connections"
    return "\n".join([*lines, f"({sizes}; fetch: {ROWS:,} rows, per query = per fetch)"])


def headline(samples: Samples, labels: list[str]) -> str:
    """The README table: client CPU per query of each library, and in brackets how many
    times ferrule's CPU it is."""
    rows = []
    for work in WORKLOADS:
        cpu = {
            label: statistics.median(runs)
            for label in labels
            if (runs := samples.cpu_us.get(label, {}).get(work))
        }
        base = next((v for label, v in cpu.items() if label.startswith("ferrule")), None)
        cells = [work]
        for label in labels:
            if label not in cpu:
                cells.append("-")
            elif base and not label.startswith("ferrule"):
                cells.append(f"{cpu[label]:,.1f} ({cpu[label] / base:.2f}x)")
            else:
                cells.append(f"{cpu[label]:,.1f}")
        rows.append(cells)
    return markdown_table(["CPU us per query", *labels], rows)


def run(
    loops: list[str],
    rounds: int,
    quick: bool,
    run_in_loop: Callable[[str, Callable[[], Awaitable[Any]]], Any],
    log: Callable[[str], None],
    libs: list[str] | None = None,
) -> tuple[int, Summary | None]:
    """Starts the TDS test server, measures every library in interleaved rounds, prints the
    table and saves the raw numbers to bench/results/mssql-*.json. Returns (1 on a failure
    else 0, the summary for the docs)."""
    from tests.common.tds_server import get_tds_server

    server = get_tds_server()
    dsn = server.dsn(encrypt="no")
    n_small = 300 if quick else 2000
    chosen = available(libs or list(CLIENTS), log)
    suites: dict[str, Callable[[], Measured]] = {}
    for lib in chosen:
        if lib in ASYNC_CLIENTS:
            target = dsn if lib == "ferrule" else odbc_dsn(server)
            make = ferrule_suite if lib == "ferrule" else aioodbc_suite
            for loop in loops:
                suites[f"{lib} ({loop})"] = lambda loop=loop, make=make, target=target: run_in_loop(
                    loop, lambda: make(target, n_small)
                )
        else:
            make_sync = pytds_suite if lib == "python-tds" else pymssql_suite
            suites[lib] = lambda make_sync=make_sync: make_sync(server, n_small)
    labels = list(suites)
    samples = Samples()
    log(f"== mssql: {', '.join(labels)}; {rounds} round(s) ==")
    for r in range(rounds):
        order = labels[r % len(labels) :] + labels[: r % len(labels)]
        for label in order:
            try:
                measured = suites[label]()
            except Exception as exc:  # a broken peer must not stop the run
                samples.errors[f"{label}/round{r + 1}"] = repr(exc)
                log(f"mssql round {r + 1} {label}: FAILED {exc!r}")
                continue
            samples.add(label, measured)
            cells = ", ".join(f"{w} {cpu:,.1f} us CPU" for w, (_, cpu) in measured.items())
            log(f"mssql round {r + 1} {label:18} {cells}")
    print(f"\nSQL Server through the TDS test server ({rounds} round(s))")
    print(table(samples, labels, n_small))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"mssql-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "sequential": n_small,
        "wall_us": samples.wall_us,
        "cpu_us": samples.cpu_us,
        "errors": samples.errors,
    }
    out.write_text(json.dumps(payload, indent=1) + "\n")
    log(f"raw results: {out.relative_to(ROOT)}")
    status = 1 if samples.errors else 0
    if not labels:
        return status, None
    summary = Summary(
        key="mssql",
        title="SQL Server (through the TDS test server)",
        note=(
            f"Client CPU per query (every thread of the client process; the server is another "
            f"process), in brackets how many times ferrule's; sequential: {n_small:,} small "
            f"queries, concurrent100: 100 queries over 10 connections, fetch100k: {ROWS:,} "
            f"rows; medians of {rounds} round(s)."
        ),
        tables={"all": table(samples, labels, n_small)},
        headline=headline(samples, labels),
    )
    return status, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)

    def run_in_loop(_name: str, make: Callable[[], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            return await make()

        return asyncio.run(main())

    status, _ = run(
        ["asyncio"], args.rounds, args.quick, run_in_loop, lambda m: print(m, file=sys.stderr)
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
