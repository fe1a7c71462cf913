"""What the tests read back from a store; the product itself only pages (iter_keys)."""

from __future__ import annotations

from clinifile.storage.base import ObjectInfo, ObjectStore


def list_keys(store: ObjectStore, prefix: str) -> list[ObjectInfo]:
    """Every object whose key starts with prefix, across all pages."""
    return [info for page in store.iter_keys(prefix) for info in page]
