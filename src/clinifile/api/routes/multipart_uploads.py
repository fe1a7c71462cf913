"""Resumable multipart uploads: a documented extension beside Cliniko's presigned POST
(docs/MULTIPART.md). Its last step is the same registration, POST /v1/patient_attachments
with the upload_url that completing gives."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from clinifile.api.deps import PrincipalDep, RuntimeDep, parse_id
from clinifile.api.records import Message, errors, ok
from clinifile.db.multipart_uploads import MultipartUpload
from clinifile.services import multipart_uploads as service
from clinifile.storage.base import UploadedPart

router = APIRouter(prefix="/v1", tags=["multipart uploads"])

PartNumber = Annotated[StrictInt, Field(ge=1, le=service.MAX_PARTS)]
# a media type without parameters (RFC 6838's restricted names): it becomes a header
ContentType = Annotated[
    str, StringConstraints(max_length=255, pattern=r"^[A-Za-z0-9][\w!#$&^.+-]*/[\w!#$&^.+-]+$")
]
ENDED: dict[int | str, dict[str, Any]] = {
    409: {"model": Message, "description": "The upload was completed, aborted or expired"}
}


class MultipartCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    filename: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    size: Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]
    content_type: ContentType | None = None


class PartUrlsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    numbers: Annotated[list[PartNumber], Field(min_length=1, max_length=service.MAX_URLS)]


class PartRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    number: PartNumber
    etag: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    parts: Annotated[list[PartRef], Field(min_length=1, max_length=service.MAX_PARTS)]


class UploadedPartRecord(BaseModel):
    number: int
    size: int
    etag: str


class MultipartUploadRecord(BaseModel):
    id: str
    key: str
    url: str = Field(description="The bucket's URL: url + key is the upload_url to register")
    size: int
    part_size: int
    parts: int
    expires_at: datetime


class MultipartUploadStatus(MultipartUploadRecord):
    uploaded: list[UploadedPartRecord]


class PartUrls(BaseModel):
    urls: dict[str, str]
    expires_in: int


class CompletedUpload(BaseModel):
    key: str
    upload_url: str
    size: int
    etag: str


def _record(runtime: RuntimeDep, upload: MultipartUpload) -> dict[str, Any]:
    return MultipartUploadRecord(
        id=str(upload.id),
        key=upload.object_key,
        url=runtime.store(upload.region).bucket_url,
        size=upload.size,
        part_size=upload.part_size,
        parts=service.part_count(upload.size, upload.part_size),
        expires_at=upload.expires_at,
    ).model_dump(mode="json")


def _id(value: str) -> int:
    return parse_id(value, "upload")


@router.post(
    "/patients/{patient_id}/attachment_multipart_uploads",
    status_code=201,
    response_model=None,
    responses={**ok(MultipartUploadRecord, "Opened", 201), **errors(404, 422, 503)},
)
def create_upload(
    patient_id: str, body: MultipartCreate, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    upload = service.create(
        runtime,
        principal,
        parse_id(patient_id, "patient"),
        filename=body.filename,
        size=body.size,
        content_type=body.content_type,
    )
    return _record(runtime, upload)


@router.post(
    "/attachment_multipart_uploads/{upload_id}/part_urls",
    response_model=None,
    responses={**ok(PartUrls, "Presigned PUTs of these parts"), **errors(404, 422), **ENDED},
)
def part_urls(
    upload_id: str, body: PartUrlsRequest, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    numbers = list(dict.fromkeys(body.numbers))
    urls, expires_in = service.part_urls(runtime, principal, _id(upload_id), numbers)
    return PartUrls(
        urls={str(n): url for n, url in urls.items()}, expires_in=expires_in
    ).model_dump()


@router.get(
    "/attachment_multipart_uploads/{upload_id}",
    response_model=None,
    responses={
        **ok(MultipartUploadStatus, "The upload and its parts"),
        **errors(404, 503),
        **ENDED,
    },
)
def get_upload(upload_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    upload, held = service.status(runtime, principal, _id(upload_id))
    return {**_record(runtime, upload), "uploaded": [_part(part) for part in held]}


def _part(part: UploadedPart) -> dict[str, Any]:
    return UploadedPartRecord(number=part.number, size=part.size, etag=part.etag).model_dump()


@router.post(
    "/attachment_multipart_uploads/{upload_id}/complete",
    response_model=None,
    responses={**ok(CompletedUpload, "Completed"), **errors(404, 422, 503), **ENDED},
)
def complete_upload(
    upload_id: str, body: CompleteRequest, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    parts = [(part.number, part.etag) for part in body.parts]
    done = service.complete(runtime, principal, _id(upload_id), parts)
    return CompletedUpload(
        key=done.key, upload_url=done.upload_url, size=done.size, etag=done.etag
    ).model_dump()


@router.delete(
    "/attachment_multipart_uploads/{upload_id}",
    status_code=204,
    response_model=None,
    responses={204: {"description": "Aborted"}, **errors(404, 503), **ENDED},
)
def abort_upload(upload_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> Response:
    service.abort(runtime, principal, _id(upload_id))
    return Response(status_code=204)
