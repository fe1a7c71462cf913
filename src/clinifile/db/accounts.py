"""Accounts, their users and their storage accounting."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clinifile.db import users as users_db
from clinifile.db.models import Account, User
from clinifile.db.types import rowcount


def create(
    session: Session, *, name: str, region: str, plan: str, storage_limit_bytes: int | None
) -> Account:
    account = Account(
        name=name,
        region=region,
        plan=plan,
        storage_limit_bytes=storage_limit_bytes,
        storage_used_bytes=0,
    )
    session.add(account)
    session.flush()
    users_db.create(session, account_id=account.id, first_name=name, last_name="API user")
    return account


def get(session: Session, account_id: int) -> Account | None:
    return session.get(Account, account_id)


def first_user(session: Session, account_id: int) -> User:
    user = session.scalars(
        select(User).where(User.account_id == account_id).order_by(User.id).limit(1)
    ).first()
    if user is None:
        raise LookupError(f"account {account_id} has no user")
    return user


def reserve(session: Session, account_id: int, nbytes: int) -> bool:
    """Counts nbytes against the account unless that would pass its limit.

    One conditional UPDATE, so concurrent reservations can never pass the limit together.
    """
    result = session.execute(
        update(Account)
        .where(Account.id == account_id)
        .where(
            (Account.storage_limit_bytes.is_(None))
            | (Account.storage_used_bytes + nbytes <= Account.storage_limit_bytes)
        )
        .values(storage_used_bytes=Account.storage_used_bytes + nbytes)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def release(session: Session, account_id: int, nbytes: int) -> None:
    if nbytes <= 0:
        return
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(storage_used_bytes=Account.storage_used_bytes - nbytes)
        .execution_options(synchronize_session=False)
    )
