"""SQLite fixtures: a database file in a temporary directory, and a connection to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import ferrule


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
