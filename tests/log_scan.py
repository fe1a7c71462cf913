"""Every log line of a test run, kept and scanned for secrets when the run ends.

Each pytest process (every xdist worker, and the controller) writes its log records at
DEBUG, with the product's logging policy, to one file in a directory shared by the run;
`clinifile serve` processes started by the e2e tests add their log lines too. At the end the
controller scans every line for API keys, presigned-URL signatures and credentials, Basic
credentials and the object store's secret key, and fails the run if it finds one.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from clinifile.cli.logs import FORMAT, keep_libraries_quiet

DIR_VARIABLE = "CLINIFILE_TEST_LOG_DIR"
KNOWN_SECRETS_SUFFIX = ".secrets"

FINDERS = {
    "presigned signature": re.compile(
        r"(?i)x-amz-signature['\"]?[=:]\s*['\"]?(?!\[redacted\])[0-9a-f]{8,}"
    ),
    "presigned credential": re.compile(
        r"(?i)x-amz-credential['\"]?[=:]\s*['\"]?(?!\[redacted\])[A-Za-z0-9]{8,}"
    ),
    "API key": re.compile(r"\b[0-9a-f]{64}-[a-z]+[0-9]+\b"),
    "HTTP credentials": re.compile(
        r"(?i)authorization['\"]?[:=]\s*['\"]?(?:basic|bearer)\s+(?!\[redacted\])[A-Za-z0-9+/=]{8,}"
    ),
}

# a log record as clinifile formats it, or as uvicorn's own handlers print it
LOG_RECORD = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"|(DEBUG|INFO|WARNING|ERROR|CRITICAL):\s)"
)


def log_dir() -> Path:
    """The run's directory: made by the controller, inherited by the workers."""
    if DIR_VARIABLE not in os.environ:
        os.environ[DIR_VARIABLE] = tempfile.mkdtemp(prefix="clinifile-test-logs-")
    return Path(os.environ[DIR_VARIABLE])


def capture_this_process() -> None:
    name = os.environ.get("PYTEST_XDIST_WORKER", "controller")
    handler = logging.FileHandler(log_dir() / f"{name}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger().addHandler(handler)
    everything_at_debug()
    keep_libraries_quiet()  # the product's policy, as every command applies it


def everything_at_debug() -> None:
    logging.getLogger().setLevel(logging.DEBUG)


def remember_secret(secret: str) -> None:
    """A secret this process knows (the object store's secret key) that no line may hold."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "controller")
    with open(log_dir() / f"{name}{KNOWN_SECRETS_SUFFIX}", "a", encoding="utf-8") as out:
        out.write(secret + "\n")


def keep_log_records(text: str, name: str) -> None:
    """Adds the log records of a child process's output (not what it prints for people,
    such as the demo key `serve` shows) to the run's logs."""
    records = [line for line in text.splitlines() if LOG_RECORD.match(line)]
    (log_dir() / f"{name}.log").write_text("\n".join(records) + "\n", encoding="utf-8")


def findings_in(lines: Iterable[str], known: Iterable[str]) -> list[str]:
    known = [k for k in known if k]
    found = []
    for number, line in enumerate(lines, 1):
        for what, finder in FINDERS.items():
            if finder.search(line):
                found.append(f"line {number}: {what}: {line[:300]}")
        if any(secret in line for secret in known):
            found.append(f"line {number}: a known secret: {line[:120]}...")
    return found


@dataclass
class ScanReport:
    files: int = 0
    lines: int = 0
    findings: list[str] = field(default_factory=list)


def scan(directory: Path) -> ScanReport:
    known: list[str] = []
    for path in directory.glob(f"*{KNOWN_SECRETS_SUFFIX}"):
        known += path.read_text(encoding="utf-8").split()
    report = ScanReport()
    for path in sorted(directory.glob("*.log")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        report.files += 1
        report.lines += len(lines)
        report.findings += [f"{path.name} {f}" for f in findings_in(lines, known)]
    return report
