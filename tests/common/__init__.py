"""What the test suites of all backends share: server harnesses and their helpers.

Nothing here imports pytest at import time: the demo and the benchmarks use the harnesses too.
"""

from __future__ import annotations

import os
from typing import NoReturn


def server_unavailable(reason: str) -> NoReturn:
    """Skip the test because a server could not be had; fail instead when CI=true.

    CI must never pass by silently skipping a backend.
    """
    import pytest  # here, not at the top: the demo imports this package without pytest

    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing server is a failure)", pytrace=False)
    pytest.skip(reason)
