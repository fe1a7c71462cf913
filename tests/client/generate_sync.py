"""Writes src/clinifile/client/_sync.py (Client) from _async.py (AsyncClient) with unasync,
then sorts its imports and formats it with the project's ruff, so that the generated file
passes `ruff check` and reads like the rest of the code.

    .venv/bin/python -m tests.client.generate_sync

tests/client/test_one_source.py fails while the committed _sync.py differs from what this
writes.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "src" / "clinifile" / "client"
SOURCE = CLIENT / "_async.py"
TARGET = CLIENT / "_sync.py"
# every async source and the sync module written from it (the multipart upload's mixin too)
PAIRS = {SOURCE: TARGET, CLIENT / "_async_parts.py": CLIENT / "_sync_parts.py"}

# beyond unasync's own (async/await dropped, __aenter__ → __enter__, AsyncIterator →
# Iterator, AsyncName → SyncName)
REPLACEMENTS = {
    "AsyncClient": "Client",
    "AsyncBaseTransport": "BaseTransport",
    "aclose": "close",
    "aiter_bytes": "iter_bytes",
    "async_sleep": "sleep",
    "_async_parts": "_sync_parts",
}

HEADER = (
    "# Generated from _async.py by unasync (tests/client/generate_sync.py): do not edit.\n"
    "# Edit _async.py, then run: .venv/bin/python -m tests.client.generate_sync\n"
)


def _ruff(*args: str, source: str, target: Path = TARGET) -> str:
    """ruff over source text, as if it were the file target (its settings, its name)."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(target), "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ruff {' '.join(args)} failed on the generated client:\n{done.stderr}")
    return done.stdout


def sync_source(source_path: Path = SOURCE) -> str:
    """What _sync.py (or the target of another PAIRS source) should hold for the _async.py
    of this working tree."""
    target = PAIRS[source_path]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "_async", "client.py")
        source.parent.mkdir()
        source.write_text(source_path.read_text(encoding="utf-8"), encoding="utf-8")
        unasync.unasync_files([str(source)], [unasync.Rule("/_async/", "/_sync/", REPLACEMENTS)])
        text = Path(tmp, "_sync", "client.py").read_text(encoding="utf-8")
    # `for x in page: yield x` becomes `yield from page`, which is unsafe only for
    # generators that are sent values; these are not
    fixes = ("check", "--fix", "--unsafe-fixes", "--select", "I,UP028", "--quiet")
    text = _ruff(*fixes, source=text, target=target)
    return HEADER.replace("_async.py", source_path.name) + _ruff(
        "format", "--quiet", source=text, target=target
    )


def main() -> None:
    for source, target in PAIRS.items():
        target.write_text(sync_source(source), encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
