"""The API's list query language (API.md): `q[]=field:OPvalue` filters and `sort=field[:desc]`.

    numbers, ids   =  !=  >=  >  <=  <  ?  !?     (= takes a,b,c)
    strings        =  !=  ~ (contains)  ~~ (SQL LIKE pattern)  ?  !?
    times, dates   >=  >  <=  <  ?  !?  *         (dates also = and !=)
    booleans       =  !=

`?` means "has a value", `!?` "has none", `*` "any, archived included". Parsing is strict:
an unknown field, an operator the field's type does not take, or a value that does not
parse is a BadQuery naming it, never silently ignored.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from clinifile.domain.queries import Filter, Sort


class FieldType(StrEnum):
    ID = "id"
    NUMBER = "number"
    STRING = "string"
    TIME = "time"
    DATE = "date"
    BOOLEAN = "boolean"


# longest first, so that ">=" is not read as ">" followed by "=..."
OPERATORS = ("!=", ">=", "<=", "~~", "!?", "=", ">", "<", "~", "?", "*")
VALUELESS = {"?", "!?", "*"}

ALLOWED: dict[FieldType, set[str]] = {
    FieldType.ID: {"=", "!=", ">=", ">", "<=", "<", "?", "!?"},
    FieldType.NUMBER: {"=", "!=", ">=", ">", "<=", "<", "?", "!?"},
    FieldType.STRING: {"=", "!=", "~", "~~", "?", "!?"},
    FieldType.TIME: {">=", ">", "<=", "<", "?", "!?", "*"},
    FieldType.DATE: {"=", "!=", ">=", ">", "<=", "<", "?", "!?", "*"},
    FieldType.BOOLEAN: {"=", "!="},
}

MAX_ID = 2**63 - 1
MAX_FILTERS = 20
MAX_LIST_VALUES = 100


class BadQuery(ValueError):
    """A list query that cannot be run; the message names the part and the fix."""


def _parse_int(text: str, field: str, kind: FieldType) -> int:
    if not (text.isascii() and text.lstrip("-").isdigit() and len(text) <= 20):
        raise BadQuery(f"filter on {field}: {text[:40]!r} is not a whole number")
    value = int(text)
    if kind == FieldType.ID and not 0 <= value <= MAX_ID:
        raise BadQuery(f"filter on {field}: {text[:40]!r} is not an id")
    if abs(value) > MAX_ID:
        raise BadQuery(f"filter on {field}: {text[:40]!r} is out of range")
    return value


def _parse_time(text: str, field: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadQuery(
            f"filter on {field}: {text[:40]!r} is not an ISO 8601 time (e.g. 2026-11-25T09:34:22Z)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadQuery(f"filter on {field}: {text[:40]!r} is not a date (YYYY-MM-DD)") from None


def _parse_bool(text: str, field: str) -> bool:
    if text in ("true", "false"):
        return text == "true"
    raise BadQuery(f"filter on {field}: {text[:40]!r} is not true or false")


def _parse_value(text: str, field: str, kind: FieldType) -> Any:
    if kind in (FieldType.ID, FieldType.NUMBER):
        return _parse_int(text, field, kind)
    if kind == FieldType.TIME:
        return _parse_time(text, field)
    if kind == FieldType.DATE:
        return _parse_date(text, field)
    if kind == FieldType.BOOLEAN:
        return _parse_bool(text, field)
    return text


def parse_filter(text: str, fields: dict[str, FieldType]) -> Filter:
    field, colon, rest = text.partition(":")
    if not colon:
        raise BadQuery(f"filter {text[:60]!r} is not field:OPvalue (e.g. q[]=size:>1000)")
    if field not in fields:
        known = ", ".join(sorted(fields))
        raise BadQuery(f"cannot filter on {field[:40]!r}; filterable fields: {known}")
    kind = fields[field]
    op = next((o for o in OPERATORS if rest.startswith(o)), None)
    if op is None or op not in ALLOWED[kind]:
        allowed = " ".join(sorted(ALLOWED[kind]))
        shown = op or rest[:5]
        raise BadQuery(f"filter on {field} ({kind}): operator {shown!r} not one of: {allowed}")
    raw = rest[len(op) :]
    if op in VALUELESS:
        if raw:
            raise BadQuery(f"filter on {field}: operator {op!r} takes no value")
        return Filter(field, op, ())
    if kind in (FieldType.ID, FieldType.NUMBER) and op == "=":
        parts = raw.split(",")
        if len(parts) > MAX_LIST_VALUES:
            raise BadQuery(f"filter on {field}: at most {MAX_LIST_VALUES} values")
        return Filter(field, op, tuple(_parse_value(p, field, kind) for p in parts))
    if raw == "" and kind != FieldType.STRING:
        raise BadQuery(f"filter on {field}: operator {op!r} needs a value")
    return Filter(field, op, (_parse_value(raw, field, kind),))


def parse_filters(texts: list[str], fields: dict[str, FieldType]) -> list[Filter]:
    if len(texts) > MAX_FILTERS:
        raise BadQuery(f"at most {MAX_FILTERS} filters")
    return [parse_filter(t, fields) for t in texts]


def parse_sort(text: str | None, fields: dict[str, FieldType]) -> list[Sort]:
    if text is None or text == "":
        return []
    sorts: list[Sort] = []
    for part in text.split(",")[:MAX_FILTERS]:
        field, _, direction = part.strip().partition(":")
        if field not in fields:
            known = ", ".join(sorted(fields))
            raise BadQuery(f"cannot sort by {field[:40]!r}; sortable fields: {known}")
        if direction not in ("", "asc", "desc"):
            raise BadQuery(f"sort {part[:40]!r}: direction must be asc or desc")
        sorts.append(Sort(field, direction == "desc"))
    return sorts


ATTACHMENT_FIELDS: dict[str, FieldType] = {
    "id": FieldType.ID,
    "patient_id": FieldType.ID,
    "user_id": FieldType.ID,
    "content_type": FieldType.STRING,
    "description": FieldType.STRING,
    "filename": FieldType.STRING,
    "size": FieldType.NUMBER,
    "checksum_sha256": FieldType.STRING,
    "processing_completed": FieldType.BOOLEAN,
    "processing_state": FieldType.STRING,
    "created_at": FieldType.TIME,
    "updated_at": FieldType.TIME,
    "processed_at": FieldType.TIME,
    "archived_at": FieldType.TIME,
    "pinned_at": FieldType.TIME,
}

# the list of one patient's attachments: patient_id is in the path
ONE_PATIENTS_ATTACHMENT_FIELDS = {k: v for k, v in ATTACHMENT_FIELDS.items() if k != "patient_id"}

PATIENT_FIELDS: dict[str, FieldType] = {
    "id": FieldType.ID,
    "first_name": FieldType.STRING,
    "last_name": FieldType.STRING,
    "email": FieldType.STRING,
    "date_of_birth": FieldType.DATE,
    "created_at": FieldType.TIME,
    "updated_at": FieldType.TIME,
    "archived_at": FieldType.TIME,
}

AUDIT_EVENT_FIELDS: dict[str, FieldType] = {
    "id": FieldType.ID,
    "action": FieldType.STRING,
    "api_key_id": FieldType.ID,
    "user_id": FieldType.ID,
    "patient_id": FieldType.ID,
    "attachment_id": FieldType.ID,
    "ip_address": FieldType.STRING,
    "created_at": FieldType.TIME,
}

WEBHOOK_ENDPOINT_FIELDS: dict[str, FieldType] = {
    "id": FieldType.ID,
    "url": FieldType.STRING,
    "description": FieldType.STRING,
    "enabled": FieldType.BOOLEAN,
    "created_at": FieldType.TIME,
    "updated_at": FieldType.TIME,
}

WEBHOOK_DELIVERY_FIELDS: dict[str, FieldType] = {
    "id": FieldType.ID,
    "event_type": FieldType.STRING,
    "state": FieldType.STRING,
    "attempts": FieldType.NUMBER,
    "status_code": FieldType.NUMBER,
    "created_at": FieldType.TIME,
    "last_attempt_at": FieldType.TIME,
    "delivered_at": FieldType.TIME,
}

PATIENT_CASE_FIELDS: dict[str, FieldType] = {
    "id": FieldType.ID,
    "patient_id": FieldType.ID,
    "name": FieldType.STRING,
    "issue_date": FieldType.DATE,
    "created_at": FieldType.TIME,
    "updated_at": FieldType.TIME,
    "archived_at": FieldType.TIME,
}

# the list of one patient's cases: patient_id is in the path
ONE_PATIENTS_CASE_FIELDS = {k: v for k, v in PATIENT_CASE_FIELDS.items() if k != "patient_id"}
