"""A Hrana 3 over HTTP test server on stdlib sqlite3, for libSQL remote-mode tests.

It speaks what a libSQL server (sqld) speaks to HTTP clients: ``POST /v2/pipeline`` and
``/v3/pipeline`` (JSON pipelines of ``execute``, ``batch``, ``sequence``, ``describe``,
``store_sql``, ``close_sql``, ``get_autocommit`` and ``close`` requests on a stream named by
its baton), ``POST /v3/cursor`` (a batch streamed as newline-delimited JSON), ``GET /v2``,
``GET /v3`` and ``GET /health``, with bearer-token auth. Each stream has its own sqlite3
connection to one database file, so transactions span requests as on a real server. The
official ``libsql`` Python client is run against it in the suite, to keep it honest.

Run it by hand: ``python tests/sqlite/hrana_server.py [db path] [token]`` prints its URL.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import secrets
import sqlite3
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
        # HRANA_TRACE=1 prints every request body to stderr.
        self.trace = os.environ.get("HRANA_TRACE") == "1"
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server.requests.append(f"GET {self.path}")
                if self.path in ("/v2", "/v3", "/health", "/version"):
                    self._send(200, b"", "text/plain")
                else:
                    self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                server.requests.append(f"POST {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if server.token is not None:
                    if self.headers.get("Authorization") != f"Bearer {server.token}":
                        self._json(401, {"message": "unauthorized", "code": "UNAUTHORIZED"})
                        return
                if server.trace:
                    print(f"{self.path} {body.decode(errors='replace')}", file=sys.stderr)
                try:
                    request = json.loads(body or b"{}")
                except ValueError:
                    self._json(400, {"message": "body is not JSON", "code": "HRANA_PROTO_ERROR"})
                    return
                if self.path in ("/v2/pipeline", "/v3/pipeline"):
                    status, answer = server.pipeline(request)
                    self._json(status, answer)
                elif self.path == "/v3/cursor":
                    status, lines = server.cursor(request)
                    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
                    self._send(status, data, "application/json")
                else:
                    self._send(404, b"not found", "text/plain")

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
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for stream in self.streams.values():
            stream.close()
        self.streams.clear()

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


if __name__ == "__main__":
    server = HranaServer(sys.argv[1] if len(sys.argv) > 1 else ":memory:", *sys.argv[2:3])
    print(server.start(), flush=True)
    threading.Event().wait()
