"""SQL Server connection strings: ``mssql://`` URLs and the ADO.NET ``key=value;`` form.

Both become one settings dict for the native ``tds_connect``; keyword arguments override.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ferrule.exceptions import InterfaceError

SCHEMES = ("mssql", "sqlserver", "mssql+tds")

# ADO.NET keywords (case-insensitive, spaces ignored) -> setting names.
_ADO_KEYS = {
    "server": "server",
    "datasource": "server",
    "address": "server",
    "addr": "server",
    "networkaddress": "server",
    "database": "database",
    "initialcatalog": "database",
    "uid": "user",
    "userid": "user",
    "user": "user",
    "username": "user",
    "pwd": "password",
    "password": "password",
    "encrypt": "encrypt",
    "trustservercertificate": "trust_server_certificate",
    "applicationname": "application_name",
    "app": "application_name",
    "connecttimeout": "connect_timeout",
    "connectiontimeout": "connect_timeout",
    "timeout": "connect_timeout",
    "applicationintent": "application_intent",
    "packetsize": "packet_size",
    "hostnameincertificate": "host_name_in_certificate",
    "servercertificate": "ca_file",
    "language": "language",
    "currentlanguage": "language",
    "accesstoken": "access_token",
    "commandtimeout": "command_timeout",
}

# URL query parameters accepted besides the canonical setting names.
_URL_ALIASES = {
    "trustservercertificate": "trust_server_certificate",
    "applicationintent": "application_intent",
    "application_name": "application_name",
    "applicationname": "application_name",
    "app": "application_name",
    "connect_timeout": "connect_timeout",
    "timeout": "connect_timeout",
}

_BOOL_TRUE = {"yes", "true", "1", "on", "y"}
_BOOL_FALSE = {"no", "false", "0", "off", "n"}


def is_ado_string(dsn: str) -> bool:
    """True for ``Server=host;Database=db;...`` (no URL scheme)."""
    head = dsn.split(";", 1)[0]
    return "=" in head and "://" not in dsn


def _split_ado(dsn: str) -> list[tuple[str, str]]:
    """``key=value`` pairs; values may be quoted with ', " or {} (doubling escapes)."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(dsn)
    while i < n:
        while i < n and dsn[i] in " ;":
            i += 1
        if i >= n:
            break
        eq = dsn.find("=", i)
        if eq < 0:
            raise InterfaceError(f"connection string: {dsn[i:]!r} has no '='")
        key = dsn[i:eq].strip()
        i = eq + 1
        while i < n and dsn[i] == " ":
            i += 1
        if i < n and dsn[i] in "'\"{":
            close = "}" if dsn[i] == "{" else dsn[i]
            i += 1
            value = []
            while True:
                if i >= n:
                    raise InterfaceError(f"connection string: unclosed quote in {key!r}")
                if dsn[i] == close:
                    if i + 1 < n and dsn[i + 1] == close:
                        value.append(close)
                        i += 2
                        continue
                    i += 1
                    break
                value.append(dsn[i])
                i += 1
            pairs.append((key, "".join(value)))
            while i < n and dsn[i] != ";":
                if dsn[i] != " ":
                    raise InterfaceError(f"connection string: text after the quoted {key!r}")
                i += 1
        else:
            end = dsn.find(";", i)
            end = n if end < 0 else end
            pairs.append((key, dsn[i:end].strip()))
            i = end
    return pairs


def _server(value: str, settings: dict[str, Any]) -> None:
    """``[tcp:]host[\\instance][,port]`` into host, instance and port."""
    text = value.strip()
    if text.lower().startswith("tcp:"):
        text = text[4:]
    if "," in text:
        text, port = text.rsplit(",", 1)
        settings["port"] = _int("port", port)
    if "\\" in text:
        text, instance = text.split("\\", 1)
        settings["instance"] = instance
    settings["host"] = "127.0.0.1" if text in (".", "(local)", "") else text


def _int(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InterfaceError(f"{name} must be an integer, not {value!r}") from None


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _BOOL_TRUE:
        return True
    if text in _BOOL_FALSE:
        return False
    raise InterfaceError(f"{name} must be yes or no, not {value!r}")


def parse_ado(dsn: str) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key, value in _split_ado(dsn):
        name = _ADO_KEYS.get(key.replace(" ", "").lower())
        if name is None:
            raise InterfaceError(f"connection string: unknown keyword {key!r}")
        if name == "server":
            _server(value, settings)
        else:
            settings[name] = value
    return settings


def parse_url(dsn: str) -> dict[str, Any]:
    try:
        url = urlsplit(dsn)
        port = url.port
    except ValueError as exc:
        raise InterfaceError(f"invalid SQL Server URL: {exc}") from None
    settings: dict[str, Any] = {}
    host = unquote(url.hostname or "")
    if "\\" in host:
        host, settings["instance"] = host.split("\\", 1)
    if host:
        settings["host"] = host
    if port is not None:
        settings["port"] = port
    if url.username:
        settings["user"] = unquote(url.username)
    if url.password is not None:
        settings["password"] = unquote(url.password)
    path = unquote(url.path.lstrip("/"))
    if path:
        settings["database"] = path
    for key, value in parse_qsl(url.query, keep_blank_values=True):
        name = key.lower()
        settings[_URL_ALIASES.get(name, name)] = value
    return settings


_KNOWN = {
    "host",
    "port",
    "instance",
    "user",
    "password",
    "database",
    "encrypt",
    "trust_server_certificate",
    "ca_file",
    "host_name_in_certificate",
    "application_name",
    "connect_timeout",
    "command_timeout",
    "cancel_timeout",
    "application_intent",
    "packet_size",
    "language",
    "access_token",
    "browser_port",
}


def build_settings(dsn: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The settings dict for ``tds_connect`` from a DSN and keyword arguments."""
    settings: dict[str, Any] = {}
    if dsn:
        settings = parse_ado(dsn) if is_ado_string(dsn) else parse_url(dsn)
    for key, value in overrides.items():
        if value is not None:
            settings[key] = value
    unknown = sorted(set(settings) - _KNOWN)
    if unknown:
        raise InterfaceError(f"unknown SQL Server connection setting(s): {', '.join(unknown)}")
    out: dict[str, Any] = {k: v for k, v in settings.items() if k in _KNOWN}
    for name in ("port", "packet_size", "browser_port"):
        if name in out:
            out[name] = _int(name, out[name])
    for name in ("connect_timeout", "command_timeout", "cancel_timeout"):
        if name in out and out[name] != "":
            try:
                out[name] = float(out[name])
            except (TypeError, ValueError):
                raise InterfaceError(f"{name} must be a number of seconds") from None
    if out.get("connect_timeout") == 0:
        out["connect_timeout"] = None  # ADO.NET: 0 waits forever
    if "trust_server_certificate" in out:
        out["trust_server_certificate"] = _bool(
            "TrustServerCertificate", out["trust_server_certificate"]
        )
    if "encrypt" in out:
        enc = out["encrypt"]
        out["encrypt"] = ("yes" if enc else "no") if isinstance(enc, bool) else str(enc).lower()
    intent = str(out.pop("application_intent", "readwrite")).replace(" ", "").lower()
    if intent not in ("readwrite", "readonly"):
        raise InterfaceError(f"ApplicationIntent must be ReadWrite or ReadOnly, not {intent!r}")
    out["read_only_intent"] = intent == "readonly"
    out.setdefault("command_timeout", None)
    return out
