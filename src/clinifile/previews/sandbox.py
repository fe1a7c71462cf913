"""Runs previews.child for one file under a wall-clock timeout; whatever the child does
(dies of a signal, runs out of memory, hangs, prints nonsense) comes back as a reason."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bounds:
    seconds: float
    memory_mb: int
    max_pixels: int
    max_pdf_pages: int


@dataclass(frozen=True)
class Outcome:
    """small and large are the WebP files' paths when ok; reason says why not."""

    ok: bool
    reason: str | None = None
    small: Path | None = None
    large: Path | None = None
    # the child's peak resident memory (VmHWM), when it answered (Linux)
    peak_mib: float | None = None


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLINIFILE_", "AWS_"))}
    # one thread each: no BLAS thread pools reserving address space
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def make(path: Path, kind: str, out: Path, bounds: Bounds) -> Outcome:
    request = {
        "path": str(path),
        "kind": kind,
        "out": str(out),
        "memory_mb": bounds.memory_mb,
        "cpu_seconds": max(1, int(bounds.seconds)),
        "max_pixels": bounds.max_pixels,
        "max_pdf_pages": bounds.max_pdf_pages,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "clinifile.previews.child"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=bounds.seconds,
            env=_child_env(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(False, f"took longer than {bounds.seconds:g} s")
    if done.returncode != 0:
        return Outcome(False, _death(done.returncode, bounds, done.stderr))
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Outcome(False, "the preview process gave no answer")
    peak = answer.get("peak_mib")
    if not answer.get("ok"):
        return Outcome(False, str(answer.get("reason") or "no reason given"), peak_mib=peak)
    return Outcome(True, small=out / "small.webp", large=out / "large.webp", peak_mib=peak)


def _death(code: int, bounds: Bounds, stderr: str) -> str:
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"took longer than {bounds.seconds:g} s of CPU"
    if "MemoryError" in stderr or code == -signal.SIGSEGV:
        return f"needed more than {bounds.memory_mb} MiB of memory"
    log.warning("preview process ended with %s: %s", code, stderr[-300:].strip())
    return f"the preview process failed (exit {code})"
