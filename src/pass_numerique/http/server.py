"""Uvicorn protocol tweaks for the production command (``pass-numerique serve``)."""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (the fast C parser) with TCP_NODELAY on every TCP connection.

    asyncio only disables Nagle's algorithm on sockets whose ``proto`` is TCP; the listening
    socket uvicorn creates for several workers has ``proto == 0``, so its accepted connections
    kept Nagle on, and each response on a kept-alive connection (headers, then body: two writes)
    waited for the client's delayed ACK, about 40 ms on Linux.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
