"""One completion bridge per event loop (see DESIGN.md, "The bridge").

Native jobs finish on the runtime's threads without touching the GIL; they queue their
results and wake the loop through an eventfd, whose reader callback resolves every finished
future in one pass.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable
from typing import Any

from ferrule._ferrule import Bridge

_by_loop: weakref.WeakKeyDictionary[Any, Bridge] = weakref.WeakKeyDictionary()
# Loops that cannot be weakly referenced are kept by identity.
_by_id: dict[int, tuple[Any, Bridge]] = {}


def get_bridge(loop: asyncio.AbstractEventLoop | None = None) -> Bridge:
    """Return the running loop's bridge, creating and registering it on first use."""
    if loop is None:
        loop = asyncio.get_running_loop()
    try:
        bridge = _by_loop.get(loop)
    except TypeError:
        entry = _by_id.get(id(loop))
        bridge = entry[1] if entry is not None and entry[0] is loop else None
    if bridge is None:
        bridge = Bridge(loop)
        loop.add_reader(bridge.fileno(), bridge.drain)
        try:
            _by_loop[loop] = bridge
        except TypeError:
            _by_id[id(loop)] = (loop, bridge)
    return bridge


async def wait(bridge: Bridge, fut: Awaitable[Any]) -> Any:
    """Await a native future (or a result already done inline); if the caller is cancelled,
    stop the native job too."""
    try:
        return await fut
    except asyncio.CancelledError:
        bridge.cancel(fut)
        raise
