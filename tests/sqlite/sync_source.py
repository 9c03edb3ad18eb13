"""The source side of libSQL's sync protocol for the suite's test server (hrana_server.py):
a primary database kept in WAL mode that SQLite never checkpoints by itself, the committed
frames of its write-ahead log (read and checked as SQLite's own recovery does), and the
generations a checkpoint starts, each with its export (the file as it began) and its frames.
"""

from __future__ import annotations

import sqlite3
import struct
import threading
from typing import Any

# The sync protocol's frames carry 4096-byte pages (the client's fixed frame size).
PAGE_SIZE = 4096
WAL_HEADER_SIZE = 32
FRAME_HEADER_SIZE = 24
FRAME_SIZE = FRAME_HEADER_SIZE + PAGE_SIZE
_WAL_MAGIC = 0x377F0682  # | 1 when the checksums are computed on big-endian words
_WAL_VERSION = 3007000


def keep_wal(action: int, arg1: str | None, arg2: str | None, *_: str | None) -> int:
    """sqlite3 authorizer: refuses the pragmas that would checkpoint the WAL or take the
    database out of WAL mode behind the sync protocol's back."""
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name == "wal_checkpoint":
            return sqlite3.SQLITE_DENY
        if name in ("journal_mode", "wal_autocheckpoint") and arg2 is not None:
            return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


class WalError(Exception):
    """The WAL cannot be served as the sync protocol needs it."""


def wal_checksum(data: bytes, sums: tuple[int, int], big_endian: bool) -> tuple[int, int]:
    """SQLite's cumulative WAL checksum of ``data`` (a multiple of 8 bytes), from ``sums``."""
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    s1, s2 = sums
    pairs = iter(words)
    for first, second in zip(pairs, pairs):
        s1 = (s1 + first + s2) & 0xFFFFFFFF
        s2 = (s2 + second + s1) & 0xFFFFFFFF
    return s1, s2


class WalFrames:
    """The committed frames of a ``-wal`` file, as SQLite's recovery sees them.

    A frame is valid while its salts are the header's and the checksum running from the
    header through every frame so far matches its own; the committed prefix ends at the last
    valid commit frame (non-zero database size). What follows it (a transaction that spilled
    pages and rolled back, one being written, frames left over from before a WAL restart) is
    not committed. Committed frames stay as they are until the WAL restarts, which rewrites
    the header, so the prefix read so far is kept and a call reads only what was appended.
    """

    def __init__(self, wal_path: str) -> None:
        self.wal_path = wal_path
        self._header = b""
        self._big_endian = False
        self._frames: list[bytes] = []
        self._sums = (0, 0)

    def committed(self) -> list[bytes]:
        """The committed frames, header and page each, in WAL order (a new list)."""
        try:
            wal = open(self.wal_path, "rb")
        except FileNotFoundError:
            self._restart(b"")
            return []
        with wal:
            header = wal.read(WAL_HEADER_SIZE)
            if header != self._header:
                self._restart(header)
            if self._header:
                self._extend(wal)
        return list(self._frames)

    def _restart(self, header: bytes) -> None:
        self._frames = []
        self._header = b""
        if len(header) < WAL_HEADER_SIZE:
            return
        magic, version, page_size = struct.unpack(">III", header[:12])
        if magic | 1 != _WAL_MAGIC | 1 or version != _WAL_VERSION:
            return
        big_endian = bool(magic & 1)
        sums = wal_checksum(header[:24], (0, 0), big_endian)
        if sums != struct.unpack(">II", header[24:32]):
            return
        if page_size != PAGE_SIZE:
            raise WalError(f"{self.wal_path}: page size {page_size}, sync needs {PAGE_SIZE}")
        self._header = header
        self._big_endian = big_endian
        self._sums = sums

    def _extend(self, wal: Any) -> None:
        wal.seek(WAL_HEADER_SIZE + len(self._frames) * FRAME_SIZE)
        pending: list[bytes] = []
        sums = self._sums
        while True:
            frame = wal.read(FRAME_SIZE)
            if len(frame) < FRAME_SIZE or frame[8:16] != self._header[16:24]:
                return
            page_no, db_size = struct.unpack(">II", frame[:8])
            if page_no == 0:
                return
            sums = wal_checksum(frame[:8], sums, self._big_endian)
            sums = wal_checksum(frame[FRAME_HEADER_SIZE:], sums, self._big_endian)
            if sums != struct.unpack(">II", frame[16:24]):
                return
            pending.append(frame)
            if db_size:
                self._frames.extend(pending)
                pending = []
                self._sums = sums


def wal_index_max_frame(db_path: str) -> int:
    """SQLite's own count of committed WAL frames: ``mxFrame`` of the WAL index header at the
    start of the ``-shm`` file (native byte order). Stable only while nothing writes."""
    with open(f"{db_path}-shm", "rb") as shm:
        header = shm.read(48)
    return int(struct.unpack_from("=I", header, 16)[0])


def prepare_primary(conn: sqlite3.Connection) -> None:
    """Puts the database in the shape sync needs: 4096-byte pages, WAL mode, and no
    automatic checkpoints on ``conn``."""
    conn.execute("PRAGMA wal_autocheckpoint=0")
    if conn.execute("PRAGMA page_size").fetchone()[0] != PAGE_SIZE:
        # An existing file keeps its page size until a VACUUM, which WAL mode does not allow.
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA page_size=4096")
        conn.execute("VACUUM")
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode != "wal":
        raise WalError(f"the database would not enter WAL mode (journal_mode is {mode})")


class SyncSource:
    """What the sync protocol serves: generations, the file each began with, and frames.

    The current generation's frames are read from the live WAL; an ended generation's were
    kept when it ended. ``keeper`` is the connection held open for the server's life.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.keeper = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        prepare_primary(self.keeper)
        self._truncate_wal()
        self.generation = 1
        self.exports = {1: self._read_file()}
        self.ended: dict[int, list[bytes]] = {}
        self.wal = WalFrames(f"{path}-wal")
        self.lock = threading.Lock()

    def close(self) -> None:
        self.keeper.close()

    def info(self) -> dict[str, Any]:
        return {"current_generation": self.generation}

    def export(self, generation: int) -> tuple[int, bytes | dict[str, Any]]:
        with self.lock:
            found = self.exports.get(generation)
            current = self.generation
        if found is None:
            return 404, {"error": f"no generation {generation}; the current one is {current}"}
        return 200, found

    def frames(self, generation: int, start: int, end: int) -> tuple[int, bytes | dict[str, Any]]:
        """Frames ``start..end-1`` of ``generation``."""
        if start < 1 or end <= start:
            return 400, {"error": f"bad frame range {start}..{end} (1-based, end exclusive)"}
        with self.lock:
            current = self.generation
            if generation == current:
                frames = self.wal.committed()
            elif generation in self.ended:
                frames = self.ended[generation]
            else:
                return 404, {"error": f"no generation {generation}; the current one is {current}"}
        if start > len(frames):
            # The client's "end of generation": it moves on if a later one exists.
            return 400, {"generation": current}
        return 200, b"".join(frames[start - 1 : end - 1])

    def new_generation(self) -> int:
        """Ends the current generation; the caller makes sure no stream writes meanwhile."""
        with self.lock:
            frames = self.wal.committed()
            indexed = wal_index_max_frame(self.path)
            if indexed != len(frames):
                raise WalError(f"SQLite has {indexed} frames in the WAL, the walker {len(frames)}")
            self._truncate_wal()
            self.ended[self.generation] = frames
            self.generation += 1
            self.exports[self.generation] = self._read_file()
            return self.generation

    def _truncate_wal(self) -> None:
        busy, _, _ = self.keeper.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise WalError("the WAL checkpoint was blocked by another connection")

    def _read_file(self) -> bytes:
        with open(self.path, "rb") as f:
            return f.read()
