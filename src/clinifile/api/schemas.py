"""Request bodies and query parameters."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from clinifile.api.errors import BadRequest


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


class Paging(BaseModel):
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=100)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def paging(page: Annotated[str, Query()] = "1", per_page: Annotated[str, Query()] = "50") -> Paging:
    if not (page.isascii() and page.isdigit() and len(page) <= 9 and int(page) >= 1):
        raise BadRequest(f"page must be a whole number from 1, not {page[:20]!r}")
    if not (
        per_page.isascii()
        and per_page.isdigit()
        and len(per_page) <= 3
        and 1 <= int(per_page) <= 100
    ):
        raise BadRequest(f"per_page must be a whole number from 1 to 100, not {per_page[:20]!r}")
    return Paging(page=int(page), per_page=int(per_page))
