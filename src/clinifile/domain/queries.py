"""What a list asks for, neutral of where it came from: filters, a sort order, a page.

The API parses its query language (`clinifile.api.query_language`) into these; the
repositories turn them into SQL (`clinifile.db.listing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool


@dataclass(frozen=True)
class ListQuery:
    """One page of a list: its filters, sort order and position."""

    filters: list[Filter]
    sorts: list[Sort]
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def names_archived(filters: list[Filter]) -> bool:
    """Archived records are left out unless a filter names archived_at."""
    return any(f.field == "archived_at" for f in filters)
