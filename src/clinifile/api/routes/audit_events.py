"""The audit trail, read-only: every download, create, update and archive of an attachment.
A clinifile addition; Cliniko has no such endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from clinifile.api import presenters
from clinifile.api.deps import PrincipalDep, RuntimeDep, parse_id
from clinifile.api.records import AuditEventList, AuditEventRecord, errors, ok
from clinifile.api.schemas import AuditEventListQuery
from clinifile.services import audit

router = APIRouter(prefix="/v1/audit_events", tags=["audit events"])


@router.get(
    "",
    response_model=None,
    responses={**ok(AuditEventList, "A page of the account's audit events"), **errors()},
)
def list_audit_events(
    request: Request, runtime: RuntimeDep, principal: PrincipalDep, query: AuditEventListQuery
) -> dict[str, Any]:
    rows, total = audit.page(runtime, principal, query)
    records = [presenters.audit_event(request, row) for row in rows]
    return presenters.page(request, "audit_events", records, total, query)


@router.get(
    "/{event_id}",
    response_model=None,
    responses={**ok(AuditEventRecord, "The audit event"), **errors(404)},
)
def get_audit_event(
    event_id: str, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    event = audit.get(runtime, principal, parse_id(event_id, "audit event"))
    return presenters.audit_event(request, event)
