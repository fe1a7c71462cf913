"""Patient attachments: register uploads (step 3), read, describe, archive and unarchive,
download or view."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from clinifile.api import presenters
from clinifile.api.deps import PrincipalDep, RedirectParam, RuntimeDep, parse_id
from clinifile.api.errors import BadRequest
from clinifile.api.records import AttachmentList, AttachmentRecord, DownloadLink, errors, ok
from clinifile.api.schemas import (
    AttachmentCreate,
    AttachmentListQuery,
    AttachmentUpdate,
    OnePatientsAttachmentListQuery,
)
from clinifile.domain.queries import ListQuery
from clinifile.services import attachments

router = APIRouter(tags=["patient attachments"])


@router.post(
    "/v1/patient_attachments",
    status_code=201,
    response_model=None,
    responses={**ok(AttachmentRecord, "Registered; processing follows", 201), **errors(422, 503)},
)
def create_attachment(
    body: AttachmentCreate,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    attachment = attachments.create(
        runtime,
        principal,
        patient_id=body.patient_id,
        upload_url=body.upload_url,
        description=body.description,
    )
    record = presenters.attachment(request, attachment)
    response.headers["Location"] = record["links"]["self"]
    return record


def _page(
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    query: ListQuery,
    patient_id: int | None,
) -> dict[str, Any]:
    rows, total = attachments.page(runtime, principal, query, patient_id=patient_id)
    records = [presenters.attachment(request, row) for row in rows]
    return presenters.page(request, "patient_attachments", records, total, query)


@router.get(
    "/v1/patient_attachments",
    response_model=None,
    responses={**ok(AttachmentList, "A page of attachments"), **errors()},
)
def list_attachments(
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    query: AttachmentListQuery,
) -> dict[str, Any]:
    return _page(request, runtime, principal, query, patient_id=None)


@router.get(
    "/v1/patients/{patient_id}/patient_attachments",
    response_model=None,
    responses={**ok(AttachmentList, "A page of one patient's attachments"), **errors(404)},
)
def list_patient_attachments(
    patient_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    query: OnePatientsAttachmentListQuery,
) -> dict[str, Any]:
    return _page(request, runtime, principal, query, parse_id(patient_id, "patient"))


@router.get(
    "/v1/patient_attachments/{attachment_id}",
    response_model=None,
    responses={**ok(AttachmentRecord, "The attachment"), **errors(404)},
)
def get_attachment(
    attachment_id: str, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    record = attachments.get(runtime, principal, parse_id(attachment_id))
    return presenters.attachment(request, record)


@router.patch(
    "/v1/patient_attachments/{attachment_id}",
    response_model=None,
    responses={**ok(AttachmentRecord, "The updated attachment"), **errors(404, 422)},
)
def update_attachment(
    attachment_id: str,
    body: AttachmentUpdate,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    record = attachments.update_description(
        runtime, principal, parse_id(attachment_id), body.description
    )
    return presenters.attachment(request, record)


@router.post(
    "/v1/patient_attachments/{attachment_id}/archive",
    status_code=204,
    response_model=None,
    responses={204: {"description": "Archived"}, **errors(404)},
)
def archive_attachment(
    attachment_id: str, runtime: RuntimeDep, principal: PrincipalDep
) -> Response:
    attachments.archive(runtime, principal, parse_id(attachment_id))
    return Response(status_code=204)


@router.post(
    "/v1/patient_attachments/{attachment_id}/unarchive",
    response_model=None,
    responses={
        **ok(AttachmentRecord, "clinifile addition: back in the lists (audited)"),
        **errors(404),
    },
)
def unarchive_attachment(
    attachment_id: str, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    record = attachments.unarchive(runtime, principal, parse_id(attachment_id))
    return presenters.attachment(request, record)


@router.delete(
    "/v1/patient_attachments/{attachment_id}",
    status_code=204,
    deprecated=True,
    response_model=None,
    responses={204: {"description": "Archived (deprecated: use POST .../archive)"}, **errors(404)},
)
def delete_attachment(attachment_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> Response:
    attachments.archive(runtime, principal, parse_id(attachment_id))
    return Response(status_code=204)


@router.get(
    "/v1/patient_attachments/{attachment_id}/content",
    status_code=303,
    response_model=None,
    responses={
        303: {"description": "Redirect (Location) to a short-lived download URL"},
        **ok(
            DownloadLink,
            "clinifile addition, with redirect=false: the same URL as JSON (a script in a "
            "browser cannot read a redirect's Location)",
        ),
        **errors(404, 409, 422, 503),
    },
)
def attachment_content(
    attachment_id: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    redirect: RedirectParam = "true",
    disposition: Annotated[
        str,
        Query(
            description="clinifile addition: inline serves a PDF or a PNG, JPEG, GIF or WebP "
            "image to be shown in the browser (422 for any other type)",
            json_schema_extra={"enum": ["attachment", "inline"], "default": "attachment"},
        ),
    ] = "attachment",
) -> Response:
    if disposition not in ("attachment", "inline"):
        raise BadRequest(f"disposition must be attachment or inline, not {disposition[:20]!r}")
    url = attachments.content_url(
        runtime, principal, parse_id(attachment_id), inline=disposition == "inline"
    )
    if redirect.lower() == "false":
        expires_in = runtime.settings.download_expires_seconds
        return JSONResponse(presenters.download_link(url, expires_in))
    return RedirectResponse(url, status_code=303)
