"""Storage arithmetic of an account: what it may still store, and what one upload may be."""

from __future__ import annotations


def remaining_bytes(limit_bytes: int | None, used_bytes: int) -> int | None:
    """Bytes the account may still store, or None when its plan has no limit. Never below
    zero (the count may pass the limit briefly when a settled upload was larger)."""
    if limit_bytes is None:
        return None
    return max(0, limit_bytes - used_bytes)


def upload_max_bytes(max_file_size_bytes: int, remaining: int | None) -> int:
    """The largest object one upload may be: the size limit, and no more than remains."""
    return max_file_size_bytes if remaining is None else min(max_file_size_bytes, remaining)
