"""Markdown tables, the README headline and the chart, generated from one benchmark run."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.chart import Bar, Group, Panel, ratio_chart
from bench.common import REFERENCE, Log, Row, Workload, fmt_ratio, fmt_spread, fmt_value
from bench.pgbench import CLIENT_THREADS, Ceiling

DOCS_START, DOCS_END = "<!-- bench:pg:results:start -->", "<!-- bench:pg:results:end -->"
README_START, README_END = "<!-- bench:pg:start -->", "<!-- bench:pg:end -->"
CHART_NAME = "bench-pg.svg"
DISTRIBUTIONS = ("ferrule", "asyncpg", "psqlpy", "psycopg", "psycopg-binary", "psycopg-pool")
# Which pgbench run bounds which workload: one connection for select1, ten for the pools.
CEILING_OF = {"select1": 1, "pool_concurrent": 10, "pool_web": 10}


@dataclass
class RunData:
    """Everything one run produced, as the report needs it."""

    loops: list[str]
    rows: dict[str, list[Row]]
    workloads: list[Workload]
    libs: list[str]
    missing: dict[str, str]
    ceiling: Ceiling | None
    machine: dict[str, str]
    rounds: int
    quick: bool


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(server_version: str | None, loops: Sequence[str]) -> dict[str, str]:
    """What a reader needs to weigh the numbers: cores, CPU, versions, date."""
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": _cpu_model(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "postgresql": server_version or "unknown",
    }
    for dist in DISTRIBUTIONS:
        version = _version(dist)
        if version is not None:
            info[dist] = version
    if "uvloop" in loops and _version("uvloop"):
        info["uvloop"] = str(_version("uvloop"))
    return info


def _primary(workload: Workload) -> str:
    return next((m.key for m in workload.metrics if m.primary), workload.metrics[0].key)


def _unsupported(error: str | None) -> str | None:
    """The reason a library cannot run a workload (bench.pg_copy.Unsupported), or None."""
    head = "Unsupported: "
    if error is None or not error.startswith(head):
        return None
    return error[len(head) :].rsplit(" at ", 1)[0]


def _cell(row: Row | None) -> str:
    if row is None or row.median is None:
        if row is not None and _unsupported(row.error):
            return "n/a"
        return "error" if row is not None and row.error else "-"
    return fmt_value(row.median)


def _workload_table(workload: Workload, rows: Sequence[Row], libs: Sequence[str]) -> list[str]:
    by = {(r.metric.key, r.lib): r for r in rows if r.workload == workload.name}
    primary = _primary(workload)
    heads = [f"{m.label} ({m.unit})" for m in workload.metrics]
    out = [
        f"**{workload.title}** (`{workload.name}`)",
        "",
        "| library | " + " | ".join(heads) + " | vs asyncpg | vs best peer | spread |",
        "|---|" + "--:|" * (len(heads) + 3),
    ]
    notes = []
    for lib in libs:
        cells = [_cell(by.get((m.key, lib))) for m in workload.metrics]
        main = by.get((primary, lib))
        ratios = ["-", "-", "-"]
        if main is not None and main.median is not None:
            ratios = [
                fmt_ratio(main.vs_reference),
                fmt_ratio(main.vs_best_peer),
                fmt_spread(main.spread),
            ]
        name = f"**{lib}**" if lib == "ferrule" else lib
        out.append(f"| {name} | " + " | ".join(cells + ratios) + " |")
        if main is not None and main.error:
            reason = _unsupported(main.error)
            notes.append(
                f"- {lib}: not measured: {reason}" if reason else f"- {lib}: `{main.error}`"
            )
    return [*out, "", *notes, *([""] if notes else [])]


def _ceiling_lines(data: RunData) -> list[str]:
    ceiling = data.ceiling
    if ceiling is None:
        return []
    out = ["### Ceiling: pgbench on the same server", ""]
    if ceiling.error:
        return [*out, f"pgbench failed: `{ceiling.error}`", ""]
    for clients, threads in CLIENT_THREADS.items():
        runs = len(ceiling.tps.get(clients, []))
        out.append(
            f"- `pgbench -S -M prepared -c {clients} -j {threads} -T {ceiling.seconds}`: "
            f"**{fmt_value(ceiling.median(clients))} tps** (median of {runs} runs)"
        )
    shown = [w for w in data.workloads if w.name in CEILING_OF]
    if not shown:
        return [*out, ""]
    out += [
        "",
        "Each library's short-query throughput as a share of pgbench's "
        "(`select1` against `-c 1`, the pool rows against `-c 10`):",
        "",
        "| loop | library | " + " | ".join(f"`{w.name}`" for w in shown) + " |",
        "|---|---|" + "--:|" * len(shown),
    ]
    for loop in data.loops:
        by = {(r.workload, r.lib): r for r in data.rows[loop] if r.metric.primary}
        for lib in data.libs:
            cells = []
            for w in shown:
                row, tps = by.get((w.name, lib)), ceiling.median(CEILING_OF[w.name])
                ok = row is not None and row.median is not None and tps
                cells.append(f"{100 * row.median / tps:.0f}%" if ok and row else "-")
            out.append(f"| {loop} | {lib} | " + " | ".join(cells) + " |")
    return [*out, ""]


def _rounds(n: int) -> str:
    return f"{n} interleaved round{'s' if n != 1 else ''}"


def _summary_line(data: RunData) -> str:
    m = data.machine
    return (
        f"{m['date']}; {m['nproc']} cores ({m['cpu']}); PostgreSQL {m['postgresql']} on the "
        f"same machine; {m['python']}; medians of {_rounds(data.rounds)}."
    )


def docs_section(data: RunData) -> str:
    """The generated part of docs/benchmarks.md."""
    out = [f"_Generated by `make bench` ({_summary_line(data)})_", ""]
    if data.quick:
        out += ["**Quick smoke run: sizes and rounds are reduced; not representative.**", ""]
    out += ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in data.machine.items()), ""]
    for lib, why in data.missing.items():
        out.append(f"- {lib}: not measured ({why})")
    if data.missing:
        out.append("")
    out += [f"![ratio to asyncpg per workload]({CHART_NAME})", ""]
    for loop in data.loops:
        out += [f"### {loop}", ""]
        for workload in data.workloads:
            out += _workload_table(workload, data.rows[loop], data.libs)
    out += _ceiling_lines(data)
    return "\n".join(out).rstrip() + "\n"


def readme_section(data: RunData) -> str:
    """The headline: each workload's main number per library, ratio to asyncpg in brackets."""
    loop = data.loops[0]
    by = {(r.workload, r.lib): r for r in data.rows[loop] if r.metric.primary}
    out = [
        "| workload | " + " | ".join(data.libs) + " |",
        "|---|" + "--:|" * len(data.libs),
    ]
    for workload in data.workloads:
        primary = workload.metric(_primary(workload))
        cells = []
        for lib in data.libs:
            row = by.get((workload.name, lib))
            if row is None or row.median is None:
                cells.append(_cell(row) if row is not None and _unsupported(row.error) else "-")
            elif lib == REFERENCE:
                cells.append(fmt_value(row.median))
            else:
                cells.append(f"{fmt_value(row.median)} ({fmt_ratio(row.vs_reference)})")
        out.append(f"| {workload.title} ({primary.unit}) | " + " | ".join(cells) + " |")
    ceiling = data.ceiling
    tps = ceiling.median(10) if ceiling and not ceiling.error else None
    note = f"{loop} event loop; in brackets: how many times faster than asyncpg. "
    if tps:
        note += f"`pgbench -S -M prepared -c 10` on the same server: {fmt_value(tps)} tps. "
    note += f"{_summary_line(data)} All rows: [docs/benchmarks.md](docs/benchmarks.md)."
    out += ["", note]
    return "\n".join(out) + "\n"


def chart_svg(data: RunData) -> str:
    panels = []
    for loop in data.loops:
        by = {(r.workload, r.lib): r for r in data.rows[loop] if r.metric.primary}
        groups = []
        for workload in data.workloads:
            bars = []
            for lib in data.libs:
                row = by.get((workload.name, lib))
                value = row.vs_reference if row is not None else None
                bars.append(Bar(lib, value, fmt_ratio(value) if value else "n/a"))
            metric = workload.metric(_primary(workload))
            groups.append(Group(f"{workload.name}: {metric.label}", bars))
        panels.append(Panel(loop, groups))
    m = data.machine
    subtitles = [
        "Speed relative to asyncpg, longer is better (for times: asyncpg's time / the library's).",
        f"{m['date']}, {m['nproc']} cores ({m['cpu']}), PostgreSQL {m['postgresql'].split()[0]}, "
        f"{m['python']}, medians of {_rounds(data.rounds)}.",
    ]
    return ratio_chart("ferrule and its peers on PostgreSQL", subtitles, panels)


def replace_between(text: str, start: str, end: str, body: str) -> str | None:
    """`text` with what lies between the two markers replaced, or None without both markers."""
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        return None
    return f"{head}{start}\n{body}{end}{rest.split(end, 1)[1]}"


def write_outputs(data: RunData, root: Path, log: Log) -> None:
    """docs/benchmarks.md (between its markers), docs/bench-pg.svg and the README headline."""
    docs = root / "docs" / "benchmarks.md"
    docs.parent.mkdir(exist_ok=True)
    section = docs_section(data)
    text = docs.read_text() if docs.exists() else "# Benchmarks\n"
    updated = replace_between(text, DOCS_START, DOCS_END, section)
    if updated is None:
        block = f"{DOCS_START}\n{section}{DOCS_END}\n"
        updated = f"{text.rstrip()}\n\n## Results (PostgreSQL)\n\n{block}"
    docs.write_text(updated)
    (root / "docs" / CHART_NAME).write_text(chart_svg(data))
    log(f"wrote {docs.relative_to(root)} and docs/{CHART_NAME}")
    readme = root / "README.md"
    if not readme.exists():
        log("README.md does not exist yet: headline table not written")
        return
    updated = replace_between(readme.read_text(), README_START, README_END, readme_section(data))
    if updated is None:
        log(f"README.md has no {README_START} ... {README_END} markers: headline not written")
        return
    readme.write_text(updated)
    log("wrote the headline table into README.md")
