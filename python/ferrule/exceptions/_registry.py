"""From a native error code to its exception class: PostgreSQL SQLSTATEs and other backends."""

from __future__ import annotations

from collections.abc import Mapping

from ._backend_codes import DEFAULT_BACKEND_CODES
from ._base import SQLSTATE_CLASSES, DatabaseError, Error
from ._pgcodes import SQLSTATE_CLASS_PARENTS

__all__ = ["lookup", "register_backend_codes"]

POSTGRESQL = "postgresql"

_backend_codes: dict[str, dict[str, type[Error]]] = {
    backend: dict(codes) for backend, codes in DEFAULT_BACKEND_CODES.items()
}


def lookup(code: str) -> type[Error]:
    """Return the exception class of a PostgreSQL SQLSTATE.

    The class declared for the exact code if there is one, else the parent of the code's
    SQLSTATE class (its first two characters: ``"23xxx"`` -> ``IntegrityError``), else
    ``DatabaseError``.
    """
    sqlstate = code.upper()
    exact = SQLSTATE_CLASSES.get(sqlstate)
    if exact is not None:
        return exact
    return SQLSTATE_CLASS_PARENTS.get(sqlstate[:2], DatabaseError)


def register_backend_codes(backend: str, codes: Mapping[str, type[Error]]) -> None:
    """Map native error codes of ``backend`` to exception classes.

    ``codes`` maps the code as the backend reports it (``"2627"``,
    ``"SQLITE_CONSTRAINT_UNIQUE"``) to a subclass of ``Error``; a code registered again takes
    the new class. PostgreSQL codes are declared by their classes instead
    (``class X(DatabaseError, code="...")``).
    """
    if not isinstance(backend, str) or not backend:
        raise ValueError(
            f"register_backend_codes: backend must be a non-empty str, not {backend!r}"
        )
    if backend == POSTGRESQL:
        raise ValueError(
            "register_backend_codes: PostgreSQL SQLSTATEs are declared by a class keyword, "
            'e.g. class MyError(DatabaseError, code="P0001")'
        )
    checked: dict[str, type[Error]] = {}
    for code, cls in codes.items():
        if not isinstance(code, str) or not code:
            raise ValueError(
                f"register_backend_codes({backend!r}): code must be a non-empty str, not {code!r}"
            )
        if not (isinstance(cls, type) and issubclass(cls, Error)):
            raise TypeError(
                f"register_backend_codes({backend!r}): code {code!r} maps to {cls!r}, "
                "which is not a subclass of ferrule.Error"
            )
        checked[code] = cls
    _backend_codes.setdefault(backend, {}).update(checked)


def native_class(backend: str | None, code: str | None) -> type[Error] | None:
    """Return the class registered for ``backend``'s native ``code``, or None.

    A code that is not registered falls back to the code without its last ``_PART``, which is
    how SQLite names an extended result code's primary one.
    """
    if code is None or backend is None:
        return None
    if backend == POSTGRESQL:
        return lookup(code)
    table = _backend_codes.get(backend)
    if table is None:
        return None
    key = code
    while key:
        cls = table.get(key)
        if cls is not None:
            return cls
        key = key.rpartition("_")[0]
    return None
