"""`LibsqlConnection`: a remote libSQL database (sqld, Turso) over Hrana 3 on HTTP.

``libsql://host?authToken=...`` means ``https://host``; ``https://`` and ``http://`` URLs
are taken as they are (``http`` for a local server). The connection keeps one Hrana stream
open, so transactions work across calls as they do on an embedded database.

Not available remotely: ``backup`` (SQLite's backup API needs the file). ``sync()`` belongs
to embedded replicas: ``connect("sqlite:///local.db", sync_url=...)``.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from ferrule import _bridge
from ferrule._ferrule import LibsqlConn, libsql_connect
from ferrule.exceptions import InterfaceError, NotSupportedError
from ferrule.sqlite_connection import SqliteDialect

_TRUE = {"1", "true", "yes", "on"}


class LibsqlConnection(SqliteDialect):
    """A connection to a remote libSQL server."""

    __slots__ = ()
    _impl: LibsqlConn

    @property
    def url(self) -> str:
        """The server's URL (without the token)."""
        url: str = self._settings["url"]
        return url

    async def sync(self) -> None:
        """There is no local copy to sync: this connection talks to the server directly."""
        raise NotSupportedError(
            "sync() is for libSQL embedded replicas; this connection talks to the server "
            "directly. Open a replica with connect('sqlite:///local.db', sync_url=...)"
        )

    def __repr__(self) -> str:
        state = "closed" if self.is_closed() else self._impl.transaction_status()
        return f"<ferrule.LibsqlConnection {self.url!r} {state}>"


def build_settings(dsn: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The settings of a ``libsql://``, ``https://`` or ``http://`` URL and keywords."""
    parts = urllib.parse.urlsplit(dsn)
    scheme = parts.scheme.lower()
    if scheme not in ("libsql", "https", "http"):
        raise InterfaceError(f"not a libSQL URL: {dsn!r} (expected libsql://host?authToken=...)")
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    token = query.pop("authToken", None) or query.pop("auth_token", None)
    tls = query.pop("tls", None)
    settings: dict[str, Any] = {"auth_token": token, "command_timeout": None}
    for key in ("detect_types",):
        if key in query:
            settings[key] = query.pop(key).lower() in _TRUE
    for key in ("command_timeout", "connect_timeout"):
        if key in query:
            try:
                settings[key] = float(query.pop(key))
            except ValueError:
                raise InterfaceError(f"invalid libSQL URL parameter {key}: not a number") from None
    if query:
        raise InterfaceError(
            f"unknown libSQL URL parameter(s) {', '.join(sorted(query))}; known: authToken, "
            "tls, detect_types, command_timeout, connect_timeout"
        )
    if scheme == "libsql":
        scheme = "http" if tls is not None and tls.lower() not in _TRUE else "https"
    settings["url"] = urllib.parse.urlunsplit((scheme, parts.netloc, parts.path, "", ""))
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in ("auth_token", "detect_types", "command_timeout", "connect_timeout"):
            raise InterfaceError(
                f"unknown libSQL connection argument {key!r}; known: auth_token, "
                "detect_types, command_timeout, connect_timeout"
            )
        settings[key] = value
    return settings


async def connect(
    dsn: str,
    *,
    auth_token: str | None = None,
    command_timeout: float | None = None,
    connect_timeout: float | None = None,
    detect_types: bool | None = None,
    **kwargs: Any,
) -> LibsqlConnection:
    """Connect to a libSQL server: ``libsql://db.example.com?authToken=...`` (TLS),
    ``https://host[:port]`` or ``http://127.0.0.1:8080``. ``auth_token`` overrides the URL's
    ``authToken``. A ``timeout`` abandons the HTTP request (the server may still finish the
    statement); the connection then starts a new stream, and a transaction open at that
    moment is reported lost on the next call."""
    settings = build_settings(
        dsn,
        {
            "auth_token": auth_token,
            "command_timeout": command_timeout,
            "connect_timeout": connect_timeout,
            "detect_types": detect_types,
            **kwargs,
        },
    )
    bridge = _bridge.get_bridge()
    impl = await _bridge.wait(bridge, libsql_connect(bridge, settings))
    return LibsqlConnection(impl, bridge, settings, settings["command_timeout"])
