"""Turns parsed list queries into SQL: filters, sorting and paging run in the database.

The order is total: the sort asked for, then the id in the direction of the sort's first
field (a newest-first list of files registered in the same second stays newest-first, and
a row never shows on two pages). `~` (contains) ignores case on every database; a
repository may name a folded column for a field (`folded`), which `~` searches with the
value folded the same way (patients' names: accents and case ignored).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from clinifile.domain.queries import Filter, ListQuery, Sort


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def condition(column: Any, f: Filter) -> ColumnElement[bool]:
    op, values = f.op, f.values
    if op == "?":
        return column.is_not(None)
    if op == "!?":
        return column.is_(None)
    if op == "*":
        return and_(True)
    value = values[0]
    if op == "=":
        return column.in_(values) if len(values) > 1 else column == value
    if op == "!=":
        return or_(column != value, column.is_(None))
    if op == ">=":
        return column >= value
    if op == ">":
        return column > value
    if op == "<=":
        return column <= value
    if op == "<":
        return column < value
    if op == "~":
        # ILIKE on PostgreSQL, lower() LIKE lower() elsewhere: the same answer on both
        return column.ilike(f"%{_escape_like(value)}%", escape="\\")
    if op == "~~":
        return column.like(value)
    raise AssertionError(f"unhandled operator {op}")


@dataclass(frozen=True)
class Folded:
    """Columns that hold a field folded for searching, and the function that folds a value
    the same way (what `~` on those fields compares)."""

    columns: Mapping[str, Any]
    fold: Callable[[str], str]


def _condition(columns: dict[str, Any], f: Filter, folded: Folded | None) -> ColumnElement[bool]:
    if f.op == "~" and folded is not None and f.field in folded.columns:
        value = folded.fold(f.values[0])
        return folded.columns[f.field].like(f"%{_escape_like(value)}%", escape="\\")
    return condition(columns[f.field], f)


def _default_sort(columns: dict[str, Any]) -> list[Sort]:
    """Cliniko's order when none is asked for: oldest first (created_at), then the id."""
    return [Sort("created_at", descending=False)] if "created_at" in columns else []


def _filtered(
    query: Select[Any],
    columns: dict[str, Any],
    list_query: ListQuery,
    id_column: Any,
    folded: Folded | None,
) -> tuple[Select[Any], Select[Any]]:
    """The filtered query, ordered (the id breaks ties in the first sort's direction), and
    its count query."""
    for f in list_query.filters:
        query = query.where(_condition(columns, f, folded))
    # count straight from the table (an index-only scan where an index covers the filters)
    count = select(func.count()).select_from(query.get_final_froms()[0])
    if query.whereclause is not None:
        count = count.where(query.whereclause)
    sorts = list_query.sorts or _default_sort(columns)
    order = [columns[s.field].desc() if s.descending else columns[s.field].asc() for s in sorts]
    if not any(s.field == "id" for s in sorts):
        descending = bool(sorts) and sorts[0].descending
        order.append(id_column.desc() if descending else id_column.asc())
    return query.order_by(*order), count


def page(
    session: Session,
    query: Select[Any],
    columns: dict[str, Any],
    id_column: Any,
    list_query: ListQuery,
    folded: Folded | None = None,
    total: int | None = None,
) -> tuple[list[Any], int]:
    """One page of query's rows under list_query's filters, sort and position, and how
    many rows match in all (total when the caller knows it: maintained counts, else a
    COUNT)."""
    query, count = _filtered(query, columns, list_query, id_column, folded)
    if total is None:
        total = session.scalar(count) or 0
    rows = session.scalars(query.offset(list_query.offset).limit(list_query.per_page)).all()
    return list(rows), int(total)


def page_rows(
    session: Session,
    query: Any,
    columns: dict[str, Any],
    id_column: Any,
    list_query: ListQuery,
) -> tuple[list[Any], int]:
    """Like page, for a query of several entities: each row whole, not its first entity."""
    query, count = _filtered(query, columns, list_query, id_column, None)
    total = session.scalar(count) or 0
    rows = session.execute(query.offset(list_query.offset).limit(list_query.per_page)).all()
    return list(rows), int(total)
