"""The results of the SQLite, Tarantool and SQL Server suites in docs/benchmarks.md and the
README: each suite hands over a :class:`Summary` (its printed tables and a headline table),
written between the suite's markers (``<!-- bench:sqlite:start -->`` ... ``end``)."""

from __future__ import annotations

import datetime
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from bench.common import Log
from bench.report import replace_between


@dataclass
class Summary:
    """What one suite measured, ready to be written."""

    key: str  # the marker name: "sqlite", "tarantool", "mssql"
    title: str  # "SQLite", shown as the section's heading
    note: str  # sizes, event loop and rounds, in one sentence
    tables: dict[str, str]  # event loop -> the table the suite printed
    headline: str  # a short markdown table for the README


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table whose numeric columns (all but the first) are right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "--:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _stamp() -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = os.cpu_count() or 0
    return f"{now}; {cores} cores; CPython {platform.python_version()}"


def _docs_body(summary: Summary) -> str:
    blocks = [f"{summary.note} {_stamp()}.\n"]
    for loop, table in summary.tables.items():
        blocks.append(f"{loop}:\n\n```text\n{table.rstrip()}\n```\n")
    return "\n".join(blocks)


def write_summary(summary: Summary, root: Path, log: Log) -> None:
    """The suite's section of docs/benchmarks.md and its headline in README.md (each created
    at the end of its file when its markers are missing)."""
    start, end = f"<!-- bench:{summary.key}:start -->", f"<!-- bench:{summary.key}:end -->"
    docs = root / "docs" / "benchmarks.md"
    text = docs.read_text() if docs.exists() else "# Benchmarks\n"
    body = _docs_body(summary)
    updated = replace_between(text, start, end, body)
    if updated is None:
        updated = f"{text.rstrip()}\n\n## Results ({summary.title})\n\n{start}\n{body}{end}\n"
    docs.write_text(updated)
    readme = root / "README.md"
    if not readme.exists():
        return
    headline = f"{summary.title}:\n\n{summary.headline}\n{summary.note} {_stamp()}.\n"
    text = readme.read_text()
    updated = replace_between(text, start, end, headline)
    if updated is None:
        log(f"README.md has no {start} markers: the {summary.title} headline is not written")
        return
    readme.write_text(updated)
    log(f"wrote the {summary.title} results into docs/benchmarks.md and README.md")
