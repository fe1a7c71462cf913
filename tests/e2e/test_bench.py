"""`python -m bench --quick` runs every benchmark end to end and writes its report. It
proves the benchmarks work; it asserts nothing about speed (the figures are in
docs/PERFORMANCE.md, from the full run)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.services import missing_service

ROOT = Path(__file__).resolve().parents[2]


def test_the_quick_benchmark_run_writes_its_report(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        missing_service("wrk is not installed (apt-get install wrk)")
    report = tmp_path / "performance.md"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    text = report.read_text()
    headings = ("## The machine", "## Presign", "## Processing", "## Memory", "## Scanning")
    for heading in (*headings, "## Webhooks"):
        assert heading in text
    figures = json.loads(report.with_suffix(".json").read_text())
    assert figures["presign"]["figures"]["clinifile"]["rps"]["median"] > 0
    assert figures["presign_processes"]["figures"]["clinifile"]["rps"]["median"] > 0
    for workers in ("1", "2", "4"):
        sqlite = figures["processing"]["databases"]["sqlite"][workers]
        assert sqlite["drain_per_s"]["median"] > 0
        assert sqlite["baseline_per_s"]["median"] > 0
    for chart in ("-drain.png", "-latency.png"):
        drawn = report.with_name(report.stem + chart)
        assert drawn.read_bytes().startswith(b"\x89PNG"), drawn
        assert f"]({drawn.name})" in text
    assert figures["api_memory"]["requests"] >= 4_000
    assert figures["webhooks"]["latency_p95_ms"]["median"] > 0
    if "skipped" in figures["scanning"]:
        missing_service(f"the scanning benchmark was skipped: {figures['scanning']['skipped']}")
    assert figures["scanning"]["on"]["drain_per_s"]["median"] > 0
