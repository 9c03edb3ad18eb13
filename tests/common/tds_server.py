"""The TDS (SQL Server) test server for the tests, the demo and the benchmarks.

SQL Server cannot run on these machines, so `get_tds_server()` starts the project's own
(tests/tds/server: real TDS 7.4 and 8.0 on the wire, SQLite behind) in a subprocess on a free
port, with a test CA for TLS, and stops it when this process exits. Run as a script
(`python tests/common/tds_server.py`) to keep one up until Ctrl-C.

No pytest import here: the demo and the benchmarks import this module outside the suite.
"""

from __future__ import annotations

import atexit
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlunsplit

_REPO_ROOT = Path(__file__).resolve().parent.parent.parent
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

from tests.common.pg_cluster import ClusterUnavailableError, make_tls_test_files  # noqa: E402

USER = "sa"
PASSWORD = "Ferrule-Test#1"
DATABASE = "ferrule_test"
ACCESS_TOKEN = "ferrule-test-access-token"
INSTANCE = "FERRULE"
# The server certificate names this host only (not 127.0.0.1): verification needs it.
TLS_SERVER_NAME = "localhost"
_START_TIMEOUT = 30.0


class TdsServerError(RuntimeError):
    """Base of the harness errors."""


class TdsServerUnavailableError(TdsServerError):
    """The test server could not be started (a missing module, no openssl, ...)."""


class TdsServer:
    """The test server in a subprocess: `host`, `port`, `user`, `password`, `database`,
    `tls_ca` (the test CA, for encrypt=yes/strict with certificate checks against host
    `tls_server_name`), `tls_other_ca` (an unrelated CA, to prove verification rejects it),
    `access_token` (accepted by FEDAUTH as `user`), and a SQL Browser on UDP `browser_port`
    that tells the TCP port of the named instance `instance`."""

    host = "127.0.0.1"
    user = USER
    password = PASSWORD
    database = DATABASE
    access_token = ACCESS_TOKEN
    tls_server_name = TLS_SERVER_NAME
    instance = INSTANCE

    def __init__(self, *, encryption: str = "optional", browser_port: int = 0) -> None:
        """`encryption`: what PRELOGIN offers: "optional" (the client chooses), "required"
        (as SQL Server with Force Encryption), "unsupported" (no TLS at all).
        `browser_port`: the SQL Browser's UDP port, 0 for a free one (real servers use 1434,
        which tests running side by side would fight over)."""
        self.encryption = encryption
        self.browser_port = browser_port
        self.port = 0
        self.base_dir = ""
        self.log_path = ""
        self.tls_ca = ""
        self.tls_other_ca = ""
        self._tls_cert = ""
        self._tls_key = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server (again on the same port after stop()) and wait until it listens."""
        if self._process is not None and self._process.poll() is None:
            return
        if not self.base_dir:
            self.base_dir = tempfile.mkdtemp(prefix="ferrule-tds-harness-")
            self.log_path = os.path.join(self.base_dir, "server.log")
            try:
                tls = make_tls_test_files(self.base_dir, TLS_SERVER_NAME)
            except ClusterUnavailableError as exc:
                raise TdsServerUnavailableError(str(exc)) from exc
            self.tls_ca, self.tls_other_ca = tls.ca_cert, tls.other_ca_cert
            self._tls_cert, self._tls_key = tls.server_cert, tls.server_key
        cmd = [sys.executable, "-m", "tests.tds.server", "--host", self.host]
        cmd += ["--port", str(self.port), "--user", self.user, "--password", self.password]
        cmd += ["--database", self.database, "--access-token", self.access_token]
        cmd += ["--cert", self._tls_cert, "--key", self._tls_key]
        cmd += ["--encryption", self.encryption, "--watch-stdin"]
        cmd += ["--instance", self.instance, "--browser-port", str(self.browser_port)]
        # The databases live in our directory, so they survive stop() and start().
        data_dir = _ensure_dir(os.path.join(self.base_dir, "data"))
        cmd += ["--data-dir", data_dir]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=str(_REPO_ROOT),
                env=os.environ.copy(),
                start_new_session=True,
            )
        self.port, self.browser_port = self._wait_listening()

    def _wait_listening(self) -> tuple[int, int]:
        assert self._process is not None and self._process.stdout is not None
        deadline = time.monotonic() + _START_TIMEOUT
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._process.stdout], [], [], 0.2)
            if ready:
                line = self._process.stdout.readline()
                if line.startswith(b"LISTENING "):
                    fields = line.split()
                    return int(fields[2]), int(fields[3])
            if self._process.poll() is not None:
                break
        self.stop()
        raise TdsServerUnavailableError(
            f"the TDS test server did not start (said {line!r}); its log says:\n{self.log()}"
        )

    def stop(self) -> None:
        """Stop the server (connections are cut); start() brings it back on the same port
        with the same databases, tables, rows and procedures."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

    def close(self) -> None:
        """Stop the server and remove its directory (registered with atexit)."""
        self.stop()
        if self.base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = ""

    def pid(self) -> int:
        if self._process is None or self._process.poll() is not None:
            raise TdsServerError("the TDS test server is not running")
        return self._process.pid

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-4000:]
        except OSError as exc:
            return f"(no log: {exc})"

    def dsn(
        self,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        **params: Any,
    ) -> str:
        """`mssql://sa:<password>@127.0.0.1:<port>/ferrule_test`; params go in the query
        (`host=` replaces the host, e.g. host="localhost" for certificate checks)."""
        host = params.pop("host", self.host)
        userinfo = quote(user or self.user, safe="")
        userinfo += ":" + quote(self.password if password is None else password, safe="")
        path = "/" + quote(database or self.database, safe="")
        query = urlencode(params, quote_via=quote, safe="/")
        return urlunsplit(("mssql", f"{userinfo}@{host}:{self.port}", path, query, ""))

    def ado_dsn(self, **keywords: Any) -> str:
        """The same target as an ADO.NET connection string:
        `Server=127.0.0.1,<port>;Database=ferrule_test;UID=sa;PWD=<password>;` plus
        `keywords` (e.g. Encrypt="yes"); values with ; or = or braces are {braced}."""
        parts = {
            "Server": f"{keywords.pop('Server', self.host)},{self.port}",
            "Database": self.database,
            "UID": self.user,
            "PWD": self.password,
            **keywords,
        }
        return "".join(f"{key}={_ado_value(str(value))};" for key, value in parts.items())


def _ado_value(value: str) -> str:
    if any(c in value for c in ";={}") or value != value.strip():
        return "{" + value.replace("}", "}}") + "}"
    return value


def _ensure_dir(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path


_lock = threading.Lock()
_server: TdsServer | None = None
_failure: str | None = None


def get_tds_server() -> TdsServer:
    """The process-wide server: started on the first call, stopped and removed at exit.

    Raises TdsServerUnavailableError (again on every call) when it cannot be started.
    """
    global _server, _failure
    with _lock:
        if _server is not None:
            return _server
        if _failure is not None:
            raise TdsServerUnavailableError(_failure)
        server = TdsServer()
        atexit.register(server.close)
        try:
            server.start()
        except TdsServerUnavailableError as exc:
            _failure = str(exc)
            raise
        _server = server
        return server


def main() -> None:
    server = get_tds_server()
    print(server.dsn())
    print(f"test CA: {server.tls_ca} (verify against host {server.tls_server_name!r})")
    print("serving until Ctrl-C", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
