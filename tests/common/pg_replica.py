"""A primary and a streaming-replication standby for the multi-host and failover tests.

`get_replica_pair()` starts, once per process, a primary cluster of its own (not the suite's
main server) and a hot standby copied from it with `pg_basebackup -R`, both run as the
`postgres` OS user when we are root, like `PgCluster`. `make_replica_pair()` makes a fresh
pair the caller owns (a failover test promotes the standby and stops the primary).
Against `FERRULE_PG_DSN` there is no pair: ClusterUnavailableError.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from typing import Any

from tests.common.pg_cluster import (
    ClusterUnavailableError,
    PgCluster,
    PgClusterError,
    _run,
    _url,
)


class PgStandby(PgCluster):
    """A hot standby of `primary`, its data directory made by `pg_basebackup -R`."""

    def __init__(self, primary: PgCluster) -> None:
        super().__init__()
        self.primary = primary

    def _init_data_dir(self, initdb: str) -> None:
        primary = self.primary
        cmd = [self._tool("pg_basebackup"), "-D", self.data_dir, "-R", "-X", "stream"]
        cmd += ["-c", "fast", "--no-sync", "-h", primary.socket_dir, "-p", str(primary.port)]
        cmd += ["-U", primary.superuser]
        _run(self._as_server_user(cmd), "pg_basebackup", cwd=self.base_dir, timeout=120)
        # The copy carries the primary's log; this server writes its own.
        if os.path.exists(self.log_path):
            os.remove(self.log_path)

    def _setup_roles(self) -> None:
        """Roles and databases arrive by replication."""

    def promote(self) -> None:
        """Make this standby a primary (`pg_ctl promote`) and wait until it is one."""
        self._pg_ctl("promote", "-w", "-t", "60")
        deadline = time.monotonic() + 30
        while self.psql("SELECT pg_is_in_recovery()") != "f":
            if time.monotonic() > deadline:
                raise PgClusterError("the standby did not finish its promotion within 30 s")
            time.sleep(0.05)


class PgReplicaPair:
    """A primary and its hot standby."""

    def __init__(self) -> None:
        self.primary = PgCluster()
        self.standby = PgStandby(self.primary)

    def start(self) -> None:
        self.primary.start()
        self.standby.start()
        self.wait_replayed()

    def dsn(self, *, order: tuple[PgCluster, ...] | None = None, **params: Any) -> str:
        """A multi-host URL naming the servers in `order` (default: primary, standby)."""
        servers = order or (self.primary, self.standby)
        hosts = ",".join(f"{s.host}:{s.port}" for s in servers)
        return _url(
            "postgresql", self.primary.superuser, None, hosts, self.primary.database, params
        )

    def wait_replayed(self, timeout: float = 30.0) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        # The insert position: with synchronous_commit off, a commit may not be written yet.
        lsn = self.primary.psql("SELECT pg_current_wal_insert_lsn()")
        deadline = time.monotonic() + timeout
        query = "SELECT coalesce(pg_last_wal_replay_lsn() >= :'lsn'::pg_lsn, false)"
        while self.standby.psql(query, lsn=lsn) != "t":
            if time.monotonic() > deadline:
                raise PgClusterError(f"the standby did not replay {lsn} within {timeout} s")
            time.sleep(0.02)

    def close(self) -> None:
        self.standby.close()
        self.primary.close()


def make_replica_pair() -> PgReplicaPair:
    """A new started pair, owned by the caller (closed at exit at the latest)."""
    if os.environ.get("FERRULE_PG_DSN"):
        raise ClusterUnavailableError(
            "a primary and standby need the harness's own servers, not FERRULE_PG_DSN"
        )
    pair = PgReplicaPair()
    atexit.register(pair.close)
    try:
        pair.start()
    except (PgClusterError, OSError) as exc:
        pair.close()
        raise ClusterUnavailableError(f"{type(exc).__name__}: {exc}") from exc
    return pair


_lock = threading.Lock()
_pair: PgReplicaPair | None = None


def get_replica_pair() -> PgReplicaPair:
    """The process-wide pair: started on the first call, stopped and removed at exit.
    Tests must leave it as they found it (primary and standby, both running)."""
    global _pair
    with _lock:
        if _pair is None:
            _pair = make_replica_pair()
        return _pair
