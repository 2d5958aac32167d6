"""Network guard: a job that must not download anything fails loudly the moment it tries."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator


class DownloadForbiddenError(RuntimeError):
    """Raised when code tries to reach the network while downloads are forbidden."""


def _is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    return isinstance(host, str) and (host in ("localhost", "::1") or host.startswith("127."))


@contextlib.contextmanager
def network_forbidden(reason: str) -> Iterator[None]:
    """Refuse every non-loopback connection inside the block, naming ``reason`` and the target."""
    original_connect = socket.socket.connect
    original_getaddrinfo = socket.getaddrinfo

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise DownloadForbiddenError(f"{reason}: refused a connection to {address}")
        return original_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _is_loopback((host,)):
            raise DownloadForbiddenError(f"{reason}: refused to resolve {host!r}")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = original_connect
        socket.getaddrinfo = original_getaddrinfo
