"""Tarantool benchmark: ferrule against asynctnt on one server, interleaved rounds.

Each workload sends N requests from C concurrent tasks on one connection (ping, select by
primary key, insert, call, eval), plus N sequential pings. Reported per library: requests/s
(median of the rounds) and client CPU per request (process CPU time, every thread of the
client process included, over the requests). Run through `bench/run.py --backends tarantool`.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.summary import Summary, markdown_table

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ("ferrule", "asynctnt")
WORKLOADS = ("ping", "select", "insert", "call", "eval", "sequential_ping")
PEER = "asynctnt"


@dataclass
class Sizes:
    requests: int = 50_000
    concurrency: int = 300
    sequential: int = 10_000

    @classmethod
    def quick(cls) -> Sizes:
        return cls(requests=3_000, concurrency=300, sequential=1_000)


@dataclass
class Samples:
    """rps[loop][workload][lib] and cpu_us[...] per round."""

    rps: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    cpu_us: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, loop: str, workload: str, lib: str, rps: float, cpu_us: float) -> None:
        self.rps.setdefault(loop, {}).setdefault(workload, {}).setdefault(lib, []).append(rps)
        self.cpu_us.setdefault(loop, {}).setdefault(workload, {}).setdefault(lib, []).append(cpu_us)


async def _measure(
    op: Callable[[int], Any], n: int, concurrency: int, base: int
) -> tuple[float, float]:
    per_task = n // concurrency

    async def worker(w: int) -> None:
        start = base + w * per_task
        for i in range(start, start + per_task):
            await op(i)

    cpu0, t0 = time.process_time(), time.perf_counter()
    if concurrency == 1:
        for i in range(base, base + n):
            await op(i)
        done = n
    else:
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        done = per_task * concurrency
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return done / wall, cpu / done * 1e6


async def run_suite(
    loop_name: str,
    libs: list[str],
    dsn: tuple[str, int, str, str],
    sizes: Sizes,
    rounds: int,
    workloads: list[str],
    samples: Samples,
    log: Callable[[str], None],
) -> None:
    host, port, user, password = dsn
    modules = {name: importlib.import_module(f"bench.tnt_{name}") for name in libs}
    conns = {name: await m.connect(host, port, user, password) for name, m in modules.items()}
    admin = conns[libs[0]]
    base = 0
    try:
        for r in range(rounds):
            order = libs[r % len(libs) :] + libs[: r % len(libs)]
            for workload in workloads:
                for lib in order:
                    op_name = "ping" if workload == "sequential_ping" else workload
                    op = modules[lib].ops(conns[lib])[op_name]
                    if workload == "insert":
                        await admin.eval("box.space.bench_w:truncate()")
                    n = sizes.sequential if workload == "sequential_ping" else sizes.requests
                    conc = 1 if workload == "sequential_ping" else sizes.concurrency
                    base += n + 1
                    try:
                        rps, cpu = await _measure(op, n, conc, base)
                    except Exception as exc:
                        samples.errors[f"{loop_name}/{workload}/{lib}"] = repr(exc)
                        log(f"{loop_name} {workload} {lib}: FAILED {exc!r}")
                        continue
                    samples.add(loop_name, workload, lib, rps, cpu)
                    log(
                        f"{loop_name} round {r + 1} {workload:16} {lib:9} {rps:>10,.0f} req/s "
                        f"{cpu:6.1f} us CPU/req"
                    )
    finally:
        for name, m in modules.items():
            await m.close(conns[name])


def table(samples: Samples, loop: str, libs: list[str], workloads: list[str]) -> str:
    lines = [
        f"{'workload':16} "
        + " ".join(f"{lib + ' req/s':>16} {'CPU us':>7}" for lib in libs)
        + (f" {'ferrule/' + PEER:>16}" if "ferrule" in libs and PEER in libs else "")
    ]
    for w in workloads:
        cells = []
        med: dict[str, float] = {}
        for lib in libs:
            rps = samples.rps.get(loop, {}).get(w, {}).get(lib)
            cpu = samples.cpu_us.get(loop, {}).get(w, {}).get(lib)
            if rps and cpu:
                med[lib] = statistics.median(rps)
                cells.append(f"{med[lib]:>16,.0f} {statistics.median(cpu):>7.1f}")
            else:
                cells.append(f"{'-':>16} {'-':>7}")
        ratio = ""
        if "ferrule" in med and PEER in med:
            ratio = f" {med['ferrule'] / med[PEER]:>15.2f}x"
        lines.append(f"{w:16} " + " ".join(cells) + ratio)
    return "\n".join(lines)


def headline(samples: Samples, loop: str, libs: list[str], workloads: list[str]) -> str:
    """The README table: requests/s and client CPU per request, ferrule's ratio to the peer
    in brackets."""
    rows = []
    for w in workloads:
        rps = {lib: samples.rps.get(loop, {}).get(w, {}).get(lib) for lib in libs}
        cpu = {lib: samples.cpu_us.get(loop, {}).get(w, {}).get(lib) for lib in libs}
        med = {lib: statistics.median(v) for lib, v in rps.items() if v}
        cells = [w.replace("_", " ")]
        for lib in libs:
            if lib not in med:
                cells.append("-")
                continue
            ratio = ""
            if lib != PEER and med.get(PEER):
                ratio = f" ({med[lib] / med[PEER]:.2f}x)"
            cells.append(f"{med[lib]:,.0f}{ratio}")
        for lib in libs:
            values = cpu[lib]
            cells.append(f"{statistics.median(values):.1f}" if values else "-")
        rows.append(cells)
    header = ["workload", *(f"{lib} req/s" for lib in libs), *(f"{lib} CPU us/req" for lib in libs)]
    return markdown_table(header, rows)


def run(
    loops: list[str],
    rounds: int,
    quick: bool,
    run_in_loop: Callable[[str, Callable[[], Any]], Any],
    log: Callable[[str], None],
    libs: list[str] | None = None,
    workloads: list[str] | None = None,
) -> tuple[int, Summary | None]:
    """Starts the test server, measures, prints one table per loop and saves the raw data;
    returns (1 on a failure else 0, the summary for the docs)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.common.tarantool_server import PASSWORD, USER, get_server

    server = get_server()
    sizes = Sizes.quick() if quick else Sizes()
    wanted = libs or list(CLIENTS)
    available = []
    for lib in wanted:
        try:
            importlib.import_module(f"bench.tnt_{lib}")
            available.append(lib)
        except ImportError as exc:
            log(f"{lib}: missing, not measured ({exc})")
    chosen = workloads or list(WORKLOADS)
    samples = Samples()
    dsn = (server.host, server.port, USER, PASSWORD)
    for loop in loops:
        log(f"== tarantool, {loop}: {', '.join(available)}; {rounds} round(s) ==")
        run_in_loop(
            loop,
            lambda loop=loop: run_suite(loop, available, dsn, sizes, rounds, chosen, samples, log),
        )
    for loop in loops:
        print(
            f"\nTarantool, {loop} ({rounds} round(s), {sizes.requests:,} requests in "
            f"{sizes.concurrency} tasks; sequential: {sizes.sequential:,})"
        )
        print(table(samples, loop, available, chosen))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"tarantool-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "sizes": vars(sizes),
                "rps": samples.rps,
                "cpu_us": samples.cpu_us,
                "errors": samples.errors,
            },
            indent=1,
        )
        + "\n"
    )
    log(f"raw results: {out.relative_to(ROOT)}")
    status = 1 if samples.errors else 0
    if not loops or not available:
        return status, None
    shown = "uvloop" if "uvloop" in loops else loops[0]
    summary = Summary(
        key="tarantool",
        title="Tarantool",
        note=(
            f"{shown} event loop; {sizes.requests:,} requests from {sizes.concurrency} tasks on "
            f"one connection (sequential ping: {sizes.sequential:,} one at a time); in "
            f"brackets: how many times asynctnt's requests/s; client CPU per request counts "
            f"every thread of the client process; medians of {rounds} round(s)."
        ),
        tables={loop: table(samples, loop, available, chosen) for loop in loops},
        headline=headline(samples, shown, available, chosen),
    )
    return status, summary
