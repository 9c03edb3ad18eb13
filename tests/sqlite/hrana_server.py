"""A Hrana 3 over HTTP test server on stdlib sqlite3, with the libSQL sync protocol, for libSQL
remote-mode and embedded-replica tests.

Hrana: it speaks what a libSQL server (sqld) speaks to HTTP clients: ``POST /v2/pipeline`` and
``/v3/pipeline`` (JSON pipelines of ``execute``, ``batch``, ``sequence``, ``describe``,
``store_sql``, ``close_sql``, ``get_autocommit`` and ``close`` requests on a stream named by
its baton), ``POST /v3/cursor`` (a batch streamed as newline-delimited JSON), ``GET /v2``,
``GET /v3`` and ``GET /health``, with bearer-token auth. Each stream has its own sqlite3
connection to one database file, so transactions span requests as on a real server.

Sync (the "v2" protocol the ``libsql`` crate uses for embedded replicas when ``GET /info``
answers 2xx), on the same base URL and token, when the database is a file:

- ``GET /info`` -> ``{"current_generation": G}``.
- ``GET /export/{G}`` -> the database file as it was when generation ``G`` began.
- ``GET /sync/{G}/{start}/{end}`` -> the committed WAL frames ``start..end-1`` of generation
  ``G`` (1-based, at least one), each a raw 24-byte SQLite WAL frame header and a 4096-byte
  page; 400 ``{"generation": current}`` when ``start`` is past the generation's last frame.
- ``POST /sync/...`` (pushing a replica's local frames) -> 405: only remote writes are served.
- ``POST /admin/checkpoint[?wait=seconds]`` -> ``{"generation": G+1}``: once no stream holds a
  transaction (409 if one still does after ``wait``, 5 s by default), keeps the ending
  generation's frames for late replicas, checkpoints the WAL into the file (TRUNCATE), and
  starts the next generation with that file as its export.

For sync the database runs in WAL mode with 4096-byte pages and SQLite never checkpoints by
itself: one connection stays open for the server's life (the last one to close would
checkpoint), automatic checkpoints are off on every connection, and SQL that would checkpoint
or leave WAL mode (``PRAGMA wal_checkpoint``, ``journal_mode=...``, ``wal_autocheckpoint=...``)
is refused. Generation ``G``'s frame ``N`` is frame ``N`` of the ``-wal`` file, read by
:class:`sync_source.WalFrames`. Generation 1's export is the file at start.
Another process must open the primary read-only (``?mode=ro``): a connection that may write
checkpoints the WAL, and deletes it, when it closes and holds the last lock on the file, and
the current generation's frames would be gone.

The official ``libsql`` Python client is run against it in the suite, to keep it honest.

Run it by hand: ``python tests/sqlite/hrana_server.py [db path] [token]`` prints its URL.
:class:`HranaProcess` runs it so from tests, with helpers for the admin call and raw SQL.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

if __package__:
    from tests.sqlite.sync_source import SyncSource, WalError, keep_wal
else:  # run as a script: its folder is on the path
    from sync_source import SyncSource, WalError, keep_wal

_DEFAULT_CHECKPOINT_WAIT = 5.0


class HranaError(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code}


_TRANSACTION_STATEMENT = re.compile(
    r"\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE
)


def _from_sqlite(exc: sqlite3.Error) -> HranaError:
    code = getattr(exc, "sqlite_errorname", None) or "SQLITE_ERROR"
    return HranaError(str(exc), code)


def decode_value(v: dict[str, Any]) -> Any:
    kind = v.get("type")
    if kind == "null":
        return None
    if kind == "integer":
        return int(v["value"])
    if kind == "float":
        return float(v["value"])
    if kind == "text":
        return str(v["value"])
    if kind == "blob":
        text = v.get("base64", "")
        return base64.b64decode(text + "=" * (-len(text) % 4))
    raise HranaError(f"unknown value type {kind!r}", "HRANA_PROTO_ERROR")


def encode_value(v: Any) -> dict[str, Any]:
    if v is None:
        return {"type": "null"}
    if isinstance(v, int):
        return {"type": "integer", "value": str(v)}
    if isinstance(v, float):
        return {"type": "float", "value": v}
    if isinstance(v, str):
        return {"type": "text", "value": v}
    return {"type": "blob", "base64": base64.b64encode(bytes(v)).decode().rstrip("=")}


class Stream:
    """A server-side stream: one sqlite3 connection and the SQL texts stored on it."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # Automatic checkpoints are per connection: off here too, or a commit could move
        # frames out of the WAL that sync clients have not pulled yet.
        self.conn.execute("PRAGMA wal_autocheckpoint=0")
        self.conn.set_authorizer(keep_wal)
        self.sql: dict[int, str] = {}
        self.lock = threading.Lock()

    def _sql_of(self, stmt: dict[str, Any]) -> str:
        if "sql" in stmt and stmt["sql"] is not None:
            return str(stmt["sql"])
        if "sql_id" in stmt:
            return self.sql[int(stmt["sql_id"])]
        raise HranaError("statement without sql", "HRANA_PROTO_ERROR")

    def _cursor(self, stmt: dict[str, Any]) -> tuple[sqlite3.Cursor, str]:
        sql = self._sql_of(stmt)
        named = stmt.get("named_args") or []
        try:
            if named:
                params: Any = {a["name"].lstrip(":@$"): decode_value(a["value"]) for a in named}
            else:
                params = [decode_value(a) for a in stmt.get("args") or []]
            return self.conn.execute(sql, params), sql
        except sqlite3.Warning as exc:
            raise HranaError(str(exc), "SQL_MANY_STATEMENTS") from exc
        except sqlite3.Error as exc:
            raise _from_sqlite(exc) from exc

    def execute(self, stmt: dict[str, Any]) -> dict[str, Any]:
        cur, _ = self._cursor(stmt)
        try:
            rows = cur.fetchall() if stmt.get("want_rows", True) else []
        except sqlite3.Error as exc:
            raise _from_sqlite(exc) from exc
        cols = [{"name": d[0], "decltype": None} for d in cur.description or ()]
        return {
            "cols": cols,
            "rows": [[encode_value(v) for v in row] for row in rows],
            "affected_row_count": max(cur.rowcount, 0),
            "last_insert_rowid": str(cur.lastrowid) if cur.lastrowid else None,
            "rows_read": len(rows),
            "rows_written": max(cur.rowcount, 0),
            "query_duration_ms": 0.0,
        }

    def describe(self, sql: str) -> dict[str, Any]:
        # The stdlib has no sqlite3_bind_parameter_count: the count comes from its error.
        count = 0
        try:
            self.conn.execute(f"EXPLAIN {sql}", ()).fetchall()
        except sqlite3.ProgrammingError as exc:
            found = re.search(r"uses (\d+)", str(exc))
            if found is None:
                raise _from_sqlite(exc) from exc
            count = int(found.group(1))
        except sqlite3.Error as exc:
            raise _from_sqlite(exc) from exc
        params = [{"name": None} for _ in range(count)]
        # Nor is there a way to read a statement's columns without running it: run it inside
        # a savepoint that is rolled back, which undoes any change it makes. Not a transaction
        # statement: COMMIT in the savepoint would commit the stream's open transaction.
        cols: list[dict[str, Any]] = []
        if _TRANSACTION_STATEMENT.match(sql):
            return {"params": params, "cols": cols, "is_explain": False, "is_readonly": False}
        try:
            self.conn.execute("SAVEPOINT hrana_describe")
            try:
                cur = self.conn.execute(sql, [None] * count)
                cols = [{"name": d[0], "decltype": None} for d in cur.description or ()]
                cur.close()
            finally:
                self.conn.execute("ROLLBACK TO hrana_describe")
                self.conn.execute("RELEASE hrana_describe")
        except sqlite3.Error:
            cols = []
        return {"params": params, "cols": cols, "is_explain": False, "is_readonly": False}

    def sequence(self, sql: str) -> None:
        try:
            if self.conn.in_transaction:
                self._script(sql)
            else:
                self.conn.executescript(sql)
        except sqlite3.Error as exc:
            raise _from_sqlite(exc) from exc

    def _script(self, sql: str) -> None:
        # executescript would COMMIT an open transaction first; run statement by statement.
        rest = sql
        while rest.strip():
            end = _statement_end(rest)
            self.conn.execute(rest[:end])
            rest = rest[end:]

    def batch(self, steps: list[dict[str, Any]]) -> dict[str, Any]:
        results: list[Any] = []
        errors: list[Any] = []
        for step in steps:
            cond = step.get("condition")
            if cond is not None and not self._holds(cond, results, errors):
                results.append(None)
                errors.append(None)
                continue
            try:
                results.append(self.execute(step["stmt"]))
                errors.append(None)
            except HranaError as exc:
                results.append(None)
                errors.append(exc.to_json())
        return {"step_results": results, "step_errors": errors}

    def _holds(self, cond: dict[str, Any], results: list[Any], errors: list[Any]) -> bool:
        kind = cond.get("type")
        if kind == "ok":
            return results[cond["step"]] is not None
        if kind == "error":
            return errors[cond["step"]] is not None
        if kind == "not":
            return not self._holds(cond["cond"], results, errors)
        if kind == "and":
            return all(self._holds(c, results, errors) for c in cond["conds"])
        if kind == "or":
            return any(self._holds(c, results, errors) for c in cond["conds"])
        if kind == "is_autocommit":
            return not self.conn.in_transaction
        raise HranaError(f"unknown condition {kind!r}", "HRANA_PROTO_ERROR")

    def close(self) -> None:
        self.conn.close()


def _statement_end(sql: str) -> int:
    """Index just past the first complete statement of ``sql``."""
    for i, ch in enumerate(sql):
        if ch == ";" and sqlite3.complete_statement(sql[: i + 1]):
            return i + 1
    return len(sql)


class HranaServer:
    """The server: ``start()`` returns its ``http://127.0.0.1:port`` URL."""

    def __init__(self, path: str, token: str | None = None) -> None:
        self.path = path
        self.token = token
        self.streams: dict[str, Stream] = {}
        self.requests: list[str] = []
        # HRANA_TRACE=1 prints every GET path and POST body to stderr.
        self.trace = os.environ.get("HRANA_TRACE") == "1"
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        # Sync needs a file (each stream would have a private ":memory:" database).
        self.sync = SyncSource(path) if path not in ("", ":memory:") else None
        # The gate a new generation closes: Hrana requests count themselves in and wait while
        # a checkpoint runs, so the WAL holds only committed transactions when it is cut.
        self._gate = threading.Condition()
        self._active = 0
        self._checkpointing = False

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in separate writes; with Nagle on, the second waits for the
            # client's delayed ACK (40 ms a request).
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server.requests.append(f"GET {self.path}")
                if server.trace:
                    print(f"GET {self.path}", file=sys.stderr)
                route = urllib.parse.urlsplit(self.path).path
                if route in ("/v2", "/v3", "/health", "/version"):
                    self._send(200, b"", "text/plain")
                elif route == "/info" or route.startswith(("/export/", "/sync/")):
                    if self._authorized():
                        self._answer(*server.sync_get(route))
                else:
                    self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                server.requests.append(f"POST {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if not self._authorized():
                    return
                url = urllib.parse.urlsplit(self.path)
                if url.path.startswith("/sync/"):
                    message = "pushing local frames (offline writes) is not supported: "
                    message += "write through the primary (remote writes)"
                    self._json(405, {"error": message})
                    return
                if url.path == "/admin/checkpoint":
                    self._answer(*server.admin_checkpoint(urllib.parse.parse_qs(url.query)))
                    return
                if server.trace:
                    print(f"{self.path} {body.decode(errors='replace')}", file=sys.stderr)
                try:
                    request = json.loads(body or b"{}")
                except ValueError:
                    self._json(400, {"message": "body is not JSON", "code": "HRANA_PROTO_ERROR"})
                    return
                if url.path in ("/v2/pipeline", "/v3/pipeline"):
                    status, answer = server.pipeline(request)
                    self._json(status, answer)
                elif url.path == "/v3/cursor":
                    status, lines = server.cursor(request)
                    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
                    self._send(status, data, "application/json")
                else:
                    self._send(404, b"not found", "text/plain")

            def _authorized(self) -> bool:
                if server.token is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {server.token}":
                    return True
                self._json(401, {"message": "unauthorized", "code": "UNAUTHORIZED"})
                return False

            def _answer(self, status: int, body: bytes | dict[str, Any]) -> None:
                if isinstance(body, bytes):
                    self._send(status, body, "application/octet-stream")
                else:
                    self._json(status, body)

            def _json(self, status: int, obj: Any) -> None:
                self._send(status, json.dumps(obj).encode(), "application/json")

            def _send(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that hangs up mid-response is not the server's error.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for stream in self.streams.values():
            stream.close()
        self.streams.clear()
        if self.sync is not None:
            self.sync.close()

    def sync_get(self, route: str) -> tuple[int, bytes | dict[str, Any]]:
        """``GET /info``, ``/export/{G}`` and ``/sync/{G}/{start}/{end}``."""
        if self.sync is None:
            return 404, {"error": "sync needs a database file; this server serves :memory:"}
        if route == "/info":
            return 200, self.sync.info()
        found = re.fullmatch(r"/export/(\d+)", route)
        if found is not None:
            return self.sync.export(int(found.group(1)))
        found = re.fullmatch(r"/sync/(\d+)/(\d+)/(\d+)", route)
        if found is not None:
            generation, start, end = (int(g) for g in found.groups())
            return self.sync.frames(generation, start, end)
        return 404, {"error": f"unknown sync path {route!r}: want /sync/{{G}}/{{start}}/{{end}}"}

    @contextlib.contextmanager
    def _serving(self) -> Iterator[None]:
        """Counts a Hrana request in, once no checkpoint is running."""
        with self._gate:
            self._gate.wait_for(lambda: not self._checkpointing)
            self._active += 1
        try:
            yield
        finally:
            with self._gate:
                self._active -= 1
                self._gate.notify_all()

    def admin_checkpoint(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        """``POST /admin/checkpoint[?wait=seconds]``: starts a new generation once no stream
        holds a transaction; 409 if one still does after ``wait`` seconds."""
        if self.sync is None:
            return 404, {"error": "sync needs a database file; this server serves :memory:"}
        try:
            wait = float(query.get("wait", [_DEFAULT_CHECKPOINT_WAIT])[0])
        except ValueError:
            return 400, {"error": f"wait must be a number of seconds, not {query['wait'][0]!r}"}
        deadline = time.monotonic() + wait
        while True:
            with self._gate:
                self._gate.wait_for(lambda: not self._checkpointing)
                self._checkpointing = True
                try:
                    idle = self._gate.wait_for(
                        lambda: self._active == 0, max(deadline - time.monotonic(), 0)
                    )
                    with self._lock:
                        holders = sum(s.conn.in_transaction for s in self.streams.values())
                    if idle and holders == 0:
                        try:
                            return 200, {"generation": self.sync.new_generation()}
                        except (sqlite3.Error, WalError) as exc:
                            return 500, {"error": f"the checkpoint failed: {exc}"}
                finally:
                    self._checkpointing = False
                    self._gate.notify_all()
            if time.monotonic() >= deadline:
                busy = "requests still running" if not idle else f"{holders} open transaction(s)"
                return 409, {"error": f"no new generation after {wait:g} s: {busy} on streams"}
            # Let the streams run meanwhile: a transaction can only end by a request.
            time.sleep(0.02)

    def _stream(self, baton: str | None) -> tuple[str, Stream]:
        with self._lock:
            if baton is None:
                stream = Stream(self.path)
            else:
                found = self.streams.pop(baton, None)
                if found is None:
                    raise HranaError("the baton is invalid or the stream expired", "STREAM_EXPIRED")
                stream = found
            new = f"{next(self._ids)}-{secrets.token_hex(8)}"
            self.streams[new] = stream
            return new, stream

    def pipeline(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._serving():
            return self._pipeline(request)

    def _pipeline(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            baton, stream = self._stream(request.get("baton"))
        except HranaError as exc:
            return 400, exc.to_json()
        results = []
        closed = False
        with stream.lock:
            for req in request.get("requests", []):
                try:
                    results.append({"type": "ok", "response": self._one(stream, req)})
                    if req.get("type") == "close":
                        closed = True
                except HranaError as exc:
                    results.append({"type": "error", "error": exc.to_json()})
        if closed:
            with self._lock:
                self.streams.pop(baton, None)
            stream.close()
        return 200, {"baton": None if closed else baton, "base_url": None, "results": results}

    def _one(self, stream: Stream, req: dict[str, Any]) -> dict[str, Any]:
        kind = req.get("type")
        if kind == "execute":
            return {"type": "execute", "result": stream.execute(req["stmt"])}
        if kind == "batch":
            return {"type": "batch", "result": stream.batch(req["batch"]["steps"])}
        if kind == "sequence":
            stream.sequence(req.get("sql") or stream.sql[int(req["sql_id"])])
            return {"type": "sequence"}
        if kind == "describe":
            return {"type": "describe", "result": stream.describe(req["sql"])}
        if kind == "store_sql":
            stream.sql[int(req["sql_id"])] = req["sql"]
            return {"type": "store_sql"}
        if kind == "close_sql":
            stream.sql.pop(int(req["sql_id"]), None)
            return {"type": "close_sql"}
        if kind == "get_autocommit":
            return {"type": "get_autocommit", "is_autocommit": not stream.conn.in_transaction}
        if kind == "close":
            return {"type": "close"}
        raise HranaError(f"unknown request type {kind!r}", "HRANA_PROTO_ERROR")

    def cursor(self, request: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
        with self._serving():
            return self._cursor(request)

    def _cursor(self, request: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
        try:
            baton, stream = self._stream(request.get("baton"))
        except HranaError as exc:
            return 400, [exc.to_json()]
        with stream.lock:
            lines: list[dict[str, Any]] = [{"baton": baton, "base_url": None}]
            lines.extend(self._cursor_entries(stream, request["batch"]["steps"]))
        return 200, lines

    def _cursor_entries(self, stream: Stream, steps: list[dict[str, Any]]) -> Iterator[Any]:
        results: list[Any] = []
        errors: list[Any] = []
        for i, step in enumerate(steps):
            cond = step.get("condition")
            if cond is not None and not stream._holds(cond, results, errors):
                results.append(None)
                errors.append(None)
                continue
            try:
                out = stream.execute(step["stmt"])
            except HranaError as exc:
                results.append(None)
                errors.append(exc.to_json())
                yield {"type": "step_error", "step": i, "error": exc.to_json()}
                continue
            results.append(out)
            errors.append(None)
            yield {"type": "step_begin", "step": i, "cols": out["cols"]}
            for row in out["rows"]:
                yield {"type": "row", "row": row}
            yield {
                "type": "step_end",
                "affected_row_count": out["affected_row_count"],
                "last_insert_rowid": out["last_insert_rowid"],
            }


class HranaProcess:
    """This server in a process of its own, for tests (the official client holds the GIL
    while it waits, so a server thread in the test's process could not answer it).

    ``url`` serves Hrana and sync, with bearer token ``token``, on the primary database file
    ``db_path``. ``checkpoint()`` starts a new sync generation; ``pipeline()`` and
    ``execute()`` run SQL on the primary over raw Hrana requests; ``request()`` is any call.
    """

    def __init__(self, db_path: str | os.PathLike[str], token: str) -> None:
        self.db_path = os.fspath(db_path)
        self.token = token
        command = [sys.executable, os.path.abspath(__file__), self.db_path, token]
        self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError(f"the Hrana server did not start (it printed {self.url!r})")

    def close(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> HranaProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One HTTP call: ``(status, body)``; ``headers`` default to the bearer token."""
        if headers is None:
            headers = {"Authorization": f"Bearer {self.token}"}
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                return int(res.status), bytes(res.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()

    def pipeline(
        self, requests: list[dict[str, Any]], baton: str | None = None
    ) -> tuple[str | None, list[dict[str, Any]]]:
        """A Hrana pipeline on stream ``baton`` (a new one if None): the next baton and the
        responses; raises :class:`HranaError` for the first request that failed."""
        data = json.dumps({"baton": baton, "requests": requests}).encode()
        status, body = self.request("POST", "/v2/pipeline", data)
        answer = json.loads(body)
        if status != 200:
            raise HranaError(answer.get("message", str(answer)), answer.get("code", str(status)))
        responses = []
        for result in answer["results"]:
            if result["type"] == "error":
                raise HranaError(result["error"]["message"], result["error"].get("code", ""))
            responses.append(result["response"])
        return answer["baton"], responses

    @staticmethod
    def statement(sql: str, *args: Any) -> dict[str, Any]:
        """A pipeline's ``execute`` request for ``sql`` with positional ``args``."""
        stmt = {"sql": sql, "args": [encode_value(a) for a in args], "want_rows": True}
        return {"type": "execute", "stmt": stmt}

    def execute(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Runs one statement on a stream of its own (autocommit); returns its rows."""
        _, responses = self.pipeline([self.statement(sql, *args), {"type": "close"}])
        rows = responses[0]["result"]["rows"]
        return [tuple(decode_value(v) for v in row) for row in rows]

    def checkpoint(self, wait: float = _DEFAULT_CHECKPOINT_WAIT) -> int:
        """``POST /admin/checkpoint``: the new generation's number."""
        status, body = self.request("POST", f"/admin/checkpoint?wait={wait}")
        if status != 200:
            raise RuntimeError(f"checkpoint failed: HTTP {status} {body.decode(errors='replace')}")
        return int(json.loads(body)["generation"])

    def generation(self) -> int:
        """``GET /info``: the current generation."""
        status, body = self.request("GET", "/info")
        if status != 200:
            raise RuntimeError(f"/info failed: HTTP {status} {body.decode(errors='replace')}")
        return int(json.loads(body)["current_generation"])


if __name__ == "__main__":
    server = HranaServer(sys.argv[1] if len(sys.argv) > 1 else ":memory:", *sys.argv[2:3])
    print(server.start(), flush=True)
    threading.Event().wait()
