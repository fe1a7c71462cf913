"""Users: the one an API key acts for, and any of the account's by id (the `user` link of
every attachment and audit event)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from clinifile.api import presenters
from clinifile.api.deps import PrincipalDep, RuntimeDep, parse_id
from clinifile.api.records import UserRecord, errors, ok
from clinifile.services import users

router = APIRouter(tags=["users"])


@router.get(
    "/v1/user",
    response_model=None,
    responses={**ok(UserRecord, "The user this API key acts for"), **errors()},
)
def get_current_user(
    request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    return presenters.user(request, users.current(runtime, principal))


@router.get(
    "/v1/users/{user_id}",
    response_model=None,
    responses={**ok(UserRecord, "A user of the account"), **errors(404)},
)
def get_user(
    user_id: str, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    return presenters.user(request, users.get(runtime, principal, parse_id(user_id, "user")))
