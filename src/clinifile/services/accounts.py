"""Accounts, keys and patients as an operator creates them (CLI and first start); an
account's storage figures as its keys see them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinifile.db import accounts as accounts_db
from clinifile.db import patients as patients_db
from clinifile.db.models import Account
from clinifile.domain.storage import remaining_bytes
from clinifile.errors import found
from clinifile.runtime import Runtime
from clinifile.services.api_keys import Principal, create_key

PLANS = ("trial", "paid")


def create_account(
    runtime: Runtime, *, name: str, region: str, plan: str, storage_limit_bytes: int | None = None
) -> int:
    settings = runtime.settings
    settings.region(region)  # KeyError naming the configured regions
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}; choose one of {', '.join(PLANS)}")
    if storage_limit_bytes is None and plan == "trial":
        storage_limit_bytes = settings.trial_storage_limit_bytes
    with runtime.transaction() as session:
        account = accounts_db.create(
            session, name=name, region=region, plan=plan, storage_limit_bytes=storage_limit_bytes
        )
        return account.id


def _account(session: Session, account_id: int) -> Account:
    return found(accounts_db.get(session, account_id), f"account {account_id}")


def create_api_key(runtime: Runtime, account_id: int, user_id: int | None = None) -> str:
    """A key acting for user_id (default: the account's first user)."""
    with runtime.transaction() as session:
        return create_key(session, _account(session, account_id), user_id)


def create_patient(runtime: Runtime, *, account_id: int, first_name: str, last_name: str) -> int:
    with runtime.transaction() as session:
        _account(session, account_id)
        patient = patients_db.create(
            session, account_id=account_id, first_name=first_name, last_name=last_name
        )
        return patient.id


@dataclass(frozen=True)
class StorageFigures:
    """An account's storage as its API keys see it (GET /v1/account)."""

    account: Account
    remaining_bytes: int | None  # None: the plan has no limit
    max_file_size_bytes: int  # the server's limit for one file


def storage_figures(runtime: Runtime, principal: Principal) -> StorageFigures:
    """The caller's account with its storage figures read now: used bytes count every file
    stored or being processed, archived ones included (what the limit holds)."""
    with runtime.sessions() as session:
        account = _account(session, principal.account_id)
        session.expunge(account)
    return StorageFigures(
        account=account,
        remaining_bytes=remaining_bytes(account.storage_limit_bytes, account.storage_used_bytes),
        max_file_size_bytes=runtime.settings.max_file_size_bytes,
    )


@dataclass(frozen=True)
class Demo:
    account_id: int
    patient_id: int
    api_key: str


def create_demo_if_empty(runtime: Runtime) -> Demo | None:
    """On a first start (no accounts at all): a trial account, a key and a patient."""
    with runtime.sessions() as session:
        if session.scalar(select(func.count()).select_from(Account)):
            return None
    account_id = create_account(
        runtime, name="Demo clinic", region=runtime.settings.default_region, plan="trial"
    )
    api_key = create_api_key(runtime, account_id)
    patient_id = create_patient(
        runtime, account_id=account_id, first_name="Demo", last_name="Patient"
    )
    return Demo(account_id=account_id, patient_id=patient_id, api_key=api_key)
