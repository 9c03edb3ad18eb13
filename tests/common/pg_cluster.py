"""A throwaway PostgreSQL server for the tests, the demo and the benchmarks.

`get_cluster()` runs `initdb` into a temporary directory, starts the server on a free TCP port
with TLS (a test CA made with the `openssl` CLI) and the login roles the tests need, and stops
and removes it when the process exits. Set `FERRULE_PG_DSN` to use an existing server instead.
Run as a script (`python tests/common/pg_cluster.py`) to keep one up until Ctrl-C.

No pytest import here: the demo imports this module outside the test suite.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

SUPERUSER = "ferrule"
DATABASE = "ferrule_test"
# The OS account the server runs as when we are root (postgres refuses to run as root).
SERVER_OS_USER = "postgres"
# Password roles created with the cluster: name -> password.
ROLE_PASSWORDS = {"ferrule_md5": "md5pass", "ferrule_scram": "scrampass", "ferrule_ssl": "sslpass"}

_SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "300",
    "shared_buffers": "128MB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_prepared_transactions": "10",
    "ssl": "on",
    "password_encryption": "'scram-sha-256'",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
}

# pg_hba.conf rules for TCP from 127.0.0.1 and ::1: (type, database, user, method). First
# match wins, so the role-specific rules come before the catch-all. ferrule_nologin passes
# here and is refused by its NOLOGIN attribute ("role ... is not permitted to log in").
_HBA_TCP_RULES = [
    ("hostnossl", "all", "ferrule_ssl", "reject"),
    ("hostssl", "all", "ferrule_ssl", "scram-sha-256"),
    ("host", "all", "ferrule_md5", "md5"),
    ("host", "all", "ferrule_scram", "scram-sha-256"),
    ("host", "all", "ferrule_nologin", "trust"),
    ("host", "all", "ferrule", "trust"),
    ("host", "replication", "ferrule", "trust"),
    ("host", "all", "all", "scram-sha-256"),
]

# Values travel as psql variables (`:'name'` quotes them), never pasted into the text.
_SETUP_SQL = """\
SET password_encryption = 'md5';
CREATE ROLE ferrule_md5 LOGIN PASSWORD :'ferrule_md5';
SET password_encryption = 'scram-sha-256';
CREATE ROLE ferrule_scram LOGIN PASSWORD :'ferrule_scram';
CREATE ROLE ferrule_ssl LOGIN PASSWORD :'ferrule_ssl';
CREATE ROLE ferrule_nologin NOLOGIN;
CREATE DATABASE ferrule_test OWNER ferrule;
\\connect ferrule_test
GRANT CREATE, USAGE ON SCHEMA public TO ferrule_md5, ferrule_scram, ferrule_ssl;
"""

_SERVER_CERT_EXTENSIONS = """\
subjectAltName = DNS:{server_name}
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


class PgClusterError(RuntimeError):
    """Base of the harness errors."""


class ClusterUnavailableError(PgClusterError):
    """The server binaries are missing or the server could not be started."""


class ExternalClusterError(PgClusterError):
    """A control operation (start, stop, restart, pid) asked of a server given by FERRULE_PG_DSN."""


class PsqlError(PgClusterError):
    """psql exited with an error."""


def find_pg_bin_dir() -> Path:
    """The newest `/usr/lib/postgresql/<version>/bin`, else the directory of `pg_ctl` on PATH."""
    found = []
    for pg_ctl in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"):
        version = pg_ctl.parent.parent.name
        key = tuple(int(p) if p.isdigit() else 0 for p in version.split("."))
        found.append((key, pg_ctl.parent))
    if found:
        return max(found)[1]
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    raise ClusterUnavailableError(
        "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/pg_ctl, no pg_ctl "
        "on PATH); install Debian's postgresql package (`make deps` as root does it)"
    )


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    # PG* variables of the caller's shell (PGSSLMODE, PGSERVICE, ...) must not steer our tools.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _run(cmd: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=_clean_env(), **kwargs)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClusterUnavailableError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        raise ClusterUnavailableError(f"{what} failed (exit {done.returncode}): {output}")
    return done


@dataclass(frozen=True)
class TlsTestFiles:
    """PEM files made by make_tls_test_files()."""

    ca_cert: str
    ca_key: str
    other_ca_cert: str
    server_cert: str
    server_key: str


def make_tls_test_files(directory: str, server_name: str = "localhost") -> TlsTestFiles:
    """A test CA, a server certificate it signs for DNS name `server_name` only (no IP
    address), and a second, unrelated CA to prove that verification rejects it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ClusterUnavailableError("the openssl CLI is missing (Debian package openssl)")
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE"]
    ca_ext += ["-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    for name, subject in (("ca", "ferrule test CA"), ("other-ca", "ferrule unrelated CA")):
        cmd = [openssl, "req", "-x509", *new_key, "-keyout", f"{name}.key"]
        cmd += ["-out", f"{name}.crt", "-days", "3650", "-subj", f"/CN={subject}", *ca_ext]
        _run(cmd, f"openssl ({name})", cwd=directory)
    cmd = [openssl, "req", "-new", *new_key, "-keyout", "server.key", "-out", "server.csr"]
    _run([*cmd, "-subj", f"/CN={server_name}"], "openssl (server key)", cwd=directory)
    extensions = _SERVER_CERT_EXTENSIONS.format(server_name=server_name)
    Path(directory, "server.ext").write_text(extensions)
    cmd = [openssl, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key"]
    cmd += ["-set_serial", "0x" + os.urandom(8).hex(), "-days", "3650"]
    cmd += ["-extfile", "server.ext", "-out", "server.crt"]
    _run(cmd, "openssl (server certificate)", cwd=directory)
    files = ("ca.crt", "ca.key", "other-ca.crt", "server.crt", "server.key")
    return TlsTestFiles(*(os.path.join(directory, name) for name in files))


def process_alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie (killed, not yet reaped) counts as dead."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # A killed postmaster lingers as a zombie until init reaps it.
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class PgCluster:
    """A PostgreSQL server in a temporary directory, run by this process."""

    host = "127.0.0.1"
    superuser = SUPERUSER
    database = DATABASE
    is_external = False

    def __init__(self) -> None:
        self.port = 0
        self.base_dir = ""
        self.data_dir = ""
        self.socket_dir = ""
        self.log_path = ""
        self.ssl_ca = ""
        self.ssl_other_ca = ""
        self._bin_dir: Path | None = None
        self._server_uid: int | None = None
        self._server_gid: int | None = None
        self._running = False
        self._watchdog: subprocess.Popen[bytes] | None = None

    # -- control -------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the cluster on the first call, then start it and wait until it accepts."""
        if self._postmaster_alive():
            return
        self._wait_for_dead_postmaster()
        first_start = not self.data_dir
        if first_start:
            self._create()
        # Only the first start may move to another port if someone took ours meanwhile.
        for _attempt in range(3 if first_start else 1):
            if self._start_server(retry_port=first_start):
                break
            self.port = free_tcp_port()
            self._write_settings()
        else:
            raise ClusterUnavailableError(f"no free port found; see {self.log_path}")
        self._running = True
        if first_start:
            self._setup_roles()

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`pg_ctl stop -m fast|smart|immediate`); the data stays."""
        if self._postmaster_alive():
            self._pg_ctl("stop", "-m", mode, "-w", "-t", "60")
        self._running = False

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again on the same port with the same data."""
        self.stop(mode)
        self.start()

    def pid(self) -> int:
        """The postmaster's process id."""
        pid_file = Path(self.data_dir, "postmaster.pid")
        try:
            return int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            raise PgClusterError("the PostgreSQL test server is not running") from None

    def _wait_for_dead_postmaster(self) -> None:
        # postgres refuses to start while the pid in postmaster.pid exists, zombies included.
        if not self.data_dir:
            return
        try:
            pid = self.pid()
        except PgClusterError:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def _postmaster_alive(self) -> bool:
        # Also false after a test killed the postmaster behind our back.
        if not self._running:
            return False
        try:
            pid = self.pid()
        except PgClusterError:
            return False
        return process_alive(pid)

    def close(self) -> None:
        """Stop the server at once and remove its directory (registered with atexit)."""
        if self._running:
            self._running = False
            self._pg_ctl("stop", "-m", "immediate", "-w", "-t", "30", check=False)
        if self._watchdog is not None:
            assert self._watchdog.stdin is not None
            self._watchdog.stdin.close()
            self._watchdog.wait(timeout=60)
            self._watchdog = None
        if self.base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- connecting ----------------------------------------------------------------------------

    def dsn(
        self,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        **params: Any,
    ) -> str:
        """A `postgresql://` URL for `user` (default: the superuser); params go in the query.

        `host=` and `port=` replace the URL's own (verify-full needs host="localhost").
        """
        hostport = f"{_url_host(params.pop('host', self.host))}:{params.pop('port', self.port)}"
        user = user or self.superuser
        return _url("postgresql", user, password, hostport, database or self.database, params)

    def psql(self, sql: str, *, database: str | None = None, **variables: str) -> str:
        """Run `sql` as the superuser; return psql's unaligned, tuples-only output.

        Values belong in `variables`, referenced in the SQL as `:'name'` (a literal) or
        `:"name"` (an identifier): psql quotes them.
        """
        cmd = [self._tool("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        for name, value in variables.items():
            cmd += ["-v", f"{name}={value}"]
        cmd += self._psql_target(database or self.database)
        done = subprocess.run(
            cmd, input=sql, capture_output=True, text=True, env=_clean_env(), timeout=120
        )
        if done.returncode != 0:
            raise PsqlError(f"psql failed (exit {done.returncode}): {done.stderr.strip()}")
        return done.stdout.removesuffix("\n")

    def _psql_target(self, database: str) -> list[str]:
        # The unix socket: keeps working while a test blocks TCP to fault-inject.
        return ["-h", self.socket_dir, "-p", str(self.port), "-U", self.superuser, "-d", database]

    # -- creation ------------------------------------------------------------------------------

    def _tool(self, name: str) -> str:
        if self._bin_dir is None:
            self._bin_dir = find_pg_bin_dir()
        path = self._bin_dir / name
        return str(path) if path.exists() else (shutil.which(name) or name)

    def _as_server_user(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", SERVER_OS_USER, "--", *cmd] if os.geteuid() == 0 else cmd

    def _own(self, path: str | Path, mode: int) -> None:
        os.chmod(path, mode)
        if self._server_uid is not None and self._server_gid is not None:
            os.chown(path, self._server_uid, self._server_gid)

    def _write(self, path: str | Path, text: str, mode: int = 0o644) -> None:
        Path(path).write_text(text)
        self._own(path, mode)

    def _create(self) -> None:
        initdb = self._tool("initdb")
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(SERVER_OS_USER)
            except KeyError:
                raise ClusterUnavailableError(
                    f"running as root needs the {SERVER_OS_USER!r} OS user to run the server "
                    "(Debian's postgresql package creates it)"
                ) from None
            self._server_uid, self._server_gid = entry.pw_uid, entry.pw_gid
        self.base_dir = tempfile.mkdtemp(prefix="ferrule-pg-", dir=_traversable_temp_root())
        self._own(self.base_dir, 0o755)
        self._start_watchdog()
        self.data_dir = os.path.join(self.base_dir, "data")
        self.socket_dir = os.path.join(self.base_dir, "socket")
        self.log_path = os.path.join(self.data_dir, "server.log")
        os.mkdir(self.socket_dir)
        self._own(self.socket_dir, 0o755)
        ssl_dir = os.path.join(self.base_dir, "ssl")
        os.mkdir(ssl_dir)
        self._own(ssl_dir, 0o755)
        tls = make_tls_test_files(ssl_dir)
        self._own(tls.server_key, 0o600)  # postgres refuses a key others can read
        self._own(tls.server_cert, 0o644)
        self.ssl_ca, self.ssl_other_ca = tls.ca_cert, tls.other_ca_cert
        self._init_data_dir(initdb)
        self.port = free_tcp_port()
        self._write_settings()

    def _init_data_dir(self, initdb: str) -> None:
        """A new cluster in `data_dir` with the harness's settings file and pg_hba rules."""
        cmd = [initdb, "-D", self.data_dir, "--no-sync", "-A", "trust", "-E", "UTF8"]
        cmd += ["--locale=C", "-U", self.superuser]
        _run(self._as_server_user(cmd), "initdb", cwd=self.base_dir, timeout=120)
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as conf:
            conf.write("\ninclude 'ferrule.conf'\n")
        hba = ["local all all trust", "local replication all trust"]
        for net in ("127.0.0.1/32", "::1/128"):
            hba += [
                f"{kind} {db} {user} {net} {method}" for kind, db, user, method in _HBA_TCP_RULES
            ]
        self._write(os.path.join(self.data_dir, "pg_hba.conf"), "\n".join(hba) + "\n", 0o600)

    def _write_settings(self) -> None:
        settings = dict(_SERVER_SETTINGS)
        settings["port"] = str(self.port)
        settings["unix_socket_directories"] = _conf_string(self.socket_dir)
        settings["ssl_cert_file"] = _conf_string(self.base_dir + "/ssl/server.crt")
        settings["ssl_key_file"] = _conf_string(self.base_dir + "/ssl/server.key")
        text = "".join(f"{name} = {value}\n" for name, value in settings.items())
        self._write(os.path.join(self.data_dir, "ferrule.conf"), text, 0o600)

    def _setup_roles(self) -> None:
        script = _SETUP_SQL
        if Path(self._share_dir(), "extension", "hstore.control").exists():
            script += "CREATE EXTENSION IF NOT EXISTS hstore;\n"
        try:
            self.psql(script, database="postgres", **ROLE_PASSWORDS)
        except (PsqlError, OSError, subprocess.TimeoutExpired) as exc:
            raise ClusterUnavailableError(f"creating the test roles failed: {exc}") from exc

    def _share_dir(self) -> str:
        done = _run([self._tool("pg_config"), "--sharedir"], "pg_config")
        return done.stdout.strip()

    # -- running -------------------------------------------------------------------------------

    def _pg_ctl(self, *args: str, check: bool = True) -> bool:
        cmd = self._as_server_user([self._tool("pg_ctl"), "-D", self.data_dir, *args])
        # A session of its own: the terminal's Ctrl-C must not reach the postmaster.
        try:
            _run(cmd, f"pg_ctl {args[0]}", cwd=self.base_dir, timeout=120, start_new_session=True)
        except ClusterUnavailableError:
            if check:
                raise
            return False
        return True

    def _start_server(self, retry_port: bool) -> bool:
        """Start and wait; False when the port was taken meanwhile and `retry_port` is set."""
        log_size = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        if self._pg_ctl("start", "-w", "-t", "60", "-l", self.log_path, check=False):
            self._wait_accepting()
            return True
        log_tail = self._read_log(log_size)
        if retry_port and "could not bind" in log_tail:
            return False
        raise ClusterUnavailableError(f"PostgreSQL did not start; its log says:\n{log_tail}")

    def _read_log(self, offset: int) -> str:
        try:
            with open(self.log_path, errors="replace") as log:
                log.seek(offset)
                return log.read()[-4000:]
        except OSError as exc:
            return f"(no log: {exc})"

    def _wait_accepting(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise ClusterUnavailableError(f"server is up but TCP refuses: {exc}") from exc
                time.sleep(0.05)

    def _start_watchdog(self) -> None:
        # If this process dies without atexit (SIGKILL, os._exit), the watchdog sees the pipe
        # close and stops the server and removes the directory, so no server outlives us.
        data_dir = os.path.join(self.base_dir, "data")
        stop = [self._tool("pg_ctl"), "-D", data_dir, "stop", "-m", "immediate", "-w", "-t", "30"]
        stop = self._as_server_user(stop)
        cmd = [sys.executable, os.path.abspath(__file__), "--watchdog", self.base_dir, *stop]
        self._watchdog = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.base_dir,
            env=_clean_env(),
            start_new_session=True,
        )


class ExternalPgCluster(PgCluster):
    """An existing server named by `FERRULE_PG_DSN`; the harness does not control it."""

    is_external = True

    def __init__(self, dsn: str) -> None:
        super().__init__()
        parts = urlsplit(dsn)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ClusterUnavailableError(
                f"FERRULE_PG_DSN must be a postgresql:// URL, got scheme {parts.scheme!r}"
            )
        self._parts = parts
        self._params = dict(parse_qsl(parts.query))
        self.host = self._params.get("host") or parts.hostname or "localhost"
        self.port = int(self._params.get("port") or parts.port or 5432)
        self.superuser = unquote(parts.username or "") or pwd.getpwuid(os.getuid()).pw_name
        self._password = unquote(parts.password) if parts.password is not None else None
        self.database = unquote(parts.path.lstrip("/")) or self.superuser
        self.ssl_ca = os.environ.get("FERRULE_PG_SSL_CA", "")

    def _refuse(self, what: str) -> ExternalClusterError:
        return ExternalClusterError(
            f"cannot {what} the external PostgreSQL server given by FERRULE_PG_DSN"
        )

    def start(self) -> None:
        raise self._refuse("start")

    def stop(self, mode: str = "fast") -> None:
        raise self._refuse("stop")

    def restart(self, mode: str = "fast") -> None:
        raise self._refuse("restart")

    def pid(self) -> int:
        raise self._refuse("know the process id of")

    def close(self) -> None:
        """Nothing to release: the server is not ours."""

    def dsn(
        self,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        **params: Any,
    ) -> str:
        """FERRULE_PG_DSN with its user, password and database replaced, params merged."""
        user = user or self.superuser
        if password is None and user == self.superuser:
            password = self._password
        hostport = self._parts.netloc.rpartition("@")[2]
        if "host" in params or "port" in params:
            host = params.pop("host", self.host)
            hostport = f"{_url_host(host)}:{params.pop('port', self.port)}"
        params = {**self._params, **params}
        return _url(self._parts.scheme, user, password, hostport, database or self.database, params)

    def _psql_target(self, database: str) -> list[str]:
        return ["-d", self.dsn(database=database)]


def _url(
    scheme: str,
    user: str,
    password: str | None,
    hostport: str,
    database: str,
    params: dict[str, Any],
) -> str:
    userinfo = quote(user, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    path = "/" + quote(database, safe="")
    return urlunsplit((scheme, f"{userinfo}@{hostport}", path, _query(params), ""))


def _query(params: dict[str, Any]) -> str:
    # `quote`, not urlencode's default `quote_plus`: libpq reads '+' as a literal plus.
    return urlencode(params, quote_via=quote, safe="/")


def _conf_string(value: str) -> str:
    if "'" in value or "\\" in value:
        raise ClusterUnavailableError(f"unsupported character in path {value!r}")
    return f"'{value}'"


def _traversable_temp_root() -> str:
    """The temp root, or /tmp when the server's OS user could not reach into it."""
    root = tempfile.gettempdir()
    if os.geteuid() != 0:
        return root
    path = Path(root).resolve()
    for directory in (path, *path.parents):
        if not os.stat(directory).st_mode & 0o001:
            return "/tmp"
    return root


_lock = threading.Lock()
_cluster: PgCluster | None = None
_failure: str | None = None


def get_cluster() -> PgCluster:
    """The process-wide server: started on the first call, stopped and removed at exit.

    Raises ClusterUnavailableError (again on every call) when it cannot be started.
    """
    global _cluster, _failure
    with _lock:
        if _cluster is not None:
            return _cluster
        if _failure is not None:
            raise ClusterUnavailableError(_failure)
        external = os.environ.get("FERRULE_PG_DSN")
        if external:
            _cluster = ExternalPgCluster(external)
            return _cluster
        cluster = PgCluster()
        atexit.register(cluster.close)
        try:
            cluster.start()
        except (PgClusterError, OSError, subprocess.SubprocessError) as exc:
            _failure = f"{type(exc).__name__}: {exc}"
            cluster.close()
            raise ClusterUnavailableError(_failure) from exc
        _cluster = cluster
        return cluster


def get_replica_pair() -> Any:
    """A primary and a streaming-replication hot standby of their own, started once per
    process (tests.common.pg_replica.get_replica_pair, a PgReplicaPair)."""
    from tests.common.pg_replica import get_replica_pair as get_pair

    return get_pair()


def _watchdog_main(base_dir: str, stop_cmd: list[str]) -> int:
    sys.stdin.buffer.read()
    subprocess.run(stop_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    shutil.rmtree(base_dir, ignore_errors=True)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--watchdog"]:
        return _watchdog_main(argv[1], argv[2:])
    # Ctrl-C and SIGTERM end the wait below, so atexit stops the server.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda _signo, _frame: sys.exit(0))
    cluster = get_cluster()
    print(cluster.dsn(), flush=True)
    if cluster.ssl_ca:
        tls = cluster.dsn(host="localhost", sslmode="verify-full", sslrootcert=cluster.ssl_ca)
        print(f"TLS (the certificate names localhost only): {tls}")
    if not cluster.is_external:
        print(f"psql: psql -h {cluster.socket_dir} -p {cluster.port} -U {cluster.superuser}")
        print(f"log: {cluster.log_path}")
    print("Ctrl-C stops it.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
