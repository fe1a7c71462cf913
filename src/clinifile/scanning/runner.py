"""Deciding whether to scan, and running a private clamd for `serve` (as seaweed.py runs
SeaweedFS): its config, socket, temporary files and log in one directory of the data
directory, listening on that Unix socket only.

    CLINIFILE_SCAN   CLINIFILE_CLAMD_ADDRESS   what happens
    off              -                         no scanning
    clamd            set                       scan with the clamd there
    clamd            unset                     serve runs its own (ClamdNotFound without a
                                               clamd binary or signatures)
    unset            set                       as clamd
    unset            unset                     its own when a clamd binary and signatures
                                               are found, else off with a warning
"""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from clinifile.config import MiB, Settings
from clinifile.errors import ClinifileError, ScanError
from clinifile.scanning.clamd import Clamd
from clinifile.storage.seaweed import spawn_weed, stop_weed

log = logging.getLogger(__name__)

SYSTEM_DATABASE_DIR = Path("/var/lib/clamav")
# where Debian, Fedora, a source build and Homebrew put clamd
CLAMD_PATHS = ("/usr/sbin/clamd", "/usr/local/sbin/clamd", "/opt/homebrew/sbin/clamd")
# files clamd loads signatures from (a .cvd from freshclam, or a hand-made database)
SIGNATURE_SUFFIXES = {
    ".cvd", ".cld", ".cud", ".hdb", ".hsb", ".mdb", ".msb", ".ndb", ".ldb", ".cdb", ".imp",
}  # fmt: skip
# clamd examines at most 2 GiB - 1 of one file, whatever its configuration says
CLAMD_MAX_MIB = 2047
# the longest path a Unix socket can have on Linux (108 bytes with the terminating NUL)
MAX_SOCKET_PATH = 107

ENABLE_HINT = (
    "install ClamAV's daemon (Debian: apt-get install clamav-daemon) and fetch signatures "
    "(freshclam), then restart; or point CLINIFILE_CLAMD_ADDRESS at a running clamd. "
    "CLINIFILE_SCAN=off turns this warning off"
)


class ClamdNotFound(ClinifileError):
    pass


def find_clamd_binary(configured: str | None = None) -> str | None:
    """The configured clamd, PATH's, or one at a usual place; None when there is none."""
    if configured:
        return configured if Path(configured).is_file() else None
    on_path = shutil.which("clamd")
    if on_path:
        return on_path
    return next((p for p in CLAMD_PATHS if Path(p).is_file()), None)


def has_signatures(directory: Path) -> bool:
    return directory.is_dir() and any(
        p.suffix in SIGNATURE_SUFFIXES for p in directory.iterdir() if p.is_file()
    )


def database_dir(settings: Settings) -> Path:
    """CLINIFILE_CLAMAV_DATABASE_DIR, else the data directory's clamav/ if it holds any
    signatures, else the system's."""
    if settings.clamav_database_dir is not None:
        return settings.clamav_database_dir
    own = settings.data_dir / "clamav"
    return own if has_signatures(own) else SYSTEM_DATABASE_DIR


@dataclass(frozen=True)
class ScanPlan:
    """What a process does about scanning, decided at its start."""

    # scan with clamd at this address; None: no scanning, or run_own
    address: str | None
    # serve starts its own clamd (socket in the data directory)
    run_own: bool = False
    # said once at start-up when scanning is off although nobody chose that
    warning: str | None = None

    @property
    def scanning(self) -> bool:
        return self.address is not None or self.run_own


def plan(settings: Settings) -> ScanPlan:
    """Reads the table of this module's docstring; ClamdNotFound when CLINIFILE_SCAN=clamd
    has neither an address nor a clamd and signatures to run."""
    if settings.scan == "off":
        return ScanPlan(None)
    if settings.clamd_address:
        return ScanPlan(settings.clamd_address)
    binary = find_clamd_binary(settings.clamd_binary)
    signatures = database_dir(settings)
    if binary and has_signatures(signatures):
        return ScanPlan(None, run_own=True)
    missing = (
        f"no signatures in {signatures}" if binary else "no clamd binary (CLINIFILE_CLAMD_BINARY)"
    )
    if settings.scan == "clamd":
        raise ClamdNotFound(
            f"CLINIFILE_SCAN=clamd without CLINIFILE_CLAMD_ADDRESS, and clinifile cannot run "
            f"its own clamd: {missing}; {ENABLE_HINT}"
        )
    return ScanPlan(None, warning=f"malware scanning is off ({missing}): {ENABLE_HINT}")


def clamd_config(root: Path, signatures: Path, max_file_bytes: int) -> str:
    """clamd.conf of a private clamd: a Unix socket only, limits that cover the largest file
    clinifile takes (up to clamd's own 2 GiB), and a file it cannot examine whole reported
    (AlertExceedsMax) rather than passed as clean."""
    limit = f"{min(CLAMD_MAX_MIB, math.ceil(max_file_bytes / MiB))}M"
    return "\n".join(
        [
            f"LocalSocket {root / 'clamd.sock'}",
            "LocalSocketMode 600",
            "Foreground yes",
            f"DatabaseDirectory {signatures}",
            f"TemporaryDirectory {root / 'tmp'}",
            f"StreamMaxLength {limit}",
            f"MaxFileSize {limit}",
            f"MaxScanSize {limit}",
            "AlertExceedsMax yes",
            # reload the signatures when freshclam (or a mirror's sync) changes them
            "SelfCheck 600",
            "",
        ]
    )


class EmbeddedClamd:
    """One clamd child process on a Unix socket under root."""

    def __init__(
        self,
        root: Path,
        signatures: Path,
        *,
        binary: str | None = None,
        max_file_bytes: int = CLAMD_MAX_MIB * MiB,
    ) -> None:
        self.root = root.resolve()
        found = find_clamd_binary(binary)
        if found is None:
            raise ClamdNotFound(f"no clamd binary found; {ENABLE_HINT}")
        if not has_signatures(signatures):
            raise ClamdNotFound(f"no ClamAV signatures in {signatures}; {ENABLE_HINT}")
        socket_path = str(self.root / "clamd.sock")
        if len(socket_path.encode()) > MAX_SOCKET_PATH:
            raise ClamdNotFound(
                f"clamd's socket {socket_path!r} would be longer than a Unix socket path may "
                f"be ({MAX_SOCKET_PATH} bytes): use a shorter data directory, or run clamd "
                "yourself and set CLINIFILE_CLAMD_ADDRESS"
            )
        self.binary = found
        self.signatures = signatures.resolve()
        self.max_file_bytes = max_file_bytes
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"unix:{self.root / 'clamd.sock'}"

    @property
    def log_path(self) -> Path:
        return self.root / "clamd.log"

    def start(self, timeout: float = 120.0) -> None:
        """Starts clamd and returns once it answers PING (loading a full signature
        database takes it tens of seconds and about a gigabyte of memory)."""
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        (self.root / "clamd.sock").unlink(missing_ok=True)
        config = self.root / "clamd.conf"
        config.write_text(clamd_config(self.root, self.signatures, self.max_file_bytes))
        args = [self.binary, f"--config-file={config}"]
        self.process = spawn_weed(args, self.root, self.log_path)
        log.info("started clamd (pid %s) on %s", self.process.pid, self.address)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        client = Clamd(self.address, timeout=2.0)
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise ClamdNotFound(
                    f"clamd exited with {self.process.returncode}: {' / '.join(tail)} "
                    f"(see {self.log_path})"
                )
            try:
                client.ping()
                return
            except ScanError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise ClamdNotFound(
                        f"clamd did not answer within {timeout:.0f}s; see {self.log_path}"
                    ) from None
            time.sleep(0.1)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        stop_weed(self.process, timeout)
        log.info("stopped clamd")
