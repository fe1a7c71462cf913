"""Patients, always looked up within one account."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from clinifile.db import listing
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


_ACCOUNT_OF_ACTIVE_PATIENT = (
    select(Account.__table__)
    .join(Patient.__table__, Patient.account_id == Account.id)
    .where(
        Account.id == bindparam("account_id"),
        Patient.id == bindparam("patient_id"),
        Patient.archived_at.is_(None),
    )
)


def account_of_active_patient(conn: Connection, account_id: int, patient_id: int) -> Account | None:
    """The account, read now (its storage figures current), if it has this patient and the
    patient is not archived. One Core query on a plain connection (the presign path: 60 us
    here, against 210 us through an ORM session); the Account returned is detached."""
    row = conn.execute(
        _ACCOUNT_OF_ACTIVE_PATIENT, {"account_id": account_id, "patient_id": patient_id}
    ).first()
    return Account(**row._mapping) if row else None


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
