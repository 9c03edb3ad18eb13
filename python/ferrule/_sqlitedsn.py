"""`sqlite:` URLs and keyword arguments into the settings dict of the native SQLite shell.

Forms (the SQLAlchemy convention for slashes):

- ``sqlite:///app.db``: ``app.db``, relative to the working directory;
- ``sqlite:////var/lib/app.db``: an absolute path;
- ``sqlite://:memory:`` (also ``sqlite://`` and ``sqlite:///:memory:``): a private in-memory
  database;
- ``sqlite:///file:app.db?mode=ro&cache=shared``: a SQLite URI, passed to SQLite as it is;
- ``sqlite:///app.db?mode=ro``: SQLite's own URI parameters (``mode``, ``cache``, ``vfs``,
  ``immutable``, ``nolock``, ``psow``, ``modeof``) turn the path into a ``file:`` URI.

ferrule's settings may also be given as query parameters (``?busy_timeout=2&detect_types=1``);
keyword arguments override them.

``sync_url`` (also ``syncUrl``) makes the file a libSQL embedded replica of that primary, with
``authToken`` (also ``auth_token``), ``sync_interval``, ``read_your_writes`` and
``connect_timeout``.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from ferrule.exceptions import InterfaceError, NotSupportedError

# SQLite's own URI query parameters (https://sqlite.org/uri.html).
SQLITE_URI_PARAMS = frozenset({"mode", "cache", "vfs", "immutable", "nolock", "psow", "modeof"})

_FLOAT = ("busy_timeout", "command_timeout", "sync_interval", "connect_timeout")
_INT = ("statement_cache_size",)
_BOOL = (
    "detect_types",
    "foreign_keys",
    "read_only",
    "create",
    "inline",
    "query_only",
    "read_your_writes",
)
_TEXT = ("journal_mode", "synchronous", "transaction_mode", "sync_url", "auth_token")
SETTINGS = frozenset((*_FLOAT, *_INT, *_BOOL, *_TEXT))
# Settings of embedded replicas only.
REPLICA_SETTINGS = ("auth_token", "sync_interval", "read_your_writes", "connect_timeout")
# Other spellings of URL parameters (libSQL's).
_ALIASES = {"syncUrl": "sync_url", "authToken": "auth_token"}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(key: str, value: str) -> Any:
    try:
        if key in _FLOAT:
            return float(value)
        if key in _INT:
            return int(value)
    except ValueError:
        raise InterfaceError(
            f"invalid sqlite URL parameter {key}={value!r}: not a number"
        ) from None
    if key in _BOOL:
        low = value.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise InterfaceError(f"invalid sqlite URL parameter {key}={value!r}: use 1 or 0")
    return value


def parse_url(dsn: str) -> dict[str, Any]:
    """The settings of a ``sqlite:`` URL: ``path``, ``uri`` and ferrule's own parameters."""
    scheme, sep, rest = dsn.partition("://")
    if scheme.lower() != "sqlite" or not sep:
        raise InterfaceError(f"not a sqlite URL: {dsn!r} (expected sqlite:///path.db)")
    target, _, query = rest.partition("?")
    if target.startswith("/"):
        target = target[1:]
    target = urllib.parse.unquote(target)
    settings: dict[str, Any] = {}
    sqlite_params: list[tuple[str, str]] = []
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        key = _ALIASES.get(key, key)
        if key in SETTINGS:
            settings[key] = _convert(key, value)
        elif key in SQLITE_URI_PARAMS or target.startswith("file:"):
            sqlite_params.append((key, value))
        elif key == "encryption_key":
            raise InterfaceError(
                "give encryption_key as a keyword argument, not in the URL (URLs end up in logs)"
            )
        else:
            ours = ", ".join(sorted(SETTINGS))
            theirs = ", ".join(sorted(SQLITE_URI_PARAMS))
            raise InterfaceError(
                f"unknown sqlite URL parameter {key!r}; ferrule's are {ours}, SQLite's are {theirs}"
            )
    if target in ("", ":memory:"):
        target = ":memory:"
    if target.startswith("file:"):
        # A SQLite URI: its own query parameters stay in it.
        query_text = urllib.parse.urlencode(sqlite_params)
        settings["path"] = target + (f"?{query_text}" if query_text else "")
        settings["uri"] = True
    elif sqlite_params:
        quoted = urllib.parse.quote(target, safe="/:")
        settings["path"] = f"file:{quoted}?{urllib.parse.urlencode(sqlite_params)}"
        settings["uri"] = True
    else:
        settings["path"] = target
        settings["uri"] = False
    return settings


def _key_bytes(value: Any) -> bytes:
    """An encryption key given as text (its UTF-8 bytes) or bytes."""
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InterfaceError(f"encryption_key must be str or bytes, not {type(value).__name__}")
    if not value:
        raise InterfaceError("encryption_key must not be empty")
    return bytes(value)


def build_settings(dsn: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The URL's settings with the non-None keyword arguments on top."""
    settings = parse_url(dsn) if dsn else {"path": ":memory:", "uri": False}
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "path":
            settings["path"] = str(value)
            settings["uri"] = str(value).startswith("file:")
        elif key == "encryption_key":
            settings[key] = _key_bytes(value)
        elif key in SETTINGS:
            settings[key] = value
        else:
            raise InterfaceError(
                f"unknown SQLite connection argument {key!r}; known: "
                f"path, encryption_key, {', '.join(sorted(SETTINGS))}"
            )
    settings.setdefault("command_timeout", None)
    _check_replica(settings)
    mode = settings.get("transaction_mode")
    if mode is not None and mode not in ("deferred", "immediate", "exclusive"):
        raise InterfaceError(
            f"invalid transaction_mode {mode!r}: use deferred, immediate or exclusive"
        )
    return settings


def _check_replica(settings: dict[str, Any]) -> None:
    """An embedded replica needs a plain file; its settings mean nothing without one."""
    if settings.get("sync_url") is None:
        given = [k for k in REPLICA_SETTINGS if settings.get(k) is not None]
        if given:
            raise InterfaceError(
                f"{', '.join(given)} only apply to an embedded replica: give sync_url too"
            )
        return
    url = str(settings["sync_url"])
    if urllib.parse.urlsplit(url).scheme.lower() not in ("libsql", "https", "http"):
        raise InterfaceError(f"sync_url must be a libsql://, https:// or http:// URL, not {url!r}")
    if settings["path"] == ":memory:" or settings.get("uri"):
        raise InterfaceError(
            "an embedded replica needs a plain file path (not :memory: or a file: URI with "
            "options): the local copy is a file that outlives the connection"
        )
    if settings.get("encryption_key") is not None:
        raise NotSupportedError(
            "an embedded replica cannot be encrypted: the primary's pages are copied into it "
            "as they are, and SQLCipher needs room at the end of each page for its own data"
        )
    if settings.get("journal_mode") not in (None, "wal"):
        raise InterfaceError(
            "an embedded replica always uses journal_mode=wal (its pages are applied while "
            "readers read)"
        )
    for key in ("read_only", "query_only"):
        settings.pop(key, None)
    interval = settings.get("sync_interval")
    if interval is not None and interval <= 0:
        raise InterfaceError(f"sync_interval must be a positive number of seconds, not {interval}")
