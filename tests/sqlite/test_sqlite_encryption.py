"""Encryption at rest: a database opened with ``encryption_key`` is unreadable without it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import ferrule

SECRET = "a row nobody may read from the file"


def url(path: Path) -> str:
    return f"sqlite:///{path}"


async def make(path: Path, key: str | bytes) -> None:
    conn = await ferrule.connect(url(path), encryption_key=key)
    try:
        await conn.execute("CREATE TABLE s (v TEXT)")
        await conn.execute("INSERT INTO s VALUES (?)", SECRET)
    finally:
        await conn.close()


async def test_encrypted_database_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "enc.db"
    await make(path, "correct horse")
    assert SECRET.encode() not in path.read_bytes()
    assert not path.read_bytes().startswith(b"SQLite format 3")
    conn = await ferrule.connect(url(path), encryption_key="correct horse")
    try:
        assert await conn.fetchval("SELECT v FROM s") == SECRET
    finally:
        await conn.close()


async def test_bytes_key_and_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "enc.db"
    key = bytes(range(1, 33))
    await make(path, key)
    conn = await ferrule.connect(url(path), encryption_key=key, journal_mode="wal")
    try:
        await conn.execute("INSERT INTO s VALUES (?)", "more")
        assert await conn.fetchval("SELECT count(*) FROM s") == 2
    finally:
        await conn.close()
    assert b"more" not in (tmp_path / "enc.db").read_bytes()


async def test_wrong_key_fails_at_open_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "enc.db"
    await make(path, "right")
    with pytest.raises(ferrule.DatabaseError, match="encryption key is wrong"):
        await ferrule.connect(url(path), encryption_key="wrong")


async def test_no_key_on_an_encrypted_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "enc.db"
    await make(path, "right")
    conn = await ferrule.connect(url(path))
    try:
        with pytest.raises(ferrule.DatabaseError, match="needs its encryption_key"):
            await conn.fetchval("SELECT count(*) FROM s")
    finally:
        await conn.close()
    # And the standard library cannot read it either.
    plain = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError):
        plain.execute("SELECT count(*) FROM s")
    plain.close()


async def test_plain_databases_still_open_without_a_key(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    plain = sqlite3.connect(path)
    plain.execute("CREATE TABLE t (x)")
    plain.execute("INSERT INTO t VALUES (1)")
    plain.commit()
    plain.close()
    conn = await ferrule.connect(url(path))
    try:
        assert await conn.fetchval("SELECT x FROM t") == 1
    finally:
        await conn.close()


@pytest.mark.parametrize("key", ["", b"", 42])
async def test_bad_keys_are_refused(tmp_path: Path, key: object) -> None:
    with pytest.raises(ferrule.InterfaceError, match="encryption_key"):
        await ferrule.connect(url(tmp_path / "x.db"), encryption_key=key)  # type: ignore[arg-type]


async def test_key_in_the_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ferrule.InterfaceError, match="keyword argument"):
        await ferrule.connect(f"sqlite:///{tmp_path}/x.db?encryption_key=k")
