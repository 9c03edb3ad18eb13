"""tarantool:// URLs."""

from __future__ import annotations

import pytest

from ferrule.exceptions import InterfaceError
from ferrule.tarantool_connection import parse_dsn


def test_tcp_url() -> None:
    assert parse_dsn("tarantool://u:p%40ss@db.example:3302?connect_timeout=2.5&reconnect=no") == {
        "user": "u",
        "password": "p@ss",
        "host": "db.example",
        "port": 3302,
        "connect_timeout": 2.5,
        "reconnect": False,
    }
    assert parse_dsn("tarantool://[::1]")["host"] == "::1"
    assert parse_dsn("tarantool://h")["port"] == 3301


def test_unix_url() -> None:
    assert parse_dsn("tarantool://u:p@unix/:/run/t.sock")["unix_path"] == "/run/t.sock"
    assert parse_dsn("tarantool:///run/t.sock")["unix_path"] == "/run/t.sock"


def test_bad_options() -> None:
    with pytest.raises(InterfaceError):
        parse_dsn("tarantool://h?nope=1")
    with pytest.raises(InterfaceError):
        parse_dsn("tarantool://h:99999")
