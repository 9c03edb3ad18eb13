"""PostgreSQL connection settings from a URL, keyword arguments and the PG* environment.

Precedence, as in asyncpg and libpq: keyword arguments, then the DSN, then environment
variables, then defaults. The result is the settings dict the native connector takes.
"""

from __future__ import annotations

import getpass
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ferrule.exceptions import InterfaceError

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
TARGET_SESSION_ATTRS = (
    "any",
    "read-write",
    "read-only",
    "primary",
    "standby",
    "prefer-standby",
)
LOAD_BALANCE_HOSTS = ("disable", "random")
_SOCKET_DIRS = ("/var/run/postgresql", "/run/postgresql", "/tmp")
# Query-string keys that are ferrule/libpq settings rather than server settings.
_KNOWN = {
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "database",
    "sslmode",
    "ssl",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslservername",
    "connect_timeout",
    "application_name",
    "options",
    "statement_cache_size",
    "command_timeout",
    "passfile",
    "cancel_timeout",
    "target_session_attrs",
    "load_balance_hosts",
}


def _split_hosts(hostspec: str, portspec: str | None) -> list[tuple[str, int | None]]:
    hosts: list[tuple[str, int | None]] = []
    ports = [p for p in (portspec or "").split(",")] if portspec else []
    for i, part in enumerate(hostspec.split(",")):
        part = unquote(part)
        port: int | None = None
        if part.startswith("["):
            end = part.find("]")
            host, rest = part[1:end], part[end + 1 :]
            if rest.startswith(":") and rest[1:]:
                port = _port(rest[1:])
        elif part.count(":") == 1:
            host, p = part.split(":")
            port = _port(p) if p else None
        else:
            host = part
        if port is None and ports:
            port = _port(ports[i] if i < len(ports) else ports[-1])
        hosts.append((host, port))
    return hosts


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise InterfaceError(f"invalid port {text!r} in the connection settings") from None
    if not 0 < port < 65536:
        raise InterfaceError(f"port {port} is out of range")
    return port


def _parse_url(dsn: str) -> dict[str, Any]:
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise InterfaceError(f"not a PostgreSQL URL: {dsn.split(':', 1)[0]}://...")
    out: dict[str, Any] = {}
    netloc = parts.netloc
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        user, _, password = auth.partition(":")
        if user:
            out["user"] = unquote(user)
        if password:
            out["password"] = unquote(password)
    if netloc:
        out["hosts"] = _split_hosts(netloc, None)
    if parts.path and parts.path != "/":
        out["database"] = unquote(parts.path[1:])
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "host":
            out["hosts"] = _split_hosts(value, None)
        elif key == "port":
            out["port"] = value
        elif key == "dbname":
            out["database"] = value
        elif key in _KNOWN:
            out[key] = value
        else:
            out.setdefault("server_settings", {})[key] = value
    return out


def _passfile_lookup(
    path: str, hosts: list[tuple[str, int]], database: str, user: str
) -> str | None:
    p = Path(path)
    try:
        if not p.is_file():
            return None
        if os.name == "posix" and p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            return None
        lines = p.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if not line or line.startswith("#"):
            continue
        fields = [f.replace("\\:", ":").replace("\\\\", "\\") for f in _split_pass(line)]
        if len(fields) != 5:
            continue
        h, port, db, u, pw = fields
        for host, hport in hosts:
            hostname = "localhost" if host.startswith("/") else host
            if (
                h in ("*", hostname)
                and port in ("*", str(hport))
                and db in ("*", database)
                and u in ("*", user)
            ):
                return pw
    return None


def _split_pass(line: str) -> list[str]:
    fields, cur, esc = [], "", False
    for ch in line:
        if esc:
            cur += "\\" + ch
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == ":":
            fields.append(cur)
            cur = ""
        else:
            cur += ch
    fields.append(cur)
    return fields


def _default_host() -> str:
    for d in _SOCKET_DIRS:
        if os.path.exists(os.path.join(d, ".s.PGSQL.5432")):
            return d
    return "localhost"


def build_settings(dsn: str | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Merge DSN, keyword arguments and environment into the native settings dict."""
    env = os.environ
    merged: dict[str, Any] = _parse_url(dsn) if dsn else {}
    server_settings: dict[str, str] = dict(merged.pop("server_settings", {}) or {})
    for key, value in kwargs.items():
        if value is None:
            continue
        if key == "server_settings":
            server_settings.update({str(k): str(v) for k, v in value.items()})
        elif key == "host":
            merged["hosts"] = (
                [(h, None) for h in value]
                if isinstance(value, (list, tuple))
                else _split_hosts(str(value), None)
            )
        elif key in ("ssl", "sslmode"):
            merged["sslmode"] = value
        else:
            merged[key] = value

    if "hosts" not in merged:
        merged["hosts"] = _split_hosts(env["PGHOST"], None) if env.get("PGHOST") else []
        if not merged["hosts"]:
            merged["hosts"] = [(_default_host(), None)]
    port_default = merged.pop("port", None) or env.get("PGPORT") or 5432
    if isinstance(port_default, str):
        port_default = _split_hosts("x", port_default)[0][1] or 5432
    hosts = [(h, p if p is not None else int(port_default)) for h, p in merged["hosts"]]

    user = merged.get("user") or env.get("PGUSER") or getpass.getuser()
    database = merged.get("database") or env.get("PGDATABASE") or user
    password = merged.get("password") or env.get("PGPASSWORD")
    if password is None:
        passfile = merged.get("passfile") or env.get("PGPASSFILE") or str(Path.home() / ".pgpass")
        password = _passfile_lookup(passfile, hosts, database, user)

    sslmode = merged.get("sslmode") or env.get("PGSSLMODE") or "prefer"
    if sslmode is True:
        sslmode = "require"
    elif sslmode is False:
        sslmode = "disable"
    if sslmode not in SSLMODES:
        raise InterfaceError(f"invalid sslmode {sslmode!r}: expected one of {', '.join(SSLMODES)}")

    app = merged.get("application_name") or env.get("PGAPPNAME")
    if app:
        server_settings.setdefault("application_name", str(app))
    options = merged.get("options") or env.get("PGOPTIONS")
    if options:
        server_settings.setdefault("options", str(options))

    attrs = merged.get("target_session_attrs") or env.get("PGTARGETSESSIONATTRS") or "any"
    if attrs not in TARGET_SESSION_ATTRS:
        raise InterfaceError(
            f"invalid target_session_attrs {attrs!r}: expected one of "
            f"{', '.join(TARGET_SESSION_ATTRS)}"
        )
    balance = merged.get("load_balance_hosts") or env.get("PGLOADBALANCEHOSTS") or "disable"
    if balance not in LOAD_BALANCE_HOSTS:
        raise InterfaceError(f"invalid load_balance_hosts {balance!r}: expected disable or random")

    connect_timeout = merged.get("connect_timeout") or env.get("PGCONNECT_TIMEOUT") or 60
    cache = merged.get("statement_cache_size", 256)
    return {
        "hosts": hosts,
        "user": str(user),
        "password": None if password is None else str(password),
        "database": str(database),
        "sslmode": str(sslmode),
        "sslrootcert": merged.get("sslrootcert") or env.get("PGSSLROOTCERT"),
        "sslcert": merged.get("sslcert") or env.get("PGSSLCERT"),
        "sslkey": merged.get("sslkey") or env.get("PGSSLKEY"),
        "sslservername": merged.get("sslservername"),
        "connect_timeout": float(connect_timeout),
        "server_settings": list(server_settings.items()),
        "statement_cache_size": int(cache),
        "cancel_timeout": float(merged.get("cancel_timeout", 2.0)),
        "target_session_attrs": str(attrs),
        "load_balance_hosts": balance == "random",
        "command_timeout": (
            None if merged.get("command_timeout") is None else float(merged["command_timeout"])
        ),
    }
