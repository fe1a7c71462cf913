"""`python -m clinifile.previews.child`: makes one file's previews, alone in its process.

It bounds itself before it reads a byte of the file: address space (RLIMIT_AS), CPU seconds
(RLIMIT_CPU) and the size of any file it writes (RLIMIT_FSIZE); the parent adds a wall-clock
timeout. It reads a JSON request on stdin ({path, kind, out, memory_mb, cpu_seconds,
max_pixels, max_pdf_pages}), writes small.webp and large.webp into out, and prints one JSON
line: {"ok": true, "width", "height"} or {"ok": false, "reason"}.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


def _bound(memory_mb: int, cpu_seconds: int) -> None:
    memory = memory_mb * MiB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * MiB, 64 * MiB))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _peak_mib() -> float | None:
    """This process's peak resident memory since its exec (VmHWM; Linux), for the figures."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def run(request: dict[str, Any]) -> dict[str, Any]:
    from clinifile.previews.render import SIZES, Limits, NoPreview, render, sized, webp

    limits = Limits(
        max_pixels=int(request["max_pixels"]), max_pdf_pages=int(request["max_pdf_pages"])
    )
    out = Path(request["out"])
    try:
        image = render(str(request["path"]), str(request["kind"]), limits)
        for size in SIZES:
            (out / f"{size}.webp").write_bytes(webp(sized(image, size)))
    except NoPreview as error:
        return {"ok": False, "reason": str(error)[:500]}
    except MemoryError:
        return {"ok": False, "reason": f"needed more than {request['memory_mb']} MiB of memory"}
    return {"ok": True, "width": image.width, "height": image.height}


def main() -> None:
    request = json.loads(sys.stdin.read())
    _bound(int(request["memory_mb"]), int(request["cpu_seconds"]))
    try:
        answer = run(request)
    except Exception as error:  # any other failure of a decoder: a reason, not a crash
        answer = {"ok": False, "reason": f"{type(error).__name__}: {error}"[:500]}
    answer["peak_mib"] = _peak_mib()
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: the answer is out


if __name__ == "__main__":
    main()
