"""Users, always looked up within one account. Each account gets one when it is created
(its API user); an operator adds more (`clinifile users create`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinifile.db.models import User
from clinifile.db.types import utcnow


def create(
    session: Session, *, account_id: int, first_name: str, last_name: str, email: str | None = None
) -> User:
    now = utcnow()
    user = User(
        account_id=account_id,
        first_name=first_name,
        last_name=last_name,
        email=email,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    return user


def get(session: Session, account_id: int, user_id: int) -> User | None:
    """The user of this account, or None."""
    return session.scalars(
        select(User).where(User.id == user_id, User.account_id == account_id)
    ).first()
