"""SQLite fixtures: a database file in a temporary directory, and a connection to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import ferrule
from tests.sqlite.hrana_server import HranaProcess


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database file path in the test's own temporary directory (not created yet)."""
    return tmp_path / "test.db"


@pytest.fixture
def db_url(db_path: Path) -> str:
    """``sqlite:///`` URL of ``db_path`` (four slashes: the path is absolute)."""
    return f"sqlite:///{db_path}"


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[ferrule.SqliteConnection]:
    """A connection to a fresh database file, closed after the test."""
    c = await ferrule.sqlite_connection.connect(db_url)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture(params=[True, False], ids=["inline", "thread"])
async def mem(request: pytest.FixtureRequest) -> AsyncIterator[ferrule.SqliteConnection]:
    """A connection to a private in-memory database, with and without the inline path (so
    that every test runs on both ways a call can take)."""
    c = await ferrule.sqlite_connection.connect("sqlite://:memory:", inline=request.param)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def sync_server(tmp_path: Path) -> Iterator[HranaProcess]:
    """The suite's Hrana server, with the libSQL sync protocol (embedded replicas), in a
    process of its own on the primary database file ``tmp_path / "primary.db"``: ``url``,
    ``token``, ``db_path``, and ``checkpoint()`` to start a new generation."""
    with HranaProcess(tmp_path / "primary.db", "sync-token") as server:
        yield server
