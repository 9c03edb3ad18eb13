"""libSQL embedded replicas: ferrule against the official `libsql` client (blocking, built on
the `libsql` Rust crate), both following the suite's Hrana + sync server
(tests/sqlite/hrana_server.py, a Python process on this machine) as their primary.

Three workloads, each library back to back in every round, in an order rotated each round:
- sync: a new replica of a primary holding `rows` rows (some 5,000 frames), opened and
  brought up to date (the copy of the primary's file, then every frame since);
- point: awaited (ferrule) or blocking (libsql) point queries on the replica's local copy;
- write: single-row INSERTs through the replica (each runs on the primary, then the replica
  pulls it back so that it reads what it wrote).
The primary's server is the same for both, so the write row mostly measures it.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Log
from bench.summary import Summary, markdown_table

ROWS = 20_000
POINTS = 20_000
WRITES = 200
TOKEN = "bench-token"
LIBS = ("ferrule", "libsql")


def _fresh(path: Path) -> str:
    for suffix in ("", "-info", "-wal", "-shm", "-info.lock", "-client_wal_index"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return str(path)


async def _ferrule(url: str, path: Path, sizes: dict[str, int]) -> dict[str, float]:
    import ferrule

    out: dict[str, float] = {}
    started = time.perf_counter()
    conn = await ferrule.connect(f"sqlite:///{_fresh(path)}", sync_url=url, auth_token=TOKEN)
    out["sync"] = (time.perf_counter() - started) * 1e3
    try:
        keys, n = sizes["rows"], sizes["points"]
        started = time.perf_counter()
        for i in range(n):
            await conn.fetchval("SELECT v FROM t WHERE id = ?", i % keys + 1)
        out["point"] = (time.perf_counter() - started) / n * 1e6
        started = time.perf_counter()
        for i in range(sizes["writes"]):
            await conn.execute("INSERT INTO w(v) VALUES (?)", i)
        out["write"] = (time.perf_counter() - started) / sizes["writes"] * 1e3
    finally:
        await conn.close()
    return out


def _libsql(url: str, path: Path, sizes: dict[str, int]) -> dict[str, float]:
    import libsql

    out: dict[str, float] = {}
    started = time.perf_counter()
    # Autocommit, as ferrule's calls are: each INSERT is one statement on the primary.
    conn = libsql.connect(_fresh(path), sync_url=url, auth_token=TOKEN, isolation_level=None)
    conn.sync()
    out["sync"] = (time.perf_counter() - started) * 1e3
    try:
        keys, n = sizes["rows"], sizes["points"]
        started = time.perf_counter()
        for i in range(n):
            conn.execute("SELECT v FROM t WHERE id = ?", (i % keys + 1,)).fetchone()
        out["point"] = (time.perf_counter() - started) / n * 1e6
        started = time.perf_counter()
        for i in range(sizes["writes"]):
            conn.execute("INSERT INTO w(v) VALUES (?)", (i,))
        out["write"] = (time.perf_counter() - started) / sizes["writes"] * 1e3
    finally:
        conn.close()
    return out


METRICS = {
    "sync": ("new replica brought up to date", "ms"),
    "point": ("point query on the replica", "us/query"),
    "write": ("INSERT through the replica (primary, then pull)", "ms/write"),
}


def _prepare(server: Any, rows: int) -> int:
    """Fills the primary; returns how many frames its WAL holds."""
    server.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    server.execute("CREATE TABLE w (id INTEGER PRIMARY KEY, v INTEGER)")
    server.execute(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
        "INSERT INTO t(v) SELECT printf('%.900c', 'r') FROM c",
        rows,
    )
    # The server checks the WAL's checksums once (in Python): not part of any library's time.
    first = 1
    while True:
        status, body = server.request("GET", f"/sync/1/{first}/{first + 4096}")
        if status != 200:
            return first - 1
        first += len(body) // 4120


def run(args: Any, loops: list[str], run_in_loop: Any, root: Path, log: Log) -> Summary | None:
    """The replica section of the SQLite benchmarks; None when it cannot run here."""
    if importlib.util.find_spec("libsql") is None:
        log("replicas: the official libsql client is missing, not measured")
        return None
    from tests.sqlite.hrana_server import HranaProcess

    quick = bool(args.quick)
    sizes = {
        "rows": 2_000 if quick else ROWS,
        "points": 2_000 if quick else POINTS,
        "writes": 20 if quick else WRITES,
    }
    raw: dict[str, dict[str, dict[str, list[float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="ferrule-bench-replica-") as tmp:
        with HranaProcess(os.path.join(tmp, "primary.db"), TOKEN) as server:
            frames = _prepare(server, sizes["rows"])
            log(f"== SQLite embedded replicas: {', '.join(LIBS)}; {args.rounds} round(s) ==")
            for r in range(args.rounds):
                order = LIBS if r % 2 == 0 else LIBS[::-1]
                for lib in order:
                    for loop in loops if lib == "ferrule" else ["-"]:
                        replica = Path(tmp) / f"{lib}.db"
                        if lib == "ferrule":

                            async def measure(replica: Path = replica) -> dict[str, float]:
                                return await _ferrule(server.url, replica, sizes)

                            values = run_in_loop(loop, measure)
                        else:
                            values = _libsql(server.url, replica, sizes)
                        per = raw.setdefault(lib if lib == "libsql" else f"{lib} ({loop})", {})
                        for key, value in values.items():
                            per.setdefault(key, []).append(value)
                log(f"  round {r + 1}/{args.rounds} done")
    medians = {lib: {k: statistics.median(v) for k, v in m.items()} for lib, m in raw.items()}
    names = list(medians)
    header = ["workload", *names, "ferrule vs libsql"]
    rows = []
    for key, (label, unit) in METRICS.items():
        row = [f"{label}, {unit}"]
        row += [
            f"{medians[n][key]:,.2f}" if unit == "us/query" else f"{medians[n][key]:,.1f}"
            for n in names
        ]
        best = min(v[key] for n, v in medians.items() if n != "libsql")
        row.append(f"{medians['libsql'][key] / best:.2f}x")
        rows.append(row)
    table = markdown_table(header, rows)
    print(f"\nSQLite embedded replicas ({args.rounds} rounds; lower is better)\n{table}")
    return Summary(
        key="sqlite-replica",
        title="SQLite embedded replicas",
        note=(
            f"ferrule (awaited) and the official libsql {_version()} client (blocking), both "
            f"replicas of the suite's Hrana + sync test server; {sizes['rows']:,} rows "
            f"({frames:,} frames of 4 KiB); medians of {args.rounds} rounds; the last column: "
            "how many times faster ferrule is (its faster loop)."
        ),
        tables={"all": table},
        headline=table,
    )


def _version() -> str:
    from importlib.metadata import version

    return version("libsql")
