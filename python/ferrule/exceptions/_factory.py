"""Build the exception for an error reported by the native module.

``_make_error`` is the contract with the Rust side (crates/ferrule-py): it is called with the
fields of ``ferrule_core::Error`` and returns the exception to raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._base import (
    SERVER_FIELDS,
    DatabaseError,
    DataError,
    Error,
    InterfaceError,
    NotSupportedError,
)
from ._registry import native_class
from ._shared import (
    AuthenticationError,
    ConnectionClosedError,
    ConnectionFailureError,
    ConnectionLostError,
    PoolTimeoutError,
    ProtocolError,
    QueryCanceledError,
    TimeoutError,
)

#: The class for each ``ferrule_core::ErrorKind``, by its snake_case name.
KIND_CLASSES: Mapping[str, type[Error]] = {
    "interface": InterfaceError,
    "database": DatabaseError,
    "connection_lost": ConnectionLostError,
    "connection_failure": ConnectionFailureError,
    "protocol": ProtocolError,
    "timeout": TimeoutError,
    "cancelled": QueryCanceledError,
    "closed": ConnectionClosedError,
    "authentication": AuthenticationError,
    "data": DataError,
    "not_supported": NotSupportedError,
    "pool_timeout": PoolTimeoutError,
}

_FIELD_NAMES = frozenset(SERVER_FIELDS)
_INT_FIELDS = frozenset({"position", "internal_position", "number", "state", "class_"})


def _make_error(
    kind: str,
    backend: str | None,
    code: str | None,
    message: str,
    fields: dict[str, str] | None,
) -> Error:
    """Return the exception for a native error.

    ``kind`` picks the class. For ``"database"`` the backend's native ``code`` picks it
    (``lookup`` for PostgreSQL, the registered codes for the others, ``DatabaseError`` when the
    code is unknown). For the other kinds, a code whose class is a subclass of the kind's class
    refines it (``"authentication"`` with SQLSTATE 28P01 gives ``InvalidPasswordError``).

    ``fields`` holds the server's fields by attribute name (``detail``, ``hint``,
    ``constraint_name``, ...); ``position`` and ``internal_position`` become ints, the others
    stay text. Keys ferrule does not know are ignored, so a field added by a newer server never
    turns an error into a crash.
    """
    base = KIND_CLASSES.get(kind)
    if base is None:
        raise ValueError(
            f"_make_error: unknown error kind {kind!r} (expected one of "
            f"{', '.join(sorted(KIND_CLASSES))}) for error: {message}"
        )
    if code is None and fields is not None:
        code = fields.get("sqlstate")
    cls = base
    native = native_class(backend, code)
    if native is not None and (kind == "database" or issubclass(native, base)):
        cls = native
    return cls(message, code=code, backend=backend, **_field_values(fields))


def _field_values(fields: dict[str, str] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if not fields:
        return values
    for name, text in fields.items():
        if name not in _FIELD_NAMES or text is None:
            continue
        if name in _INT_FIELDS:
            # Positions are 1-based offsets, SQL Server numbers may be negative (user errors).
            digits = text[1:] if text.startswith("-") else text
            values[name] = int(text) if digits.isascii() and digits.isdigit() else None
        else:
            values[name] = text
    return values
