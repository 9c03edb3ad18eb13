"""Run the Python suite: all of tests/ on asyncio, then the backend suites again on uvloop.

Usage (from anywhere): .venv/bin/python tools/run_pytest.py [pytest arguments...]

Extra arguments go to both runs. Test paths among them narrow the first run to those paths
and the uvloop run to those under the backend suites. Exits non-zero when either run
fails; "no tests collected" (pytest exit 5) fails the first run only when CI=true.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The suites that exercise the bridge against servers run a second time on uvloop.
UVLOOP_TREES = tuple(Path(p) for p in ("tests/pg", "tests/tarantool", "tests/sqlite", "tests/tds"))
NO_TESTS_COLLECTED = 5


def split_paths(args: list[str]) -> tuple[list[str], list[str]]:
    """(options, test paths): a path is an argument naming an existing file or directory."""
    options: list[str] = []
    paths: list[str] = []
    for arg in args:
        is_path = not arg.startswith("-") and (REPO_ROOT / arg.split("::", 1)[0]).exists()
        (paths if is_path else options).append(arg)
    return options, paths


def under(path: str, tree: Path) -> bool:
    resolved = (REPO_ROOT / path.split("::", 1)[0]).resolve()
    root = (REPO_ROOT / tree).resolve()
    return resolved == root or root in resolved.parents


def run_pytest(label: str, args: list[str], loop: str) -> int:
    env = dict(os.environ, FERRULE_LOOP=loop)
    print(f"\n=== {label}: pytest {' '.join(args)} (FERRULE_LOOP={loop})", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=REPO_ROOT, env=env)


def main(argv: list[str]) -> int:
    options, paths = split_paths(argv)
    in_ci = os.environ.get("CI", "").lower() == "true"

    first = run_pytest("asyncio", [*options, *(paths or ["tests"])], "asyncio")
    first_ok = first == 0 or (first == NO_TESTS_COLLECTED and not in_ci)

    trees = [t for t in UVLOOP_TREES if (REPO_ROOT / t).is_dir()]
    if paths:
        uvloop_paths = [p for p in paths if any(under(p, t) for t in trees)]
    else:
        uvloop_paths = [str(t) for t in trees]
    if not uvloop_paths:
        print("\n=== uvloop: skipped (no backend suite selected)", flush=True)
        second = NO_TESTS_COLLECTED
    else:
        second = run_pytest("uvloop", ["-q", *options, *uvloop_paths], "uvloop")
    second_ok = second in (0, NO_TESTS_COLLECTED)

    verdict = "passed" if first_ok and second_ok else "FAILED"
    print(
        f"\n=== run_pytest {verdict}: asyncio run exit {first}, uvloop run exit {second}",
        flush=True,
    )
    if first_ok and second_ok:
        return 0
    code = first if not first_ok else second
    return code if code > 0 else 1  # a negative code means pytest died of a signal


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
