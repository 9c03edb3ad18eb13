"""The SQL Server Browser (MC-SQLR over UDP): tells clients the TCP port of a named instance.

Real servers answer on UDP 1434; the test server answers on any port it is given, so tests
that run side by side do not fight over 1434 (a test may still ask for 1434 itself).
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("tds.browser")

CLNT_BCAST_EX = 0x02
CLNT_UCAST_EX = 0x03
CLNT_UCAST_INST = 0x04
SVR_RESP = 0x05


def instance_record(server_name: str, instance: str, tcp_port: int) -> str:
    return (
        f"ServerName;{server_name};InstanceName;{instance};IsClustered;No;"
        f"Version;16.0.1000.6;tcp;{tcp_port};;"
    )


def answer(request: bytes, server_name: str, instance: str, tcp_port: int) -> bytes | None:
    """The SVR_RESP for a request, or None when a real browser would stay silent."""
    if not request:
        return None
    kind = request[0]
    if kind == CLNT_UCAST_INST:
        asked = request[1:].split(b"\x00", 1)[0].decode("ascii", errors="replace")
        if asked.upper() != instance.upper():
            return None
    elif kind not in (CLNT_BCAST_EX, CLNT_UCAST_EX):
        return None
    body = instance_record(server_name, instance, tcp_port).encode("ascii")
    return bytes([SVR_RESP]) + len(body).to_bytes(2, "little") + body


class BrowserProtocol(asyncio.DatagramProtocol):
    def __init__(self, server_name: str, instance: str, tcp_port: int) -> None:
        self.server_name = server_name
        self.instance = instance
        self.tcp_port = tcp_port
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = answer(data, self.server_name, self.instance, self.tcp_port)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


async def start_browser(
    host: str, port: int, instance: str, tcp_port: int
) -> tuple[asyncio.DatagramTransport, int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: BrowserProtocol("ferrule-tds", instance, tcp_port), local_addr=(host, port)
    )
    return transport, transport.get_extra_info("sockname")[1]
