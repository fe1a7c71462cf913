"""Users: whom an API key acts for (Cliniko's `GET /v1/user`), and the account's other
users, read by id; an operator creates them."""

from __future__ import annotations

from clinifile.db import accounts as accounts_db
from clinifile.db import users as users_db
from clinifile.db.models import User
from clinifile.errors import ValidationFailed, found
from clinifile.runtime import Runtime
from clinifile.services.api_keys import Principal


def create(
    runtime: Runtime, *, account_id: int, first_name: str, last_name: str, email: str | None
) -> int:
    """A new user of the account; NotFound for no such account, ValidationFailed for a
    blank name."""
    first_name, last_name = first_name.strip(), last_name.strip()
    blank = {
        k: "can't be blank"
        for k, v in (("first_name", first_name), ("last_name", last_name))
        if not v
    }
    if blank:
        raise ValidationFailed(blank)
    with runtime.transaction() as session:
        found(accounts_db.get(session, account_id), f"account {account_id}")
        user = users_db.create(
            session,
            account_id=account_id,
            first_name=first_name,
            last_name=last_name,
            email=(email or "").strip() or None,
        )
        return user.id


def get(runtime: Runtime, principal: Principal, user_id: int) -> User:
    """A user of the caller's account; NotFound for any other."""
    with runtime.sessions() as session:
        return found(users_db.get(session, principal.account_id, user_id), "user")


def current(runtime: Runtime, principal: Principal) -> User:
    """The user the caller's API key acts for."""
    return get(runtime, principal, principal.user_id)
