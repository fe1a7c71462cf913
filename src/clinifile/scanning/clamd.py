"""A client of clamd, ClamAV's daemon, over the socket protocol `man clamd` documents.

    zPING\\0                  → PONG
    zVERSION\\0               → ClamAV 1.4.6/27065/Wed Oct 18 09:49:14 2023
    zRELOAD\\0                → RELOADING
    zINSTREAM\\0, then chunks → stream: OK | stream: <signature> FOUND | <reason> ERROR
        a chunk is its length (4 bytes, big-endian) then its bytes; a zero length ends it

Replies end with a NUL; one connection per command. clamd keeps the streamed bytes in a
temporary file and scans them after the last chunk; past its StreamMaxLength it answers
"INSTREAM size limit exceeded" and hangs up.

Written here rather than taken from a library: python-clamd (the `clamd` package, last
released in 2014) and its forks `clamav-client` and `clamdpy` take a file object and read it
in 1 KiB pieces inside one call, so the worker could not feed clamd from the loop that
hashes the same chunks; they write with send() (a partial write loses bytes) and connect
without a timeout.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from clinifile.errors import ScanError, ScanLimitExceeded, ScannerUnavailable

# what clamd reports, with AlertExceedsMax, for a file it could not examine whole
LIMITS_SIGNATURE = "Heuristics.Limits.Exceeded"
SIZE_LIMIT_REPLY = "INSTREAM size limit exceeded"
MAX_REPLY_BYTES = 64 * 1024
# how long to wait for the reason clamd gives when it hangs up mid-stream
HANG_UP_REPLY_SECONDS = 2.0


@dataclass(frozen=True)
class Verdict:
    """What clamd found in one stream: a signature's name, or None when it is clean."""

    signature: str | None

    @property
    def infected(self) -> bool:
        return self.signature is not None


Target = tuple[str, str | tuple[str, int]]


def parse_address(address: str) -> Target:
    """("unix", path) or ("tcp", (host, port)) of `unix:/path/to/clamd.sock` or
    `tcp:host:port` (`tcp:[::1]:3310` for IPv6); ValueError naming both forms otherwise."""
    kind, _, rest = address.partition(":")
    if kind == "unix" and rest.startswith("/") and "\0" not in rest:
        return "unix", rest
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if host and port.isascii() and port.isdigit() and 0 < int(port) < 65536:
            return "tcp", (host, int(port))
    raise ValueError(
        f"clamd address {address!r} is neither unix:/path/to/clamd.sock nor tcp:host:port "
        "(CLINIFILE_CLAMD_ADDRESS)"
    )


def _read_reply(sock: socket.socket) -> str:
    """One NUL-terminated reply ("" when clamd hung up before saying anything)."""
    reply = bytearray()
    while not reply.endswith(b"\0") and len(reply) < MAX_REPLY_BYTES:
        data = sock.recv(4096)
        if not data:
            break
        reply += data
    return reply.rstrip(b"\0").decode("utf-8", "replace").strip()


class Clamd:
    """clamd at one address; every call opens its own connection (safe from any thread)."""

    def __init__(self, address: str, timeout: float = 60.0) -> None:
        self.address = address
        self.timeout = timeout
        self._target = parse_address(address)

    def __repr__(self) -> str:
        return f"Clamd({self.address!r})"

    def _unavailable(self, error: OSError) -> ScannerUnavailable:
        if isinstance(error, TimeoutError):
            return ScannerUnavailable(
                f"the virus scanner (clamd at {self.address}) did not answer within "
                f"{self.timeout:g} s"
            )
        why = error.strerror or type(error).__name__
        return ScannerUnavailable(
            f"the virus scanner (clamd at {self.address}) cannot be reached: {why}"
        )

    def _connect(self) -> socket.socket:
        kind, target = self._target
        try:
            if kind == "tcp":
                assert isinstance(target, tuple)
                return socket.create_connection(target, timeout=self.timeout)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.timeout)
                sock.connect(target)
            except OSError:
                sock.close()
                raise
            return sock
        except OSError as error:
            raise self._unavailable(error) from error

    def _command(self, name: str) -> str:
        with self._connect() as sock:
            try:
                sock.sendall(b"z" + name.encode() + b"\0")
                reply = _read_reply(sock)
            except OSError as error:
                raise self._unavailable(error) from error
        if not reply:
            raise ScannerUnavailable(
                f"the virus scanner (clamd at {self.address}) hung up without answering {name}"
            )
        return reply

    def ping(self) -> None:
        """Returns when clamd answers; ScannerUnavailable when it does not."""
        reply = self._command("PING")
        if reply != "PONG":
            raise ScannerUnavailable(f"clamd at {self.address} answered PING with {reply!r}")

    def version(self) -> str:
        """Its engine and signature versions, e.g. "ClamAV 1.4.6/27065" (the signatures'
        date left out); only the engine's when its signatures carry no version."""
        reply = self._command("VERSION")
        if not reply.startswith("ClamAV "):
            raise ScanError(f"clamd at {self.address} answered VERSION with {reply[:80]!r}")
        return "/".join(reply.split("/")[:2])

    def reload(self) -> None:
        """Asks clamd to load its signature database again; it scans with the old one until
        the new one is loaded (version() then reports it)."""
        reply = self._command("RELOAD")
        if reply != "RELOADING":
            raise ScanError(f"clamd at {self.address} answered RELOAD with {reply[:80]!r}")

    @contextmanager
    def instream(self) -> Iterator[Stream]:
        """One INSTREAM scan: send() each chunk in order, then verdict(). Leaving the block
        early hangs up, and clamd drops what it was sent."""
        sock = self._connect()
        try:
            stream = Stream(sock, self)
            stream.send_raw(b"zINSTREAM\0")
            yield stream
        finally:
            sock.close()

    def verdict_of(self, reply: str) -> Verdict:
        """The Verdict of an INSTREAM reply; ScanLimitExceeded for a file clamd could not
        examine whole, ScanError for any other error it reports."""
        if reply == "stream: OK":
            return Verdict(None)
        if reply.startswith("stream: ") and reply.endswith(" FOUND"):
            name = reply.removeprefix("stream: ").removesuffix(" FOUND")
            if name.startswith(LIMITS_SIGNATURE):
                raise ScanLimitExceeded(
                    f"the file is larger or deeper than the virus scanner examines ({name})"
                )
            return Verdict(name)
        if SIZE_LIMIT_REPLY in reply:
            raise ScanLimitExceeded(
                "the file is larger than the virus scanner takes (clamd's StreamMaxLength)"
            )
        if not reply:
            raise ScannerUnavailable(
                f"the virus scanner (clamd at {self.address}) hung up without a verdict"
            )
        raise ScanError(f"the virus scanner (clamd at {self.address}) failed: {reply[:200]}")


class Stream:
    """The open connection of one INSTREAM scan."""

    def __init__(self, sock: socket.socket, clamd: Clamd) -> None:
        self._sock = sock
        self._clamd = clamd
        self.sent = 0

    def send_raw(self, *parts: bytes) -> None:
        try:
            for part in parts:
                self._sock.sendall(part)
        except OSError as error:
            raise self._hung_up(error) from error

    def send(self, chunk: bytes) -> None:
        """Sends the next chunk (an empty one is skipped: a zero length ends the stream)."""
        if not chunk:
            return
        self.send_raw(struct.pack("!L", len(chunk)), chunk)
        self.sent += len(chunk)

    def verdict(self) -> Verdict:
        """Ends the stream and waits (up to the timeout) for clamd's verdict."""
        self.send_raw(struct.pack("!L", 0))
        try:
            reply = _read_reply(self._sock)
        except OSError as error:
            raise self._clamd._unavailable(error) from error
        return self._clamd.verdict_of(reply)

    def _hung_up(self, error: OSError) -> ScanError:
        """clamd stops reading past its size limit, and says so before it hangs up; any
        other broken write means it is gone or stuck."""
        if isinstance(error, TimeoutError):
            return self._clamd._unavailable(error)
        try:
            self._sock.settimeout(HANG_UP_REPLY_SECONDS)
            reply = _read_reply(self._sock)
        except OSError:
            reply = ""
        if SIZE_LIMIT_REPLY in reply:
            return ScanLimitExceeded(
                f"the file is larger than the virus scanner takes (clamd's StreamMaxLength; "
                f"{self.sent} bytes sent)"
            )
        return self._clamd._unavailable(error)
