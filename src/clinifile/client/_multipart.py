"""The multipart upload's details, shared by both clients (issue 17): when a file goes in
parts, where what resumes it is kept, which parts the store already holds, and what the
store's answer to a part means.

A file larger than the threshold (64 MiB by default) goes as a multipart upload: the server
opens it and chooses the part size, the parts are PUT straight to the store, several at
once, each retried alone, and the server joins them. What resumes it (the upload's id and
shape; after completion, its upload_url) is kept in the user's cache directory under a name
made of the server, the patient, the file's absolute path, size and modification time, so a
changed file never resumes an upload of its old bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeGuard

import httpx
from platformdirs import user_cache_dir

from clinifile.client.errors import ClinifileError, ServerError

MiB = 1024 * 1024
MULTIPART_THRESHOLD = 64 * MiB
PARALLEL_PARTS = 4
SIGN_BATCH = 20  # part URLs asked for at once (the server signs up to 100)
PIECE = 256 * 1024  # a part's body is sent, and its progress reported, in pieces this size


def state_dir() -> Path:
    """Where resumable uploads are remembered: CLINIFILE_CLIENT_CACHE_DIR, else the user's
    cache directory (~/.cache/clinifile/uploads on Linux)."""
    override = os.environ.get("CLINIFILE_CLIENT_CACHE_DIR")
    return Path(override or user_cache_dir("clinifile")) / "uploads"


def state_path(base: str, patient_id: int | str, path: str | os.PathLike[str]) -> Path:
    """The state file of this file (as it is now) for this patient on this server."""
    absolute = Path(path).resolve()
    stat = absolute.stat()
    identity = json.dumps([base, str(patient_id), str(absolute), stat.st_size, stat.st_mtime_ns])
    return state_dir() / (hashlib.sha256(identity.encode()).hexdigest()[:40] + ".json")


def load(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and "id" in state else None


def save(path: Path | None, state: Mapping[str, Any]) -> None:
    """Written whole or not at all (a killed process leaves the previous state)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(dict(state)), encoding="utf-8")
    partial.replace(path)


def forget(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def part_range(upload: Mapping[str, Any], number: int) -> tuple[int, int]:
    """(offset in the file, length) of a part."""
    offset = (number - 1) * int(upload["part_size"])
    return offset, min(int(upload["part_size"]), int(upload["size"]) - offset)


def held_parts(upload: Mapping[str, Any], status: Mapping[str, Any]) -> dict[int, str]:
    """The parts the store holds whole (the right size), by number: their ETags."""
    return {
        int(p["number"]): str(p["etag"])
        for p in status.get("uploaded", [])
        if 1 <= int(p["number"]) <= int(upload["parts"])
        and int(p["size"]) == part_range(upload, int(p["number"]))[1]
    }


def to_sign(upload: Mapping[str, Any], number: int, signed: Mapping[int, str]) -> list[int]:
    """Part number and the next few not yet signed: one request signs them all."""
    last = min(int(upload["parts"]), number + SIGN_BATCH - 1)
    return [n for n in range(number, last + 1) if n == number or n not in signed]


def pieces(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), PIECE):
        yield bytes(view[start : start + PIECE])


def part_etag(response: httpx.Response, number: int) -> str:
    """The ETag of a part the store took; raises what its refusal means: ServerError (sent
    again: 5xx, or a part URL that expired, which is signed again) or ClinifileError."""
    if response.status_code == 200 and response.headers.get("etag"):
        return response.headers["etag"].strip('"')
    text = response.text[:300]
    if response.status_code >= 500 or (response.status_code == 403 and "expired" in text.lower()):
        raise ServerError(
            f"the object store did not take part {number} ({response.status_code})",
            status=response.status_code,
        )
    raise ClinifileError(
        f"the object store refused part {number} ({response.status_code}): {text}",
        status=response.status_code,
    )


def ended(error: ClinifileError) -> bool:
    """The remembered upload cannot go on (unknown to this key, completed, aborted,
    expired): a new one is opened."""
    return error.status in (404, 409)


def is_path(file: object) -> TypeGuard[str | os.PathLike[str]]:
    """A file given by its path (which can be resumed), not an open file."""
    return isinstance(file, str | os.PathLike)
