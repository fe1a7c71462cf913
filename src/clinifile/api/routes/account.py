"""The caller's account and its storage figures: a clinifile addition (Cliniko has no such
endpoint), so that a client can show what is left before an upload is refused."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from clinifile.api import presenters
from clinifile.api.deps import PrincipalDep, RuntimeDep
from clinifile.api.records import AccountRecord, errors, ok
from clinifile.services import accounts

router = APIRouter(prefix="/v1/account", tags=["account"])


@router.get(
    "",
    response_model=None,
    responses={**ok(AccountRecord, "The API key's account and its storage"), **errors()},
)
def get_account(request: Request, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return presenters.account(request, accounts.storage_figures(runtime, principal))
