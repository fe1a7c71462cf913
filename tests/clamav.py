"""A real clamd for the tests, on a tiny signature database built here with sigtool.

These machines cannot download ClamAV's signatures, so the database is made in a temporary
directory: a SHA-256 hash signature of the EICAR test file (assembled at run time; no file
of the repository holds it) and of ClamAV's own test program clam.exe (Debian's
clamav-testfiles), plus a body signature of the EICAR string, which matches it anywhere in
a file (the end of a large one, inside a PDF's compressed stream). Bundled as an unsigned
daily.cud with a version number, so clamd reports a signature version as it does with
freshclam's database, and a test can add a signature and see the version move.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from clinifile.config import MiB
from clinifile.scanning.clamd import Clamd
from clinifile.scanning.runner import CLAMD_MAX_MIB, EmbeddedClamd, find_clamd_binary
from tests.services import missing_service

TESTFILES = Path("/usr/share/clamav-testfiles")
# the industry's test file, spelled backwards so that nothing here is itself "infected"
EICAR = "*H+H$!ELIF-TSET-SURIVITNA-DRADNATS-RACIE$}7)CC7)^P(45XZP\\4[PA@%P!O5X"[::-1].encode()
EICAR_HASH = "Clinifile.Test.EICAR-Hash"
EICAR_BODY = "Clinifile.Test.EICAR-Body"
CLAM_EXE = "Clinifile.Test.ClamExe-Hash"


def clamav_testfile(name: str) -> bytes:
    return (TESTFILES / name).read_bytes()


def hash_signature(data: bytes, name: str) -> str:
    """A .hsb line: the file's SHA-256, its size, and the name clamd reports."""
    return f"{sha256(data).hexdigest()}:{len(data)}:{name}"


def body_signature(data: bytes, name: str) -> str:
    """A .ndb line: these bytes anywhere in a file of any type."""
    return f"{name}:0:*:{data.hex()}"


@dataclass
class SignatureDatabase:
    """daily.cud in directory, built by sigtool from hash and body signatures."""

    directory: Path
    hashes: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    version: int = 0

    def build(self) -> int:
        """Writes the next version of the database (in place, atomically); its version."""
        self.version += 1
        with tempfile.TemporaryDirectory(dir=self.directory.parent) as build:
            work = Path(build)
            (work / "daily.hsb").write_text("".join(f"{line}\n" for line in self.hashes))
            (work / "daily.ndb").write_text("".join(f"{line}\n" for line in self.bodies))
            (work / "COPYING").write_text("clinifile's test signatures (not ClamAV's)\n")
            run = subprocess.run(
                [
                    "sigtool",
                    "--build=daily.cud",
                    "--unsigned",
                    "--no-cdiff",
                    f"--cvd-version={self.version}",
                    f"--datadir={work}",
                ],
                cwd=work,
                input="clinifile tests\n",  # sigtool asks for the builder's name
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if run.returncode != 0 or not (work / "daily.cud").exists():
                raise RuntimeError(
                    f"sigtool could not build the database: {run.stdout}{run.stderr}"
                )
            os.replace(work / "daily.cud", self.directory / "daily.cud")
        return self.version


@dataclass
class ClamdService:
    """A private clamd on its own socket, and the database it reads."""

    clamd: EmbeddedClamd
    database: SignatureDatabase

    @property
    def address(self) -> str:
        return self.clamd.address

    @property
    def client(self) -> Clamd:
        return Clamd(self.address, timeout=10)

    def version(self) -> str:
        return self.client.version()

    def add_signature(self, line: str, *, body: bool = False, timeout: float = 60.0) -> str:
        """Adds a signature as a signature update does: a new database version, which clamd
        is told to reload; returns clamd's version once it scans with the new one."""
        (self.database.bodies if body else self.database.hashes).append(line)
        version = self.database.build()
        self.client.reload()
        deadline = time.monotonic() + timeout
        while not self.version().endswith(f"/{version}"):
            if time.monotonic() > deadline:
                raise AssertionError(f"clamd did not load signature version {version}")
            time.sleep(0.05)
        return self.version()


def require_clamav() -> None:
    """Skips (fails under CI=true) when clamd, sigtool or ClamAV's test files are missing."""
    missing = [
        what
        for what, present in (
            ("clamd (apt-get install clamav-daemon)", find_clamd_binary() is not None),
            ("sigtool (apt-get install clamav)", shutil.which("sigtool") is not None),
            ("ClamAV's test files (apt-get install clamav-testfiles)", TESTFILES.is_dir()),
        )
        if not present
    ]
    if missing:
        missing_service("not installed: " + ", ".join(missing))


def signature_database(directory: Path) -> SignatureDatabase:
    directory.mkdir(parents=True, exist_ok=True)
    database = SignatureDatabase(
        directory,
        hashes=[
            hash_signature(EICAR, EICAR_HASH),
            hash_signature(clamav_testfile("clam.exe"), CLAM_EXE),
        ],
        bodies=[body_signature(EICAR, EICAR_BODY)],
    )
    database.build()
    return database


@contextmanager
def running_clamd(
    root: Path, database: SignatureDatabase, *, max_file_bytes: int | None = None
) -> Iterator[ClamdService]:
    """A clamd on root/clamd.sock reading database, stopped at the end."""
    clamd = EmbeddedClamd(
        root, database.directory, max_file_bytes=max_file_bytes or CLAMD_MAX_MIB * MiB
    )
    clamd.start(timeout=60)
    try:
        yield ClamdService(clamd, database)
    finally:
        clamd.stop()


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def pdf_with_stream(data: bytes) -> bytes:
    """A PDF whose one stream object holds data, Flate-compressed (as PDF writers do), so
    only a scanner that decodes the stream sees data."""
    packed = zlib.compress(data)
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n"
        b"3 0 obj<</Length "
        + str(len(packed)).encode()
        + b"/Filter/FlateDecode>>stream\n"
        + packed
        + b"\nendstream\nendobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
