"""libSQL embedded replicas: a local SQLite file following a primary, against the suite's
Hrana + sync server (`hrana_server.py`, proven with the official `libsql` client in
test_sync_server.py). Reads run locally; writes and transactions go to the primary; sync()
pulls the primary's frames."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import ferrule
from ferrule.sqlite_replica import SqliteReplicaConnection
from tests.sqlite.hrana_server import HranaProcess


async def open_replica(
    server: HranaProcess, path: Path, **kwargs: object
) -> SqliteReplicaConnection:
    conn = await ferrule.connect(
        f"sqlite:///{path}", sync_url=server.url, auth_token=server.token, **kwargs
    )
    assert isinstance(conn, SqliteReplicaConnection)
    return conn


@pytest.fixture
def primary(sync_server: HranaProcess) -> HranaProcess:
    sync_server.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
    sync_server.execute("INSERT INTO t(v) VALUES ('a'), ('b')")
    return sync_server


@pytest.fixture
async def replica(primary: HranaProcess, tmp_path: Path) -> AsyncIterator[SqliteReplicaConnection]:
    conn = await open_replica(primary, tmp_path / "replica.db")
    try:
        yield conn
    finally:
        await conn.close()


# Files that ferrule holds open are read by stdlib sqlite3 in a process of its own: two copies
# of SQLite in one process cancel each other's POSIX locks when one closes the file
# (https://sqlite.org/howtocorrupt.html, 2.2.1). Read-only: a connection that may write
# checkpoints the WAL when it closes last, which would take the primary's frames away.
_SNAPSHOT = """
import json, pathlib, sqlite3, sys
c = sqlite3.connect(pathlib.Path(sys.argv[1]).resolve().as_uri() + "?mode=ro", uri=True)
check = c.execute("PRAGMA integrity_check").fetchall()
mode = c.execute("PRAGMA journal_mode").fetchone()[0]
print(json.dumps({"check": check, "mode": mode, "dump": list(c.iterdump())}))
"""


def snapshot(path: str | Path) -> dict[str, Any]:
    """`integrity_check`, `journal_mode` and the dump of a database file, read by another
    process."""
    out = subprocess.run(
        [sys.executable, "-c", _SNAPSHOT, str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    found: dict[str, Any] = json.loads(out.stdout)
    return found


def check_same(primary: HranaProcess, replica_path: Path) -> None:
    copy = snapshot(replica_path)
    assert copy["check"] == [["ok"]]
    assert copy["dump"] == snapshot(primary.db_path)["dump"]


async def test_a_new_replica_is_copied_and_brought_up_to_date(
    replica: SqliteReplicaConnection, primary: HranaProcess, tmp_path: Path
) -> None:
    assert await replica.fetch("SELECT v FROM t ORDER BY id") == [("a",), ("b",)]
    assert (tmp_path / "replica.db-info").exists()
    assert replica.sync_url == primary.url
    assert "SqliteReplicaConnection" in repr(replica)


async def test_sync_pulls_what_the_primary_committed(
    replica: SqliteReplicaConnection, primary: HranaProcess, tmp_path: Path
) -> None:
    primary.execute("INSERT INTO t(v) VALUES ('c')")
    primary.execute("UPDATE t SET v = 'B' WHERE id = 2")
    assert await replica.fetchval("SELECT count(*) FROM t") == 2
    report = await replica.sync()
    assert report["transactions"] == 2 and report["frames"] >= 2
    assert report["generation"] == 1 and report["frame"] > 0
    assert await replica.fetch("SELECT v FROM t ORDER BY id") == [("a",), ("B",), ("c",)]
    again = await replica.sync()
    assert again["frames"] == 0 and again["frame"] == report["frame"]
    check_same(primary, tmp_path / "replica.db")


async def test_writes_go_to_the_primary_and_are_read_back_at_once(
    replica: SqliteReplicaConnection, primary: HranaProcess
) -> None:
    assert await replica.execute("INSERT INTO t(v) VALUES ($1)", "c") == "INSERT 0 1"
    assert primary.execute("SELECT v FROM t WHERE id = 3") == [("c",)]
    assert await replica.fetchval("SELECT v FROM t WHERE id = 3") == "c"
    # Writes SQLite's prefix guessing gets wrong: a CTE, a PRAGMA that writes, RETURNING.
    await replica.execute(
        "WITH n(x) AS (VALUES ('d')) INSERT INTO t(v) SELECT x FROM n", timeout=10
    )
    await replica.execute("PRAGMA user_version = 7")
    row = await replica.fetchrow("INSERT INTO t(v) VALUES ('e') RETURNING id, v")
    assert tuple(row) == (5, "e")
    assert primary.execute("PRAGMA user_version") == [(7,)]
    assert await replica.fetchval("PRAGMA user_version") == 7
    assert await replica.fetchval("SELECT count(*) FROM t") == 5
    await replica.executemany("INSERT INTO t(v) VALUES (?)", [("f",), ("g",)])
    assert await replica.fetchval("SELECT count(*) FROM t") == 7
    script = "INSERT INTO t(v) VALUES ('h'); INSERT INTO t(v) VALUES ('i');"
    await replica.execute(script)
    assert await replica.fetchval("SELECT count(*) FROM t") == 9
    # A script of reads runs locally.
    await replica.execute("SELECT 1; SELECT count(*) FROM t;")


async def test_without_read_your_writes_a_write_shows_after_sync(
    primary: HranaProcess, tmp_path: Path
) -> None:
    conn = await open_replica(primary, tmp_path / "r.db", read_your_writes=False)
    try:
        await conn.execute("INSERT INTO t(v) VALUES ('c')")
        assert await conn.fetchval("SELECT count(*) FROM t") == 2
        await conn.sync()
        assert await conn.fetchval("SELECT count(*) FROM t") == 3
    finally:
        await conn.close()


async def test_errors_of_the_primary_and_of_the_copy(replica: SqliteReplicaConnection) -> None:
    with pytest.raises(ferrule.IntegrityError):
        await replica.execute("INSERT INTO t(id, v) VALUES (1, 'dup')")
    with pytest.raises(ferrule.DatabaseError, match="no such table"):
        await replica.fetch("SELECT * FROM missing")
    with pytest.raises(ferrule.DatabaseError, match="syntax error"):
        await replica.execute("INSERT INTO t VALUES (1,, 2)")
    assert await replica.fetchval("SELECT count(*) FROM t") == 2


async def test_a_transaction_runs_on_the_primary(
    replica: SqliteReplicaConnection, primary: HranaProcess
) -> None:
    async with replica.transaction():
        await replica.execute("INSERT INTO t(v) VALUES ('c')")
        # Inside, reads see the transaction's own writes (they run on the primary too).
        assert await replica.fetchval("SELECT count(*) FROM t") == 3
        assert replica.is_in_transaction()
        assert primary.execute("SELECT count(*) FROM t") == [(2,)]
    assert not replica.is_in_transaction()
    assert primary.execute("SELECT count(*) FROM t") == [(3,)]
    assert await replica.fetchval("SELECT count(*) FROM t") == 3
    with pytest.raises(RuntimeError):
        async with replica.transaction():
            await replica.execute("INSERT INTO t(v) VALUES ('lost')")
            raise RuntimeError
    assert primary.execute("SELECT count(*) FROM t") == [(3,)]
    assert await replica.fetchval("SELECT count(*) FROM t") == 3


async def test_cursors_read_locally_and_inside_a_transaction_on_the_primary(
    replica: SqliteReplicaConnection, primary: HranaProcess
) -> None:
    await replica.executemany("INSERT INTO t(v) VALUES (?)", [(str(i),) for i in range(50)])
    async with replica.transaction():
        seen = [r["v"] async for r in replica.cursor("SELECT v FROM t ORDER BY id", prefetch=7)]
        assert len(seen) == 52
        await replica.execute("DELETE FROM t WHERE id > 10")
        inside = [r["v"] async for r in replica.cursor("SELECT v FROM t", prefetch=3)]
        assert len(inside) == 10
    stmt = await replica.prepare("SELECT id FROM t WHERE id > ?")
    assert [r["id"] async for r in stmt.cursor(5, prefetch=2)] == [6, 7, 8, 9, 10]


async def test_many_pulls_a_large_transaction_and_a_shrink(
    replica: SqliteReplicaConnection, primary: HranaProcess, tmp_path: Path
) -> None:
    primary.execute(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1200) "
        "INSERT INTO t(v) SELECT printf('%.3000c', 'x') FROM c"
    )
    report = await replica.sync()
    assert report["frames"] > 1024, "one transaction over several pulls of 512 frames"
    assert await replica.fetchval("SELECT count(*) FROM t") == 1202
    check_same(primary, tmp_path / "replica.db")
    primary.execute("DELETE FROM t WHERE id > 2")
    primary.execute("VACUUM")
    report = await replica.sync()
    assert report["transactions"] == 2, report
    assert await replica.fetchval("SELECT count(*) FROM t") == 2, report
    assert await replica.fetchval("PRAGMA page_count") < 10
    check_same(primary, tmp_path / "replica.db")


async def test_readers_see_each_primary_transaction_whole(
    replica: SqliteReplicaConnection, primary: HranaProcess
) -> None:
    for _ in range(3):
        primary.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300) "
            "INSERT INTO t(v) SELECT printf('%.2000c', 'y') FROM c"
        )
    seen: set[int] = set()
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set():
            seen.add(await replica.fetchval("SELECT count(*) FROM t"))
            await asyncio.sleep(0)

    task = asyncio.create_task(reader())
    await replica.sync()
    done.set()
    await task
    seen.add(await replica.fetchval("SELECT count(*) FROM t"))
    assert seen <= {2, 302, 602, 902} and 902 in seen


async def test_a_new_generation_is_followed_and_bootstraps_new_replicas(
    replica: SqliteReplicaConnection, primary: HranaProcess, tmp_path: Path
) -> None:
    primary.execute("INSERT INTO t(v) VALUES ('before')")
    assert primary.checkpoint() == 2
    primary.execute("INSERT INTO t(v) VALUES ('after')")
    report = await replica.sync()
    assert report["generation"] == 2
    assert await replica.fetchval("SELECT count(*) FROM t") == 4
    check_same(primary, tmp_path / "replica.db")
    fresh = await open_replica(primary, tmp_path / "fresh.db")
    try:
        assert await fresh.fetchval("SELECT count(*) FROM t") == 4
        assert (await fresh.sync())["generation"] == 2
    finally:
        await fresh.close()


async def test_an_interrupted_sync_keeps_what_it_completed_and_resumes(
    replica: SqliteReplicaConnection, primary: HranaProcess, tmp_path: Path
) -> None:
    for _ in range(20):
        primary.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100) "
            "INSERT INTO t(v) SELECT printf('%.3000c', 'z') FROM c"
        )
    with pytest.raises(ferrule.TimeoutError):
        await replica.sync(timeout=0.001)
    partial = await replica.fetchval("SELECT count(*) FROM t")
    assert (partial - 2) % 100 == 0
    task = asyncio.create_task(replica.sync())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await replica.sync()
    assert await replica.fetchval("SELECT count(*) FROM t") == 2002
    check_same(primary, tmp_path / "replica.db")


async def test_replicas_of_one_file_take_turns_and_share_progress(
    primary: HranaProcess, tmp_path: Path
) -> None:
    # Web workers commonly open the same replica file, each with its own connection.
    path = tmp_path / "shared.db"
    a = await open_replica(primary, path)
    b = await open_replica(primary, path)
    try:
        for _ in range(3):
            primary.execute(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200) "
                "INSERT INTO t(v) SELECT printf('%.3000c', 'w') FROM c"
            )
            await asyncio.gather(a.sync(), b.sync(), a.sync())
        assert await b.fetchval("SELECT count(*) FROM t") == 602
        primary.execute("INSERT INTO t(v) VALUES ('last')")
        assert (await a.sync())["transactions"] == 1
        # b starts from the progress a left in the file, not from its own.
        assert (await b.sync())["frames"] == 0
        assert await b.fetchval("SELECT count(*) FROM t") == 603
    finally:
        await a.close()
        await b.close()
    check_same(primary, path)


async def test_an_existing_replica_opens_and_reads_without_its_primary(
    primary: HranaProcess, tmp_path: Path
) -> None:
    path = tmp_path / "offline.db"
    conn = await open_replica(primary, path)
    await conn.close()
    dead = await ferrule.connect(
        f"sqlite:///{path}", sync_url="http://127.0.0.1:9", connect_timeout=2
    )
    assert isinstance(dead, SqliteReplicaConnection)
    try:
        assert await dead.fetchval("SELECT count(*) FROM t") == 2
        with pytest.raises(ferrule.ConnectionFailureError):
            await dead.sync()
        with pytest.raises(ferrule.ConnectionFailureError):
            await dead.execute("INSERT INTO t(v) VALUES ('x')")
        assert await dead.fetchval("SELECT count(*) FROM t") == 2
    finally:
        await dead.close()


async def test_wrong_token_and_bad_state_are_clear_errors(
    primary: HranaProcess, tmp_path: Path
) -> None:
    with pytest.raises(ferrule.AuthenticationError):
        await ferrule.connect(
            f"sqlite:///{tmp_path / 'x.db'}", sync_url=primary.url, auth_token="wrong"
        )
    assert not (tmp_path / "x.db").exists()
    plain = tmp_path / "plain.db"
    sqlite3.connect(plain).close()
    with pytest.raises(ferrule.InterfaceError, match="not a libSQL replica"):
        await open_replica(primary, plain)
    conn = await open_replica(primary, tmp_path / "r.db")
    await conn.close()
    info = tmp_path / "r.db-info"
    info.write_text(info.read_text().replace('"generation":1', '"generation":9'))
    with pytest.raises(ferrule.InterfaceError, match="damaged"):
        await open_replica(primary, tmp_path / "r.db")
    (tmp_path / "r.db").unlink()
    with pytest.raises(ferrule.InterfaceError, match="does not"):
        await open_replica(primary, tmp_path / "r.db")


async def test_the_local_copy_refuses_local_writes(
    replica: SqliteReplicaConnection, tmp_path: Path
) -> None:
    # Another ordinary connection may read the replica's file, and its pages change only by
    # sync; ferrule's own replica connection never writes it.
    other = await ferrule.connect(f"sqlite:///{tmp_path / 'replica.db'}")
    try:
        assert await other.fetchval("SELECT count(*) FROM t") == 2
    finally:
        await other.close()
    assert snapshot(tmp_path / "replica.db")["mode"] == "wal"


async def test_periodic_sync(primary: HranaProcess, tmp_path: Path) -> None:
    conn = await open_replica(primary, tmp_path / "p.db", sync_interval=0.05)
    try:
        primary.execute("INSERT INTO t(v) VALUES ('c')")
        for _ in range(200):
            if await conn.fetchval("SELECT count(*) FROM t") == 3:
                break
            await asyncio.sleep(0.025)
        assert await conn.fetchval("SELECT count(*) FROM t") == 3
    finally:
        await conn.close()


async def test_backup_of_the_local_copy(replica: SqliteReplicaConnection, tmp_path: Path) -> None:
    await replica.backup(tmp_path / "copy.db")
    with sqlite3.connect(tmp_path / "copy.db") as c:
        assert c.execute("SELECT count(*) FROM t").fetchone() == (2,)


async def test_a_pool_of_replicas_is_refused(primary: HranaProcess, tmp_path: Path) -> None:
    with pytest.raises(ferrule.NotSupportedError, match="embedded replicas"):
        ferrule.create_pool(f"sqlite:///{tmp_path / 'p.db'}?sync_url={primary.url}")


def test_an_unclosed_replica_syncing_in_the_background_does_not_hang_exit(
    primary: HranaProcess, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, ferrule
        async def main():
            conn = await ferrule.connect(
                "sqlite:///{tmp_path}/x.db", sync_url={primary.url!r},
                auth_token={primary.token!r}, sync_interval=0.01,
            )
            asyncio.ensure_future(conn.sync())
            asyncio.ensure_future(conn.execute("INSERT INTO t(v) VALUES ('x')"))
            await asyncio.sleep(0.05)
            print("exiting", flush=True)
        asyncio.run(main())
        """
    )
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert "exiting" in out.stdout
    assert time.monotonic() - started < 10
