"""PostgreSQL fixtures beyond `pg_cluster` / `pg_dsn` (those live in tests/conftest.py)."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio

import ferrule
from tests.common.pg_cluster import PgCluster

_table_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server_version_num(pg_cluster: PgCluster) -> int:
    """The server's version as an int, e.g. 150018 for 15.18, to gate version-bound tests."""
    return int(pg_cluster.psql("SHOW server_version_num"))


@pytest.fixture
def pg_table(request: pytest.FixtureRequest, pg_cluster: PgCluster) -> Iterator[str]:
    """A table name no other test uses (the suite shares one database); dropped afterwards.

    The test creates the table itself; the name is a plain lower-case identifier.
    """
    stem = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower())[:40].strip("_")
    # The pid keeps two runs apart when they share one server through FERRULE_PG_DSN.
    name = f"t_{stem}_{os.getpid()}_{next(_table_numbers)}"
    yield name
    pg_cluster.psql('DROP TABLE IF EXISTS :"table" CASCADE', table=name)


@pytest_asyncio.fixture
async def conn(pg_dsn: str) -> AsyncIterator[ferrule.PgConnection]:
    """A ferrule connection as the superuser, closed (or terminated) after the test."""
    connection = await ferrule.connect(pg_dsn)
    try:
        yield connection
    finally:
        if not connection.is_closed():
            await connection.close(timeout=5)


@pytest.fixture
def connect(pg_dsn: str) -> Iterator[Callable[..., Awaitable[ferrule.PgConnection]]]:
    """`await connect(**kwargs)`: a ferrule connection to the test server (DSN overridable
    with `dsn=`); every connection it opened is terminated after the test."""
    opened: list[ferrule.PgConnection] = []

    async def _connect(dsn: str | None = None, **kwargs: Any) -> ferrule.PgConnection:
        connection = await ferrule.connect(dsn or pg_dsn, **kwargs)
        opened.append(connection)
        return connection

    yield _connect
    for connection in opened:
        connection.terminate()
