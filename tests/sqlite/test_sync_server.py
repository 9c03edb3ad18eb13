"""The libSQL sync protocol of the suite's Hrana server, proven with the official `libsql`
client as an embedded replica, and its WAL walker on files written by SQLite itself."""

from __future__ import annotations

import ast
import json
import os
import select
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from tests.sqlite.hrana_server import HranaProcess
from tests.sqlite.sync_source import (
    FRAME_SIZE,
    WAL_HEADER_SIZE,
    WalFrames,
    prepare_primary,
    wal_checksum,
    wal_index_max_frame,
)

pytest.importorskip("libsql", reason="the official libsql client is not installed")

# The official client, driven line by line: commands and answers are Python literals (rows
# hold bytes, which JSON cannot).
DRIVER = """
import ast, sys, libsql
path, url, token = sys.argv[1:4]
def answer(status, value):
    print(repr((status, value)), flush=True)
try:
    conn = libsql.connect(path, sync_url=url, auth_token=token)
except Exception as exc:
    answer("error", f"{type(exc).__name__}: {exc}")
    sys.exit()
answer("ok", None)
for line in sys.stdin:
    op, sql, args = ast.literal_eval(line)
    try:
        if op == "sync":
            value = conn.sync()
        elif op == "fetch":
            value = conn.execute(sql, args).fetchall()
        elif op == "execute":
            value = conn.execute(sql, args).rowcount
        else:
            value = conn.commit()
    except Exception as exc:
        answer("error", f"{type(exc).__name__}: {exc}")
    else:
        answer("ok", value)
"""

# One page per row: 300 rows make a transaction of more frames than one pull (128).
BIG_INSERT = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    "INSERT INTO big SELECT i, randomblob(3000) FROM n"
)
PAGES_INSERT = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    "INSERT INTO t SELECT randomblob(3000) FROM n"
)


class ReplicaError(Exception):
    """The official client raised: its type and message."""


class Replica:
    """An embedded replica at ``path`` of ``server``, opened by the official client in a
    process of its own (it holds the GIL while it waits on the network)."""

    def __init__(self, path: Path, server: HranaProcess, token: str | None = None) -> None:
        self.path = path
        args = [str(path), server.url, server.token if token is None else token]
        self._proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            self._answer()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
            raise
        finally:
            self._proc.stdout.close()

    def __enter__(self) -> Replica:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _answer(self) -> Any:
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], 60)
        assert ready, "the official client did not answer within 60 s"
        line = self._proc.stdout.readline()
        assert line, f"the official client exited with {self._proc.wait(10)}"
        status, value = ast.literal_eval(line)
        if status == "error":
            raise ReplicaError(value)
        return value

    def _call(self, op: str, sql: str = "", args: tuple[Any, ...] = ()) -> Any:
        assert self._proc.stdin is not None
        self._proc.stdin.write(repr((op, sql, args)) + "\n")
        self._proc.stdin.flush()
        return self._answer()

    def sync(self) -> None:
        self._call("sync")

    def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return list(self._call("fetch", sql, args))

    def execute(self, sql: str, *args: Any) -> None:
        self._call("execute", sql, args)

    def commit(self) -> None:
        self._call("commit")

    def metadata(self) -> dict[str, Any]:
        """The client's ``<path>-info`` file: its generation and last durable frame."""
        return dict(json.loads(Path(f"{self.path}-info").read_text()))


def snapshot(path: Path | str) -> tuple[str, int, list[str]]:
    """``(integrity_check, page_count, dump)`` of a database file, read-only (so that this
    connection can never checkpoint anybody's WAL)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        return check, pages, list(conn.iterdump())
    finally:
        conn.close()


def assert_replica_matches(replica: Replica, server: HranaProcess) -> None:
    check, pages, dump = snapshot(replica.path)
    assert check == "ok"
    assert (pages, dump) == snapshot(server.db_path)[1:]


def frame_count(server: HranaProcess) -> int:
    """Committed frames of the current generation, as served."""
    status, body = server.request("GET", f"/sync/{server.generation()}/1/1000000")
    if status == 400:
        return 0
    assert status == 200 and len(body) % FRAME_SIZE == 0
    return len(body) // FRAME_SIZE


def test_replica_bootstraps_and_follows(sync_server: HranaProcess, tmp_path: Path) -> None:
    server = sync_server
    server.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
    server.execute("INSERT INTO t VALUES (?, ?, ?)", 1, "one", b"\x01")
    with Replica(tmp_path / "replica.db", server) as replica:
        replica.sync()
        assert replica.fetch("SELECT id, name, data FROM t") == [(1, "one", b"\x01")]
        assert_replica_matches(replica, server)

        for i in range(2, 6):
            server.execute("INSERT INTO t VALUES (?, ?, ?)", i, f"n{i}", bytes([i]) * i)
        replica.sync()
        assert replica.fetch("SELECT count(*), sum(length(data)) FROM t") == [(5, 15)]
        assert_replica_matches(replica, server)

        server.execute("CREATE TABLE big (i INTEGER, b BLOB)")
        before = frame_count(server)
        server.execute(BIG_INSERT, 300)
        assert frame_count(server) - before > 128
        replica.sync()
        assert replica.fetch("SELECT count(*) FROM big") == [(300,)]
        assert_replica_matches(replica, server)

        # The file shrinks: a commit frame with a smaller database size.
        pages = snapshot(server.db_path)[1]
        server.execute("DROP TABLE big")
        server.execute("VACUUM")
        replica.sync()
        assert replica.fetch("SELECT count(*) FROM sqlite_master WHERE name = 'big'") == [(0,)]
        assert_replica_matches(replica, server)
        assert snapshot(replica.path)[1] < pages / 10


def test_replica_writes_go_to_the_primary(sync_server: HranaProcess, tmp_path: Path) -> None:
    server = sync_server
    server.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    with Replica(tmp_path / "replica.db", server) as replica:
        replica.sync()
        replica.execute("INSERT INTO t VALUES (?, ?)", 1, "from the replica")
        replica.commit()
        assert server.execute("SELECT id, name FROM t") == [(1, "from the replica")]
        replica.sync()
        assert replica.fetch("SELECT id, name FROM t") == [(1, "from the replica")]
        assert_replica_matches(replica, server)


def test_replicas_follow_new_generations(sync_server: HranaProcess, tmp_path: Path) -> None:
    server = sync_server
    server.execute("CREATE TABLE t (i INTEGER)")
    server.execute("INSERT INTO t VALUES (?)", 1)
    with Replica(tmp_path / "early.db", server) as early:
        early.sync()
        assert early.fetch("SELECT i FROM t") == [(1,)]
        # Written in generation 1 after the replica's last pull: it must still get them.
        server.execute("INSERT INTO t VALUES (?)", 2)
        assert server.checkpoint() == 2
        server.execute("INSERT INTO t VALUES (?)", 3)
        early.sync()
        assert early.fetch("SELECT i FROM t ORDER BY i") == [(1,), (2,), (3,)]
        assert early.metadata()["generation"] == 2
        assert_replica_matches(early, server)

        # A new replica starts from generation 2's export, then its frames.
        with Replica(tmp_path / "late.db", server) as late:
            bootstrapped = late.metadata()
            assert (bootstrapped["generation"], bootstrapped["durable_frame_num"]) == (2, 0)
            late.sync()
            assert late.fetch("SELECT i FROM t ORDER BY i") == [(1,), (2,), (3,)]
            assert_replica_matches(late, server)

        # Generations without a single write are crossed too.
        assert server.checkpoint() == 3
        assert server.checkpoint() == 4
        server.execute("INSERT INTO t VALUES (?)", 4)
        early.sync()
        assert early.fetch("SELECT count(*) FROM t") == [(4,)]
        assert early.metadata()["generation"] == 4
        assert_replica_matches(early, server)


def test_replicas_keep_up_with_concurrent_writes_and_checkpoints(
    sync_server: HranaProcess, tmp_path: Path
) -> None:
    server = sync_server
    server.execute("CREATE TABLE t (i INTEGER, b BLOB)")
    milestones = [threading.Event() for _ in range(3)]

    def write() -> None:
        for i in range(400):
            server.execute("INSERT INTO t VALUES (?, randomblob(?))", i, 100 + 20 * i)
            if i % 100 == 99 and i < 300:
                milestones[i // 100].set()

    def turn_generations() -> int:
        for reached in milestones:
            assert reached.wait(60)
            generation = server.checkpoint()
        return generation

    with Replica(tmp_path / "replica.db", server) as replica, ThreadPoolExecutor(2) as pool:
        writing = pool.submit(write)
        turning = pool.submit(turn_generations)
        # sync() pulls until it reaches the end, so it returns once it caught up.
        while not (writing.done() and turning.done()):
            replica.sync()
        writing.result()
        assert turning.result() == 4
        replica.sync()
        assert replica.fetch("SELECT count(*), sum(length(b)) FROM t") == [(400, 1636000)]
        assert replica.metadata()["generation"] == 4
        assert_replica_matches(replica, server)
    with Replica(tmp_path / "fresh.db", server) as fresh:
        fresh.sync()
        assert_replica_matches(fresh, server)


def test_wrong_token_is_refused(sync_server: HranaProcess, tmp_path: Path) -> None:
    with pytest.raises(ReplicaError, match="Unauthorized"):
        Replica(tmp_path / "replica.db", sync_server, token="wrong")
    for method, path in [
        ("GET", "/info"),
        ("GET", "/export/1"),
        ("GET", "/sync/1/1/2"),
        ("POST", "/admin/checkpoint"),
    ]:
        status, _ = sync_server.request(method, path, headers={"Authorization": "Bearer wrong"})
        assert status == 401, path
        assert sync_server.request(method, path, headers={})[0] == 401, path


def test_protocol_answers(sync_server: HranaProcess) -> None:
    server = sync_server
    assert json.loads(server.request("GET", "/info")[1]) == {"current_generation": 1}
    status, export = server.request("GET", "/export/1")
    assert status == 200 and export[:16] == b"SQLite format 3\x00"
    assert struct.unpack(">H", export[16:18])[0] == 4096 and export[18:20] == b"\x02\x02"
    # Nothing written yet: the first pull is already past the end of the generation.
    assert server.request("GET", "/sync/1/1/129") == (400, b'{"generation": 1}')

    server.execute("CREATE TABLE t (x)")
    status, frames = server.request("GET", "/sync/1/1/129")
    assert status == 200 and frames and len(frames) % FRAME_SIZE == 0
    last = frames[-FRAME_SIZE:]
    assert struct.unpack(">I", last[4:8])[0] > 0  # the commit frame ends the batch
    count = len(frames) // FRAME_SIZE
    assert server.request("GET", f"/sync/1/{count}/{count + 1}") == (200, last)
    assert server.request("GET", f"/sync/1/{count + 1}/129")[0] == 400

    assert server.request("GET", "/sync/2/1/129")[0] == 404
    assert server.request("GET", "/export/2")[0] == 404
    assert server.request("GET", "/sync/1/0/5")[0] == 400
    assert server.request("GET", "/sync/1/x/5")[0] == 404
    status, body = server.request("POST", "/sync/1/1/2", b"\x00" * FRAME_SIZE)
    assert status == 405 and b"not supported" in body

    # SQL that would checkpoint behind the protocol's back is refused.
    for sql in ("PRAGMA wal_checkpoint(FULL)", "PRAGMA journal_mode=DELETE"):
        with pytest.raises(Exception, match="not authorized"):
            server.execute(sql)
    assert server.execute("PRAGMA journal_mode") == [("wal",)]


def test_checkpoint_waits_for_open_transactions(sync_server: HranaProcess) -> None:
    server = sync_server
    server.execute("CREATE TABLE t (x)")
    baton, _ = server.pipeline(
        [server.statement("BEGIN"), server.statement("INSERT INTO t VALUES (1)")]
    )
    status, body = server.request("POST", "/admin/checkpoint?wait=0.2")
    assert status == 409 and b"1 open transaction" in body
    assert server.generation() == 1
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(server.checkpoint, 30)
        time.sleep(0.3)
        assert not waiting.done()
        server.pipeline([server.statement("COMMIT"), {"type": "close"}], baton)
        assert waiting.result(30) == 2
    # The committed row is in generation 2's export.
    export = server.request("GET", "/export/2")[1]
    assert export == Path(server.db_path).read_bytes()
    assert server.request("GET", "/sync/2/1/2") == (400, b'{"generation": 2}')


def _wal_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    prepare_primary(conn)
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.execute("INSERT INTO t VALUES (randomblob(100))")
    return conn


def test_walker_skips_a_rolled_back_spill(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    wal = Path(f"{path}-wal")
    conn = _wal_db(path)
    walker = WalFrames(str(wal))
    committed = walker.committed()
    assert 0 < len(committed) == wal_index_max_frame(str(path))

    # A tiny page cache makes the big transaction write its pages to the WAL uncommitted.
    conn.execute("PRAGMA cache_size=2")
    conn.execute("BEGIN")
    conn.execute(PAGES_INSERT, (200,))
    assert wal.stat().st_size > WAL_HEADER_SIZE + (len(committed) + 100) * FRAME_SIZE
    assert walker.committed() == committed
    conn.execute("ROLLBACK")
    assert walker.committed() == committed == WalFrames(str(wal)).committed()

    # The next commit overwrites the first spilled frames; the stale rest is not served.
    conn.execute("INSERT INTO t VALUES (?)", (b"after",))
    frames = walker.committed()
    assert frames[: len(committed)] == committed
    assert len(frames) == wal_index_max_frame(str(path)) < wal.stat().st_size // FRAME_SIZE
    assert frames == WalFrames(str(wal)).committed()
    conn.close()


def test_walker_ignores_frames_from_before_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    wal = Path(f"{path}-wal")
    conn = _wal_db(path)
    walker = WalFrames(str(wal))
    conn.execute(PAGES_INSERT, (20,))
    old = walker.committed()
    conn.execute("PRAGMA wal_checkpoint(RESTART)")
    conn.execute("INSERT INTO t VALUES (?)", (b"new",))
    frames = walker.committed()
    assert 0 < len(frames) == wal_index_max_frame(str(path)) < len(old)
    assert wal.stat().st_size >= WAL_HEADER_SIZE + len(old) * FRAME_SIZE
    assert frames == WalFrames(str(wal)).committed()
    conn.close()


def test_walker_stops_at_a_torn_commit(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    conn = _wal_db(path)
    first = WalFrames(f"{path}-wal").committed()
    conn.execute("INSERT INTO t VALUES (?)", (b"second",))
    data = bytearray(Path(f"{path}-wal").read_bytes())
    conn.close()
    end = WAL_HEADER_SIZE + len(first) * FRAME_SIZE
    torn = tmp_path / "torn-wal"
    data[end + FRAME_SIZE - 1] ^= 0xFF  # the last byte of the second commit's first page
    torn.write_bytes(bytes(data[: end + 2 * FRAME_SIZE]))
    assert WalFrames(str(torn)).committed() == first
    torn.write_bytes(bytes(data[: end + FRAME_SIZE // 2]))
    assert WalFrames(str(torn)).committed() == first


def test_walker_reads_big_endian_checksums(tmp_path: Path) -> None:
    """A WAL rewritten with big-endian checksums (as a big-endian machine writes it) is one
    SQLite itself recovers in full: the walker must agree with it, frame for frame."""
    source = tmp_path / "w.db"
    conn = _wal_db(source)
    conn.execute("INSERT INTO t VALUES (?)", (b"second",))
    frames = WalFrames(f"{source}-wal").committed()
    wal = Path(f"{source}-wal").read_bytes()
    db = source.read_bytes()
    conn.close()

    header = bytearray(wal[:WAL_HEADER_SIZE])
    struct.pack_into(">I", header, 0, 0x377F0683)
    sums = wal_checksum(bytes(header[:24]), (0, 0), True)
    struct.pack_into(">II", header, 24, *sums)
    rewritten = [bytes(header)]
    for frame in frames:
        out = bytearray(frame)
        sums = wal_checksum(frame[:8], sums, True)
        sums = wal_checksum(frame[24:], sums, True)
        struct.pack_into(">II", out, 16, *sums)
        rewritten.append(bytes(out))
    copy = tmp_path / "big-endian.db"
    copy.write_bytes(db)
    Path(f"{copy}-wal").write_bytes(b"".join(rewritten))

    assert [f[24:] for f in WalFrames(f"{copy}-wal").committed()] == [f[24:] for f in frames]
    reader = sqlite3.connect(copy)
    try:
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (2,)
        assert wal_index_max_frame(str(copy)) == len(frames)
    finally:
        reader.close()
    assert not os.path.exists(f"{copy}-wal")  # the last connection checkpointed it
