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
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from ferrule.exceptions import InterfaceError

# SQLite's own URI query parameters (https://sqlite.org/uri.html).
SQLITE_URI_PARAMS = frozenset({"mode", "cache", "vfs", "immutable", "nolock", "psow", "modeof"})

_FLOAT = ("busy_timeout", "command_timeout")
_INT = ("statement_cache_size",)
_BOOL = ("detect_types", "foreign_keys", "read_only", "create", "inline", "query_only")
_TEXT = ("journal_mode", "synchronous", "transaction_mode")
SETTINGS = frozenset((*_FLOAT, *_INT, *_BOOL, *_TEXT))

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
        if key in SETTINGS:
            settings[key] = _convert(key, value)
        elif key in SQLITE_URI_PARAMS or target.startswith("file:"):
            sqlite_params.append((key, value))
        elif key == "encryption_key":
            raise InterfaceError(
                "give encryption_key as a keyword argument, not in the URL (URLs end up in logs)"
            )
        elif key in ("sync_url", "syncUrl", "authToken"):
            raise InterfaceError(
                f"sqlite URL parameter {key!r} is for libSQL embedded replicas, which ferrule "
                "does not support (see docs/sqlite.md); use a libsql:// URL for a remote "
                "database"
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
    mode = settings.get("transaction_mode")
    if mode is not None and mode not in ("deferred", "immediate", "exclusive"):
        raise InterfaceError(
            f"invalid transaction_mode {mode!r}: use deferred, immediate or exclusive"
        )
    return settings
