"""Turns parsed list queries into SQL: filters, sorting and paging run in the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from clinifile.domain.queries import Filter, ListQuery


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
        return column.like(f"%{_escape_like(value)}%", escape="\\")
    if op == "~~":
        return column.like(value)
    raise AssertionError(f"unhandled operator {op}")


def _filtered(
    query: Select[Any], columns: dict[str, Any], list_query: ListQuery, id_column: Any
) -> tuple[Select[Any], Select[Any]]:
    """The filtered query, ordered (id breaks ties), and its count query."""
    for f in list_query.filters:
        query = query.where(condition(columns[f.field], f))
    # count straight from the table (an index-only scan where an index covers the filters)
    count = select(func.count()).select_from(query.get_final_froms()[0])
    if query.whereclause is not None:
        count = count.where(query.whereclause)
    sorts = list_query.sorts
    order = [columns[s.field].desc() if s.descending else columns[s.field].asc() for s in sorts]
    if not any(s.field == "id" for s in sorts):
        order.append(id_column.asc())
    return query.order_by(*order), count


def page(
    session: Session,
    query: Select[Any],
    columns: dict[str, Any],
    id_column: Any,
    list_query: ListQuery,
) -> tuple[list[Any], int]:
    """One page of query's rows under list_query's filters, sort and position, and how
    many rows match in all."""
    query, count = _filtered(query, columns, list_query, id_column)
    total = session.scalar(count) or 0
    rows = session.scalars(query.offset(list_query.offset).limit(list_query.per_page)).all()
    return list(rows), int(total)
