"""clinifile addition: a completed attachment's preview image (small or large WebP)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, RedirectResponse, Response

from clinifile.api import presenters
from clinifile.api.deps import PrincipalDep, RedirectParam, RuntimeDep, parse_id
from clinifile.api.errors import BadRequest, message
from clinifile.api.records import DownloadLink, errors, ok
from clinifile.services import previews

router = APIRouter(tags=["patient attachments"])


@router.get(
    "/v1/patient_attachments/{attachment_id}/preview",
    status_code=303,
    response_model=None,
    responses={
        303: {"description": "clinifile addition: redirect to a short-lived URL of the image"},
        **ok(DownloadLink, "with redirect=false: the same URL as JSON"),
        **errors(404, 409, 422, 503),
    },
)
def attachment_preview(
    attachment_id: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    size: Annotated[
        str,
        Query(
            description="small (long side at most 320 px) or large (at most 1,600 px)",
            json_schema_extra={"enum": list(previews.SIZES), "default": "large"},
        ),
    ] = "large",
    redirect: RedirectParam = "true",
) -> Response:
    if size not in previews.SIZES:
        raise BadRequest(f"size must be small or large, not {size[:20]!r}")
    url, why_not = previews.preview_url(runtime, principal, parse_id(attachment_id), size)
    if url is None:
        return message(404, why_not)
    if redirect.lower() == "false":
        expires_in = runtime.settings.download_expires_seconds
        return JSONResponse(presenters.download_link(url, expires_in))
    return RedirectResponse(url, status_code=303)
