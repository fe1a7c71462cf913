"""Patient cases, the part that touches attachments: Cliniko's routes, with
`patient_attachment_ids` and the list of a case's attachments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from clinifile.api import presenters
from clinifile.api.deps import PrincipalDep, RuntimeDep, parse_id
from clinifile.api.records import AttachmentList, PatientCaseList, PatientCaseRecord, errors, ok
from clinifile.api.schemas import (
    AttachmentListQuery,
    OnePatientsCaseListQuery,
    PatientCaseCreate,
    PatientCaseListQuery,
    PatientCaseUpdate,
)
from clinifile.domain.queries import ListQuery
from clinifile.services import patient_cases

router = APIRouter(tags=["patient cases"])


def _id(value: str) -> int:
    return parse_id(value, "patient case")


def _page(
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    query: ListQuery,
    patient_id: int | None,
) -> dict[str, Any]:
    rows, total = patient_cases.page(runtime, principal, query, patient_id=patient_id)
    records = [presenters.patient_case(request, case, held) for case, held in rows]
    return presenters.page(request, "patient_cases", records, total, query)


@router.get(
    "/v1/patient_cases",
    response_model=None,
    responses={**ok(PatientCaseList, "A page of the account's patient cases"), **errors()},
)
def list_patient_cases(
    request: Request, runtime: RuntimeDep, principal: PrincipalDep, query: PatientCaseListQuery
) -> dict[str, Any]:
    return _page(request, runtime, principal, query, None)


@router.get(
    "/v1/patients/{patient_id}/patient_cases",
    response_model=None,
    responses={**ok(PatientCaseList, "A page of one patient's cases"), **errors(404)},
)
def list_patients_cases(
    patient_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    query: OnePatientsCaseListQuery,
) -> dict[str, Any]:
    return _page(request, runtime, principal, query, parse_id(patient_id, "patient"))


@router.post(
    "/v1/patients/{patient_id}/patient_cases",
    status_code=201,
    response_model=None,
    responses={**ok(PatientCaseRecord, "Created", 201), **errors(404, 422)},
)
def create_patient_case(
    patient_id: str,
    body: PatientCaseCreate,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    case, held = patient_cases.create(
        runtime,
        principal,
        patient_id=parse_id(patient_id, "patient"),
        name=body.name,
        issue_date=body.issue_date,
        notes=body.notes,
        attachment_ids=body.patient_attachment_ids,
    )
    record = presenters.patient_case(request, case, held)
    response.headers["Location"] = record["links"]["self"]
    return record


@router.get(
    "/v1/patient_cases/{case_id}",
    response_model=None,
    responses={**ok(PatientCaseRecord, "The patient case"), **errors(404)},
)
def get_patient_case(
    case_id: str, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    case, held = patient_cases.get(runtime, principal, _id(case_id))
    return presenters.patient_case(request, case, held)


@router.patch(
    "/v1/patient_cases/{case_id}",
    response_model=None,
    responses={**ok(PatientCaseRecord, "The changed patient case"), **errors(404, 422)},
)
def update_patient_case(
    case_id: str,
    body: PatientCaseUpdate,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True, exclude={"patient_attachment_ids"})
    if given.get("name", "") is None:
        given.pop("name")  # a case always has a name
    case, held = patient_cases.update(
        runtime,
        principal,
        _id(case_id),
        fields=given,
        attachment_ids=body.patient_attachment_ids,
    )
    return presenters.patient_case(request, case, held)


@router.post(
    "/v1/patient_cases/{case_id}/archive",
    status_code=204,
    response_model=None,
    responses={204: {"description": "Archived"}, **errors(404)},
)
def archive_patient_case(case_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> Response:
    patient_cases.archive(runtime, principal, _id(case_id))
    return Response(status_code=204)


@router.post(
    "/v1/patient_cases/{case_id}/unarchive",
    response_model=None,
    responses={**ok(PatientCaseRecord, "Back in the lists"), **errors(404)},
)
def unarchive_patient_case(
    case_id: str, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    case, held = patient_cases.unarchive(runtime, principal, _id(case_id))
    return presenters.patient_case(request, case, held)


@router.get(
    "/v1/patient_cases/{case_id}/patient_attachments",
    response_model=None,
    responses={**ok(AttachmentList, "A page of the case's attachments"), **errors(404)},
)
def list_patient_case_attachments(
    case_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    query: AttachmentListQuery,
) -> dict[str, Any]:
    rows, total = patient_cases.attachments(runtime, principal, _id(case_id), query)
    records = [presenters.attachment(request, row) for row in rows]
    return presenters.page(request, "patient_attachments", records, total, query)
