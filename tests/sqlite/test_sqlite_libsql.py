"""libSQL remote mode: ferrule over Hrana 3 on HTTP against the suite's Hrana server, and the
official `libsql` client against the same server, proving the server speaks the protocol."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import ferrule
from ferrule.libsql_connection import LibsqlConnection, build_settings

HERE = Path(__file__).resolve().parent
TOKEN = "test-token"


@pytest.fixture
def hrana_url(tmp_path: Path) -> Iterator[str]:
    """A Hrana server in a process of its own (the official client holds the GIL while it
    waits, so a server thread in this process could not answer it)."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "hrana_server.py"), str(tmp_path / "remote.db"), TOKEN],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), url
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
async def remote(hrana_url: str) -> AsyncIterator[LibsqlConnection]:
    conn = await ferrule.connect(f"{hrana_url}?authToken={TOKEN}")
    assert isinstance(conn, LibsqlConnection)
    try:
        yield conn
    finally:
        await conn.close()


async def test_queries_over_hrana(remote: LibsqlConnection) -> None:
    await remote.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB, x REAL)")
    assert await remote.execute("INSERT INTO t VALUES (?, ?, ?, ?)", 1, "a", b"\x00\xff", 0.5) == (
        "INSERT 0 1"
    )
    await remote.executemany("INSERT INTO t (id, name) VALUES (?, ?)", [(2, "b"), (3, "c")])
    rows = await remote.fetch("SELECT id, name, data, x FROM t ORDER BY id")
    assert [tuple(r) for r in rows] == [
        (1, "a", b"\x00\xff", 0.5),
        (2, "b", None, None),
        (3, "c", None, None),
    ]
    assert (await remote.fetchrow("SELECT name FROM t WHERE id = :id", {"id": 2}) or {})[
        "name"
    ] == "b"
    assert await remote.fetchval("SELECT count(*) FROM t") == 3
    assert await remote.fetchval("SELECT ?", -(2**63)) == -(2**63)


async def test_transactions_span_calls(remote: LibsqlConnection) -> None:
    await remote.execute("CREATE TABLE t (i INTEGER)")
    async with remote.transaction():
        await remote.execute("INSERT INTO t VALUES (?)", 1)
        assert remote.is_in_transaction()
    assert not remote.is_in_transaction()
    with pytest.raises(RuntimeError):
        async with remote.transaction(mode="immediate"):
            await remote.execute("INSERT INTO t VALUES (?)", 2)
            raise RuntimeError
    assert await remote.fetchval("SELECT group_concat(i) FROM t") == "1"


async def test_errors_keep_their_codes(remote: LibsqlConnection) -> None:
    await remote.execute("CREATE TABLE u (k TEXT UNIQUE)")
    await remote.execute("INSERT INTO u VALUES (?)", "x")
    with pytest.raises(ferrule.UniqueViolationError) as info:
        await remote.execute("INSERT INTO u VALUES (?)", "x")
    assert info.value.code == "SQLITE_CONSTRAINT_UNIQUE"
    with pytest.raises(ferrule.UniqueViolationError, match="row 1"):
        await remote.executemany("INSERT INTO u VALUES (?)", [("y",), ("x",)])
    assert await remote.fetchval("SELECT count(*) FROM u") == 1
    with pytest.raises(ferrule.OperationalError, match="syntax error"):
        await remote.fetch("SELEC 1")
    assert await remote.fetchval("SELECT 1") == 1


async def test_prepare_and_cursor(remote: LibsqlConnection) -> None:
    await remote.execute("CREATE TABLE t (i INTEGER)")
    await remote.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(25)])
    stmt = await remote.prepare("SELECT i FROM t WHERE i >= ? ORDER BY i")
    assert [r[0] for r in await stmt.fetch(20)] == [20, 21, 22, 23, 24]
    seen = [r[0] async for r in remote.cursor("SELECT i FROM t ORDER BY i", prefetch=7)]
    assert seen == list(range(25))


async def test_wrong_token_is_an_authentication_error(hrana_url: str) -> None:
    with pytest.raises(ferrule.AuthenticationError, match="401"):
        await ferrule.connect(f"{hrana_url}?authToken=wrong")


async def test_unreachable_server(hrana_url: str) -> None:
    with pytest.raises(ferrule.ConnectionFailureError):
        await ferrule.connect("http://127.0.0.1:9", connect_timeout=2)


async def test_sync_is_not_supported(remote: LibsqlConnection) -> None:
    with pytest.raises(ferrule.NotSupportedError, match="embedded replicas"):
        await remote.sync()


def test_urls() -> None:
    s = build_settings("libsql://db.example.com?authToken=abc", {})
    assert s["url"] == "https://db.example.com" and s["auth_token"] == "abc"
    assert build_settings("libsql://h:8080?tls=0", {})["url"] == "http://h:8080"
    assert build_settings("https://h/x", {"auth_token": "t"})["auth_token"] == "t"
    with pytest.raises(ferrule.InterfaceError, match="unknown libSQL URL parameter"):
        build_settings("libsql://h?bogus=1", {})


def test_official_client_reads_what_ferrule_wrote(hrana_url: str) -> None:
    libsql = pytest.importorskip("libsql", reason="the official libsql client is not installed")
    del libsql
    script = textwrap.dedent(
        f"""
        import asyncio, ferrule, libsql
        async def write():
            conn = await ferrule.connect("{hrana_url}?authToken={TOKEN}")
            await conn.execute("CREATE TABLE shared (k INTEGER, v TEXT, b BLOB)")
            await conn.executemany(
                "INSERT INTO shared VALUES (?, ?, ?)", [(1, "one", b"\\x01"), (2, "two", None)]
            )
            await conn.close()
        asyncio.run(write())
        client = libsql.connect("{hrana_url}", auth_token="{TOKEN}")
        rows = client.execute("SELECT k, v, b FROM shared ORDER BY k").fetchall()
        assert rows == [(1, "one", b"\\x01"), (2, "two", None)], rows
        client.execute("INSERT INTO shared VALUES (?, ?, ?)", (3, "three", b"\\x03"))
        client.commit()
        async def read():
            conn = await ferrule.connect("{hrana_url}?authToken={TOKEN}")
            assert await conn.fetchval("SELECT v FROM shared WHERE k = ?", 3) == "three"
            await conn.close()
        asyncio.run(read())
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
