"""ferrule's own errors, the same classes for every backend.

The constraint and transaction leaves are also the PostgreSQL classes of their SQLSTATE; other
backends map their native codes onto them (see ``_backend_codes``), keeping the code on ``.code``.
"""

from __future__ import annotations

import asyncio
import builtins
import sys

from ._base import IntegrityError, InterfaceError, OperationalError

__all__ = [
    "AuthenticationError",
    "CheckViolationError",
    "ConnectionClosedError",
    "ConnectionFailureError",
    "ConnectionLostError",
    "DeadlockDetectedError",
    "ForeignKeyViolationError",
    "NotNullViolationError",
    "PoolTimeoutError",
    "ProtocolError",
    "QueryCanceledError",
    "SerializationError",
    "TimeoutError",
    "TransactionRollbackError",
    "UniqueViolationError",
]


class ConnectionLostError(OperationalError):
    """The connection does not exist any more: the server, the network or an admin ended it."""


class ConnectionFailureError(OperationalError):
    """A connection could not be opened: host unreachable, refused, TLS or startup failed."""


class ProtocolError(InterfaceError):
    """The peer sent bytes that break the protocol; the connection was closed."""


class ConnectionClosedError(InterfaceError):
    """The connection or pool was used after ``close()``."""


if sys.version_info >= (3, 11):

    class TimeoutError(OperationalError, builtins.TimeoutError):
        """The call's ``timeout`` expired; the work was cancelled on the server.

        It is also the built-in ``TimeoutError``, which is ``asyncio.TimeoutError`` since
        Python 3.11, so ``except asyncio.TimeoutError`` catches it.
        """

else:

    class TimeoutError(OperationalError, builtins.TimeoutError, asyncio.TimeoutError):
        """The call's ``timeout`` expired; the work was cancelled on the server.

        It is also the built-in ``TimeoutError`` and ``asyncio.TimeoutError``, so either
        ``except`` clause catches it.
        """


class PoolTimeoutError(TimeoutError):
    """The pool could not hand out a connection within the ``acquire`` timeout."""


class QueryCanceledError(OperationalError, code="57014"):
    """The statement was cancelled: by the caller, a statement timeout, or an administrator."""


class AuthenticationError(OperationalError):
    """The server rejected the credentials, or the authentication method is not supported."""


class TransactionRollbackError(OperationalError, code="40000"):
    """The server rolled the transaction back; retrying the whole transaction may succeed."""


class UniqueViolationError(IntegrityError, code="23505"):
    """A unique or primary-key constraint was violated."""


class ForeignKeyViolationError(IntegrityError, code="23503"):
    """A foreign-key constraint was violated."""


class NotNullViolationError(IntegrityError, code="23502"):
    """A NULL was written to a NOT NULL column."""


class CheckViolationError(IntegrityError, code="23514"):
    """A CHECK constraint was violated."""


class DeadlockDetectedError(TransactionRollbackError, code="40P01"):
    """The transaction was chosen as the victim of a deadlock and rolled back."""


class SerializationError(TransactionRollbackError, code="40001"):
    """The transaction could not be serialized with concurrent ones; retry it."""
