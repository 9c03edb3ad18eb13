"""`pgbench -S -M prepared` on the same server: the ceiling for the short-query workloads.

pgbench is C on libpq with prepared statements, so what it reaches with 10 clients (and with 1)
is about what one machine can do; the drivers' short-query rows are reported against it.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import Log

SCRATCH_DATABASE = "ferrule_pgbench"
# clients -> worker threads: -c 10 -j 2 is the ceiling for the pool rows, -c 1 for select1.
CLIENT_THREADS = {10: 2, 1: 1}
_TPS = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)


@dataclass
class Ceiling:
    seconds: int
    tps: dict[int, list[float]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    error: str | None = None

    def median(self, clients: int) -> float | None:
        runs = self.tps.get(clients)
        return statistics.median(runs) if runs else None

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "tps": {str(c): runs for c, runs in self.tps.items()},
            "median_tps": {str(c): self.median(c) for c in self.tps},
            "commands": self.commands,
            "error": self.error,
        }


def find_pgbench() -> str | None:
    """pgbench on PATH, else the newest Debian one under /usr/lib/postgresql."""
    on_path = shutil.which("pgbench")
    if on_path:
        return on_path
    found = []
    for exe in Path("/usr/lib/postgresql").glob("*/bin/pgbench"):
        version = exe.parent.parent.name
        found.append((tuple(int(p) if p.isdigit() else 0 for p in version.split(".")), exe))
    return str(max(found)[1]) if found else None


def _run(cmd: list[str], timeout: float) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-500:]
        raise RuntimeError(f"{Path(cmd[0]).name} exited with {done.returncode}: {tail}")
    return done.stdout


def _shown(cmd: list[str]) -> str:
    # The connection string is the last argument; show the flags only.
    return " ".join([Path(cmd[0]).name, *cmd[1:-1]])


def measure(cluster: Any, runs: int, seconds: int, log: Log) -> Ceiling:
    """Initialise a scratch database, then alternate `-c 10` and `-c 1` runs `runs` times."""
    ceiling = Ceiling(seconds=seconds)
    exe = find_pgbench()
    if exe is None:
        ceiling.error = "pgbench not found (Debian package postgresql-contrib or postgresql)"
        return ceiling
    recreate = 'DROP DATABASE IF EXISTS :"scratch";\nCREATE DATABASE :"scratch";\n'
    try:
        cluster.psql(recreate, scratch=SCRATCH_DATABASE)
        dsn = cluster.dsn(database=SCRATCH_DATABASE, sslmode="disable")
        _run([exe, "-i", "-q", "-s", "1", dsn], timeout=300)
        for r in range(runs):
            for clients, threads in CLIENT_THREADS.items():
                cmd = [exe, "-S", "-M", "prepared", "-c", str(clients), "-j", str(threads)]
                cmd += ["-T", str(seconds), dsn]
                output = _run(cmd, timeout=seconds + 120)
                found = _TPS.search(output)
                if found is None:
                    raise RuntimeError(f"no tps line in pgbench output: {output[-300:]!r}")
                ceiling.tps.setdefault(clients, []).append(float(found.group(1)))
                if r == 0:
                    ceiling.commands.append(_shown(cmd))
            log(f"  pgbench run {r + 1}/{runs} done")
    except Exception as exc:
        ceiling.error = f"{type(exc).__name__}: {exc}"
        log(f"  pgbench: {ceiling.error}")
    finally:
        try:
            cluster.psql('DROP DATABASE IF EXISTS :"scratch";\n', scratch=SCRATCH_DATABASE)
        except Exception as exc:
            log(f"  pgbench: dropping {SCRATCH_DATABASE} failed: {exc}")
    return ceiling
