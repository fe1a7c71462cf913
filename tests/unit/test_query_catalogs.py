"""The API's query language and the repositories agree on what can be filtered and sorted,
and the client writes the operators the server reads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from clinifile.api import query_language
from clinifile.api.query_language import FieldType
from clinifile.client import _rules as client_rules
from clinifile.db import attachments as attachments_db
from clinifile.db import audit as audit_db
from clinifile.db import patient_cases as patient_cases_db
from clinifile.db import patients as patients_db
from clinifile.db import webhook_deliveries as webhook_deliveries_db
from clinifile.db import webhooks as webhooks_db

PYTHON_TYPES = {
    FieldType.ID: int,
    FieldType.NUMBER: int,
    FieldType.STRING: str,
    FieldType.TIME: datetime,
    FieldType.DATE: date,
    FieldType.BOOLEAN: bool,
}


def _python_type(column: Any) -> type:
    column_type = column.type
    # a TypeDecorator (UTC times) says what it stores through its implementation
    impl = getattr(column_type, "impl_instance", column_type)
    return impl.python_type  # type: ignore[no-any-return]


CATALOGS = [
    ("attachments", query_language.ATTACHMENT_FIELDS, attachments_db.COLUMNS),
    ("patients", query_language.PATIENT_FIELDS, patients_db.COLUMNS),
    ("audit events", query_language.AUDIT_EVENT_FIELDS, audit_db.COLUMNS),
    ("patient cases", query_language.PATIENT_CASE_FIELDS, patient_cases_db.COLUMNS),
    ("webhook endpoints", query_language.WEBHOOK_ENDPOINT_FIELDS, webhooks_db.ENDPOINT_COLUMNS),
    (
        "webhook deliveries",
        query_language.WEBHOOK_DELIVERY_FIELDS,
        webhook_deliveries_db.COLUMNS,
    ),
]


@pytest.mark.parametrize(("resource", "fields", "columns"), CATALOGS, ids=[c[0] for c in CATALOGS])
def test_filter_catalog_equals_the_repository_columns(
    resource: str, fields: dict[str, Any], columns: dict[str, Any]
) -> None:
    assert set(fields) == set(columns), f"{resource}: the API and the repository disagree"
    for name, kind in fields.items():
        assert _python_type(columns[name]) is PYTHON_TYPES[kind], f"{resource}.{name} is {kind}"


def test_one_patients_attachments_filter_a_subset_of_the_columns() -> None:
    one_patient = set(query_language.ONE_PATIENTS_ATTACHMENT_FIELDS)
    assert one_patient == set(attachments_db.COLUMNS) - {"patient_id"}


def test_client_operators_equal_the_servers() -> None:
    assert tuple(client_rules.OPERATORS) == tuple(query_language.OPERATORS)
