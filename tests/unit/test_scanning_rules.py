"""The rules of scanning that need no clamd: addresses, replies, the decision to scan, the
private clamd's configuration, the pace of a rescan, the type policy and the job's rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from clinifile.config import EXECUTABLE_TYPES, GiB, MiB, Settings
from clinifile.errors import ScanError, ScanLimitExceeded, ScannerUnavailable
from clinifile.scanning.clamd import Clamd, parse_address
from clinifile.scanning.runner import (
    SYSTEM_DATABASE_DIR,
    ClamdNotFound,
    clamd_config,
    database_dir,
    plan,
)
from clinifile.services.sniffing import detect_content_type
from clinifile.storage.base import ObjectInfo
from clinifile.worker.judging import BlockedType, Infected, judge
from clinifile.worker.processing import RULES
from clinifile.worker.promotion import Scan, Source
from clinifile.worker.rescan import Pace
from clinifile.worker.rules import QuarantineOn, RetryOn


@pytest.mark.parametrize(
    ("address", "target"),
    [
        ("unix:/run/clamav/clamd.ctl", ("unix", "/run/clamav/clamd.ctl")),
        ("tcp:clamd.internal:3310", ("tcp", ("clamd.internal", 3310))),
        ("tcp:127.0.0.1:1", ("tcp", ("127.0.0.1", 1))),
        ("tcp:[::1]:3310", ("tcp", ("::1", 3310))),
    ],
)
def test_parse_address_reads_both_forms(address: str, target: object) -> None:
    assert parse_address(address) == target


@pytest.mark.parametrize(
    "address",
    [
        "",
        "/var/run/clamd.sock",
        "unix:",
        "unix:relative/clamd.sock",
        "unix:/a\0b",
        "tcp:",
        "tcp:clamd",
        "tcp::3310",
        "tcp:clamd:0",
        "tcp:clamd:65536",
        "tcp:clamd:-1",
        "tcp:clamd:\uff13\uff13\uff11\uff10",  # fullwidth 3310: digits to str.isdigit
        "udp:clamd:3310",
        "http://clamd:3310",
    ],
)
def test_a_malformed_address_is_refused_naming_both_forms(address: str) -> None:
    with pytest.raises(ValueError, match=r"unix:/path/to/clamd\.sock nor tcp:host:port"):
        Clamd(address)


def test_replies_become_verdicts_or_the_errors_the_job_retries() -> None:
    clamd = Clamd("unix:/nowhere")
    assert clamd.verdict_of("stream: OK").signature is None
    assert clamd.verdict_of("stream: Win.Test.EICAR_HDB-1 FOUND").signature == (
        "Win.Test.EICAR_HDB-1"
    )
    with pytest.raises(ScanLimitExceeded, match="MaxFileSize"):
        clamd.verdict_of("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND")
    with pytest.raises(ScanLimitExceeded, match="StreamMaxLength"):
        clamd.verdict_of("INSTREAM size limit exceeded. ERROR")
    with pytest.raises(ScannerUnavailable, match="hung up"):
        clamd.verdict_of("")
    with pytest.raises(ScanError, match="allocate") as failed:
        clamd.verdict_of("stream: Can't allocate memory ERROR")
    assert not isinstance(failed.value, ScannerUnavailable)


def test_each_scan_outcome_has_its_rule() -> None:
    source = Source(ObjectInfo("k", 1, "e"), "application/pdf", "0" * 64, False)
    assert isinstance(RULES.rule_for(Infected(source, "Eicar")), QuarantineOn)
    assert isinstance(RULES.rule_for(BlockedType(source, "application/x-msdownload")), QuarantineOn)
    for error in (ScannerUnavailable("down"), ScanLimitExceeded("big"), ScanError("odd")):
        rule = RULES.rule_for(error)
        assert isinstance(rule, RetryOn) and rule.attempts == "scan_max_attempts"
        assert "not checked for malware" in rule.advice


def _source(content_type: str, signature: str | None) -> Source:
    scan = Scan(signature, "ClamAV 1.4.6/1", datetime.now(UTC))
    return Source(ObjectInfo("k", 1, "e"), content_type, "0" * 64, False, scan)


def test_judge_names_what_the_scanner_found_before_the_type() -> None:
    judge(_source("application/pdf", None), list(EXECUTABLE_TYPES))
    with pytest.raises(Infected, match=r"found Clam\.Exe in this file") as infected:
        judge(_source("application/x-msdownload", "Clam.Exe"), list(EXECUTABLE_TYPES))
    assert "administrator releases or deletes it" in infected.value.reason
    with pytest.raises(BlockedType, match=r"a Windows program \(application/x-msdownload\)"):
        judge(_source("application/x-msdownload", None), list(EXECUTABLE_TYPES))
    with pytest.raises(BlockedType, match=r"of a blocked type \(text/html\)"):
        judge(_source("text/html", None), ["text/html"])
    judge(_source("application/x-msdownload", None), [])  # an operator allowed programs


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"MZ" + b"\x90" * 100, "application/x-msdownload"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 60, "application/x-executable"),
        (bytes.fromhex("cffaedfe07000001") + b"\x00" * 60, "application/x-mach-binary"),
        (bytes.fromhex("feedface00000007") + b"\x00" * 60, "application/x-mach-binary"),
        (bytes.fromhex("cafebabe00000002") + b"\x00" * 60, "application/x-mach-binary"),
        # a Java class file starts with CAFEBABE too, then its version (52: Java 8)
        (bytes.fromhex("cafebabe00000034") + b"\x00" * 60, "application/octet-stream"),
    ],
)
def test_programs_are_recognised_whatever_their_name(head: bytes, expected: str) -> None:
    assert detect_content_type(head, "letter.pdf") == expected
    if expected != "application/octet-stream":
        assert expected in Settings().blocked_content_types


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", **values)  # type: ignore[arg-type]


def test_the_decision_to_scan(tmp_path: Path) -> None:
    fake_clamd = tmp_path / "clamd"
    fake_clamd.write_text("")
    signatures = tmp_path / "data" / "clamav"
    assert plan(_settings(tmp_path, scan="off", clamd_address="tcp:c:1")).scanning is False
    assert plan(_settings(tmp_path, clamd_address="tcp:c:1")).address == "tcp:c:1"
    nothing = plan(_settings(tmp_path, clamd_binary=str(tmp_path / "none")))
    assert not nothing.scanning and "CLINIFILE_SCAN=off" in (nothing.warning or "")
    with pytest.raises(ClamdNotFound, match="no clamd binary"):
        plan(_settings(tmp_path, scan="clamd", clamd_binary=str(tmp_path / "none")))
    no_signatures = tmp_path / "empty"
    no_signatures.mkdir()
    with pytest.raises(ClamdNotFound, match=f"no signatures in {no_signatures}"):
        plan(
            _settings(
                tmp_path,
                scan="clamd",
                clamd_binary=str(fake_clamd),
                clamav_database_dir=no_signatures,
            )
        )
    signatures.mkdir(parents=True)
    (signatures / "daily.cvd").write_bytes(b"")
    found = plan(_settings(tmp_path, clamd_binary=str(fake_clamd)))
    assert found.run_own and found.warning is None


def test_serves_clamd_reads_the_data_directorys_signatures_before_the_systems(
    tmp_path: Path,
) -> None:
    assert database_dir(_settings(tmp_path)) == SYSTEM_DATABASE_DIR
    own = tmp_path / "data" / "clamav"
    own.mkdir(parents=True)
    (own / "notes.txt").write_text("not a signature file")
    assert database_dir(_settings(tmp_path)) == SYSTEM_DATABASE_DIR
    (own / "main.cvd").write_bytes(b"")
    assert database_dir(_settings(tmp_path)) == own
    chosen = tmp_path / "mirror"
    assert database_dir(_settings(tmp_path, clamav_database_dir=chosen)) == chosen


def test_the_private_clamd_listens_on_its_socket_only_and_reports_what_it_cannot_scan(
    tmp_path: Path,
) -> None:
    config = clamd_config(tmp_path, tmp_path / "db", 5 * GiB)
    lines = set(config.splitlines())
    assert f"LocalSocket {tmp_path / 'clamd.sock'}" in lines
    assert "LocalSocketMode 600" in lines and "AlertExceedsMax yes" in lines
    assert not any(line.startswith(("TCPSocket", "TCPAddr")) for line in lines)
    # clamd examines at most 2 GiB of a file, whatever it is told
    assert {"StreamMaxLength 2047M", "MaxFileSize 2047M", "MaxScanSize 2047M"} <= lines
    assert "StreamMaxLength 2M" in clamd_config(tmp_path, tmp_path, 2 * MiB - 1).splitlines()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_rescan_keeps_to_both_of_its_bounds() -> None:
    clock = FakeClock()
    pace = Pace(2.0, 10 * MiB, clock=clock, sleep=clock.sleep)
    for size in [MiB] * 4 + [40 * MiB] + [MiB] * 2:
        pace.wait()
        pace.spent(size)
    # before the seventh file: six files (3 s at 2 a second) and 45 MiB (4.5 s at 10 MiB/s)
    # were read, so the large file made the byte bound the tighter one
    assert clock.now == pytest.approx(4.5)
    unbounded = Pace(None, None, clock=clock, sleep=clock.sleep)
    unbounded.spent(GiB)
    before = len(clock.slept)
    unbounded.wait()
    assert len(clock.slept) == before


def test_a_worker_uses_serves_clamd_or_stops_with_the_reason(tmp_path: Path) -> None:
    from contextlib import ExitStack

    import typer

    from clinifile.cli.scanning import settle_scanning

    fake_clamd = tmp_path / "clamd"
    fake_clamd.write_text("")
    signatures = tmp_path / "data" / "clamav"
    signatures.mkdir(parents=True)
    (signatures / "daily.cvd").write_bytes(b"")
    settings = _settings(tmp_path, clamd_binary=str(fake_clamd))
    with pytest.raises(typer.Exit) as stopped:
        settle_scanning(settings, ExitStack(), run_own=False)
    assert stopped.value.exit_code == 2
    sock = tmp_path / "data" / "clamd" / "clamd.sock"
    sock.parent.mkdir()
    sock.touch()  # what a running serve leaves there
    settled = settle_scanning(settings, ExitStack(), run_own=False)
    assert (settled.scan, settled.clamd_address) == ("clamd", f"unix:{sock.resolve()}")
    off = settle_scanning(_settings(tmp_path, scan="off"), ExitStack(), run_own=False)
    assert (off.scan, off.clamd_address) == ("off", None)
