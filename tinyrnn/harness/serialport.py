"""Opening serial ports for a Link: network URLs checked before pyserial sees them, TCP_NODELAY
on sockets, and what a port opened elsewhere (pytest-embedded, labgrid) must offer."""

from __future__ import annotations

import contextlib
import socket
import urllib.parse

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.harness.protocol import LinkError


def no_delay(ser) -> None:
    """TCP_NODELAY on socket:// links: a request is one write, and Nagle's algorithm
    would hold it until the previous segment's (delayed, ~40 ms) ACK arrived."""
    sock = getattr(ser, "_socket", None)  # pyserial's socket:// handler; absent elsewhere
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


_NETWORK_SCHEMES = ("socket", "rfc2217")


def check_url(url: str) -> None:
    """Catch a malformed network URL before pyserial does: its messages for a port out of
    range or missing are about its own internals (``'debug|info|warning|error'``, a
    comparison with None)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in _NETWORK_SCHEMES:
        return
    want = f"expected {parts.scheme}://HOST:PORT with PORT in 1-65535"
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port is None or not 0 < port < 65536:
        raise LinkError(f"cannot open {url}: {want}", kind="open")


def check_open_port(port) -> str:
    """The name of an open pyserial-like port (read/write/flush, in_waiting, timeout), or TinyrnnError."""
    missing = [a for a in ("read", "write", "flush", "in_waiting", "timeout") if not hasattr(type(port), a)]
    if missing:  # looked up on the type: in_waiting of a closed pyserial port raises
        raise TinyrnnError(f"{type(port).__name__} is not a serial port (no {', '.join(missing)})")
    name = str(getattr(port, "port", None) or type(port).__name__)
    if getattr(port, "is_open", True) is False:
        raise TinyrnnError(f"{name} is closed: open it first")
    return name
