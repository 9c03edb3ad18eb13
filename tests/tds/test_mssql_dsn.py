"""SQL Server connection strings: URLs and the ADO.NET form (no server needed)."""

from __future__ import annotations

import pytest

from ferrule import _mssqldsn
from ferrule.exceptions import InterfaceError


def test_url() -> None:
    s = _mssqldsn.build_settings(
        "mssql://sa:p%40ss@db.example:1444/shop?encrypt=strict&application_name=app"
        "&connect_timeout=3&ApplicationIntent=ReadOnly",
        {},
    )
    assert (s["host"], s["port"], s["user"], s["password"], s["database"]) == (
        "db.example",
        1444,
        "sa",
        "p@ss",
        "shop",
    )
    assert (s["encrypt"], s["application_name"], s["connect_timeout"]) == ("strict", "app", 3.0)
    assert s["read_only_intent"] is True


def test_ado_net() -> None:
    s = _mssqldsn.build_settings(
        "Server=tcp:db.example,1433;Database=db;UID=sa;PWD={a;b}}c};Encrypt=yes;"
        "TrustServerCertificate=no;Application Name=my app;Connect Timeout=5;"
        "ApplicationIntent=ReadWrite",
        {},
    )
    assert (s["host"], s["port"], s["database"], s["user"], s["password"]) == (
        "db.example",
        1433,
        "db",
        "sa",
        "a;b}c",
    )
    assert (s["encrypt"], s["trust_server_certificate"], s["application_name"]) == (
        "yes",
        False,
        "my app",
    )
    assert s["connect_timeout"] == 5.0 and s["read_only_intent"] is False


def test_named_instance() -> None:
    s = _mssqldsn.build_settings(r"Data Source=host\SQLEXPRESS;Initial Catalog=x;User ID=u", {})
    assert (s["host"], s["instance"], s.get("port")) == ("host", "SQLEXPRESS", None)
    s = _mssqldsn.build_settings("mssql://u:p@host/x?instance=SQLEXPRESS", {})
    assert s["instance"] == "SQLEXPRESS"


def test_keywords_override() -> None:
    s = _mssqldsn.build_settings("mssql://u:p@h/db", {"database": "other", "port": 1})
    assert (s["database"], s["port"]) == ("other", 1)


@pytest.mark.parametrize(
    "dsn",
    [
        "Server=h;Bogus=1",
        "Server=h;Password='unclosed",
        "Server=h;ApplicationIntent=sometimes",
        "Server=h;TrustServerCertificate=maybe",
        "mssql://u:p@h/db?nonsense=1",
    ],
)
def test_bad_strings(dsn: str) -> None:
    with pytest.raises(InterfaceError):
        _mssqldsn.build_settings(dsn, {})


def test_dispatch_detects_ado_net() -> None:
    assert _mssqldsn.is_ado_string("Server=h,1433;Database=d")
    assert not _mssqldsn.is_ado_string("postgresql://u@h/d?x=1")
