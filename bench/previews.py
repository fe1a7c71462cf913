"""Previews: time per kind (p50, p95) and peak memory on large files.

    python -m bench.previews [--rounds N] [--json out.json]

Each preview is made as the worker makes it: previews.sandbox.make, a child process bounded
by RLIMIT_AS (1024 MiB by default), RLIMIT_CPU and a 30 s timeout. Times are wall-clock per
file, the child's start-up included. Memory, for a 100-megapixel JPEG, a 500-page PDF and a
512 x 512 x 200 DICOM study: the worker side's peak RSS (VmHWM of a process that streams the
file to disk in 1 MiB chunks and runs the child, as worker.previewing does) and the child's
peak RSS (its VmHWM since exec, which it reports), each case in a fresh process that did
not make the file.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from tests import preview_samples as ps

from clinifile.config import Settings
from clinifile.previews.sandbox import Bounds, make

MiB = 1024 * 1024


def _bounds() -> Bounds:
    s = Settings()
    return Bounds(
        s.preview_seconds, s.preview_memory_mb, s.preview_max_pixels, s.preview_max_pdf_pages
    )


def photo(width: int, height: int) -> bytes:
    """A smooth image with detail (gradients and noise), as JPEG at quality 90."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40)
    image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.ROTATE_180)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def png_scan() -> bytes:
    out = io.BytesIO()
    ps.halves(2480, 3508).save(out, "PNG")  # an A4 page at 300 dpi
    return out.getvalue()


def dicom_study(frames: int) -> bytes:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 4096, size=(frames, 512, 512), dtype=np.uint16)
    return ps._dicom(pixels, WindowCenter=2048, WindowWidth=4096)


KINDS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "jpeg 4000x3000": ("image", lambda: photo(4000, 3000)),
    "png A4 300 dpi": ("image", png_scan),
    "pdf 1 page": ("pdf", ps.pdf_with_red_square),
    "dicom 512x512": ("dicom", lambda: dicom_study(1)),
}
LARGE: dict[str, tuple[str, Callable[[], bytes]]] = {
    "jpeg 100 MP": ("image", lambda: photo(10000, 10000)),
    "pdf 500 pages": ("pdf", lambda: ps.many_page_pdf(500)),
    "dicom 512x512x200": ("dicom", lambda: dicom_study(200)),
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def times(rounds: int) -> dict[str, dict[str, float]]:
    results = {}
    for name, (kind, build) in KINDS.items():
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "source"
            source.write_bytes(build())
            taken = []
            for _ in range(rounds):
                started = time.perf_counter()
                outcome = make(source, kind, Path(folder), _bounds())
                taken.append(time.perf_counter() - started)
                assert outcome.ok, outcome.reason
            results[name] = {
                "p50_s": round(statistics.median(taken), 3),
                "p95_s": round(_percentile(taken, 0.95), 3),
                "bytes": source.stat().st_size,
            }
    return results


def _hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one(name: str, stored: Path) -> dict[str, object]:
    """In a fresh process: stream the stored file to disk as the worker does, preview it."""
    kind, _ = LARGE[name]
    with tempfile.TemporaryDirectory() as folder:
        size = stored.stat().st_size
        before = _hwm_mib()
        source = Path(folder) / "source"
        with stored.open("rb") as src, source.open("wb") as out:
            while chunk := src.read(MiB):
                out.write(chunk)
        started = time.perf_counter()
        outcome = make(source, kind, Path(folder), _bounds())
        seconds = time.perf_counter() - started
    return {
        "bytes": size,
        "ok": outcome.ok,
        "reason": outcome.reason,
        "seconds": round(seconds, 2),
        "worker_peak_before_mib": round(before, 1),
        "worker_peak_mib": round(_hwm_mib(), 1),
        "child_peak_mib": outcome.peak_mib,
        "bound_mib": _bounds().memory_mb,
    }


def memory() -> dict[str, object]:
    results = {}
    for name, (_, build) in LARGE.items():
        with tempfile.TemporaryDirectory() as folder:
            stored = Path(folder) / "stored"
            stored.write_bytes(build())  # made here: the measured process only reads it
            run = subprocess.run(
                [sys.executable, "-m", "bench.previews", "--one", name, str(stored)],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
        results[name] = json.loads(run.stdout.strip().splitlines()[-1])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], Path(args.one[1]))))
        return
    report = {"times": times(args.rounds), "memory": memory()}
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
