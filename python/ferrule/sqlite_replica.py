"""`SqliteReplicaConnection`: a libSQL embedded replica, a local SQLite file that follows a
remote libSQL primary.

Statements that read run on the local file, as fast as on any SQLite connection (short ones
inline, on the event loop). Statements that write, and transactions, run on the primary over
Hrana; after a write, the replica pulls the primary's new pages before it answers, so the
caller reads what it wrote (``read_your_writes=False`` skips that pull). ``await
conn.sync()`` pulls whatever else the primary committed; ``sync_interval`` does it in the
background. See docs/sqlite.md, "Embedded replicas".
"""

from __future__ import annotations

from typing import Any

from ferrule import _bridge
from ferrule._ferrule import SqliteReplica, sqlite_replica_connect
from ferrule.sqlite_connection import SqliteConnection


class SqliteReplicaConnection(SqliteConnection):
    """A connection to a libSQL embedded replica."""

    __slots__ = ()
    _impl: SqliteReplica  # type: ignore[assignment]

    @property
    def sync_url(self) -> str:
        """The primary's URL (without the token)."""
        url: str = self._settings["sync_url"]
        return url

    async def sync(self, *, timeout: float | None = None) -> dict[str, int]:
        """Pull and apply every transaction the primary committed that the local copy lacks.

        Returns ``{"frames": n, "transactions": n, "generation": g, "frame": f}``: the pages
        applied, the primary's transactions that became visible, and where the copy now
        stands. Reads on this and other connections to the file go on meanwhile; each of the
        primary's transactions appears to them at once. A pull cut short (timeout, lost
        server) keeps every transaction it completed and resumes from there next time."""
        fut = self._impl.sync(self._timeout(timeout))
        report: dict[str, int] = await _bridge.wait(self._bridge, fut)
        return report

    def __repr__(self) -> str:
        state = "closed" if self.is_closed() else self._impl.transaction_status()
        return f"<ferrule.SqliteReplicaConnection {self.path!r} of {self.sync_url!r} {state}>"


async def connect_replica(settings: dict[str, Any]) -> SqliteReplicaConnection:
    """Open the replica described by `settings` (from `_sqlitedsn.build_settings`)."""
    bridge = _bridge.get_bridge()
    impl = await _bridge.wait(bridge, sqlite_replica_connect(bridge, settings))
    return SqliteReplicaConnection(impl, bridge, settings, settings["command_timeout"])
