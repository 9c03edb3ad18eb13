"""`sqlite:` URLs and keyword arguments into settings (no database needed)."""

from __future__ import annotations

import pytest

from ferrule import InterfaceError, NotSupportedError
from ferrule._sqlitedsn import build_settings, parse_url


@pytest.mark.parametrize(
    ("url", "path", "uri"),
    [
        ("sqlite:///app.db", "app.db", False),
        ("sqlite:////var/lib/app.db", "/var/lib/app.db", False),
        ("sqlite://:memory:", ":memory:", False),
        ("sqlite://", ":memory:", False),
        ("sqlite:///:memory:", ":memory:", False),
        ("sqlite:///file:x.db?mode=ro&cache=shared", "file:x.db?mode=ro&cache=shared", True),
        ("sqlite:///x.db?mode=ro", "file:x.db?mode=ro", True),
        ("sqlite:///dir%20a/x.db", "dir a/x.db", False),
    ],
)
def test_url_forms(url: str, path: str, uri: bool) -> None:
    settings = parse_url(url)
    assert settings["path"] == path
    assert settings["uri"] is uri


def test_ferrule_parameters_are_typed_and_kept_out_of_the_uri() -> None:
    s = parse_url("sqlite:///file:x.db?mode=ro&busy_timeout=2.5&detect_types=1&journal_mode=wal")
    assert s["path"] == "file:x.db?mode=ro"
    assert s["busy_timeout"] == 2.5
    assert s["detect_types"] is True
    assert s["journal_mode"] == "wal"


def test_keywords_override_the_url() -> None:
    s = build_settings("sqlite:///a.db?busy_timeout=1", {"busy_timeout": 3.0, "path": None})
    assert s["busy_timeout"] == 3.0
    assert s["path"] == "a.db"
    assert s["command_timeout"] is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///a.db?bogus=1", "unknown sqlite URL parameter 'bogus'"),
        ("sqlite:///a.db?busy_timeout=soon", "not a number"),
        ("sqlite:///a.db?detect_types=maybe", "use 1 or 0"),
        ("sqlite:///a.db?authToken=x", "only apply to an embedded replica"),
        ("sqlite:///a.db?sync_url=ftp://x", "sync_url must be a libsql://"),
        ("sqlite://:memory:?sync_url=libsql://x", "needs a plain file path"),
        ("sqlite:///a.db?sync_url=libsql://x&journal_mode=delete", "always uses journal_mode=wal"),
        ("postgresql://x", "not a sqlite URL"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(InterfaceError, match=message):
        build_settings(url, {})


def test_replica_urls_in_libsql_spelling() -> None:
    s = build_settings(
        "sqlite:///r.db?syncUrl=libsql://db.example.com&authToken=t&sync_interval=2.5",
        {"read_your_writes": False},
    )
    assert s["sync_url"] == "libsql://db.example.com" and s["auth_token"] == "t"
    assert s["sync_interval"] == 2.5 and s["read_your_writes"] is False
    with pytest.raises(NotSupportedError, match="cannot be encrypted"):
        build_settings("sqlite:///r.db?sync_url=http://h", {"encryption_key": "k"})


def test_bad_keywords() -> None:
    with pytest.raises(InterfaceError, match="unknown SQLite connection argument 'host'"):
        build_settings(None, {"host": "x"})
    with pytest.raises(InterfaceError, match="invalid transaction_mode"):
        build_settings(None, {"transaction_mode": "eventually"})
