"""The clamd client (scanning.clamd) against a real clamd, over a Unix socket and over TCP:
verdicts whatever the chunking, many scans at once, and addresses where nothing answers."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from clinifile.errors import ScannerUnavailable
from clinifile.scanning.clamd import Clamd
from clinifile.scanning.runner import find_clamd_binary
from tests.clamav import EICAR, ClamdService, clamav_testfile
from tests.factories import wait_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tcp_clamd(tmp_path_factory: pytest.TempPathFactory, clamd: ClamdService) -> Iterator[str]:
    """A clamd listening on loopback TCP only, as a shared clamd on another host would."""
    root = tmp_path_factory.mktemp("tcp-clamd")
    port = _free_port()
    config = root / "clamd.conf"
    config.write_text(
        f"TCPSocket {port}\nTCPAddr 127.0.0.1\nForeground yes\n"
        f"DatabaseDirectory {clamd.database.directory}\nTemporaryDirectory {root}\n"
    )
    binary = find_clamd_binary()
    assert binary is not None
    with open(root / "clamd.log", "wb") as log:
        process = subprocess.Popen([binary, f"--config-file={config}"], stdout=log, stderr=log)
    address = f"tcp:127.0.0.1:{port}"

    def answers() -> bool:
        try:
            Clamd(address, timeout=1).ping()
            return True
        except ScannerUnavailable:
            assert process.poll() is None, (root / "clamd.log").read_text()
            return False

    try:
        wait_for(answers, timeout=60, interval=0.1)
        yield address
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture(params=["unix", "tcp"])
def scanner(request: pytest.FixtureRequest, clamd: ClamdService) -> Clamd:
    if request.param == "unix":
        return Clamd(clamd.address, timeout=10)
    return Clamd(request.getfixturevalue("tcp_clamd"), timeout=10)


def _scan(scanner: Clamd, data: bytes, chunk: int) -> str | None:
    with scanner.instream() as stream:
        for start in range(0, len(data), chunk):
            stream.send(data[start : start + chunk])
        return stream.verdict().signature


def test_the_client_speaks_to_clamd(scanner: Clamd, clamd: ClamdService) -> None:
    scanner.ping()
    assert scanner.version() == clamd.version()
    assert scanner.version().startswith("ClamAV 1.")
    assert _scan(scanner, b"Dear colleague, ...", 1024) is None
    assert (_scan(scanner, EICAR, 1024) or "").startswith("Clinifile.Test.EICAR")
    assert (_scan(scanner, clamav_testfile("clam.zip"), 64) or "").startswith("Clinifile.Test")


@pytest.mark.parametrize("chunk", [1, 7, 1024 * 1024])
def test_the_verdict_does_not_depend_on_how_the_stream_is_cut(scanner: Clamd, chunk: int) -> None:
    padded = b"\x00" * 3000 + EICAR + b"\x00" * 3000
    assert (_scan(scanner, padded, chunk) or "").startswith("Clinifile.Test.EICAR-Body")


def test_an_empty_stream_is_clean(scanner: Clamd) -> None:
    with scanner.instream() as stream:
        stream.send(b"")
        assert stream.verdict().signature is None


def test_many_scans_at_once_each_get_their_own_verdict(scanner: Clamd) -> None:
    files = [(EICAR if i % 3 == 0 else f"letter {i}".encode()) for i in range(24)]
    with ThreadPoolExecutor(8) as pool:
        verdicts = list(pool.map(lambda data: _scan(scanner, data, 16), files))
    assert [v is not None for v in verdicts] == [i % 3 == 0 for i in range(24)]


def test_an_address_where_nothing_answers_is_named(tmp_path: Path) -> None:
    missing = f"unix:{tmp_path / 'none.sock'}"
    with pytest.raises(ScannerUnavailable, match=f"clamd at {missing}"):
        Clamd(missing, timeout=1).ping()
    closed = f"tcp:127.0.0.1:{_free_port()}"
    with pytest.raises(ScannerUnavailable, match="cannot be reached"), Clamd(closed).instream():
        pass
