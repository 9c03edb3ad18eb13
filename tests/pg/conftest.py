"""PostgreSQL fixtures beyond `pg_cluster` / `pg_dsn` (those live in tests/conftest.py)."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator

import pytest

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
