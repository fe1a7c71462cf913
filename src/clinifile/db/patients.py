"""Patients, always looked up within one account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from clinifile.db import driver_reads, listing
from clinifile.db.models import Account, Patient
from clinifile.db.types import utcnow
from clinifile.domain.queries import ListQuery, names_archived
from clinifile.domain.search import fold


def create(
    session: Session,
    *,
    account_id: int,
    first_name: str,
    last_name: str,
    email: str | None = None,
    date_of_birth: date | None = None,
) -> Patient:
    now = utcnow()
    patient = Patient(
        account_id=account_id,
        first_name=first_name,
        last_name=last_name,
        first_name_search=fold(first_name),
        last_name_search=fold(last_name),
        email=email,
        date_of_birth=date_of_birth,
        created_at=now,
        updated_at=now,
    )
    session.add(patient)
    session.flush()
    return patient


def get(session: Session, account_id: int, patient_id: int) -> Patient | None:
    """The patient of this account (archived included), or None."""
    return session.scalars(
        select(Patient).where(Patient.id == patient_id, Patient.account_id == account_id)
    ).first()


@dataclass(frozen=True, slots=True)
class AccountStorage:
    """What an upload step needs of an account: where its files live and its storage
    figures, as they were read."""

    id: int
    region: str
    storage_limit_bytes: int | None
    storage_used_bytes: int


_ACCOUNT_OF_ACTIVE_PATIENT = (
    select(Account.id, Account.region, Account.storage_limit_bytes, Account.storage_used_bytes)
    .join(Patient.__table__, Patient.account_id == Account.id)
    .where(
        Account.id == bindparam("account_id"),
        Patient.id == bindparam("patient_id"),
        Patient.archived_at.is_(None),
    )
)


def account_of_active_patient(
    engine: Engine, account_id: int, patient_id: int
) -> AccountStorage | None:
    """The account's storage, read now, if it has this patient and the patient is not
    archived. Every presign asks: one statement on the driver's cursor (db.driver_reads)."""
    row = driver_reads.first_row(
        engine, _ACCOUNT_OF_ACTIVE_PATIENT, {"account_id": account_id, "patient_id": patient_id}
    )
    return AccountStorage(*row) if row else None


COLUMNS: dict[str, Any] = {
    "id": Patient.id,
    "first_name": Patient.first_name,
    "last_name": Patient.last_name,
    "email": Patient.email,
    "date_of_birth": Patient.date_of_birth,
    "created_at": Patient.created_at,
    "updated_at": Patient.updated_at,
    "archived_at": Patient.archived_at,
}

# `~` on a name searches its folded form: accents and case ignored, on every database
FOLDED = listing.Folded(
    {"first_name": Patient.first_name_search, "last_name": Patient.last_name_search}, fold
)


def page(
    session: Session,
    account_id: int,
    list_query: ListQuery,
) -> tuple[list[Patient], int]:
    query = select(Patient).where(Patient.account_id == account_id)
    if not names_archived(list_query.filters):
        query = query.where(Patient.archived_at.is_(None))
    return listing.page(session, query, COLUMNS, Patient.id, list_query, FOLDED)
