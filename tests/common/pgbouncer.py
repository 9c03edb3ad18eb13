"""pgbouncer (Debian's package) in front of the test cluster, for the pgbouncer-mode tests.

`get_pgbouncer()` starts, once per process, a pgbouncer in transaction pooling mode on a free
port, forwarding database `ferrule_test` to the cluster of `get_cluster()` with trust
authentication, and stops it at exit. It runs as the `postgres` OS user when we are root
(pgbouncer refuses to run as root).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.common.pg_cluster import (
    SERVER_OS_USER,
    ClusterUnavailableError,
    PgCluster,
    _clean_env,
    _traversable_temp_root,
    _url,
    free_tcp_port,
    get_cluster,
)

_INI = """\
[databases]
{database} = host={host} port={port} dbname={database} user={user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {dir}/userlist.txt
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
admin_users = {user}
"""


class PgBouncer:
    """A pgbouncer process in front of `cluster`."""

    host = "127.0.0.1"

    def __init__(self, cluster: PgCluster, pool_mode: str = "transaction", pool_size: int = 4):
        self.cluster = cluster
        self.pool_mode = pool_mode
        self.pool_size = pool_size
        self.port = 0
        self.dir = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not os.path.exists(binary):
            raise ClusterUnavailableError(
                "pgbouncer is missing (Debian package pgbouncer; `make deps` as root installs it)"
            )
        self.dir = tempfile.mkdtemp(prefix="ferrule-pgbouncer-", dir=_traversable_temp_root())
        self.port = free_tcp_port()
        cluster = self.cluster
        ini = _INI.format(
            database=cluster.database,
            host=cluster.host,
            port=cluster.port,
            user=cluster.superuser,
            listen_port=self.port,
            dir=self.dir,
            pool_mode=self.pool_mode,
            pool_size=self.pool_size,
        )
        Path(self.dir, "pgbouncer.ini").write_text(ini)
        Path(self.dir, "userlist.txt").write_text(f'"{cluster.superuser}" ""\n')
        cmd = [binary, os.path.join(self.dir, "pgbouncer.ini")]
        if os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam(SERVER_OS_USER)
            for path in (self.dir, *Path(self.dir).iterdir()):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            cmd = ["runuser", "-u", SERVER_OS_USER, "--", *cmd]
        self._proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_clean_env(),
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError as exc:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    log = Path(self.dir, "pgbouncer.log")
                    tail = log.read_text()[-2000:] if log.exists() else ""
                    self.close()
                    raise ClusterUnavailableError(
                        f"pgbouncer did not start: {exc}\n{tail}"
                    ) from exc
                time.sleep(0.05)

    def dsn(self, **params: Any) -> str:
        """A URL through pgbouncer; `statement_cache_size=0` unless params say otherwise."""
        params.setdefault("statement_cache_size", 0)
        hostport = f"{self.host}:{self.port}"
        cluster = self.cluster
        return _url("postgresql", cluster.superuser, None, hostport, cluster.database, params)

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                # Its own process group (runuser and pgbouncer): signal both.
                os.killpg(self._proc.pid, signal.SIGTERM)
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                    self._proc.wait()
            self._proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = ""


_lock = threading.Lock()
_bouncer: PgBouncer | None = None


def get_pgbouncer() -> PgBouncer:
    """The process-wide pgbouncer (transaction mode) in front of `get_cluster()`."""
    global _bouncer
    with _lock:
        if _bouncer is None:
            cluster = get_cluster()
            if cluster.is_external:
                raise ClusterUnavailableError(
                    "pgbouncer is put in front of the harness's own server, not FERRULE_PG_DSN"
                )
            bouncer = PgBouncer(cluster)
            bouncer.start()
            atexit.register(bouncer.close)
            _bouncer = bouncer
        return _bouncer
