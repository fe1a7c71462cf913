"""Request bodies and query parameters."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StringConstraints

from clinifile.api.errors import BadRequest
from clinifile.api.query_language import (
    ATTACHMENT_FIELDS,
    AUDIT_EVENT_FIELDS,
    ONE_PATIENTS_ATTACHMENT_FIELDS,
    ONE_PATIENTS_CASE_FIELDS,
    PATIENT_CASE_FIELDS,
    PATIENT_FIELDS,
    WEBHOOK_DELIVERY_FIELDS,
    WEBHOOK_ENDPOINT_FIELDS,
    BadQuery,
    FieldType,
    parse_filters,
    parse_sort,
)
from clinifile.domain.queries import ListQuery


def _to_id(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("is invalid")
    if isinstance(value, int) and 1 <= value < 2**63:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        return _to_id(int(value))
    raise ValueError("is invalid")


RecordId = Annotated[int, BeforeValidator(_to_id)]


class AttachmentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    patient_id: RecordId
    upload_url: Annotated[str, StringConstraints(min_length=1, max_length=8192)]
    description: Annotated[str, StringConstraints(max_length=255)] | None = None


class AttachmentUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    description: Annotated[str, StringConstraints(max_length=255)] | None = None


class PatientCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    first_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)
    ]
    last_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)
    ]
    email: Annotated[str, StringConstraints(max_length=255)] | None = None
    date_of_birth: date | None = None


WebhookUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
EventTypes = Annotated[
    list[Annotated[str, StringConstraints(max_length=64)]], Field(min_length=1, max_length=20)
]


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: WebhookUrl
    events: EventTypes
    description: Annotated[str, StringConstraints(max_length=255)] | None = None


class WebhookEndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: WebhookUrl | None = None
    events: EventTypes | None = None
    enabled: StrictBool | None = None
    description: Annotated[str, StringConstraints(max_length=255)] | None = None


CaseName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
CaseNotes = Annotated[str, StringConstraints(max_length=10_000)]
AttachmentIds = Annotated[list[RecordId], Field(max_length=1000)]


class PatientCaseCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: CaseName
    issue_date: date | None = None
    notes: CaseNotes | None = None
    patient_attachment_ids: AttachmentIds = []


class PatientCaseUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: CaseName | None = None
    issue_date: date | None = None
    notes: CaseNotes | None = None
    patient_attachment_ids: AttachmentIds | None = None


def _page_number(page: str) -> int:
    if not (page.isascii() and page.isdigit() and len(page) <= 9 and int(page) >= 1):
        raise BadRequest(f"page must be a whole number from 1, not {page[:20]!r}")
    return int(page)


def _per_page(per_page: str) -> int:
    if not (per_page.isascii() and per_page.isdigit() and len(per_page) <= 3):
        raise BadRequest(f"per_page must be a whole number from 1 to 100, not {per_page[:20]!r}")
    if not 1 <= int(per_page) <= 100:
        raise BadRequest(f"per_page must be a whole number from 1 to 100, not {per_page!r}")
    return int(per_page)


def _list_query(fields: dict[str, FieldType]) -> Any:
    def dependency(
        request: Request,
        page: Annotated[
            str,
            Query(
                description="Page number, from 1.",
                json_schema_extra={"type": "integer", "minimum": 1, "default": 1},
            ),
        ] = "1",
        per_page: Annotated[
            str,
            Query(
                description="Records a page, 1 to 100.",
                json_schema_extra={"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
            ),
        ] = "50",
        sort: Annotated[
            str | None, Query(description="field or field:desc, comma-separated.")
        ] = None,
        q: Annotated[
            list[str] | None,
            Query(alias="q[]", description="Filters, field:OPvalue; repeat to AND them."),
        ] = None,
    ) -> ListQuery:
        texts = request.query_params.getlist("q[]") + request.query_params.getlist("q")
        try:
            return ListQuery(
                filters=parse_filters(texts, fields),
                sorts=parse_sort(sort, fields),
                page=_page_number(page),
                per_page=_per_page(per_page),
            )
        except BadQuery as error:
            raise BadRequest(str(error)) from None

    return dependency


AttachmentListQuery = Annotated[ListQuery, Depends(_list_query(ATTACHMENT_FIELDS))]
OnePatientsAttachmentListQuery = Annotated[
    ListQuery, Depends(_list_query(ONE_PATIENTS_ATTACHMENT_FIELDS))
]
PatientListQuery = Annotated[ListQuery, Depends(_list_query(PATIENT_FIELDS))]
AuditEventListQuery = Annotated[ListQuery, Depends(_list_query(AUDIT_EVENT_FIELDS))]
WebhookEndpointListQuery = Annotated[ListQuery, Depends(_list_query(WEBHOOK_ENDPOINT_FIELDS))]
WebhookDeliveryListQuery = Annotated[ListQuery, Depends(_list_query(WEBHOOK_DELIVERY_FIELDS))]
PatientCaseListQuery = Annotated[ListQuery, Depends(_list_query(PATIENT_CASE_FIELDS))]
OnePatientsCaseListQuery = Annotated[ListQuery, Depends(_list_query(ONE_PATIENTS_CASE_FIELDS))]
