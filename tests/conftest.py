"""Suite-wide pytest setup: the event loop (FERRULE_LOOP) and the PostgreSQL server fixtures.

FERRULE_LOOP=uvloop runs every async test and fixture on uvloop; unset or `asyncio` keeps the
standard loop. pytest-asyncio runs in auto mode with one loop for the session (pyproject.toml).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import pytest_asyncio.plugin

# The harness modules are imported as `tests.common.*` everywhere (suite, demo, bench), so
# that there is only ever one module, hence one server, per process.
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from tests.common import server_unavailable  # noqa: E402
from tests.common.pg_cluster import ClusterUnavailableError, PgCluster, get_cluster  # noqa: E402

LOOPS = ("asyncio", "uvloop")
LOOP = os.environ.get("FERRULE_LOOP", "") or "asyncio"

# Recent pytest-asyncio takes loop factories from a hook and deprecates overriding the
# `event_loop_policy` fixture; older releases only have the fixture.
_HAS_LOOP_FACTORY_HOOK = hasattr(
    getattr(pytest_asyncio.plugin, "PytestAsyncioSpecs", None), "pytest_asyncio_loop_factories"
)

if LOOP == "uvloop":
    import uvloop

    if _HAS_LOOP_FACTORY_HOOK:

        def pytest_asyncio_loop_factories(
            config: pytest.Config, item: pytest.Item
        ) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
            return {"uvloop": uvloop.new_event_loop}

    else:

        @pytest.fixture(scope="session")
        def event_loop_policy() -> asyncio.AbstractEventLoopPolicy:
            return uvloop.EventLoopPolicy()


def pytest_configure(config: pytest.Config) -> None:
    if LOOP not in LOOPS:
        raise pytest.UsageError(f"FERRULE_LOOP must be one of {', '.join(LOOPS)}, got {LOOP!r}")


def pytest_report_header(config: pytest.Config) -> str:
    target = "FERRULE_PG_DSN" if os.environ.get("FERRULE_PG_DSN") else "a throwaway cluster"
    return f"ferrule: event loop {LOOP}; PostgreSQL from {target}"


@pytest.fixture(scope="session")
def pg_cluster() -> PgCluster:
    """The PostgreSQL server of the session (tests.common.pg_cluster.get_cluster())."""
    try:
        return get_cluster()
    except ClusterUnavailableError as exc:
        server_unavailable(f"PostgreSQL test server unavailable: {exc}")


@pytest.fixture(scope="session")
def pg_dsn(pg_cluster: PgCluster) -> str:
    """The superuser's DSN: postgresql://ferrule@127.0.0.1:<port>/ferrule_test."""
    return pg_cluster.dsn()


@pytest.fixture(scope="session")
def pg_local_cluster(pg_cluster: PgCluster) -> PgCluster:
    """The server, for tests that stop, restart or kill it or need the harness's roles and
    TLS certificates; skipped (never failed) against FERRULE_PG_DSN, which is a choice."""
    if pg_cluster.is_external:
        pytest.skip("needs the harness's own server, not FERRULE_PG_DSN")
    return pg_cluster
