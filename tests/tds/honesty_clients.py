"""Independent TDS clients behind one small interface, for tests/tds/test_server_honesty.py.

FreeTDS `tsql` (a subprocess fed batches on stdin), python-tds (pure Python) and pymssql
(FreeTDS db-lib with OpenSSL, bundled in its wheel) each connect to the TDS test server; the
tests then run the same list against all three, so the server's bytes are judged by three
decoders none of which the project wrote.
"""

from __future__ import annotations

import abc
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tests.common.tds_server import TdsServer

_MSG = re.compile(r"^Msg (\d+) \(severity (\d+), state (\d+)\)")
_MARK = "zz-batch-end-7f3a"


class ServerError(Exception):
    """An ERROR token, as the client reported it (severity/state when the client tells)."""

    def __init__(
        self, number: int, message: str, severity: int | None = None, state: int | None = None
    ) -> None:
        super().__init__(f"{number}: {message}")
        self.number = number
        self.message = message
        self.severity = severity
        self.state = state


@dataclass
class ConnectOptions:
    user: str | None = None
    password: str | None = None
    database: str | None = None
    tls: bool = False
    tls_login_only: bool = False
    ca: str | None = None
    timeout: float | None = None
    autocommit: bool = True
    instance: str | None = None  # connect by instance name through the SQL Browser (UDP 1434)


class Connection(abc.ABC):
    """What every client offers: a query's rows, a batch run for its effect, closing."""

    columns: list[str]

    @abc.abstractmethod
    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of the batch's last result set; ServerError for an ERROR token."""

    def execute(self, sql: str) -> None:
        self.query(sql)

    @abc.abstractmethod
    def close(self) -> None:
        """Log out and release the client's resources."""


class Client(abc.ABC):
    name = ""
    rpc = False  # sends parameters through RPC (sp_executesql) itself
    transaction_manager = False  # begins/commits through TM requests, not SQL text
    cancels = True

    def available(self) -> str | None:
        """None when usable, else why not."""
        return None

    @abc.abstractmethod
    def connect(self, server: TdsServer, options: ConnectOptions) -> Connection:
        """A logged-in connection, or ServerError / the client's own error."""


# -- FreeTDS tsql ------------------------------------------------------------------------------


class TsqlConnection(Connection):
    def __init__(self, server: TdsServer, options: ConnectOptions) -> None:
        self._dir = tempfile.mkdtemp(prefix="ferrule-tsql-")
        conf = os.path.join(self._dir, "freetds.conf")
        host = server.tls_server_name if options.tls else server.host
        lines = [
            "[global]",
            "\ttds version = 7.4",
            "[target]",
            f"\thost = {host}",
            "\ttds version = 7.4",
            f"\tinstance = {options.instance}" if options.instance else f"\tport = {server.port}",
        ]
        if options.tls:
            lines += ["\tencryption = require", f"\tca file = {options.ca or server.tls_ca}"]
        else:
            lines += ["\tencryption = off"]
        if options.timeout:
            lines += [f"\ttimeout = {max(1, int(options.timeout))}"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        cmd = ["stdbuf", "-oL", "-eL", "tsql", "-S", "target", "-U", options.user or server.user]
        cmd += ["-P", server.password if options.password is None else options.password]
        cmd += ["-D", options.database or server.database, "-o", "q"]
        env = {**os.environ, "FREETDSCONF": conf, "LC_ALL": "C.UTF-8", "TDSVER": "7.4"}
        self.process = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
        self.columns = []
        self.messages: list[str] = []
        try:
            self.query("SELECT 1 AS probe")
        except BaseException:
            self.close()
            raise

    def _read_until_mark(self, stream: Any) -> list[str]:
        lines = []
        while True:
            line = stream.readline()
            if not line:
                raise ConnectionError("tsql exited: " + "".join(lines))
            line = line.rstrip("\n")
            if line == _MARK:
                return lines
            lines.append(line)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        assert self.process.stderr is not None
        try:
            self.process.stdin.write(f"{sql}\ngo\nSELECT '{_MARK}' AS m\nPRINT '{_MARK}'\ngo\n")
            self.process.stdin.flush()
            out = self._read_until_mark(self.process.stdout)
            err = self._read_until_mark(self.process.stderr)
        except (BrokenPipeError, ConnectionError) as exc:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            err = self.process.stderr.read()
            for line in err.splitlines():
                if match := _MSG.match(line):
                    raise ServerError(
                        int(match.group(1)), err, int(match.group(2)), int(match.group(3))
                    ) from exc
            raise
        out = out[:-1]  # the marker's column header
        self.messages = [line.strip().strip('"') for line in err if line and not _MSG.match(line)]
        for i, line in enumerate(err):
            if match := _MSG.match(line):
                text = err[i + 1].strip().strip('"') if i + 1 < len(err) else ""
                raise ServerError(
                    int(match.group(1)), text, int(match.group(2)), int(match.group(3))
                )
        if not out:
            self.columns = []
            return []
        self.columns = out[0].split("\t")
        return [tuple(line.split("\t")) for line in out[1:]]

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write("exit\n")
                self.process.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                try:
                    stream.close()
                except BrokenPipeError:
                    pass
        shutil.rmtree(self._dir, ignore_errors=True)


class TsqlClient(Client):
    name = "tsql"
    cancels = False

    def available(self) -> str | None:
        missing = [tool for tool in ("tsql", "stdbuf") if shutil.which(tool) is None]
        return f"missing {', '.join(missing)} (Debian freetds-bin, coreutils)" if missing else None

    def connect(self, server: TdsServer, options: ConnectOptions) -> Connection:
        return TsqlConnection(server, options)


# -- python-tds ----------------------------------------------------------------------------------


class PytdsConnection(Connection):
    def __init__(self, server: TdsServer, options: ConnectOptions) -> None:
        import pytds

        self.pytds = pytds
        kwargs: dict[str, Any] = {}
        if options.tls:
            kwargs.update(
                cafile=options.ca or server.tls_ca,
                validate_host=True,
                enc_login_only=options.tls_login_only,
            )
        host = server.tls_server_name if options.tls else server.host
        if options.instance:
            kwargs["dsn"] = f"{host}\\{options.instance}"
        else:
            kwargs.update(dsn=host, port=server.port)
        try:
            self.conn = pytds.connect(
                user=options.user or server.user,
                password=server.password if options.password is None else options.password,
                database=options.database or server.database,
                autocommit=options.autocommit,
                timeout=options.timeout,
                login_timeout=10,
                disable_connect_retry=True,
                **kwargs,
            )
        except pytds.Error as exc:
            raise self._error(exc) from exc
        self.columns = []

    def _error(self, exc: Exception) -> Exception:
        number = getattr(exc, "msg_no", None) or getattr(exc, "number", None)
        if number:
            return ServerError(
                int(number),
                str(getattr(exc, "text", exc)),
                getattr(exc, "severity", None),
                getattr(exc, "state", None),
            )
        return exc

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql, params) if params is not None else cursor.execute(sql)
            rows: list[tuple[Any, ...]] = []
            while True:
                if cursor.description:
                    self.columns = [d[0] for d in cursor.description]
                    rows = [tuple(r) for r in cursor.fetchall()]
                if not cursor.nextset():
                    break
            return rows
        except self.pytds.Error as exc:
            raise self._error(exc) from exc
        finally:
            cursor.close()

    def result_sets(self, sql: str) -> list[list[tuple[Any, ...]]]:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql)
            sets = []
            while True:
                if cursor.description:
                    sets.append([tuple(r) for r in cursor.fetchall()])
                if not cursor.nextset():
                    return sets
        finally:
            cursor.close()

    def callproc(self, name: str, args: Sequence[Any]) -> tuple[list[Any], int | None]:
        cursor = self.conn.cursor()
        try:
            result = cursor.callproc(name, args)
            while cursor.nextset():
                pass
            return list(result), cursor.return_value
        except self.pytds.Error as exc:
            raise self._error(exc) from exc

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


class PytdsClient(Client):
    name = "python-tds"
    rpc = True
    transaction_manager = True

    def available(self) -> str | None:
        try:
            import OpenSSL  # noqa: F401
            import pytds  # noqa: F401
        except ImportError as exc:
            return f"python-tds or pyOpenSSL missing: {exc}"
        return None

    def connect(self, server: TdsServer, options: ConnectOptions) -> Connection:
        return PytdsConnection(server, options)


# -- pymssql -----------------------------------------------------------------------------------


class PymssqlConnection(Connection):
    def __init__(self, server: TdsServer, options: ConnectOptions) -> None:
        import pymssql

        self.pymssql = pymssql
        self._dir = tempfile.mkdtemp(prefix="ferrule-pymssql-")
        conf = os.path.join(self._dir, "freetds.conf")
        with open(conf, "w") as f:
            f.write("[global]\n\ttds version = 7.4\n")
            if options.tls:
                f.write(f"\tca file = {options.ca or server.tls_ca}\n")
        # The bundled FreeTDS reads its configuration when a connection is made, from the
        # file FREETDSCONF names; the variable is put back right after.
        previous = os.environ.get("FREETDSCONF")
        os.environ["FREETDSCONF"] = conf
        try:
            host = server.tls_server_name if options.tls else server.host
            where = (
                {"server": f"{host}\\{options.instance}"}
                if options.instance
                else {"server": host, "port": str(server.port)}
            )
            self.conn = pymssql.connect(
                **where,
                user=options.user or server.user,
                password=server.password if options.password is None else options.password,
                database=options.database or server.database,
                autocommit=options.autocommit,
                tds_version="7.4",
                timeout=int(options.timeout or 0),
                login_timeout=10,
                encryption="require" if options.tls else "off",
            )
        except pymssql.Error as exc:
            raise self._error(exc) from exc
        finally:
            if previous is None:
                os.environ.pop("FREETDSCONF", None)
            else:
                os.environ["FREETDSCONF"] = previous
            shutil.rmtree(self._dir, ignore_errors=True)
        self.columns = []

    def _error(self, exc: Exception) -> Exception:
        args = exc.args
        # Numbers 20000-20999 are db-lib's own errors, not the server's.
        if args and isinstance(args[0], int) and not 20000 <= args[0] < 21000:
            raw = args[1] if len(args) > 1 else b""
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
            return ServerError(args[0], text)
        if args and isinstance(args[0], tuple):
            return self._error(type(exc)(*args[0]))
        return exc

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql, params) if params is not None else cursor.execute(sql)
            rows: list[tuple[Any, ...]] = []
            while True:
                if cursor.description:
                    self.columns = [d[0] for d in cursor.description]
                    rows = [tuple(r) for r in cursor.fetchall()]
                if not cursor.nextset():
                    break
            return rows
        except self.pymssql.Error as exc:
            raise self._error(exc) from exc
        finally:
            cursor.close()

    def callproc(self, name: str, args: Sequence[Any]) -> tuple[list[Any], int | None]:
        cursor = self.conn.cursor()
        try:
            result = cursor.callproc(name, tuple(args))
            while cursor.nextset():
                pass
            return list(result), cursor.returnvalue
        except self.pymssql.Error as exc:
            raise self._error(exc) from exc

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


class PymssqlClient(Client):
    name = "pymssql"

    def available(self) -> str | None:
        try:
            import pymssql  # noqa: F401
        except ImportError as exc:
            return f"pymssql missing: {exc}"
        return None

    def connect(self, server: TdsServer, options: ConnectOptions) -> Connection:
        return PymssqlConnection(server, options)


CLIENTS: dict[str, Client] = {c.name: c for c in (TsqlClient(), PytdsClient(), PymssqlClient())}


def wait_until(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False
