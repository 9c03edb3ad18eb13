"""Short reads in WAL mode keep one read transaction open for the reads that follow, and use
it only while the WAL index shows no commit since it began (see
crates/ferrule-sqlite/src/readhold.rs). What must hold: every read sees every commit that
finished before it started (from this process or another), the held transaction is never the
caller's (`transaction_status`, BEGIN, writes), and it ends at the loop's next turn, so a
checkpoint is not held back."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import ferrule

Conn = ferrule.SqliteConnection


async def open_wal(path: Path) -> Conn:
    conn = await ferrule.sqlite_connection.connect(f"sqlite:///{path}")
    await conn.execute("PRAGMA journal_mode = WAL")
    return conn


@pytest.fixture
async def wal_pair(db_path: Path) -> AsyncIterator[tuple[Conn, Conn]]:
    """Two connections to one WAL database holding `t(v)` with 100 rows."""
    a = await open_wal(db_path)
    b = await open_wal(db_path)
    await a.executescript(
        "CREATE TABLE t (v INTEGER); "
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "
        "INSERT INTO t SELECT i FROM n;"
    )
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def warm(conn: Conn, sql: str, n: int = 5) -> None:
    """Runs `sql` a few times, so that it is cached, known to be short and taken inline."""
    for _ in range(n):
        await conn.fetchval(sql)


async def test_reads_see_each_commit_of_another_connection_at_once(
    wal_pair: tuple[Conn, Conn],
) -> None:
    a, b = wal_pair
    count = "SELECT count(*) FROM t"
    await warm(a, count)
    # Without a sync to wait for, b's commits are short enough to run inline too, so that no
    # loop turn (which would end a's read transaction) comes between a read and a commit.
    await b.execute("PRAGMA synchronous = OFF")
    expected = 100
    for i in range(3000):
        # No yield between the two: a's read transaction from the previous read is still
        # held when b commits, and must not be used for this read.
        assert await a.fetchval(count) == expected
        if i % 3 == 0:
            await b.execute("INSERT INTO t VALUES (?)", i)
            expected += 1
    assert await a.fetchval(count) == expected


async def test_reads_see_a_commit_of_another_process_at_once(
    wal_pair: tuple[Conn, Conn], db_path: Path
) -> None:
    a, _ = wal_pair
    count = "SELECT count(*) FROM t"
    await warm(a, count)
    writer = subprocess.Popen(  # noqa: ASYNC220 - the blocking exchange is the point
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sqlite3, sys
                db = sqlite3.connect({str(db_path)!r}, isolation_level=None, timeout=10)
                for line in sys.stdin:
                    db.execute("INSERT INTO t VALUES (?)", (int(line),))
                    print("done", flush=True)
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None and writer.stdout is not None
    try:
        expected = 100
        for i in range(50):
            assert await a.fetchval(count) == expected
            # The other process commits while this task keeps the loop (a blocking
            # exchange): the read transaction of the read above is still held.
            writer.stdin.write(f"{i}\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "done"
            expected += 1
            assert await a.fetchval(count) == expected
    finally:
        writer.stdin.close()
        writer.wait(timeout=10)


async def test_the_held_read_is_not_the_callers_transaction(
    wal_pair: tuple[Conn, Conn],
) -> None:
    a, b = wal_pair
    await warm(a, "SELECT max(v) FROM t")
    assert a.is_in_transaction() is False
    async with a.transaction():
        assert a.is_in_transaction() is True
        await a.execute("INSERT INTO t VALUES (1000)")
        assert await a.fetchval("SELECT max(v) FROM t") == 1000
    assert a.is_in_transaction() is False
    # Committed for everyone, not only inside a's snapshot.
    assert await b.fetchval("SELECT max(v) FROM t") == 1000
    await warm(a, "SELECT max(v) FROM t")
    await a.execute("BEGIN IMMEDIATE")
    await a.execute("DELETE FROM t WHERE v = 1000")
    await a.execute("ROLLBACK")
    assert await b.fetchval("SELECT max(v) FROM t") == 1000


async def test_the_held_read_ends_at_the_next_loop_turn(
    wal_pair: tuple[Conn, Conn],
) -> None:
    a, b = wal_pair
    await warm(a, "SELECT count(*) FROM t")
    for i in range(20):
        await b.execute("INSERT INTO t VALUES (?)", i)
        await a.fetchval("SELECT count(*) FROM t")
        await asyncio.sleep(0)
        # No reader left: a TRUNCATE checkpoint copies the whole WAL back and empties it
        # (busy = 0), with a busy handler of 0 that would report a reader at once.
        await b.execute("PRAGMA busy_timeout = 0")
        assert await b.fetchrow("PRAGMA wal_checkpoint(TRUNCATE)") == (0, 0, 0)


async def test_journal_mode_changes_and_attached_databases(
    wal_pair: tuple[Conn, Conn], tmp_path: Path
) -> None:
    a, b = wal_pair
    await warm(a, "SELECT count(*) FROM t")
    # Out of WAL mode and back, on the connection that held the read.
    await b.close()
    assert await a.fetchval("PRAGMA journal_mode = DELETE") == "delete"
    await warm(a, "SELECT count(*) FROM t")
    await a.execute("INSERT INTO t VALUES (1)")
    assert await a.fetchval("SELECT count(*) FROM t") == 101
    assert await a.fetchval("PRAGMA journal_mode = WAL") == "wal"
    await warm(a, "SELECT count(*) FROM t")
    # A read of an attached database sees the other connection's commits too.
    other = tmp_path / "other.db"
    c = await open_wal(other)
    await c.execute("CREATE TABLE u (v INTEGER)")
    await a.execute("ATTACH DATABASE ? AS other", str(other))
    total = "SELECT count(*) FROM other.u"
    await warm(a, total)
    for i in range(200):
        assert await a.fetchval(total) == i
        await c.execute("INSERT INTO u VALUES (?)", i)
    await a.execute("DETACH DATABASE other")
    await c.close()
    assert await a.fetchval("SELECT count(*) FROM t") == 101


async def test_cursors_writes_and_close_while_a_read_is_held(
    wal_pair: tuple[Conn, Conn],
) -> None:
    a, b = wal_pair
    await warm(a, "SELECT v FROM t WHERE v = 1")
    async with a.transaction():
        seen = [r[0] async for r in a.cursor("SELECT v FROM t ORDER BY v", prefetch=7)]
    assert seen == list(range(1, 101))
    await warm(a, "SELECT v FROM t WHERE v = 1")
    await a.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5)])
    assert await b.fetchval("SELECT count(*) FROM t") == 105
    await warm(a, "SELECT v FROM t WHERE v = 1")
    # Closing with the read still held ends it with the connection.
    await a.close()
    await b.execute("PRAGMA busy_timeout = 0")
    assert await b.fetchrow("PRAGMA wal_checkpoint(TRUNCATE)") == (0, 0, 0)


async def test_pool_readers_see_the_writers_commits(db_path: Path) -> None:
    pool = await ferrule.create_pool(f"sqlite:///{db_path}", min_size=3, max_size=3)
    try:
        await pool.execute("CREATE TABLE t (v INTEGER)")
        for i in range(300):
            await pool.execute("INSERT INTO t VALUES (?)", i)
            got = await asyncio.gather(*(pool.fetchval("SELECT count(*) FROM t") for _ in range(4)))
            assert got == [i + 1] * 4
    finally:
        await pool.close()
