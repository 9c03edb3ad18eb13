"""A throwaway Tarantool server for the tests, the demo and the benchmarks.

`get_server()` starts Debian's `tarantool` with a Lua init script (tests/common/tarantool_init.lua)
in a temporary work directory on a free TCP port, and kills it and removes the directory when
the process exits. `TarantoolServer(listen="unix")` listens on a unix socket instead. Set
`FERRULE_TNT_DSN` to use an existing server instead (tests that stop or kill it are skipped).
Run as a script (`python tests/common/tarantool_server.py`) to keep one up until Ctrl-C.

No pytest import here: the benchmarks import this module outside the test suite.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

USER = "ferrule"
PASSWORD = "ferrule_pw"
INIT_SCRIPT = Path(__file__).with_name("tarantool_init.lua")
_PR_SET_PDEATHSIG = 1


class TarantoolUnavailableError(RuntimeError):
    """The server binary is missing or the server did not start."""


def find_tarantool() -> str:
    path = shutil.which("tarantool")
    if not path:
        raise TarantoolUnavailableError(
            "tarantool not found on PATH; install Debian's tarantool package "
            "(`make deps` as root does it)"
        )
    return path


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # The server must not outlive a test run that was killed (no atexit then).
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class TarantoolServer:
    """A Tarantool instance in a temporary work directory, run by this process."""

    is_external = False

    def __init__(self, listen: str = "tcp") -> None:
        if listen not in ("tcp", "unix"):
            raise ValueError("listen must be 'tcp' or 'unix'")
        self.kind = listen
        self.host = "127.0.0.1"
        self.port = 0
        self.work_dir = ""
        self.socket_path = ""
        self.log_path = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._binary = ""

    # -- control -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server (creating its work directory on the first call) and wait until it
        sends its greeting."""
        if self.alive():
            return
        first = not self.work_dir
        if first:
            self._binary = find_tarantool()
            self.work_dir = tempfile.mkdtemp(prefix="ferrule-tnt-")
            self.log_path = os.path.join(self.work_dir, "tarantool.log")
            self.socket_path = os.path.join(self.work_dir, "tnt.sock")
        for _attempt in range(3 if first else 1):
            if self.kind == "tcp" and (first or not self.port):
                self.port = free_tcp_port()
            if self._spawn():
                return
            if not first:
                break
        raise TarantoolUnavailableError(f"tarantool did not start; see {self.log_path}")

    def _listen_uri(self) -> str:
        if self.kind == "unix":
            return f"unix/:{self.socket_path}"
        return f"{self.host}:{self.port}"

    def _spawn(self) -> bool:
        env = dict(os.environ, FERRULE_TNT_LISTEN=self._listen_uri(), FERRULE_TNT_DIR=self.work_dir)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [self._binary, str(INIT_SCRIPT)],
                cwd=self.work_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            if self._greets():
                return True
            time.sleep(0.05)
        self.kill()
        return False

    def _greets(self) -> bool:
        family = socket.AF_UNIX if self.kind == "unix" else socket.AF_INET
        address: str | tuple[str, int] = (
            self.socket_path if self.kind == "unix" else (self.host, self.port)
        )
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(1)
                sock.connect(address)
                return sock.recv(9) == b"Tarantool"
        except OSError:
            return False

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def pid(self) -> int:
        if self._proc is None:
            raise TarantoolUnavailableError("the Tarantool test server is not running")
        return self._proc.pid

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM); the data stays."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def restart(self) -> None:
        """Stop and start again with the same data, on the same port or socket."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Kill the server and remove its directory (registered with atexit)."""
        self.kill()
        if self.work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- connecting ----------------------------------------------------------------------------

    def dsn(self, user: str | None = USER, password: str | None = PASSWORD) -> str:
        """`tarantool://ferrule:ferrule_pw@127.0.0.1:<port>` (or a unix socket URL)."""
        cred = ""
        if user:
            cred = user + (f":{password}" if password else "") + "@"
        if self.kind == "unix":
            return f"tarantool://{cred}unix/:{self.socket_path}"
        return f"tarantool://{cred}{self.host}:{self.port}"


class ExternalTarantool(TarantoolServer):
    """A server given by FERRULE_TNT_DSN: used as is, never stopped."""

    is_external = True

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self._dsn = dsn

    def start(self) -> None:
        pass

    def stop(self) -> None:
        raise TarantoolUnavailableError("FERRULE_TNT_DSN: refusing to stop an external server")

    kill = stop

    def close(self) -> None:
        pass

    def dsn(self, user: str | None = USER, password: str | None = PASSWORD) -> str:
        return self._dsn


_lock = threading.Lock()
_server: TarantoolServer | None = None
_failure: str | None = None


def get_server() -> TarantoolServer:
    """The process-wide TCP server: started on the first call, killed and removed at exit.

    Raises TarantoolUnavailableError (again on every call) when it cannot be started.
    """
    global _server, _failure
    with _lock:
        if _server is not None:
            return _server
        if _failure is not None:
            raise TarantoolUnavailableError(_failure)
        external = os.environ.get("FERRULE_TNT_DSN")
        if external:
            _server = ExternalTarantool(external)
            return _server
        server = TarantoolServer()
        atexit.register(server.close)
        try:
            server.start()
        except (OSError, subprocess.SubprocessError, TarantoolUnavailableError) as exc:
            _failure = f"{type(exc).__name__}: {exc}"
            server.close()
            raise TarantoolUnavailableError(_failure) from exc
        _server = server
        return server


def server_version(binary: str | None = None) -> tuple[int, ...]:
    """The version of the `tarantool` binary, e.g. (2, 6, 0)."""
    out = subprocess.run(
        [binary or find_tarantool(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    text = out.split()[1].split("-")[0]
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def main() -> int:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda _signo, _frame: sys.exit(0))
    server = get_server()
    print(server.dsn(), flush=True)
    if not server.is_external:
        print(f"log: {server.log_path}")
    print("Ctrl-C stops it.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
